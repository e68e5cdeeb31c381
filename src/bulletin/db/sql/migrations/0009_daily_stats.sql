-- 0009: daily rollups, per bot and per campaign variant, kept up to date by the writes
-- that settle deliveries and change subscribers (db/stats.py), so that reading a month of
-- stats never scans deliveries. Days are UTC days of when the outcome was recorded.

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
    sent          bigint NOT NULL DEFAULT 0,
    failed        bigint NOT NULL DEFAULT 0,
    blocked       bigint NOT NULL DEFAULT 0,
    gone          bigint NOT NULL DEFAULT 0,
    skipped       bigint NOT NULL DEFAULT 0,
    uncertain     bigint NOT NULL DEFAULT 0,
    rate_limited  bigint NOT NULL DEFAULT 0,
    opted_out     bigint NOT NULL DEFAULT 0,   -- recipients who blocked the bot on this message
    PRIMARY KEY (campaign_id, variant_id, day)
);

-- `bulletin stats` reads a span of days across bots or campaigns.
CREATE INDEX daily_bot_stats_day ON daily_bot_stats (day);
CREATE INDEX daily_campaign_stats_day ON daily_campaign_stats (day);

-- One-off backfill from what is already recorded: settled deliveries by the day they were
-- last written, 429s and subscriber changes from the events.
WITH settled AS (
    SELECT (d.updated_at AT TIME ZONE 'UTC')::date AS day, d.bot_id, d.status, d.failure
      FROM deliveries d
     WHERE d.status IN ('sent', 'failed', 'skipped', 'uncertain')
), deliveries_by_day AS (
    SELECT day, bot_id,
           count(*) FILTER (WHERE status = 'sent') AS sent,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           count(*) FILTER (WHERE failure = 'blocked') AS blocked,
           count(*) FILTER (WHERE failure = 'gone') AS gone,
           count(*) FILTER (WHERE status = 'skipped') AS skipped,
           count(*) FILTER (WHERE status = 'uncertain') AS uncertain
      FROM settled
     GROUP BY day, bot_id
), events_by_day AS (
    SELECT (e.at AT TIME ZONE 'UTC')::date AS day, e.bot_id,
           count(*) FILTER (WHERE e.kind = 'delivery.rate_limited') AS rate_limited,
           count(*) FILTER (WHERE e.kind = 'subscriber.subscribed') AS subscribed,
           -- a block learnt from a delivery's 403 is logged as subscriber.blocked too
           count(*) FILTER (WHERE e.kind IN ('subscriber.unsubscribed', 'subscriber.blocked'))
               AS opted_out
      FROM events e
     WHERE e.bot_id IN (SELECT id FROM bots)
     GROUP BY 1, 2
)
INSERT INTO daily_bot_stats (day, bot_id, sent, failed, blocked, gone, skipped, uncertain,
                             rate_limited, subscribed, opted_out)
SELECT coalesce(d.day, e.day), coalesce(d.bot_id, e.bot_id),
       coalesce(d.sent, 0), coalesce(d.failed, 0), coalesce(d.blocked, 0), coalesce(d.gone, 0),
       coalesce(d.skipped, 0), coalesce(d.uncertain, 0), coalesce(e.rate_limited, 0),
       coalesce(e.subscribed, 0), coalesce(e.opted_out, 0)
  FROM deliveries_by_day d
  FULL JOIN events_by_day e ON e.day = d.day AND e.bot_id = d.bot_id;

INSERT INTO daily_campaign_stats (day, campaign_id, variant_id, sent, failed, blocked, gone,
                                  skipped, uncertain, opted_out)
SELECT (d.updated_at AT TIME ZONE 'UTC')::date, r.campaign_id, d.variant_id,
       count(*) FILTER (WHERE d.status = 'sent'),
       count(*) FILTER (WHERE d.status = 'failed'),
       count(*) FILTER (WHERE d.failure = 'blocked'),
       count(*) FILTER (WHERE d.failure = 'gone'),
       count(*) FILTER (WHERE d.status = 'skipped'),
       count(*) FILTER (WHERE d.status = 'uncertain'),
       count(*) FILTER (WHERE d.status = 'failed' AND d.failure = 'blocked')
  FROM deliveries d JOIN runs r ON r.id = d.run_id
 WHERE d.status IN ('sent', 'failed', 'skipped', 'uncertain')
 GROUP BY 1, 2, 3;
