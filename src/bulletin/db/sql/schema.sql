-- The whole schema as the migrations leave it, to read in one place. Nothing runs this
-- file: `bulletin init` applies the migrations. tests/db/test_schema.py applies every migration
-- to one empty database and this file to another and compares their catalogs (columns,
-- defaults, constraints, indexes, functions, sequences), so it cannot drift from them.
-- Columns are compared by name, not position: here they stand where they read best.
--
-- After a new migration, add its change here. To see what a database holds, in the same
-- normalised lines the test compares:
--     python -m tests.db.catalog postgresql://postgres@127.0.0.1:5432/some_database
-- (or `pg_dump --schema-only --no-owner` where pg_dump is installed).

-- Bots ------------------------------------------------------------------------------------

CREATE TABLE bots (
    id               bigint PRIMARY KEY,            -- Telegram's bot user id, from getMe
    name             text NOT NULL UNIQUE,
    username         text NOT NULL,
    token            text NOT NULL,
    api_url          text NOT NULL,
    -- Proxies to reach the Bot API from networks where Telegram is blocked (connectivity only).
    proxies          text[] NOT NULL DEFAULT '{}',
    rate_per_s       double precision NOT NULL DEFAULT 30 CHECK (rate_per_s > 0),
    -- Paid broadcasts (allow_paid_broadcast): up to 1000 msgs/s, billed in Stars by Telegram.
    paid_broadcast   boolean NOT NULL DEFAULT false,
    paid_rate_per_s  double precision NOT NULL DEFAULT 1000 CHECK (paid_rate_per_s > 0),
    status           text NOT NULL DEFAULT 'active'
                     CHECK (status IN ('active', 'disabled', 'revoked')),
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- A bot is sent through by one worker at a time; the lease expires if the worker dies.
CREATE TABLE bot_leases (
    bot_id      bigint PRIMARY KEY REFERENCES bots (id) ON DELETE CASCADE,
    worker_id   text NOT NULL,
    expires_at  timestamptz NOT NULL
);

-- A local file is uploaded once per bot; Telegram's file_id is reused afterwards
-- (file ids belong to the bot that uploaded the file).
CREATE TABLE media_files (
    bot_id      bigint NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    sha256      text NOT NULL,
    kind        text NOT NULL,
    file_id     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_id, sha256, kind)
);

-- A file uploaded through the API, in the database so any serve process can send it; a
-- campaign names it `upload:<sha256>`. Uploaded to Telegram like a local file, once per bot.
CREATE TABLE media_uploads (
    sha256        text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    filename      text NOT NULL,
    content_type  text NOT NULL,
    size_bytes    integer NOT NULL CHECK (size_bytes > 0),
    content       bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Subscribers -----------------------------------------------------------------------------

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
    title          text,                      -- a group's or channel's title
    can_post       boolean,                   -- whether the bot may post there (NULL: unknown)
    tags           text[] NOT NULL DEFAULT '{}',
    fields         jsonb NOT NULL DEFAULT '{}',
    source         text,
    flagged        text,                      -- why sending to this chat needs attention
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (bot_id, chat_id)
);

CREATE INDEX subscribers_bot_status ON subscribers (bot_id, status);

-- A forgotten chat leaves only a hash of (bot, chat id): enough to refuse re-importing
-- it, not enough to read the id back at a glance. Removed when the chat opts in again.
CREATE TABLE forgotten_chats (
    bot_id        bigint NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    chat_hash     bytea NOT NULL,
    forgotten_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_id, chat_hash)
);

-- The tombstone of one chat of one bot; the only definition, used by forget, import and /start.
CREATE FUNCTION chat_hash(bot_id bigint, chat_id bigint) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN sha256((bot_id::text || ':' || chat_id::text)::bytea);

-- What a segment's filters match, read by campaign runs and by `audience export` alike. An
-- empty list or a NULL date matches every chat. A plain SQL expression, so PostgreSQL
-- inlines it into each query (no call per row).
CREATE FUNCTION in_segment(
    tags text[], language_code text, chat_type text, created_at timestamptz,
    tags_any text[], tags_all text[], tags_none text[], languages text[],
    chat_types text[], subscribed_after timestamptz, subscribed_before timestamptz
) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (cardinality(tags_any) = 0 OR tags && tags_any)
       AND tags @> tags_all
       AND NOT (tags && tags_none)
       -- a language is its primary subtag: 'pt' matches 'pt-br'
       AND (cardinality(languages) = 0
            OR split_part(lower(language_code), '-', 1) = ANY (languages))
       AND (cardinality(chat_types) = 0 OR chat_type = ANY (chat_types))
       AND (subscribed_after IS NULL OR created_at >= subscribed_after)
       AND (subscribed_before IS NULL OR created_at < subscribed_before);

