-- 0008: the outbox. Every message of a bot that is not a campaign delivery (a listener's
-- reply, a pre-flight test send) is a row here before it is sent, so that it goes out
-- through the one worker that holds the bot's lease and shares that bot's pace and its 429
-- pause. A reply is queued in the transaction that applies its update: an update
-- delivered twice answers once, and a crash after the commit loses no answer.

CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    bot_id      bigint NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    chat_id     bigint NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('reply', 'test')),
    message     jsonb NOT NULL,             -- the message as rendered (models.Message)
    status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    claimed_by  text,
    claim_id    bigint,
    attempts    integer NOT NULL DEFAULT 0,
    due_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    error       text,
    message_id  bigint,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    sent_at     timestamptz
);

-- What lease_bots and claim_outbox look for: the few rows not sent yet.
CREATE INDEX outbox_unsent ON outbox (bot_id, due_at, id) WHERE status IN ('pending', 'sending');
