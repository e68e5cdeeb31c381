-- Every runtime query of bulletin, one named block each; parameters are positional
-- and listed in the comment under the name. Time comes from the database clock
-- (clock_timestamp) so that workers on several machines agree on leases and due times.

-- ───────────────────────────── bots ─────────────────────────────

-- name: insert_bot
-- $1 id, $2 name, $3 username, $4 token, $5 api_url, $6 rate_per_s, $7 paid_broadcast,
-- $8 proxies (text[])
INSERT INTO bots (id, name, username, token, api_url, rate_per_s, paid_broadcast, proxies)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *;

-- name: find_bot
-- $1 name, @username or numeric id
SELECT * FROM bots
 WHERE name = $1 OR '@' || username = $1 OR username = $1 OR id::text = $1
 ORDER BY name = $1 DESC
 LIMIT 1;

-- name: bot_by_id
-- $1 id
SELECT * FROM bots WHERE id = $1;

-- name: list_bots
SELECT b.*,
       (SELECT count(*) FROM subscribers s WHERE s.bot_id = b.id AND s.status = 'subscribed')
           AS subscribed
  FROM bots b
 ORDER BY b.name;

-- name: bot_campaign_names
-- $1 bot_id
SELECT name FROM campaigns WHERE bot_id = $1 ORDER BY name;

-- name: delete_bot
-- $1 id
DELETE FROM bots WHERE id = $1;

-- name: set_bot_pace
-- $1 id, $2 rate_per_s, $3 paid_broadcast, $4 proxies (text[]); NULL keeps a value
UPDATE bots SET rate_per_s = coalesce($2, rate_per_s),
                paid_broadcast = coalesce($3, paid_broadcast),
                proxies = coalesce($4, proxies)
 WHERE id = $1
RETURNING *;

-- name: set_bot_status
-- $1 id, $2 status
UPDATE bots SET status = $2 WHERE id = $1;

-- ───────────────────────────── subscribers ─────────────────────────────

-- name: create_staging
CREATE TEMPORARY TABLE audience_staging (
    line           integer NOT NULL,
    chat_id        bigint NOT NULL,
    chat_type      text NOT NULL,
    first_name     text,
    username       text,
    language_code  text,
    tags           text[] NOT NULL,
    fields         jsonb NOT NULL
) ON COMMIT DROP;

-- name: merge_staging
-- $1 bot_id, $2 extra tags (text[]), $3 source
-- Merges the staged file into subscribers in one statement. A chat listed twice
-- takes the last line's fields and the union of its tags. A chat already known
-- keeps its status: an import never re-subscribes a chat that opted out.
WITH staged_tags AS (
    SELECT chat_id, array_agg(DISTINCT tag ORDER BY tag) AS tags
      FROM audience_staging, unnest(tags || $2::text[]) AS tag
     GROUP BY chat_id
), staged AS (
    SELECT DISTINCT ON (chat_id) *
      FROM audience_staging
     ORDER BY chat_id, line DESC
), merged AS (
    INSERT INTO subscribers AS s
           (bot_id, chat_id, chat_type, first_name, username, language_code, tags, fields, source)
    SELECT $1, st.chat_id, st.chat_type, st.first_name, st.username, st.language_code,
           coalesce(t.tags, '{}'), st.fields, $3
      FROM staged st LEFT JOIN staged_tags t USING (chat_id)
    ON CONFLICT (bot_id, chat_id) DO UPDATE
       SET first_name    = coalesce(EXCLUDED.first_name, s.first_name),
           username      = coalesce(EXCLUDED.username, s.username),
           language_code = coalesce(EXCLUDED.language_code, s.language_code),
           tags          = ARRAY(SELECT DISTINCT x FROM unnest(s.tags || EXCLUDED.tags) AS x ORDER BY x),
           fields        = s.fields || EXCLUDED.fields,
           updated_at    = clock_timestamp()
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted) AS updated
  FROM merged;

