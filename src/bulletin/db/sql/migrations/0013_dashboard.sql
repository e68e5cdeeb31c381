-- 0013: the dashboard's sign-in sessions, and the indexes its live figures read.

-- A browser's session, made at sign-in with an API token. The cookie holds the only copy of
-- the secret; this row keeps its hash, the CSRF token its forms carry, and the token it was
-- made with, so revoking the token ends its sessions too. token_id NULL: a session of the
-- open access of a loopback server with no token yet, valid only while that holds.
CREATE TABLE dashboard_sessions (
    id             bigserial PRIMARY KEY,
    secret_sha256  bytea NOT NULL UNIQUE,
    token_id       bigint REFERENCES api_tokens (id) ON DELETE CASCADE,
    csrf_token     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);

CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);

-- Sends per time bucket of a run (its throughput chart, its msgs/s now): only sent rows,
-- so a delivery adds one entry, when it becomes sent.
CREATE INDEX deliveries_run_sent ON deliveries (run_id, sent_at) WHERE status = 'sent';

-- Recent events of a kind (429s in the last hour, the activity page).
CREATE INDEX events_kind_at ON events (kind, at);
