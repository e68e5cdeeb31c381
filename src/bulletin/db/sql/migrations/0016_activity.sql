-- 0016: the indexes the dashboard's Bots and Activity pages read events by, and a run's
-- delivery counters and sends per second, kept by triggers on deliveries (see below).

-- The Activity page filtered by kind, a page at a time by id (keyset), newest first.
CREATE INDEX events_kind_id ON events (kind, id);

-- One bot's events, newest first: the Bots page's latest of each bot, the Activity page's
-- bot filter. Lifecycle events (run.started, …) carry their campaign's bot.
CREATE INDEX events_bot_id ON events (bot_id, id) WHERE bot_id IS NOT NULL;
-- A bot's runs' steps and its revocation, newest first (the Bots page), without walking
-- past every chat's outcome.
CREATE INDEX events_bot_steps ON events (bot_id, id)
 WHERE kind IN ('run.started', 'run.paused', 'run.resumed', 'run.finished', 'bot.revoked');

-- A page of a run's report by keyset (the dashboard's, the API's): without this index the
-- primary key was walked from the first run's deliveries to this run's.
CREATE INDEX deliveries_run_id ON deliveries (run_id, id);

-- Each run's deliveries counted by status and variant, kept by the statements that write
-- deliveries, so `campaign status`, the API and every dashboard poll read a few rows
-- instead of counting the run's deliveries. Append-only: each statement adds one row of
-- changes per (run, variant) it touched, never updating a shared row, so writers neither
-- wait for nor deadlock with each other; a reader sums a run's rows (see run_counts).
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

-- The deliveries there already, counted once.
INSERT INTO run_delivery_counts (run_id, variant_id, pending, sending, sent, failed, skipped,
                                 uncertain, blocked, gone)
SELECT run_id, variant_id,
       count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'sending'),
       count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE status = 'failed'),
       count(*) FILTER (WHERE status = 'skipped'), count(*) FILTER (WHERE status = 'uncertain'),
       count(*) FILTER (WHERE failure = 'blocked'), count(*) FILTER (WHERE failure = 'gone')
  FROM deliveries
 GROUP BY run_id, variant_id
 ORDER BY run_id, variant_id;

INSERT INTO run_sends (run_id, bot_id, second, sent)
SELECT run_id, bot_id, floor(extract(epoch FROM sent_at))::bigint, count(*)
  FROM deliveries
 WHERE status = 'sent' AND sent_at IS NOT NULL
 GROUP BY 1, 2, 3
 ORDER BY 1, 2, 3;