-- name: subscriber_counts
-- $1 bot_id (NULL for all bots)
SELECT b.name AS bot, s.status, count(*) AS subscribers
  FROM subscribers s JOIN bots b ON b.id = s.bot_id
 WHERE $1::bigint IS NULL OR s.bot_id = $1
 GROUP BY b.name, s.status
 ORDER BY b.name, s.status;

-- name: list_subscribers
-- $1 bot_id, $2 status (NULL for any), $3 limit
SELECT chat_id, chat_type, status, first_name, username, language_code, tags, source, flagged,
       updated_at
  FROM subscribers
 WHERE bot_id = $1 AND ($2::text IS NULL OR status = $2)
 ORDER BY id
 LIMIT $3;

-- name: mark_subscribers
-- $1 bot_id, $2 chat_ids (bigint[]), $3 statuses (text[]), $4 flags (text[])
-- Outcomes learnt from Telegram: blocked, gone, or flagged (status kept when NULL).
UPDATE subscribers s
   SET status = coalesce(u.status, s.status),
       flagged = coalesce(u.flag, s.flagged),
       updated_at = clock_timestamp()
  FROM unnest($2::bigint[], $3::text[], $4::text[]) AS u (chat_id, status, flag)
 WHERE s.bot_id = $1 AND s.chat_id = u.chat_id;

-- ───────────────────────────── campaigns ─────────────────────────────

-- name: insert_campaign
-- $1 name, $2 bot_id, $3 paid_broadcast, $4 resend_uncertain
INSERT INTO campaigns (name, bot_id, paid_broadcast, resend_uncertain)
VALUES ($1, $2, $3, $4)
RETURNING id;

-- name: insert_variant
-- $1 campaign_id, $2 name, $3 weight, $4 text, $5 parse_mode
INSERT INTO variants (campaign_id, name, weight, text, parse_mode)
VALUES ($1, $2, $3, $4, $5)
RETURNING id;

-- name: find_campaign
-- $1 name
SELECT c.*, b.name AS bot_name, v.text, v.parse_mode
  FROM campaigns c
  JOIN bots b ON b.id = c.bot_id
  JOIN LATERAL (SELECT text, parse_mode FROM variants
                 WHERE campaign_id = c.id ORDER BY id LIMIT 1) v ON true
 WHERE c.name = $1;

-- name: list_campaigns
SELECT c.*, b.name AS bot_name, v.text, v.parse_mode,
       r.id AS last_run_id, r.status AS last_run_status
  FROM campaigns c
  JOIN bots b ON b.id = c.bot_id
  JOIN LATERAL (SELECT text, parse_mode FROM variants
                 WHERE campaign_id = c.id ORDER BY id LIMIT 1) v ON true
  LEFT JOIN LATERAL (SELECT id, status FROM runs
                      WHERE campaign_id = c.id ORDER BY id DESC LIMIT 1) r ON true
 ORDER BY c.name;

-- name: set_campaign_status
-- $1 id, $2 status, $3 paused_reason
UPDATE campaigns SET status = $2, paused_reason = $3 WHERE id = $1;

-- ───────────────────────────── runs ─────────────────────────────

-- name: insert_run
-- $1 campaign_id
INSERT INTO runs (campaign_id) VALUES ($1) RETURNING id;

-- name: snapshot_audience
-- $1 run_id, $2 campaign_id
-- The run's audience, frozen now: one pending delivery per subscribed chat of the
-- campaign's bot. Variants are assigned by a stable hash of (campaign, chat) so a
-- chat sees the same variant in every run.
WITH variant_slots AS (
    SELECT id, sum(weight) OVER (ORDER BY id) - weight AS lower_bound,
           sum(weight) OVER (ORDER BY id) AS upper_bound,
           sum(weight) OVER () AS total
      FROM variants WHERE campaign_id = $2
)
INSERT INTO deliveries (run_id, bot_id, subscriber_id, chat_id, variant_id)
SELECT $1, s.bot_id, s.id, s.chat_id, v.id
  FROM campaigns c
  JOIN subscribers s ON s.bot_id = c.bot_id AND s.status = 'subscribed'
  JOIN variant_slots v
    ON (abs(hashtextextended(c.id::text || ':' || s.chat_id::text, 0)) % v.total)
       >= v.lower_bound
   AND (abs(hashtextextended(c.id::text || ':' || s.chat_id::text, 0)) % v.total)
       < v.upper_bound
 WHERE c.id = $2
 ORDER BY s.id;

