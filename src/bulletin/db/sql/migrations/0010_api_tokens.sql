-- 0010: the HTTP API's tokens, of which only a hash is kept (the secret is shown once, at
-- `bulletin token create`), and the Idempotency-Keys of its writes, so a retried request
-- does what it did once and answers what it answered.

CREATE TABLE api_tokens (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    role           text NOT NULL CHECK (role IN ('admin', 'viewer')),
    secret_sha256  bytea NOT NULL UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz
);

CREATE TABLE api_idempotency (
    scope        text NOT NULL,     -- what the key was used for: "start <campaign id>"
    key          text NOT NULL,
    status_code  integer NOT NULL,
    answer       jsonb NOT NULL,    -- the body answered the first time
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
