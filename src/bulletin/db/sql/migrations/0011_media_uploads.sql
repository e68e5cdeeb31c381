-- 0011: media files uploaded through the HTTP API. Kept in the database, not on one server's
-- disk, so any serve process on any machine can send them; a campaign names one as
-- `upload:<sha256>`, and the same bytes uploaded twice are one row.

CREATE TABLE media_uploads (
    sha256        text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    filename      text NOT NULL,
    content_type  text NOT NULL,
    size_bytes    integer NOT NULL CHECK (size_bytes > 0),
    content       bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