-- name: set_run_audience
-- $1 run_id, $2 audience
UPDATE runs SET audience = $2,
                status = CASE WHEN $2 = 0 THEN 'done' ELSE status END,
                finished_at = CASE WHEN $2 = 0 THEN clock_timestamp() END
 WHERE id = $1;

-- name: get_run
-- $1 run_id
SELECT r.*, c.name AS campaign_name
  FROM runs r JOIN campaigns c ON c.id = r.campaign_id
 WHERE r.id = $1;

-- name: latest_run
-- $1 campaign_id
SELECT r.*, c.name AS campaign_name
  FROM runs r JOIN campaigns c ON c.id = r.campaign_id
 WHERE r.campaign_id = $1
 ORDER BY r.id DESC
 LIMIT 1;

-- name: run_counts
-- $1 run_id
SELECT count(*) AS total,
       count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE status = 'sending') AS sending,
       count(*) FILTER (WHERE status = 'sent') AS sent,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'skipped') AS skipped,
       count(*) FILTER (WHERE status = 'uncertain') AS uncertain,
       count(*) FILTER (WHERE failure = 'blocked') AS blocked,
       count(*) FILTER (WHERE failure = 'gone') AS gone,
       min(sent_at) AS first_sent_at,
       max(sent_at) AS last_sent_at,
       (SELECT count(*) FROM events e
         WHERE e.run_id = $1 AND e.kind = 'delivery.retry') AS retried,
       (SELECT count(*) FROM events e
         WHERE e.run_id = $1 AND e.kind = 'delivery.rate_limited') AS rate_limited
  FROM deliveries
 WHERE run_id = $1;

-- name: run_failures
-- $1 run_id, $2 limit
SELECT coalesce(failure, 'other') AS failure, error, count(*) AS deliveries
  FROM deliveries
 WHERE run_id = $1 AND status IN ('failed', 'skipped', 'uncertain')
 GROUP BY 1, 2
 ORDER BY 3 DESC
 LIMIT $2;

-- name: finish_runs
-- $1 run_ids (bigint[])
-- A running run is done once no delivery is left to send.
UPDATE runs r
   SET status = 'done', finished_at = clock_timestamp()
 WHERE r.id = ANY($1::bigint[]) AND r.status = 'running'
   AND NOT EXISTS (SELECT 1 FROM deliveries d
                    WHERE d.run_id = r.id AND d.status IN ('pending', 'sending'))
RETURNING r.id;

-- name: pause_run
-- $1 run_id, $2 reason
-- A content error pauses the run and its campaign, so the rest of the audience is not burnt.
WITH paused AS (
    UPDATE runs SET status = 'paused', paused_reason = $2
     WHERE id = $1 AND status = 'running'
    RETURNING campaign_id
)
UPDATE campaigns SET status = 'paused', paused_reason = $2
 WHERE id IN (SELECT campaign_id FROM paused);

-- name: resume_runs
-- $1 campaign_id
WITH resumed AS (
    UPDATE runs SET status = 'running', paused_reason = NULL
     WHERE campaign_id = $1 AND status = 'paused'
    RETURNING id
)
UPDATE campaigns SET status = 'active', paused_reason = NULL
 WHERE id = $1
RETURNING (SELECT count(*) FROM resumed) AS runs;

-- name: active_runs
SELECT r.*, c.name AS campaign_name
  FROM runs r JOIN campaigns c ON c.id = r.campaign_id
 WHERE r.status IN ('running', 'paused')
 ORDER BY r.id;

-- ───────────────────────────── worker ─────────────────────────────

