-- 0014: the indexes the dashboard's Bots and Activity pages read events by.

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
-- cancel, a crash's settling, a forgotten chat's deliveries deleted by cascade). Each row
-- written counts +1 in its new status, -1 in its old one. A run deleted with its
-- deliveries leaves nothing to count (its counts went with it).
CREATE FUNCTION add_delivery_counts(
    run_ids bigint[], variant_ids bigint[], statuses text[], failures text[], signs integer[]
) RETURNS void
    LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO run_delivery_counts (run_id, variant_id, pending, sending, sent, failed,
                                     skipped, uncertain, blocked, gone)
    SELECT c.run_id, c.variant_id, c.pending, c.sending, c.sent, c.failed, c.skipped,
           c.uncertain, c.blocked, c.gone
      FROM (
          SELECT u.run_id, u.variant_id,
                 coalesce(sum(u.sign) FILTER (WHERE u.status = 'pending'), 0) AS pending,
                 coalesce(sum(u.sign) FILTER (WHERE u.status = 'sending'), 0) AS sending,
                 coalesce(sum(u.sign) FILTER (WHERE u.status = 'sent'), 0) AS sent,
                 coalesce(sum(u.sign) FILTER (WHERE u.status = 'failed'), 0) AS failed,
                 coalesce(sum(u.sign) FILTER (WHERE u.status = 'skipped'), 0) AS skipped,
                 coalesce(sum(u.sign) FILTER (WHERE u.status = 'uncertain'), 0) AS uncertain,
                 coalesce(sum(u.sign) FILTER (WHERE u.failure = 'blocked'), 0) AS blocked,
                 coalesce(sum(u.sign) FILTER (WHERE u.failure = 'gone'), 0) AS gone
            FROM unnest(run_ids, variant_ids, statuses, failures, signs)
                 AS u (run_id, variant_id, status, failure, sign)
           GROUP BY u.run_id, u.variant_id
      ) AS c
      JOIN runs r ON r.id = c.run_id
     WHERE (c.pending, c.sending, c.sent, c.failed, c.skipped, c.uncertain, c.blocked, c.gone)
           <> (0, 0, 0, 0, 0, 0, 0, 0)
     ORDER BY c.run_id, c.variant_id;
END;

CREATE FUNCTION add_sends(
    run_ids bigint[], bot_ids bigint[], sent_ats timestamptz[], signs integer[]
) RETURNS void
    LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO run_sends (run_id, bot_id, second, sent)
    SELECT u.run_id, u.bot_id, floor(extract(epoch FROM u.sent_at))::bigint, sum(u.sign)
      FROM unnest(run_ids, bot_ids, sent_ats, signs) AS u (run_id, bot_id, sent_at, sign)
      JOIN runs r ON r.id = u.run_id
     WHERE u.sent_at IS NOT NULL
     GROUP BY u.run_id, u.bot_id, 3
    HAVING sum(u.sign) <> 0
     ORDER BY u.run_id, u.bot_id, 3;
END;

CREATE FUNCTION count_deliveries() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM add_delivery_counts(array_agg(run_id), array_agg(variant_id),
                                    array_agg(status), array_agg(failure), array_agg(1))
           FROM new_rows;
        PERFORM add_sends(array_agg(run_id), array_agg(bot_id), array_agg(sent_at),
                          array_agg(1))
           FROM new_rows WHERE status = 'sent';
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM add_delivery_counts(array_agg(run_id), array_agg(variant_id),
                                    array_agg(status), array_agg(failure), array_agg(sign))
           FROM (SELECT run_id, variant_id, status, failure, -1 AS sign FROM old_rows
                 UNION ALL
                 SELECT run_id, variant_id, status, failure, 1 FROM new_rows) AS change;
        -- Only rows that became sent, or stopped being sent, or whose send time moved.
        PERFORM add_sends(array_agg(run_id), array_agg(bot_id), array_agg(sent_at),
                          array_agg(sign))
           FROM (SELECT run_id, bot_id, sent_at, -1 AS sign FROM old_rows WHERE status = 'sent'
                 UNION ALL
                 SELECT run_id, bot_id, sent_at, 1 FROM new_rows WHERE status = 'sent')
                AS change;
    ELSE
        PERFORM add_delivery_counts(array_agg(run_id), array_agg(variant_id),
                                    array_agg(status), array_agg(failure), array_agg(-1))
           FROM old_rows;
        PERFORM add_sends(array_agg(run_id), array_agg(bot_id), array_agg(sent_at),
                          array_agg(-1))
           FROM old_rows WHERE status = 'sent';
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