-- Updates (the listener) ------------------------------------------------------------------

-- Where each bot's long polling resumes: the first update id not yet handled. Written in
-- the same transaction as the update's effects, so a restart neither loses nor replays one.
CREATE TABLE update_offsets (
    bot_id          bigint PRIMARY KEY REFERENCES bots (id) ON DELETE CASCADE,
    next_update_id  bigint NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Every update applied, so one delivered twice (a webhook retry, a replayed poll)
-- changes nothing the second time. Pruned after Telegram stops redelivering (a day).
CREATE TABLE processed_updates (
    bot_id        bigint NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    update_id     bigint NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_id, update_id)
);

CREATE INDEX processed_updates_age ON processed_updates (processed_at);

-- Campaigns -------------------------------------------------------------------------------

CREATE TABLE campaigns (
    id                bigserial PRIMARY KEY,
    name              text NOT NULL UNIQUE,
    bot_id            bigint NOT NULL REFERENCES bots (id) ON DELETE RESTRICT,
    -- `done` once the last run finished and the schedule has nothing to come.
    status            text NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'active', 'paused', 'done', 'cancelled')),
    paused_reason     text,
    fields            jsonb NOT NULL DEFAULT '{}',  -- campaign fields for templates
    segment           jsonb NOT NULL DEFAULT '{}',  -- who: bots, tags, languages, …
    schedule          jsonb NOT NULL DEFAULT '{}',  -- when: at, every, cron, quiet hours
    caps              jsonb NOT NULL DEFAULT '{}',  -- how much: per hour per bot, per run
    next_run_at       timestamptz,                  -- the scheduler's next slot; NULL: none
    paid_broadcast    boolean NOT NULL DEFAULT false,
    -- Whether deliveries a crashed worker left unknown are sent again (default: no; a
    -- duplicate in someone's chat is worse than a rare miss).
    resend_uncertain  boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- The scheduler looks only at campaigns with a slot to come.
CREATE INDEX campaigns_next_run ON campaigns (next_run_at) WHERE next_run_at IS NOT NULL;

CREATE TABLE variants (
    id           bigserial PRIMARY KEY,
    campaign_id  bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    name         text NOT NULL,
    language     text,                          -- NULL: the fallback for every language
    weight       integer NOT NULL DEFAULT 1 CHECK (weight > 0),
    text         text NOT NULL,
    parse_mode   text NOT NULL DEFAULT 'html' CHECK (parse_mode IN ('html', 'markdownv2', 'none')),
    content      jsonb NOT NULL DEFAULT '{}',   -- kind, media, buttons, flags
    UNIQUE (campaign_id, name)
);

-- Runs and deliveries ---------------------------------------------------------------------

CREATE TABLE runs (
    id             bigserial PRIMARY KEY,
    campaign_id    bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    number         integer NOT NULL,            -- "run 3 of launch", unique within its campaign
    status         text NOT NULL DEFAULT 'running'
                   CHECK (status IN ('running', 'paused', 'done', 'cancelled')),
    audience       integer NOT NULL DEFAULT 0,
    paused_reason  text,
    scheduled_for  timestamptz,                 -- the schedule slot this run fills
    quiet_until    timestamptz,                 -- paused for quiet hours until then
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    logged_status  text,                        -- the status `serve` last logged (run_log)
    -- When `db prune` deleted its deliveries (its tallies kept in finished_run_tallies).
    pruned_at      timestamptz
);

CREATE INDEX runs_campaign ON runs (campaign_id);
CREATE UNIQUE INDEX runs_campaign_number ON runs (campaign_id, number);
-- One run per schedule slot, whatever number of schedulers race for it
-- (NULLs are distinct: runs started by hand are not affected).
CREATE UNIQUE INDEX runs_campaign_slot ON runs (campaign_id, scheduled_for);
-- At most one unfinished run per campaign: two processes racing to start one cannot both win.
CREATE UNIQUE INDEX runs_one_unfinished ON runs (campaign_id)
 WHERE status IN ('running', 'paused');
-- What every serve process looks for each second: the few runs with a change to log.
CREATE INDEX runs_unlogged ON runs (id) WHERE logged_status IS DISTINCT FROM status;

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
    -- The token the worker chose for this claim: a write meant for one claim (an outcome, a
    -- release) sent again because its answer was lost never lands on a later claim of the
    -- row, and the rows of a claim whose own answer was lost are found by it.
    claim_id       bigint,
    -- When the worker handed this claimed row over to Telegram (marked just before the
    -- send, a few rows at a time); NULL: not handed over under this claim. A row left
    -- `sending` and never handed over was surely not sent, so it is pending again.
    handed_at      timestamptz,
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
-- Sends per time bucket of a run (the dashboard's throughput chart and msgs/s now).
CREATE INDEX deliveries_run_sent ON deliveries (run_id, sent_at) WHERE status = 'sent';
-- A page of a run's report by keyset (the dashboard's, the API's).
CREATE INDEX deliveries_run_id ON deliveries (run_id, id);

-- Each run's deliveries counted by status and variant, kept by the statements that write
-- deliveries (statement-level triggers), so `campaign status`, the API and every dashboard
-- poll read a few rows instead of counting the run's deliveries. Append-only: each
-- statement adds one row of changes per (run, variant) it touched; a reader sums them.
CREATE TABLE run_delivery_counts (
    id          bigserial PRIMARY KEY,
    run_id      bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    variant_id  bigint NOT NULL,
    pending     bigint NOT NULL DEFAULT 0,
    sending     bigint NOT NULL DEFAULT 0,
    sent        bigint NOT NULL DEFAULT 0,
    failed      bigint NOT NULL DEFAULT 0,
    skipped     bigint NOT NULL DEFAULT 0,
    uncertain   bigint NOT NULL DEFAULT 0,
    blocked     bigint NOT NULL DEFAULT 0,   -- failure = 'blocked', whatever the status
    gone        bigint NOT NULL DEFAULT 0    -- failure = 'gone'
);

CREATE INDEX run_delivery_counts_run ON run_delivery_counts (run_id);

-- Each run's sends per second (of sent_at) and bot, kept alike: the throughput chart reads
-- a few rows per second of the run instead of every sent delivery.
CREATE TABLE run_sends (
    id       bigserial PRIMARY KEY,
    run_id   bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    bot_id   bigint NOT NULL,
    second   bigint NOT NULL,               -- floor of sent_at as Unix seconds
    sent     bigint NOT NULL
);

CREATE INDEX run_sends_run ON run_sends (run_id, second);

-- Statement-level triggers with transition tables: one aggregate per statement, however
-- many rows it wrote, and every path counted alike (a snapshot, a claim, an outcome, a
-- cancel, a crash's settling, a forgotten chat's deliveries deleted by cascade).
-- One function for the three triggers; plain INSERT … SELECT from the transition tables, so
-- a batch of outcomes costs two small aggregates and one or two appended rows.
CREATE FUNCTION count_deliveries() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO run_delivery_counts (run_id, variant_id, pending, sending, sent, failed, skipped, uncertain, blocked, gone)
        SELECT run_id, variant_id,
                   coalesce(sum(1) FILTER (WHERE status = 'pending'), 0) AS pending,
                   coalesce(sum(1) FILTER (WHERE status = 'sending'), 0) AS sending,
                   coalesce(sum(1) FILTER (WHERE status = 'sent'), 0) AS sent,
                   coalesce(sum(1) FILTER (WHERE status = 'failed'), 0) AS failed,
                   coalesce(sum(1) FILTER (WHERE status = 'skipped'), 0) AS skipped,
                   coalesce(sum(1) FILTER (WHERE status = 'uncertain'), 0) AS uncertain,
                   coalesce(sum(1) FILTER (WHERE failure = 'blocked'), 0) AS blocked,
                   coalesce(sum(1) FILTER (WHERE failure = 'gone'), 0) AS gone
          FROM new_rows
         GROUP BY run_id, variant_id;
        INSERT INTO run_sends (run_id, bot_id, second, sent)
        SELECT run_id, bot_id, floor(extract(epoch FROM sent_at))::bigint, count(*)
          FROM new_rows
         WHERE status = 'sent' AND sent_at IS NOT NULL
         GROUP BY 1, 2, 3;
    ELSIF TG_OP = 'UPDATE' THEN
        -- -1 in each row's old status, +1 in its new one; a row whose status and failure
        -- did not change adds nothing.
        INSERT INTO run_delivery_counts (run_id, variant_id, pending, sending, sent, failed, skipped, uncertain, blocked, gone)
        SELECT * FROM (
            SELECT run_id, variant_id,
                   coalesce(sum(sign) FILTER (WHERE status = 'pending'), 0) AS pending,
                   coalesce(sum(sign) FILTER (WHERE status = 'sending'), 0) AS sending,
                   coalesce(sum(sign) FILTER (WHERE status = 'sent'), 0) AS sent,
                   coalesce(sum(sign) FILTER (WHERE status = 'failed'), 0) AS failed,
                   coalesce(sum(sign) FILTER (WHERE status = 'skipped'), 0) AS skipped,
                   coalesce(sum(sign) FILTER (WHERE status = 'uncertain'), 0) AS uncertain,
                   coalesce(sum(sign) FILTER (WHERE failure = 'blocked'), 0) AS blocked,
                   coalesce(sum(sign) FILTER (WHERE failure = 'gone'), 0) AS gone
              FROM (SELECT run_id, variant_id, status, failure, -1 AS sign FROM old_rows
                    UNION ALL
                    SELECT run_id, variant_id, status, failure, 1 FROM new_rows) AS change
             GROUP BY run_id, variant_id
        ) AS c
         WHERE (c.pending, c.sending, c.sent, c.failed, c.skipped, c.uncertain, c.blocked,
                c.gone) <> (0, 0, 0, 0, 0, 0, 0, 0);
        INSERT INTO run_sends (run_id, bot_id, second, sent)
        SELECT run_id, bot_id, floor(extract(epoch FROM sent_at))::bigint, sum(sign)
          FROM (SELECT run_id, bot_id, sent_at, -1 AS sign FROM old_rows WHERE status = 'sent'
                UNION ALL
                SELECT run_id, bot_id, sent_at, 1 FROM new_rows WHERE status = 'sent')
               AS change
         WHERE sent_at IS NOT NULL
         GROUP BY 1, 2, 3
        HAVING sum(sign) <> 0;
    ELSE
        -- Deleted with their run (a campaign deleted): nothing left to count.
        INSERT INTO run_delivery_counts (run_id, variant_id, pending, sending, sent, failed, skipped, uncertain, blocked, gone)
        SELECT * FROM (
            SELECT run_id, variant_id,
                   coalesce(sum(-1) FILTER (WHERE status = 'pending'), 0) AS pending,
                   coalesce(sum(-1) FILTER (WHERE status = 'sending'), 0) AS sending,
                   coalesce(sum(-1) FILTER (WHERE status = 'sent'), 0) AS sent,
                   coalesce(sum(-1) FILTER (WHERE status = 'failed'), 0) AS failed,
                   coalesce(sum(-1) FILTER (WHERE status = 'skipped'), 0) AS skipped,
                   coalesce(sum(-1) FILTER (WHERE status = 'uncertain'), 0) AS uncertain,
                   coalesce(sum(-1) FILTER (WHERE failure = 'blocked'), 0) AS blocked,
                   coalesce(sum(-1) FILTER (WHERE failure = 'gone'), 0) AS gone
              FROM old_rows
             WHERE run_id IN (SELECT id FROM runs)
             GROUP BY run_id, variant_id
        ) AS c;
        INSERT INTO run_sends (run_id, bot_id, second, sent)
        SELECT run_id, bot_id, floor(extract(epoch FROM sent_at))::bigint, -count(*)
          FROM old_rows
         WHERE status = 'sent' AND sent_at IS NOT NULL AND run_id IN (SELECT id FROM runs)
         GROUP BY 1, 2, 3;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER deliveries_counted_insert AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_deliveries();
CREATE TRIGGER deliveries_counted_update AFTER UPDATE ON deliveries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION count_deliveries();
CREATE TRIGGER deliveries_counted_delete AFTER DELETE ON deliveries
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_deliveries();

-- Every message of a bot that is not a campaign delivery (a listener's reply, a pre-flight
-- test send), queued so it goes out through the one worker holding the bot's lease, at that
-- bot's pace. A reply is queued in the transaction that applies its update.
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

-- Events ----------------------------------------------------------------------------------

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
CREATE INDEX events_chat ON events (bot_id, chat_id) WHERE chat_id IS NOT NULL;
-- Recent events of a kind: 429s in the last hour, the dashboard's activity.
CREATE INDEX events_kind_at ON events (kind, at);
-- The Activity page by kind, a page at a time by id (keyset); one bot's events, newest first.
CREATE INDEX events_kind_id ON events (kind, id);
CREATE INDEX events_bot_id ON events (bot_id, id) WHERE bot_id IS NOT NULL;
-- A bot's runs' steps and its revocation, newest first (the Bots page), without walking
-- past every chat's outcome.
CREATE INDEX events_bot_steps ON events (bot_id, id)
 WHERE kind IN ('run.started', 'run.paused', 'run.resumed', 'run.finished', 'bot.revoked');

-- Daily stats: rollups kept by the writes that settle deliveries and change subscribers --

CREATE TABLE daily_bot_stats (
    day           date NOT NULL,
    bot_id        bigint NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    sent          bigint NOT NULL DEFAULT 0,
    failed        bigint NOT NULL DEFAULT 0,   -- blocked and gone included
    blocked       bigint NOT NULL DEFAULT 0,   -- failure = 'blocked', as campaign status counts
    gone          bigint NOT NULL DEFAULT 0,
    skipped       bigint NOT NULL DEFAULT 0,
    uncertain     bigint NOT NULL DEFAULT 0,
    rate_limited  bigint NOT NULL DEFAULT 0,   -- 429 answers
    subscribed    bigint NOT NULL DEFAULT 0,   -- chats that became subscribers
    opted_out     bigint NOT NULL DEFAULT 0,   -- unsubscribed or blocked (listener or a 403)
    PRIMARY KEY (bot_id, day)
);

CREATE TABLE daily_campaign_stats (
    day           date NOT NULL,
    campaign_id   bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    variant_id    bigint NOT NULL REFERENCES variants (id) ON DELETE CASCADE,
    bot_id        bigint NOT NULL REFERENCES bots (id) ON DELETE CASCADE,  -- the sender
    sent          bigint NOT NULL DEFAULT 0,
    failed        bigint NOT NULL DEFAULT 0,
    blocked       bigint NOT NULL DEFAULT 0,
    gone          bigint NOT NULL DEFAULT 0,
    skipped       bigint NOT NULL DEFAULT 0,   -- a cancel's unsent deliveries not included
    uncertain     bigint NOT NULL DEFAULT 0,
    rate_limited  bigint NOT NULL DEFAULT 0,
    opted_out     bigint NOT NULL DEFAULT 0,   -- recipients who blocked the bot on this message
    PRIMARY KEY (campaign_id, variant_id, bot_id, day)
);

-- `bulletin stats` reads a span of days across bots or campaigns.
CREATE INDEX daily_bot_stats_day ON daily_bot_stats (day);
CREATE INDEX daily_campaign_stats_day ON daily_campaign_stats (day);

-- HTTP API --------------------------------------------------------------------------------

-- Only a hash of each token is kept: `bulletin token create` shows the secret once.
CREATE TABLE api_tokens (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    role           text NOT NULL CHECK (role IN ('admin', 'viewer')),
    secret_sha256  bytea NOT NULL UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz
);

-- A retried API write (same Idempotency-Key) answers what the first one did.
CREATE TABLE api_idempotency (
    scope        text NOT NULL,     -- what the key was used for: "start <campaign id>"
    key          text NOT NULL,
    status_code  integer NOT NULL,
    answer       jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

-- Dashboard -------------------------------------------------------------------------------

-- A browser's session, made at sign-in with an API token: the cookie holds the only copy of
-- the secret. Revoking the token ends its sessions. token_id NULL: the open access of a
-- loopback server with no token yet, valid only while that holds.
CREATE TABLE dashboard_sessions (
    id             bigserial PRIMARY KEY,
    secret_sha256  bytea NOT NULL UNIQUE,
    token_id       bigint REFERENCES api_tokens (id) ON DELETE CASCADE,
    csrf_token     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);

CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);

-- Finished runs ---------------------------------------------------------------------------

-- A done run's tallies (counts, commonest failures, variants), kept when first read: they
-- no longer change, so `campaign status` of a run of 500,000 is a lookup, not a scan.
-- Forgetting a chat deletes them all (its deliveries go); the next read counts again.
CREATE TABLE finished_run_tallies (
    run_id      bigint PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    tallies     jsonb NOT NULL,
    counted_at  timestamptz NOT NULL DEFAULT now()
);

-- What a one-shot campaign remembers of the deliveries `db prune` deleted: the chats it
-- reached (sent, or perhaps sent: uncertain). A later run leaves them out, as it leaves out
-- those of the deliveries still kept.
CREATE TABLE campaign_reached (
    campaign_id  bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    chat_id      bigint NOT NULL,
    bot_id       bigint NOT NULL REFERENCES bots (id) ON DELETE CASCADE,  -- the sender
    PRIMARY KEY (campaign_id, chat_id)
);

-- Forgetting a chat drops what it was sent: its reached rows with its deliveries.
CREATE INDEX campaign_reached_chat ON campaign_reached (chat_id);

-- Migrations ------------------------------------------------------------------------------

-- Created by the migration runner (db/migrations.py) itself; one row per migration applied.
CREATE TABLE schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