-- name: lease_bots
-- $1 worker_id, $2 lease_s, $3 max bots
-- Takes (or renews) leases on active bots that have deliveries of running runs.
-- A lease held by another worker is taken only once it has expired.
INSERT INTO bot_leases AS l (bot_id, worker_id, expires_at)
SELECT b.id, $1, clock_timestamp() + make_interval(secs => $2)
  FROM bots b
 WHERE b.status = 'active'
   AND EXISTS (SELECT 1 FROM deliveries d JOIN runs r ON r.id = d.run_id
                WHERE d.bot_id = b.id AND r.status = 'running'
                  AND d.status IN ('pending', 'sending'))
 ORDER BY b.id
 LIMIT $3
ON CONFLICT (bot_id) DO UPDATE
   SET worker_id = EXCLUDED.worker_id, expires_at = EXCLUDED.expires_at
 WHERE l.worker_id = EXCLUDED.worker_id OR l.expires_at < clock_timestamp()
RETURNING bot_id;

-- name: renew_leases
-- $1 worker_id, $2 lease_s, $3 bot_ids (bigint[])
UPDATE bot_leases SET expires_at = clock_timestamp() + make_interval(secs => $2)
 WHERE worker_id = $1 AND bot_id = ANY($3::bigint[])
RETURNING bot_id;

-- name: revoked_bots_with_work
-- Names of revoked bots that still have deliveries to send, when no bot is active:
-- then no worker can do anything until an operator re-adds a token.
SELECT b.name
  FROM bots b
 WHERE b.status = 'revoked'
   AND NOT EXISTS (SELECT 1 FROM bots WHERE status = 'active')
   AND EXISTS (SELECT 1 FROM deliveries d JOIN runs r ON r.id = d.run_id
                WHERE d.bot_id = b.id AND r.status = 'running' AND d.status = 'pending')
 ORDER BY b.name;

-- name: release_leases
-- $1 worker_id, $2 bot_ids (bigint[])
DELETE FROM bot_leases WHERE worker_id = $1 AND bot_id = ANY($2::bigint[]);

-- name: settle_orphans
-- $1 bot_id, $2 worker_id, $3 resend_uncertain (this worker's policy)
-- Under a fresh lease, a delivery still `sending` for another worker belongs to a
-- worker that died mid-send: Telegram may or may not have shown it. It is resent
-- only when the worker or the campaign says so.
WITH orphans AS (
    SELECT d.id, ($3 OR c.resend_uncertain) AS resend
      FROM deliveries d
      JOIN runs r ON r.id = d.run_id
      JOIN campaigns c ON c.id = r.campaign_id
     WHERE d.bot_id = $1 AND d.status = 'sending' AND d.claimed_by IS DISTINCT FROM $2
)
UPDATE deliveries d
   SET status = CASE WHEN o.resend THEN 'pending' ELSE 'uncertain' END,
       failure = CASE WHEN o.resend THEN NULL ELSE 'uncertain' END,
       error = 'worker stopped while sending; Telegram may or may not have delivered it',
       claimed_by = NULL,
       updated_at = clock_timestamp()
  FROM orphans o
 WHERE d.id = o.id
RETURNING d.id, d.run_id, d.chat_id, d.status;

-- name: claim_deliveries
-- $1 bot_id, $2 worker_id, $3 limit
WITH due AS (
    -- This bot's due deliveries of running runs, oldest first. Rows another
    -- transaction holds are skipped, never waited for.
    SELECT d.id
      FROM deliveries d
     WHERE d.bot_id = $1 AND d.status = 'pending' AND d.due_at <= clock_timestamp()
       AND d.run_id IN (SELECT id FROM runs WHERE status = 'running')
     ORDER BY d.due_at, d.id
     LIMIT $3
       FOR UPDATE OF d SKIP LOCKED
)
-- Claiming and checking consent are one step: a chat that opted out since the
-- snapshot is skipped here, so an opt-out takes effect before its turn.
UPDATE deliveries d
   SET status = CASE WHEN s.status = 'subscribed' THEN 'sending' ELSE 'skipped' END,
       failure = CASE WHEN s.status = 'subscribed' THEN NULL ELSE s.status END,
       chat_id = s.chat_id,
       claimed_by = $2,
       updated_at = clock_timestamp()
  FROM due, subscribers s, variants v
 WHERE d.id = due.id AND s.id = d.subscriber_id AND v.id = d.variant_id
RETURNING d.id, d.run_id, d.bot_id, d.chat_id, s.chat_type, d.attempts, d.status,
          v.text, v.parse_mode,
          (SELECT c.paid_broadcast OR b.paid_broadcast
             FROM runs r JOIN campaigns c ON c.id = r.campaign_id JOIN bots b ON b.id = c.bot_id
            WHERE r.id = d.run_id) AS paid;

-- name: record_outcomes
-- $1 worker_id, $2 ids, $3 statuses, $4 message_ids, $5 failures, $6 errors,
-- $7 attempt increments, $8 delays_s, $9 answered_at
-- Finalises only rows still `sending` under this worker: a row settled by
-- another worker after a lease loss is never finalised twice.
UPDATE deliveries d
   SET status = u.status,
       message_id = coalesce(u.message_id, d.message_id),
       failure = u.failure,
       error = coalesce(u.error, d.error),
       attempts = d.attempts + u.attempt_increment,
       due_at = u.answered_at + make_interval(secs => u.delay_s),
       sent_at = CASE WHEN u.status = 'sent' THEN u.answered_at END,
       claimed_by = NULL,
       updated_at = clock_timestamp()
  FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::int[],
              $8::float8[], $9::timestamptz[])
       AS u (id, status, message_id, failure, error, attempt_increment, delay_s, answered_at)
 WHERE d.id = u.id AND d.status = 'sending' AND d.claimed_by = $1
