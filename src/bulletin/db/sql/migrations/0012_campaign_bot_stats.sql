-- 0012: the campaign rollup is kept per bot too, so deliveries read by bot and campaign
-- together (`stats --bot B --campaign C`, /metrics) without scanning deliveries; and each
-- run remembers the last status `serve` logged, so one process logs each transition once.

-- The rollup is rebuilt from what is recorded, as 0009 first filled it: the rows so far
-- do not say which bot sent what. A cancel's skipped deliveries were never attempted and
-- are not counted (the writes that keep the rollup never counted them either).
DELETE FROM daily_campaign_stats;
ALTER TABLE daily_campaign_stats
    ADD COLUMN bot_id bigint NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    DROP CONSTRAINT daily_campaign_stats_pkey,
    ADD PRIMARY KEY (campaign_id, variant_id, bot_id, day);

INSERT INTO daily_campaign_stats (day, campaign_id, variant_id, bot_id, sent, failed, blocked,
                                  gone, skipped, uncertain, opted_out)
SELECT (d.updated_at AT TIME ZONE 'UTC')::date, r.campaign_id, d.variant_id, d.bot_id,
       count(*) FILTER (WHERE d.status = 'sent'),
       count(*) FILTER (WHERE d.status = 'failed'),
       count(*) FILTER (WHERE d.failure = 'blocked'),
       count(*) FILTER (WHERE d.failure = 'gone'),
       count(*) FILTER (WHERE d.status = 'skipped'),
       count(*) FILTER (WHERE d.status = 'uncertain'),
       count(*) FILTER (WHERE d.status = 'failed' AND d.failure = 'blocked')
  FROM deliveries d JOIN runs r ON r.id = d.run_id
 WHERE d.status IN ('sent', 'failed', 'skipped', 'uncertain')
   AND d.failure IS DISTINCT FROM 'cancelled'
 GROUP BY 1, 2, 3, 4;

-- 429s from their events, on the day they were answered.
INSERT INTO daily_campaign_stats AS t (day, campaign_id, variant_id, bot_id, rate_limited)
SELECT (e.at AT TIME ZONE 'UTC')::date, r.campaign_id, d.variant_id, d.bot_id, count(*)
  FROM events e
  JOIN deliveries d ON d.run_id = e.run_id AND d.chat_id = e.chat_id
  JOIN runs r ON r.id = e.run_id
 WHERE e.kind = 'delivery.rate_limited'
 GROUP BY 1, 2, 3, 4
ON CONFLICT (campaign_id, variant_id, bot_id, day) DO UPDATE
   SET rate_limited = EXCLUDED.rate_limited;

-- The status of the run `serve` last logged (started, paused, resumed, finished); runs
-- that exist already count as logged.
ALTER TABLE runs ADD COLUMN logged_status text;
UPDATE runs SET logged_status = status;
-- What every serve process looks for each second: the few runs with a change to log.
CREATE INDEX runs_unlogged ON runs (id) WHERE logged_status IS DISTINCT FROM status;
