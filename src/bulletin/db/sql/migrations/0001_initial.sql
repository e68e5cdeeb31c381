-- 0001: bots, subscribers, campaigns with variants, runs, deliveries, events, bot leases.

CREATE TABLE bots (
    id          bigint PRIMARY KEY,            -- Telegram's bot user id, from getMe
    name        text NOT NULL UNIQUE,
    username    text NOT NULL,
    token       text NOT NULL,
    api_url     text NOT NULL,
    rate_per_s  double precision NOT NULL DEFAULT 30 CHECK (rate_per_s > 0),
    status      text NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'disabled', 'revoked')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE subscribers (
    id             bigserial PRIMARY KEY,
    bot_id         bigint NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    chat_id        bigint NOT NULL,
    chat_type      text NOT NULL DEFAULT 'private'
                   CHECK (chat_type IN ('private', 'group', 'supergroup', 'channel')),
    status         text NOT NULL DEFAULT 'subscribed'
                   CHECK (status IN ('subscribed', 'unsubscribed', 'blocked', 'gone')),
    first_name     text,
    username       text,
    language_code  text,
    tags           text[] NOT NULL DEFAULT '{}',
    fields         jsonb NOT NULL DEFAULT '{}',
    source         text,
    flagged        text,                      -- why sending to this chat needs attention
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (bot_id, chat_id)
);

CREATE INDEX subscribers_bot_status ON subscribers (bot_id, status);

CREATE TABLE campaigns (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    bot_id         bigint NOT NULL REFERENCES bots (id) ON DELETE RESTRICT,
    status         text NOT NULL DEFAULT 'draft'
                   CHECK (status IN ('draft', 'active', 'paused', 'cancelled')),
    paused_reason  text,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE variants (
    id           bigserial PRIMARY KEY,
    campaign_id  bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    name         text NOT NULL,
    weight       integer NOT NULL DEFAULT 1 CHECK (weight > 0),
    text         text NOT NULL,
    parse_mode   text NOT NULL DEFAULT 'html' CHECK (parse_mode IN ('html', 'markdownv2', 'none')),
    UNIQUE (campaign_id, name)
);

CREATE TABLE runs (
    id             bigserial PRIMARY KEY,
    campaign_id    bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    status         text NOT NULL DEFAULT 'running'
                   CHECK (status IN ('running', 'paused', 'done', 'cancelled')),
    audience       integer NOT NULL DEFAULT 0,
    paused_reason  text,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz
);

CREATE INDEX runs_campaign ON runs (campaign_id);

CREATE TABLE deliveries (
    id             bigserial PRIMARY KEY,
    run_id         bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    bot_id         bigint NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    subscriber_id  bigint NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    chat_id        bigint NOT NULL,
    variant_id     bigint NOT NULL REFERENCES variants (id) ON DELETE CASCADE,
    status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped', 'uncertain')),
    attempts       integer NOT NULL DEFAULT 0,
    due_at         timestamptz NOT NULL DEFAULT now(),
    claimed_by     text,
    message_id     bigint,
    failure        text,                      -- short reason code of a final failure or skip
    error          text,                      -- the last Bot API description or error seen
    sent_at        timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, chat_id)
);

-- The claim query walks this index: one bot's due pending deliveries in order.
CREATE INDEX deliveries_due ON deliveries (bot_id, due_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_sending ON deliveries (bot_id) WHERE status = 'sending';
CREATE INDEX deliveries_run_status ON deliveries (run_id, status);

-- A bot is sent through by one worker at a time; the lease expires if the worker dies.
CREATE TABLE bot_leases (
    bot_id      bigint PRIMARY KEY REFERENCES bots (id) ON DELETE CASCADE,
    worker_id   text NOT NULL,
    expires_at  timestamptz NOT NULL
);

CREATE TABLE events (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    kind     text NOT NULL,
    bot_id   bigint,
    run_id   bigint,
    chat_id  bigint,
    detail   text
);

CREATE INDEX events_run_kind ON events (run_id, kind);