RETURNING d.id;

-- name: release_claims
-- $1 worker_id, $2 ids (bigint[])
-- Claimed rows never handed to Telegram go back to pending on a graceful stop.
UPDATE deliveries SET status = 'pending', claimed_by = NULL, updated_at = clock_timestamp()
 WHERE id = ANY($2::bigint[]) AND status = 'sending' AND claimed_by = $1;

-- name: insert_events
-- $1 kinds, $2 bot_ids, $3 run_ids, $4 chat_ids, $5 details
INSERT INTO events (kind, bot_id, run_id, chat_id, detail)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[]);

-- name: migrate_chat
-- $1 bot_id, $2 old chat_id, $3 new chat_id
-- A group became a supergroup: the subscriber moves to the new id, or, when the new
-- id is already a subscriber, the old row is retired as gone.
WITH existing AS (
    SELECT id FROM subscribers WHERE bot_id = $1 AND chat_id = $3
), moved AS (
    UPDATE subscribers
       SET chat_id = $3, chat_type = 'supergroup', updated_at = clock_timestamp()
     WHERE bot_id = $1 AND chat_id = $2 AND NOT EXISTS (SELECT 1 FROM existing)
    RETURNING id
), retired AS (
    UPDATE subscribers
       SET status = 'gone', flagged = 'migrated to ' || $3::text, updated_at = clock_timestamp()
     WHERE bot_id = $1 AND chat_id = $2 AND EXISTS (SELECT 1 FROM existing)
    RETURNING id
)
SELECT coalesce((SELECT id FROM moved), (SELECT id FROM existing)) AS subscriber_id;

-- name: redirect_delivery
-- $1 delivery_id, $2 subscriber_id, $3 new chat_id
-- Resend within the same run to the migrated chat, unless the run already has it.
UPDATE deliveries d
   SET subscriber_id = $2, chat_id = $3, status = 'pending', claimed_by = NULL,
       due_at = clock_timestamp(), updated_at = clock_timestamp()
 WHERE d.id = $1
   AND NOT EXISTS (SELECT 1 FROM deliveries o
                    WHERE o.run_id = d.run_id AND o.chat_id = $3 AND o.id <> d.id)
RETURNING d.id;

-- name: skip_delivery
-- $1 delivery_id, $2 failure, $3 error
UPDATE deliveries
   SET status = 'skipped', failure = $2, error = $3, claimed_by = NULL,
       updated_at = clock_timestamp()
 WHERE id = $1;

-- name: update_bot_endpoint
-- $1 id, $2 token, $3 api_url, $4 rate_per_s
UPDATE bots SET token = $2, api_url = $3, rate_per_s = $4, status = 'active'
 WHERE id = $1
RETURNING *;
