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
-- takes the last line's fields and the union of its tags (each line's tags arrive
-- sorted and distinct). A chat already known keeps its status: an import never
-- re-subscribes a chat that opted out (resubscribe_staged does, when asked, first).
-- A forgotten chat's tombstone keeps it out. A known chat the file changes nothing of
-- is left as it is (re-importing the same file rewrites no row).
-- Most files list each chat once: one hash pass finds the chats listed more than once,
-- and only those are sorted, so a large file is inserted in file order without a sort.
WITH repeated AS (
    SELECT chat_id, count(*) AS copies
      FROM audience_staging
     GROUP BY chat_id
    HAVING count(*) > 1
), last_copies AS (
    SELECT DISTINCT ON (a.chat_id) a.*
      FROM audience_staging a JOIN repeated USING (chat_id)
     ORDER BY a.chat_id, a.line DESC
), tags_of_copies AS (
    SELECT chat_id, array_agg(DISTINCT tag ORDER BY tag) AS tags
      FROM audience_staging a JOIN repeated USING (chat_id), unnest(a.tags) AS tag
     GROUP BY chat_id
), staged AS (
    SELECT a.chat_id, a.chat_type, a.first_name, a.username, a.language_code, a.fields, a.tags
      FROM audience_staging a
     WHERE NOT EXISTS (SELECT 1 FROM repeated r WHERE r.chat_id = a.chat_id)
    UNION ALL
    SELECT l.chat_id, l.chat_type, l.first_name, l.username, l.language_code, l.fields,
           coalesce(t.tags, '{}')
      FROM last_copies l LEFT JOIN tags_of_copies t USING (chat_id)
), merged AS (
    INSERT INTO subscribers AS s
           (bot_id, chat_id, chat_type, first_name, username, language_code, tags, fields, source)
    SELECT $1, st.chat_id, st.chat_type, st.first_name, st.username, st.language_code,
           CASE WHEN cardinality($2::text[]) = 0 THEN st.tags
                ELSE ARRAY(SELECT DISTINCT x FROM unnest(st.tags || $2::text[]) AS x ORDER BY x)
           END,
           st.fields, $3
      FROM staged st
     -- The first test runs once: without tombstones no chat id is hashed.
     WHERE NOT EXISTS (SELECT 1 FROM forgotten_chats WHERE bot_id = $1)
        OR NOT EXISTS (SELECT 1 FROM forgotten_chats f
                        WHERE f.bot_id = $1 AND f.chat_hash = chat_hash($1, st.chat_id))
    ON CONFLICT (bot_id, chat_id) DO UPDATE
       SET first_name    = coalesce(EXCLUDED.first_name, s.first_name),
           username      = coalesce(EXCLUDED.username, s.username),
           language_code = coalesce(EXCLUDED.language_code, s.language_code),
           tags          = ARRAY(SELECT DISTINCT x FROM unnest(s.tags || EXCLUDED.tags) AS x ORDER BY x),
           fields        = s.fields || EXCLUDED.fields,
           updated_at    = clock_timestamp()
     WHERE s.first_name IS DISTINCT FROM coalesce(EXCLUDED.first_name, s.first_name)
        OR s.username IS DISTINCT FROM coalesce(EXCLUDED.username, s.username)
        OR s.language_code IS DISTINCT FROM coalesce(EXCLUDED.language_code, s.language_code)
        OR NOT s.tags @> EXCLUDED.tags
        OR NOT s.fields @> EXCLUDED.fields
    RETURNING (xmax = 0) AS inserted
), forgotten AS (
    SELECT count(DISTINCT a.chat_id) AS chats
      FROM audience_staging a
     WHERE EXISTS (SELECT 1 FROM forgotten_chats WHERE bot_id = $1)
       AND EXISTS (SELECT 1 FROM forgotten_chats f
                    WHERE f.bot_id = $1 AND f.chat_hash = chat_hash($1, a.chat_id))
)
SELECT count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted) AS updated,
       (SELECT count(*) FROM audience_staging)
         - (SELECT coalesce(sum(copies - 1), 0) FROM repeated)
         - (SELECT chats FROM forgotten)
         - count(*) AS unchanged,
       (SELECT chats FROM forgotten) AS forgotten
  FROM merged;

-- name: resubscribe_staged
-- $1 bot_id
-- `audience import --resubscribe`, before the merge: the staged chats that unsubscribed
-- are subscribed again, each logged as an event. Blocked and gone chats stay as they are;
-- a forgotten chat has no row to change.
WITH resubscribed AS (
    UPDATE subscribers s
       SET status = 'subscribed', updated_at = clock_timestamp()
     WHERE s.bot_id = $1
       AND s.status = 'unsubscribed'
       AND s.chat_id IN (SELECT chat_id FROM audience_staging)
       AND NOT EXISTS (SELECT 1 FROM forgotten_chats f
                        WHERE f.bot_id = $1 AND f.chat_hash = chat_hash($1, s.chat_id))
    RETURNING s.chat_id
), logged AS (
    INSERT INTO events (kind, bot_id, chat_id, detail)
    SELECT 'subscriber.resubscribed', $1, chat_id, 'audience import --resubscribe'
      FROM resubscribed
)
SELECT count(*) AS resubscribed FROM resubscribed;

-- name: opted_out_staged
-- $1 bot_id
-- After the merge, in its transaction: the staged chats that are known and not subscribed
-- (they unsubscribed, blocked the bot or are gone). The merge kept their status.
SELECT count(DISTINCT a.chat_id)
  FROM audience_staging a
  JOIN subscribers s ON s.bot_id = $1 AND s.chat_id = a.chat_id
 WHERE s.status <> 'subscribed';

-- name: find_subscriber
-- $1 bot_id, $2 chat_id
-- The columns of export_subscribers, for one chat.
SELECT chat_id, chat_type, status, first_name, username, language_code, tags, fields,
       source, title, can_post, flagged, created_at, updated_at
  FROM subscribers
 WHERE bot_id = $1 AND chat_id = $2;

-- name: bulk_settings
-- For an import's transaction: the merge hashes the whole file once, in memory, not in
-- temporary files; and no JIT, whose compile time costs more than it saves on this plan.
SELECT set_config('work_mem', '128MB', true), set_config('jit', 'off', true);

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
       r.number AS last_run_number, r.status AS last_run_status
  FROM campaigns c
  JOIN bots b ON b.id = c.bot_id
  JOIN LATERAL (SELECT text, parse_mode FROM variants
                 WHERE campaign_id = c.id ORDER BY id LIMIT 1) v ON true
  LEFT JOIN LATERAL (SELECT number, status FROM runs
                      WHERE campaign_id = c.id ORDER BY id DESC LIMIT 1) r ON true
 ORDER BY c.name;

-- name: set_campaign_status
-- $1 id, $2 status, $3 paused_reason
UPDATE campaigns SET status = $2, paused_reason = $3 WHERE id = $1;

-- ───────────────────────────── runs ─────────────────────────────

-- name: set_run_audience
-- $1 run_id, $2 audience (a run of none is finished at once by finish_runs)
UPDATE runs SET audience = $2 WHERE id = $1;

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
-- What `campaign status`, the API and the dashboard say of a run. The counts by status are
-- the sums of run_delivery_counts, kept by the statements that write deliveries (a few rows
-- per run, not one per delivery); the first and last send are two probes of
-- deliveries_run_sent (only a sent delivery has a sent_at).
SELECT coalesce(sum(c.pending + c.sending + c.sent + c.failed + c.skipped + c.uncertain), 0)
           ::bigint AS total,
       coalesce(sum(c.pending), 0)::bigint AS pending,
       coalesce(sum(c.sending), 0)::bigint AS sending,
       coalesce(sum(c.sent), 0)::bigint AS sent,
       coalesce(sum(c.failed), 0)::bigint AS failed,
       coalesce(sum(c.skipped), 0)::bigint AS skipped,
       coalesce(sum(c.uncertain), 0)::bigint AS uncertain,
       coalesce(sum(c.blocked), 0)::bigint AS blocked,
       coalesce(sum(c.gone), 0)::bigint AS gone,
       (SELECT min(d.sent_at) FROM deliveries d
         WHERE d.run_id = $1 AND d.status = 'sent') AS first_sent_at,
       (SELECT max(d.sent_at) FROM deliveries d
         WHERE d.run_id = $1 AND d.status = 'sent') AS last_sent_at,
       (SELECT count(*) FROM events e
         WHERE e.run_id = $1 AND e.kind = 'delivery.retry') AS retried,
       (SELECT count(*) FROM events e
         WHERE e.run_id = $1 AND e.kind = 'delivery.rate_limited') AS rate_limited
  FROM run_delivery_counts c
 WHERE c.run_id = $1;

-- name: kept_run_tallies
-- $1 run_id
SELECT tallies FROM finished_run_tallies WHERE run_id = $1;

-- name: keep_run_tallies
-- $1 run_id, $2 tallies (jsonb)
-- Only for a run that is done: its deliveries are all settled, its counts final.
INSERT INTO finished_run_tallies (run_id, tallies)
SELECT id, $2::jsonb FROM runs WHERE id = $1 AND status = 'done'
ON CONFLICT (run_id) DO NOTHING;

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
-- A running run is done once no delivery is left to send; its campaign is done with it
-- when its schedule has no slot to come (a one-shot campaign, or a schedule that is over).
WITH finished AS (
    UPDATE runs r
       SET status = 'done', finished_at = clock_timestamp()
     WHERE r.id = ANY($1::bigint[]) AND r.status = 'running'
       AND NOT EXISTS (SELECT 1 FROM deliveries d
                        WHERE d.run_id = r.id AND d.status IN ('pending', 'sending'))
    RETURNING r.id, r.campaign_id
), campaigns_done AS (
    -- The finished run was the campaign's one unfinished run (runs_one_unfinished).
    UPDATE campaigns c SET status = 'done', paused_reason = NULL
      FROM finished f
     WHERE c.id = f.campaign_id AND c.status = 'active' AND c.next_run_at IS NULL
)
SELECT id FROM finished;

-- name: claim_run_changes
-- (no parameters) Runs whose status changed since a serve process last logged it, each
-- handed to one process: the others pass a row being taken (SKIP LOCKED), and the update
-- marks it logged. `previous` is the status logged before (NULL: the run is new).
WITH changed AS (
    SELECT id, logged_status
      FROM runs
     WHERE logged_status IS DISTINCT FROM status
     ORDER BY id
       FOR UPDATE SKIP LOCKED
)
UPDATE runs r SET logged_status = r.status
  FROM changed c, campaigns k
 WHERE r.id = c.id AND k.id = r.campaign_id
RETURNING r.*, k.name AS campaign_name, k.bot_id AS campaign_bot_id,
          c.logged_status AS previous;

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

-- name: lock_campaign
-- $1 campaign_id
-- Taken by every start of a run: starts of one campaign happen one after the other, so
-- each sees the runs the one before it made (runs_one_unfinished is the backstop).
SELECT status FROM campaigns WHERE id = $1 FOR UPDATE;

-- name: unfinished_run
-- $1 campaign_id
SELECT r.*, c.name AS campaign_name
  FROM runs r JOIN campaigns c ON c.id = r.campaign_id
 WHERE r.campaign_id = $1 AND r.status IN ('running', 'paused');

-- name: run_by_number
-- $1 campaign_id, $2 number
SELECT r.*, c.name AS campaign_name
  FROM runs r JOIN campaigns c ON c.id = r.campaign_id
 WHERE r.campaign_id = $1 AND r.number = $2;

-- name: campaign_runs
-- $1 campaign_id
-- Every run of a campaign with its outcome counts, oldest first (a pruned run's, whose
-- deliveries are gone, from the tallies kept before they went).
SELECT r.*, c.name AS campaign_name,
       coalesce((t.tallies -> 'counts' ->> 'sent')::bigint,
                count(d.id) FILTER (WHERE d.status = 'sent')) AS sent,
       coalesce((t.tallies -> 'counts' ->> 'failed')::bigint,
                count(d.id) FILTER (WHERE d.status = 'failed')) AS failed,
       coalesce((t.tallies -> 'counts' ->> 'uncertain')::bigint,
                count(d.id) FILTER (WHERE d.status = 'uncertain')) AS uncertain,
       coalesce((t.tallies -> 'counts' ->> 'pending')::bigint
                + (t.tallies -> 'counts' ->> 'sending')::bigint,
                count(d.id) FILTER (WHERE d.status IN ('pending', 'sending'))) AS pending
  FROM runs r
  JOIN campaigns c ON c.id = r.campaign_id
  LEFT JOIN deliveries d ON d.run_id = r.id
  LEFT JOIN finished_run_tallies t ON t.run_id = r.id AND r.pruned_at IS NOT NULL
 WHERE r.campaign_id = $1
 GROUP BY r.id, c.name, t.run_id
 ORDER BY r.number;

-- name: reached_chats
-- $1 campaign_id
-- How many chats have had this campaign (sent, or perhaps sent: uncertain), across its runs,
-- pruned ones included (campaign_reached).
SELECT count(*) FROM (
    SELECT d.chat_id
      FROM deliveries d JOIN runs r ON r.id = d.run_id
     WHERE r.campaign_id = $1 AND d.status IN ('sent', 'uncertain')
    UNION
    SELECT chat_id FROM campaign_reached WHERE campaign_id = $1
) reached;

-- ───────────────────────────── worker ─────────────────────────────

-- name: lease_bots
-- $1 worker_id, $2 lease_s, $3 max bots
-- Takes (or renews) leases on active bots that have deliveries of running runs, or
-- messages waiting in the outbox (a reply, a test send: the lease holder sends them).
-- A lease held by another worker is taken only once it has expired.
INSERT INTO bot_leases AS l (bot_id, worker_id, expires_at)
SELECT b.id, $1, clock_timestamp() + make_interval(secs => $2)
  FROM bots b
 WHERE b.status = 'active'
   AND (EXISTS (SELECT 1 FROM deliveries d JOIN runs r ON r.id = d.run_id
                 WHERE d.bot_id = b.id AND r.status = 'running'
                   AND d.status IN ('pending', 'sending'))
        OR EXISTS (SELECT 1 FROM outbox o
                    WHERE o.bot_id = b.id AND o.status IN ('pending', 'sending')))
 ORDER BY b.id
 LIMIT $3
ON CONFLICT (bot_id) DO UPDATE
   SET worker_id = EXCLUDED.worker_id, expires_at = EXCLUDED.expires_at
 WHERE l.worker_id = EXCLUDED.worker_id OR l.expires_at < clock_timestamp()
RETURNING bot_id;

-- name: lease_outbox_bots
-- $1 worker_id, $2 lease_s, $3 max bots
-- The outbox-only sender of `bulletin listen` and `campaign check`: a bot whose outbox has
-- a message due, and only while no other process holds it (a worker sends it then).
INSERT INTO bot_leases AS l (bot_id, worker_id, expires_at)
SELECT b.id, $1, clock_timestamp() + make_interval(secs => $2)
  FROM bots b
 WHERE b.status = 'active'
   AND EXISTS (SELECT 1 FROM outbox o
                WHERE o.bot_id = b.id AND o.status = 'pending'
                  AND o.due_at <= clock_timestamp())
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
-- worker that died, or stopped without the database to put its rows back. One it never
-- handed over to Telegram was surely not sent: pending again. One it handed over may or
-- may not have been shown: it is resent only when the worker or the campaign says so.
WITH orphans AS (
    SELECT d.id, ($3 OR c.resend_uncertain OR d.handed_at IS NULL) AS resend,
           d.handed_at IS NOT NULL AS handed
      FROM deliveries d
      JOIN runs r ON r.id = d.run_id
      JOIN campaigns c ON c.id = r.campaign_id
     WHERE d.bot_id = $1 AND d.status = 'sending' AND d.claimed_by IS DISTINCT FROM $2
)
UPDATE deliveries d
   SET status = CASE WHEN o.resend THEN 'pending' ELSE 'uncertain' END,
       failure = CASE WHEN o.resend THEN NULL ELSE 'uncertain' END,
       error = CASE WHEN o.handed
                    THEN 'worker stopped while sending; Telegram may or may not have delivered it'
                    ELSE d.error END,
       claimed_by = NULL,
       updated_at = clock_timestamp()
  FROM orphans o
 WHERE d.id = o.id
RETURNING d.id, d.run_id, d.chat_id, d.status, d.bot_id, d.variant_id, d.failure, o.handed;

-- name: claim_deliveries
-- $1 bot_id, $2 worker_id, $3 limit, $4 claim token (unique among this worker's claims)
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
       claim_id = $4,
       handed_at = NULL,
       updated_at = clock_timestamp()
  FROM due, subscribers s, variants v, campaigns c
 WHERE d.id = due.id AND s.id = d.subscriber_id AND v.id = d.variant_id
   AND c.id = v.campaign_id
-- The variant as designed and the subscriber's fields: the worker renders the message.
RETURNING d.id, d.claim_id, d.run_id, d.bot_id, d.chat_id, s.chat_type, d.attempts, d.status,
          v.id AS variant_id, v.text, v.parse_mode, v.content,
          d.failure, c.name AS campaign_name, c.fields AS campaign_fields,
          s.first_name, s.username, s.language_code, s.tags, s.fields,
          c.paid_broadcast OR (SELECT b.paid_broadcast FROM bots b WHERE b.id = d.bot_id) AS paid;

-- name: record_outcomes
-- $1 worker_id, $2 ids, $3 statuses, $4 message_ids, $5 failures, $6 errors,
-- $7 attempt increments, $8 delays_s, $9 ages_s (how long ago Telegram answered), $10 claim ids
-- Finalises only rows still `sending` under the claim the outcome belongs to: a row
-- settled by another worker after a lease loss, or claimed again since (a batch written
-- twice), is never finalised twice.
UPDATE deliveries d
   SET status = u.status,
       message_id = coalesce(u.message_id, d.message_id),
       -- A delivery skipped by the worker (the chat opted out after it was claimed)
       -- names the subscriber's status as its failure, as a claim-time skip does.
       failure = CASE WHEN u.status = 'skipped'
                      THEN (SELECT s.status FROM subscribers s WHERE s.id = d.subscriber_id)
                      ELSE u.failure END,
       error = coalesce(u.error, d.error),
       attempts = d.attempts + u.attempt_increment,
       -- The answer's instant by the database's clock (the worker sends only its age):
       -- the claim compares due_at with clock_timestamp(), so no other clock may set it.
       due_at = clock_timestamp() - make_interval(secs => u.age_s)
                + make_interval(secs => u.delay_s),
       sent_at = CASE WHEN u.status = 'sent'
                      THEN clock_timestamp() - make_interval(secs => u.age_s) END,
       claimed_by = NULL,
       updated_at = clock_timestamp()
  FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::int[],
              $8::float8[], $9::float8[], $10::bigint[])
       AS u (id, status, message_id, failure, error, attempt_increment, delay_s, age_s,
             claim_id)
 WHERE d.id = u.id AND d.status = 'sending' AND d.claimed_by = $1 AND d.claim_id = u.claim_id
-- What the daily rollups count (db/stats.py).
RETURNING d.id, d.claim_id, d.bot_id, d.run_id, d.variant_id, d.status, d.failure;

-- name: release_lost_claim
-- $1 bot_id, $2 worker_id, $3 claim token
-- A claim that failed may still have committed, its answer lost: whatever it claimed
-- never reached the worker, so was never sent, and goes back to pending. Returns how many.
-- A token names a claim of deliveries or of outbox messages: both are looked at.
WITH lost AS (
    UPDATE deliveries SET status = 'pending', claimed_by = NULL, updated_at = clock_timestamp()
     WHERE bot_id = $1 AND status = 'sending' AND claimed_by = $2 AND claim_id = $3
    RETURNING id
), lost_messages AS (
    UPDATE outbox SET status = 'pending', claimed_by = NULL
     WHERE bot_id = $1 AND status = 'sending' AND claimed_by = $2 AND claim_id = $3
    RETURNING id
)
SELECT (SELECT count(*) FROM lost) + (SELECT count(*) FROM lost_messages);

-- name: release_claims
-- $1 worker_id, $2 ids (bigint[]), $3 their claim ids (bigint[])
-- Claimed rows never handed to Telegram go back to pending on a graceful stop; only
-- under the claim they were released from (a retried release never frees a new claim).
UPDATE deliveries d
   SET status = 'pending', claimed_by = NULL, updated_at = clock_timestamp()
  FROM unnest($2::bigint[], $3::bigint[]) AS r (id, claim_id)
 WHERE d.id = r.id AND d.claim_id = r.claim_id AND d.status = 'sending'
   AND d.claimed_by = $1;

-- name: hand_over_deliveries
-- $1 worker_id, $2 ids (bigint[]), $3 their claim ids (bigint[])
-- Written just before these claimed rows go to Telegram, so that the next lease holder
-- can tell a row this worker may have sent from one it surely did not (settle_orphans).
-- Returns the ids still under this claim: only those are sent (the others were settled
-- by a new lease holder meanwhile).
UPDATE deliveries d
   SET handed_at = clock_timestamp()
  FROM unnest($2::bigint[], $3::bigint[]) AS h (id, claim_id)
 WHERE d.id = h.id AND d.claim_id = h.claim_id AND d.status = 'sending'
   AND d.claimed_by = $1
RETURNING d.id;

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
 WHERE id = $1
RETURNING id, bot_id, run_id, variant_id, status, failure;

-- name: update_bot_endpoint
-- $1 id, $2 token, $3 api_url, $4 rate_per_s
UPDATE bots SET token = $2, api_url = $3, rate_per_s = $4, status = 'active'
 WHERE id = $1
RETURNING *;

-- ───── campaigns (issue 4) ─────

-- name: campaign_design
-- $1 campaign_id
-- Everything `campaign show` prints and a run needs: the campaign's design, not its variants.
SELECT c.id, c.name, b.name AS bot_name, c.status, c.fields, c.segment, c.schedule, c.caps,
       c.paid_broadcast, c.resend_uncertain, c.next_run_at
  FROM campaigns c JOIN bots b ON b.id = c.bot_id
 WHERE c.id = $1;

-- name: campaign_variants
-- $1 campaign_id
SELECT id, name, weight, language, text, parse_mode, content
  FROM variants WHERE campaign_id = $1
 ORDER BY id;

-- name: insert_designed_campaign
-- $1 name, $2 bot_id, $3 fields, $4 segment, $5 schedule, $6 caps, $7 paid_broadcast,
-- $8 resend_uncertain
INSERT INTO campaigns (name, bot_id, fields, segment, schedule, caps, paid_broadcast,
                       resend_uncertain)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id;

-- name: update_campaign_design
-- $1 campaign_id, $2 bot_id, $3 fields, $4 segment, $5 schedule, $6 caps, $7 paid_broadcast,
-- $8 resend_uncertain
UPDATE campaigns
   SET bot_id = $2, fields = $3, segment = $4, schedule = $5, caps = $6,
       paid_broadcast = $7, resend_uncertain = $8, updated_at = clock_timestamp()
 WHERE id = $1;

-- name: upsert_variant
-- $1 campaign_id, $2 name, $3 weight, $4 language, $5 text, $6 parse_mode, $7 content
-- Variants are matched by name, so deliveries keep pointing at the variant they were given.
INSERT INTO variants (campaign_id, name, weight, language, text, parse_mode, content)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (campaign_id, name) DO UPDATE
   SET weight = EXCLUDED.weight, language = EXCLUDED.language, text = EXCLUDED.text,
       parse_mode = EXCLUDED.parse_mode, content = EXCLUDED.content;

-- name: delete_variants_except
-- $1 campaign_id, $2 names kept (text[])
-- A variant some run already used stays: removing it would delete its deliveries.
DELETE FROM variants v
 WHERE v.campaign_id = $1 AND NOT (v.name = ANY($2::text[]))
   AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.variant_id = v.id)
RETURNING v.name;

-- name: used_variants_except
-- $1 campaign_id, $2 names kept (text[])
SELECT v.name FROM variants v
 WHERE v.campaign_id = $1 AND NOT (v.name = ANY($2::text[]))
   AND EXISTS (SELECT 1 FROM deliveries d WHERE d.variant_id = v.id)
 ORDER BY v.name;

-- name: bot_ids_by_name
-- $1 names (text[])
SELECT name, id FROM bots WHERE name = ANY($1::text[]);

-- name: missing_tags
-- $1 bot_ids (bigint[]), $2 tags (text[])
-- Tags a segment names that no subscriber of its bots carries: most likely a typo.
SELECT t.tag
  FROM unnest($2::text[]) AS t (tag)
 WHERE NOT EXISTS (SELECT 1 FROM subscribers s
                    WHERE s.bot_id = ANY($1::bigint[]) AND s.tags @> ARRAY[t.tag]);

-- name: snapshot_segment
-- $1 run_id, $2 campaign_id, $3 bot_ids (bigint[]), $4 tags any (text[]), $5 tags all (text[]),
-- $6 tags none (text[]), $7 languages (text[]), $8 chat types (text[]), $9 subscribed after,
-- $10 subscribed before, $11 max deliveries (NULL: all), $12 seconds between one bot's deliveries,
-- $13 only chats this campaign has not reached yet
-- The run's audience, frozen now, in one statement: one pending delivery per subscribed chat
-- of the segment. A chat's variant is a stable hash of (campaign, chat) over the weights of
-- its language's variants (or of the variants without a language), so it is the same in
-- every run. A cap per hour spaces each bot's deliveries out over time.
WITH reached AS (
    -- A one-shot campaign reaches a chat once, ever: chats an earlier run sent it to (or
    -- perhaps sent it to: uncertain) are left out. `--again` and recurring campaigns pass false.
    SELECT d.chat_id
      FROM deliveries d JOIN runs r ON r.id = d.run_id
     WHERE $13 AND r.campaign_id = $2 AND d.status IN ('sent', 'uncertain')
), variant_slots AS (
    SELECT id, language,
           sum(weight) OVER (PARTITION BY language ORDER BY id) - weight AS lower_bound,
           sum(weight) OVER (PARTITION BY language ORDER BY id) AS upper_bound,
           sum(weight) OVER (PARTITION BY language) AS total
      FROM variants WHERE campaign_id = $2
), audience AS (
    -- A chat subscribed to several of the segment's bots hears from the first of them only.
    SELECT DISTINCT ON (s.chat_id) s.id, s.bot_id, s.chat_id,
           -- the sign bit cleared: abs() of the smallest bigint would overflow
           hashtextextended($2::text || ':' || s.chat_id::text, 0) & 9223372036854775807
               AS chat_hash,
           l.language
      FROM subscribers s
      -- the chat's language when a variant speaks it (a hash join, not a lookup per chat)
      LEFT JOIN (SELECT DISTINCT language FROM variants
                  WHERE campaign_id = $2 AND language IS NOT NULL) l
             ON l.language = split_part(lower(s.language_code), '-', 1)
     WHERE s.bot_id = ANY($3::bigint[]) AND s.status = 'subscribed'
       AND in_segment(s.tags, s.language_code, s.chat_type, s.created_at,
                      $4, $5, $6, $7, $8, $9, $10)
       AND NOT EXISTS (SELECT 1 FROM reached WHERE reached.chat_id = s.chat_id)
       -- nor the chats of its pruned runs (`db prune` moved them there): a probe of its key
       AND NOT ($13 AND EXISTS (SELECT 1 FROM campaign_reached p
                                 WHERE p.campaign_id = $2 AND p.chat_id = s.chat_id))
     ORDER BY s.chat_id, array_position($3::bigint[], s.bot_id)
), capped AS (
    SELECT * FROM audience ORDER BY id LIMIT $11
), assigned AS (
    SELECT a.id, a.bot_id, a.chat_id, v.id AS variant_id,
           row_number() OVER (PARTITION BY a.bot_id ORDER BY a.id) - 1 AS position
      FROM capped a
      JOIN variant_slots v
        ON v.language IS NOT DISTINCT FROM a.language
       AND a.chat_hash % v.total >= v.lower_bound
       AND a.chat_hash % v.total < v.upper_bound
)
INSERT INTO deliveries (run_id, bot_id, subscriber_id, chat_id, variant_id, due_at)
SELECT $1, bot_id, id, chat_id, variant_id,
       clock_timestamp() + make_interval(secs => position * $12::float8)
  FROM assigned
 ORDER BY id;

-- name: insert_scheduled_run
-- $1 campaign_id, $2 scheduled_for (NULL for a run started by hand)
-- Under lock_campaign: the next number of this campaign's runs is this one's.
INSERT INTO runs (campaign_id, scheduled_for, number)
SELECT $1, $2, coalesce(max(number), 0) + 1 FROM runs WHERE campaign_id = $1
RETURNING id;

-- name: scheduled_run_count
-- $1 campaign_id
SELECT count(*) FROM runs WHERE campaign_id = $1 AND scheduled_for IS NOT NULL;

-- name: arm_campaign
-- $1 campaign_id, $2 next_run_at
UPDATE campaigns SET status = 'active', paused_reason = NULL, next_run_at = $2
 WHERE id = $1;

-- name: set_next_run
-- $1 campaign_id, $2 next_run_at (NULL: the schedule is over)
-- A schedule that is over with no run left to finish leaves its campaign done.
UPDATE campaigns c
   SET next_run_at = $2,
       status = CASE WHEN $2::timestamptz IS NULL AND c.status = 'active'
                      AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.campaign_id = c.id
                                         AND r.status IN ('running', 'paused'))
                     THEN 'done' ELSE c.status END
 WHERE c.id = $1;

-- name: due_campaigns
-- $1 now
SELECT id FROM campaigns
 WHERE status = 'active' AND next_run_at <= $1
 ORDER BY next_run_at, id;

-- name: lock_due_campaign
-- $1 campaign_id, $2 now
-- Taken in the transaction that starts the run: a second scheduler skips it, and once the
-- first commits the slot has moved on, so the same slot never starts twice.
SELECT id, next_run_at FROM campaigns
 WHERE id = $1 AND status = 'active' AND next_run_at <= $2
   FOR UPDATE SKIP LOCKED;

-- name: quiet_campaigns
SELECT id, schedule FROM campaigns
 WHERE schedule ? 'quiet_hours' AND status IN ('active', 'paused');

-- name: quiet_runs
-- $1 campaign_id, $2 quiet until
-- Quiet hours: the campaign's running runs wait (workers claim only running runs).
UPDATE runs SET status = 'paused', paused_reason = 'quiet hours', quiet_until = $2
 WHERE campaign_id = $1 AND status = 'running'
RETURNING id;

-- name: wake_runs
-- $1 campaign_id, $2 now
-- Quiet hours are over: runs that waited for them go on, unless the campaign is paused.
UPDATE runs r SET status = 'running', paused_reason = NULL, quiet_until = NULL
  FROM campaigns c
 WHERE r.campaign_id = $1 AND c.id = r.campaign_id AND c.status = 'active'
   AND r.status = 'paused' AND r.quiet_until <= $2
RETURNING r.id;

-- name: pause_campaign
-- $1 campaign_id, $2 reason
WITH paused AS (
    UPDATE runs SET status = 'paused', paused_reason = $2
     WHERE campaign_id = $1 AND status = 'running'
    RETURNING id
)
UPDATE campaigns SET status = 'paused', paused_reason = $2
 WHERE id = $1
RETURNING (SELECT count(*) FROM paused) AS runs;

-- name: cancel_campaign
-- $1 campaign_id
-- Cancelling is final: pending deliveries are skipped, runs end, the schedule stops.
-- Deliveries already being sent finish and are recorded as usual.
WITH runs_cancelled AS (
    UPDATE runs SET status = 'cancelled', finished_at = clock_timestamp()
     WHERE campaign_id = $1 AND status IN ('running', 'paused')
    RETURNING id
), skipped AS (
    UPDATE deliveries d
       SET status = 'skipped', failure = 'cancelled', claimed_by = NULL,
           updated_at = clock_timestamp()
      FROM runs r
     WHERE r.campaign_id = $1 AND d.run_id = r.id AND d.status = 'pending'
    RETURNING d.id
)
UPDATE campaigns SET status = 'cancelled', next_run_at = NULL, paused_reason = NULL
 WHERE id = $1
RETURNING (SELECT count(*) FROM runs_cancelled) AS runs, (SELECT count(*) FROM skipped) AS skipped;

-- name: variant_counts
-- $1 run_id
-- From run_delivery_counts, as run_counts.
SELECT v.name AS variant, v.language,
       sum(c.pending + c.sending + c.sent + c.failed + c.skipped + c.uncertain)::bigint
           AS total,
       sum(c.sent)::bigint AS sent,
       sum(c.failed)::bigint AS failed,
       sum(c.pending + c.sending)::bigint AS pending
  FROM run_delivery_counts c JOIN variants v ON v.id = c.variant_id
 WHERE c.run_id = $1
 GROUP BY v.id, v.name, v.language
HAVING sum(c.pending + c.sending + c.sent + c.failed + c.skipped + c.uncertain) > 0
 ORDER BY v.id;

-- name: sample_recipients
-- $1 bot_ids (bigint[]), $2 tags any, $3 tags all, $4 tags none, $5 languages, $6 chat types,
-- $7 subscribed after, $8 subscribed before, $9 limit, $10 max deliveries (NULL: all),
-- $11 campaign_id, $12 only chats this campaign has not reached yet
-- The audience a run would have now and a few of its subscribers, for previews and
-- pre-flight checks: the same chats snapshot_segment picks, by the same rules.
WITH reached AS (
    SELECT d.chat_id
      FROM deliveries d JOIN runs r ON r.id = d.run_id
     WHERE $12 AND r.campaign_id = $11 AND d.status IN ('sent', 'uncertain')
), audience AS (
    SELECT DISTINCT ON (s.chat_id) s.*
      FROM subscribers s
     WHERE s.bot_id = ANY($1::bigint[]) AND s.status = 'subscribed'
       AND in_segment(s.tags, s.language_code, s.chat_type, s.created_at,
                      $2, $3, $4, $5, $6, $7, $8)
       AND NOT EXISTS (SELECT 1 FROM reached WHERE reached.chat_id = s.chat_id)
       AND NOT ($12 AND EXISTS (SELECT 1 FROM campaign_reached p
                                 WHERE p.campaign_id = $11 AND p.chat_id = s.chat_id))
     ORDER BY s.chat_id, array_position($1::bigint[], s.bot_id)
), capped AS (
    SELECT * FROM audience ORDER BY id LIMIT $10
)
SELECT (SELECT count(*) FROM capped) AS audience, chat_id, first_name, username, language_code,
       tags, fields
  FROM capped
 ORDER BY id
 LIMIT $9;

-- name: media_file_id
-- $1 bot_id, $2 sha256, $3 kind
SELECT file_id FROM media_files WHERE bot_id = $1 AND sha256 = $2 AND kind = $3;

-- name: save_media_file_id
-- $1 bot_id, $2 sha256, $3 kind, $4 file_id
INSERT INTO media_files (bot_id, sha256, kind, file_id) VALUES ($1, $2, $3, $4)
ON CONFLICT (bot_id, sha256, kind) DO NOTHING;

-- name: save_media_upload
-- $1 sha256, $2 filename, $3 content_type, $4 content
-- The same bytes again are the same upload: the first one's name is kept.
WITH inserted AS (
    INSERT INTO media_uploads (sha256, filename, content_type, size_bytes, content)
    VALUES ($1, $2, $3, octet_length($4::bytea), $4::bytea)
    ON CONFLICT (sha256) DO NOTHING
    RETURNING sha256, filename, content_type, size_bytes, created_at
)
SELECT *, true AS created FROM inserted
UNION ALL
SELECT sha256, filename, content_type, size_bytes, created_at, false AS created
  FROM media_uploads WHERE sha256 = $1 AND NOT EXISTS (SELECT FROM inserted);

-- name: media_uploads_known
-- $1 sha256 values
SELECT sha256, size_bytes FROM media_uploads WHERE sha256 = ANY($1::text[]);

-- name: media_upload_content
-- $1 sha256
SELECT filename, content FROM media_uploads WHERE sha256 = $1;

-- name: try_scheduler_lock
-- $1 lock key
-- A session lock: held while the leader's connection lives, released if it dies.
SELECT pg_try_advisory_lock($1);

-- name: scheduler_unlock
-- $1 lock key
SELECT pg_advisory_unlock($1);

-- name: scheduler_heartbeat
SELECT 1;

-- ───── listener and audience (issue 5) ─────

-- name: claim_update
-- $1 bot_id, $2 update_id
-- Marks an update as applied and moves the bot's polling offset past it, in the
-- transaction that applies it. No row back: it was applied before, do nothing.
WITH claimed AS (
    INSERT INTO processed_updates (bot_id, update_id) VALUES ($1, $2)
    ON CONFLICT DO NOTHING
    RETURNING update_id
), advanced AS (
    INSERT INTO update_offsets AS o (bot_id, next_update_id) VALUES ($1, $2 + 1)
    ON CONFLICT (bot_id) DO UPDATE
       SET next_update_id = greatest(o.next_update_id, EXCLUDED.next_update_id),
           updated_at = clock_timestamp()
)
SELECT update_id FROM claimed;

-- name: next_update_id
-- $1 bot_id
SELECT next_update_id FROM update_offsets WHERE bot_id = $1;

-- name: prune_processed_updates
-- $1 keep_s
-- Telegram redelivers an update for a day at most; older ids only take space.
DELETE FROM processed_updates
 WHERE processed_at < clock_timestamp() - make_interval(secs => $1);

-- name: chat_status
-- $1 bot_id, $2 chat_id
SELECT status FROM subscribers WHERE bot_id = $1 AND chat_id = $2 FOR UPDATE;

-- name: subscribe_chat
-- $1 bot_id, $2 chat_id, $3 chat_type, $4 first_name, $5 username, $6 language_code,
-- $7 title, $8 source, $9 can_post, $10 flagged
-- The chat opted in (/start, or an admin added the bot): subscribed, with fresh details.
-- A chat already subscribed keeps the source it first came from. A forgotten chat
-- that opts in again loses its tombstone: it is a new subscriber from now on.
WITH previous AS (
    SELECT status FROM subscribers WHERE bot_id = $1 AND chat_id = $2
), unburied AS (
    DELETE FROM forgotten_chats WHERE bot_id = $1 AND chat_hash = chat_hash($1, $2)
), upserted AS (
    INSERT INTO subscribers AS s
           (bot_id, chat_id, chat_type, first_name, username, language_code, title, source,
            can_post, flagged)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (bot_id, chat_id) DO UPDATE
       SET status        = 'subscribed',
           chat_type     = EXCLUDED.chat_type,
           first_name    = coalesce(EXCLUDED.first_name, s.first_name),
           username      = coalesce(EXCLUDED.username, s.username),
           language_code = coalesce(EXCLUDED.language_code, s.language_code),
           title         = coalesce(EXCLUDED.title, s.title),
           source        = CASE WHEN s.status = 'subscribed' THEN coalesce(s.source, EXCLUDED.source)
                                ELSE EXCLUDED.source END,
           can_post      = coalesce(EXCLUDED.can_post, s.can_post),
           flagged       = CASE WHEN EXCLUDED.can_post IS NULL THEN s.flagged
                                ELSE EXCLUDED.flagged END,
           updated_at    = clock_timestamp()
)
SELECT (SELECT status FROM previous) AS previous_status;

-- name: set_chat_status
-- $1 bot_id, $2 chat_id, $3 chat_type, $4 status
-- An opt-out (/stop, a block, the bot removed) is remembered even for a chat never
-- seen before, so that no later import subscribes it; such a chat keeps its id only.
WITH previous AS (
    SELECT status FROM subscribers WHERE bot_id = $1 AND chat_id = $2
), upserted AS (
    INSERT INTO subscribers AS s (bot_id, chat_id, chat_type, status, source)
    VALUES ($1, $2, $3, $4, 'listener')
    ON CONFLICT (bot_id, chat_id) DO UPDATE
       SET status = EXCLUDED.status, updated_at = clock_timestamp()
     WHERE s.status <> EXCLUDED.status
)
SELECT (SELECT status FROM previous) AS previous_status;

-- name: set_chat_rights
-- $1 bot_id, $2 chat_id, $3 chat_type, $4 title, $5 can_post, $6 flagged
-- The bot's rights in a group or channel changed. A chat not known yet is one the bot
-- joined before bulletin listened: its admins added the bot, so it is subscribed.
WITH previous AS (
    SELECT status FROM subscribers WHERE bot_id = $1 AND chat_id = $2
), upserted AS (
    INSERT INTO subscribers AS s (bot_id, chat_id, chat_type, title, can_post, flagged, source)
    VALUES ($1, $2, $3, $4, $5, $6, 'added')
    ON CONFLICT (bot_id, chat_id) DO UPDATE
       SET chat_type = EXCLUDED.chat_type,
           title = coalesce(EXCLUDED.title, s.title),
           can_post = EXCLUDED.can_post,
           flagged = EXCLUDED.flagged,
           updated_at = clock_timestamp()
)
SELECT (SELECT status FROM previous) AS previous_status;

-- name: export_subscribers
-- $1 bot_id, $2 status (NULL: any), $3 tags any, $4 tags all, $5 tags none (text[]),
-- $6 languages (text[]), $7 chat types (text[]), $8 subscribed after, $9 subscribed before
-- The segment filters mean what they mean in a campaign's segment (in_segment).
SELECT chat_id, chat_type, status, first_name, username, language_code, tags, fields,
       source, title, can_post, flagged, created_at, updated_at
  FROM subscribers
 WHERE bot_id = $1
   AND ($2::text IS NULL OR status = $2)
   AND in_segment(tags, language_code, chat_type, created_at, $3, $4, $5, $6, $7, $8, $9)
 ORDER BY id;

-- name: export_field_names
-- The parameters of export_subscribers.
-- The custom fields of the chats export_subscribers returns: the CSV's extra columns.
SELECT DISTINCT jsonb_object_keys(fields) AS name
  FROM subscribers
 WHERE bot_id = $1
   AND ($2::text IS NULL OR status = $2)
   AND in_segment(tags, language_code, chat_type, created_at, $3, $4, $5, $6, $7, $8, $9)
 ORDER BY 1;

-- name: tag_subscribers
-- $1 bot_id, $2 chat_ids (bigint[]), $3 tags (text[])
UPDATE subscribers
   SET tags = ARRAY(SELECT DISTINCT x FROM unnest(tags || $3::text[]) AS x ORDER BY x),
       updated_at = clock_timestamp()
 WHERE bot_id = $1 AND chat_id = ANY($2::bigint[])
RETURNING chat_id;

-- name: untag_subscribers
-- $1 bot_id, $2 chat_ids (bigint[]), $3 tags (text[])
UPDATE subscribers
   SET tags = ARRAY(SELECT x FROM unnest(tags) AS x WHERE x <> ALL($3::text[]) ORDER BY x),
       updated_at = clock_timestamp()
 WHERE bot_id = $1 AND chat_id = ANY($2::bigint[])
RETURNING chat_id;

-- name: forget_chat
-- $1 bot_id (NULL: every bot), $2 chat_id
-- Erases a chat: its subscriber row goes (its deliveries with it), its events lose
-- the chat id and details, and a tombstone of (bot, chat) stays so that no import
-- brings it back. Only the chat's own /start (or an admin re-adding the bot) does.
WITH gone AS (
    DELETE FROM subscribers
     WHERE ($1::bigint IS NULL OR bot_id = $1) AND chat_id = $2
    RETURNING bot_id
), bots_forgetting AS (
    SELECT bot_id FROM gone
    UNION
    SELECT $1::bigint WHERE $1::bigint IS NOT NULL
), tombstones AS (
    INSERT INTO forgotten_chats (bot_id, chat_hash)
    SELECT bot_id, chat_hash(bot_id, $2) FROM bots_forgetting
    ON CONFLICT DO NOTHING
), scrubbed AS (
    UPDATE events SET chat_id = NULL, detail = NULL
     WHERE ($1::bigint IS NULL OR bot_id = $1) AND chat_id = $2
), logged AS (
    INSERT INTO events (kind, bot_id) SELECT 'subscriber.forgotten', bot_id FROM bots_forgetting
), recount AS (
    -- The chat's deliveries go with its row: finished runs' kept tallies are counted again
    -- (not a pruned run's: it has no deliveries left to count, its tallies are all it has).
    DELETE FROM finished_run_tallies t
     WHERE EXISTS (SELECT 1 FROM gone)
       AND t.run_id IN (SELECT id FROM runs WHERE pruned_at IS NULL)
), unreached AS (
    -- and what pruned runs remembered of it
    DELETE FROM campaign_reached
     WHERE ($1::bigint IS NULL OR bot_id = $1) AND chat_id = $2
)
SELECT bot_id, bot_id IN (SELECT bot_id FROM gone) AS was_known FROM bots_forgetting;

-- ───── campaign delete (issue 9) ─────

-- name: delete_campaign
-- $1 campaign_id
-- Variants, runs and deliveries go with it (ON DELETE CASCADE); events stay for audit.
WITH counted AS (
    SELECT count(DISTINCT r.id) AS runs, count(d.id) AS deliveries
      FROM runs r LEFT JOIN deliveries d ON d.run_id = r.id
     WHERE r.campaign_id = $1
), deleted AS (
    DELETE FROM campaigns WHERE id = $1 RETURNING id
)
SELECT counted.runs, counted.deliveries FROM counted, deleted;

-- ───── outbox (issue 9): every other message of a bot, sent by its lease holder ─────

-- name: insert_outbox
-- $1 bot_id, $2 chat_id, $3 kind ('reply' | 'test'), $4 message (jsonb)
-- Queued and announced in one statement: the notify is delivered when the transaction
-- commits, so the lease holder wakes for a row it can already see.
WITH queued AS (
    INSERT INTO outbox (bot_id, chat_id, kind, message) VALUES ($1, $2, $3, $4)
    RETURNING id
)
SELECT id, pg_notify('bulletin_outbox', $1::bigint::text) FROM queued;

-- name: notify_optout
-- $1 bot_id, $2 chat_id
-- In the transaction that records an opt-out: workers drop what they claimed for the chat.
SELECT pg_notify('bulletin_optout', $1::bigint::text || ':' || $2::bigint::text);

-- name: claim_outbox
-- $1 bot_id, $2 worker_id, $3 limit, $4 claim token (unique among this worker's claims)
-- The bot's due messages, oldest first; rows another transaction holds are skipped.
WITH due AS (
    SELECT id FROM outbox
     WHERE bot_id = $1 AND status = 'pending' AND due_at <= clock_timestamp()
     ORDER BY due_at, id
     LIMIT $3
       FOR UPDATE SKIP LOCKED
)
UPDATE outbox o
   SET status = 'sending', claimed_by = $2, claim_id = $4
  FROM due
 WHERE o.id = due.id
RETURNING o.id, o.claim_id, o.bot_id, o.chat_id, o.kind, o.message, o.attempts;

-- name: record_outbox
-- $1 worker_id, $2 ids, $3 statuses, $4 message_ids, $5 errors, $6 attempt increments,
-- $7 delays_s, $8 ages_s (how long ago Telegram answered), $9 claim ids
-- Like record_outcomes: only rows still `sending` under the claim the outcome belongs to.
UPDATE outbox o
   SET status = u.status,
       message_id = u.message_id,
       error = u.error,
       attempts = o.attempts + u.attempt_increment,
       -- By the database's clock, as in record_outcomes.
       due_at = clock_timestamp() - make_interval(secs => u.age_s)
                + make_interval(secs => u.delay_s),
       sent_at = CASE WHEN u.status = 'sent'
                      THEN clock_timestamp() - make_interval(secs => u.age_s) END,
       claimed_by = NULL
  FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::int[], $7::float8[],
              $8::float8[], $9::bigint[])
       AS u (id, status, message_id, error, attempt_increment, delay_s, age_s, claim_id)
 WHERE o.id = u.id AND o.status = 'sending' AND o.claimed_by = $1 AND o.claim_id = u.claim_id;

-- name: release_outbox
-- $1 worker_id, $2 ids (bigint[]), $3 their claim ids (bigint[])
-- Claimed messages never handed to Telegram (a stop) go back to pending.
UPDATE outbox o
   SET status = 'pending', claimed_by = NULL
  FROM unnest($2::bigint[], $3::bigint[]) AS r (id, claim_id)
 WHERE o.id = r.id AND o.claim_id = r.claim_id AND o.status = 'sending' AND o.claimed_by = $1;

-- name: settle_outbox_orphans
-- $1 bot_id, $2 worker_id
-- Under a fresh lease, a message still `sending` for another worker belongs to one that
-- died mid-send: Telegram may have shown it. A reply is not worth saying twice.
UPDATE outbox
   SET status = 'failed', claimed_by = NULL,
       error = 'worker stopped while sending; Telegram may or may not have delivered it'
 WHERE bot_id = $1 AND status = 'sending' AND claimed_by IS DISTINCT FROM $2;

-- name: outbox_outcomes
-- $1 ids (bigint[])
SELECT id, status, error FROM outbox WHERE id = ANY($1::bigint[]) ORDER BY id;

-- name: cancel_outbox
-- $1 ids (bigint[]), $2 reason
-- A test send nobody could make in time is not left to go out later, unexpected.
UPDATE outbox SET status = 'failed', error = $2
 WHERE id = ANY($1::bigint[]) AND status = 'pending';

-- ───────────────────────────── daily stats (issue 10) ─────────────────────────────

-- name: add_delivery_stats
-- $1 bot_ids, $2 run_ids, $3 variant_ids (bigint[]), $4 statuses, $5 failures (text[]),
-- $6 rate_limited (bool[])
-- Adds one batch of outcomes, written in the same transaction, to today's rollups: one
-- statement per batch. Rows are locked in key order, and this is the last write of every
-- transaction it is in, so two writers of one row wait for each other and never deadlock.
WITH outcome AS (
    SELECT (clock_timestamp() AT TIME ZONE 'UTC')::date AS day, u.bot_id, r.campaign_id,
           u.variant_id, u.status, u.failure, u.rate_limited
      FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[],
                  $6::bool[]) AS u (bot_id, run_id, variant_id, status, failure, rate_limited)
      JOIN runs r ON r.id = u.run_id
), per_bot AS (
    INSERT INTO daily_bot_stats AS t (day, bot_id, sent, failed, blocked, gone, skipped,
                                      uncertain, rate_limited, opted_out)
    SELECT day, bot_id,
           count(*) FILTER (WHERE status = 'sent'),
           count(*) FILTER (WHERE status = 'failed'),
           count(*) FILTER (WHERE failure = 'blocked'),
           count(*) FILTER (WHERE failure = 'gone'),
           count(*) FILTER (WHERE status = 'skipped'),
           count(*) FILTER (WHERE status = 'uncertain'),
           count(*) FILTER (WHERE rate_limited),
           count(*) FILTER (WHERE status = 'failed' AND failure = 'blocked')
      FROM outcome
     GROUP BY day, bot_id
     ORDER BY bot_id
    ON CONFLICT (bot_id, day) DO UPDATE
       SET sent = t.sent + EXCLUDED.sent, failed = t.failed + EXCLUDED.failed,
           blocked = t.blocked + EXCLUDED.blocked, gone = t.gone + EXCLUDED.gone,
           skipped = t.skipped + EXCLUDED.skipped, uncertain = t.uncertain + EXCLUDED.uncertain,
           rate_limited = t.rate_limited + EXCLUDED.rate_limited,
           opted_out = t.opted_out + EXCLUDED.opted_out
)
INSERT INTO daily_campaign_stats AS t (day, campaign_id, variant_id, bot_id, sent, failed, blocked,
                                       gone, skipped, uncertain, rate_limited, opted_out)
SELECT day, campaign_id, variant_id, bot_id,
       count(*) FILTER (WHERE status = 'sent'),
       count(*) FILTER (WHERE status = 'failed'),
       count(*) FILTER (WHERE failure = 'blocked'),
       count(*) FILTER (WHERE failure = 'gone'),
       count(*) FILTER (WHERE status = 'skipped'),
       count(*) FILTER (WHERE status = 'uncertain'),
       count(*) FILTER (WHERE rate_limited),
       count(*) FILTER (WHERE status = 'failed' AND failure = 'blocked')
  FROM outcome
 GROUP BY day, campaign_id, variant_id, bot_id
 ORDER BY campaign_id, variant_id, bot_id
ON CONFLICT (campaign_id, variant_id, bot_id, day) DO UPDATE
   SET sent = t.sent + EXCLUDED.sent, failed = t.failed + EXCLUDED.failed,
       blocked = t.blocked + EXCLUDED.blocked, gone = t.gone + EXCLUDED.gone,
       skipped = t.skipped + EXCLUDED.skipped, uncertain = t.uncertain + EXCLUDED.uncertain,
       rate_limited = t.rate_limited + EXCLUDED.rate_limited,
       opted_out = t.opted_out + EXCLUDED.opted_out;

-- name: add_subscriber_stats
-- $1 bot_id, $2 chats that became subscribers, $3 chats that opted out
-- Subscriber changes of one transaction (a listener batch, an import), added to today's row.
INSERT INTO daily_bot_stats AS t (day, bot_id, subscribed, opted_out)
VALUES ((clock_timestamp() AT TIME ZONE 'UTC')::date, $1, $2, $3)
ON CONFLICT (bot_id, day) DO UPDATE
   SET subscribed = t.subscribed + EXCLUDED.subscribed,
       opted_out = t.opted_out + EXCLUDED.opted_out;

-- name: daily_bot_stats
-- $1 bot_id (NULL: every bot), $2 days (today and the days before it)
SELECT s.day, b.name AS bot, s.sent, s.failed, s.blocked, s.gone, s.skipped, s.uncertain,
       s.rate_limited, s.subscribed, s.opted_out
  FROM daily_bot_stats s JOIN bots b ON b.id = s.bot_id
 WHERE ($1::bigint IS NULL OR s.bot_id = $1)
   AND s.day > (clock_timestamp() AT TIME ZONE 'UTC')::date - $2::integer
 ORDER BY s.day, b.name;

-- name: daily_campaign_stats
-- $1 campaign_id, $2 days (today and the days before it), $3 bot_id (NULL: every bot)
-- Per day and variant, summed over the campaign's bots (or one bot's share).
SELECT s.day, c.name AS campaign, v.name AS variant, sum(s.sent)::bigint AS sent,
       sum(s.failed)::bigint AS failed, sum(s.blocked)::bigint AS blocked,
       sum(s.gone)::bigint AS gone, sum(s.skipped)::bigint AS skipped,
       sum(s.uncertain)::bigint AS uncertain, sum(s.rate_limited)::bigint AS rate_limited,
       sum(s.opted_out)::bigint AS opted_out
  FROM daily_campaign_stats s
  JOIN campaigns c ON c.id = s.campaign_id
  JOIN variants v ON v.id = s.variant_id
 WHERE s.campaign_id = $1
   AND s.day > (clock_timestamp() AT TIME ZONE 'UTC')::date - $2::integer
   AND ($3::bigint IS NULL OR s.bot_id = $3)
 GROUP BY s.day, c.name, v.name
 ORDER BY s.day, v.name;

-- name: delivery_report
-- $1 run_id, $2 outcome (NULL: every delivery; a status, or the failure blocked / gone)
-- One row per delivery of a run, for `campaign report`: read through a cursor, in id order
-- (the primary key walks it without a sort). blocked and gone mean what campaign status
-- counts: the delivery's failure, whatever its status.
SELECT d.chat_id, d.status, d.failure, d.error, d.attempts,
       coalesce(d.sent_at, d.updated_at) AS at
  FROM deliveries d
 WHERE d.run_id = $1
   AND ($2::text IS NULL OR d.status = $2 OR d.failure = $2)
 ORDER BY d.id;

-- Dashboard ------------------------------------------------------------------------------

-- name: insert_dashboard_session
-- $1 secret_sha256, $2 token_id (NULL: open access), $3 csrf_token, $4 lifetime_s
-- Expired sessions go when a new one is made: signing in is rare, so the sweep is cheap.
WITH swept AS (
    DELETE FROM dashboard_sessions WHERE expires_at < clock_timestamp()
)
INSERT INTO dashboard_sessions (secret_sha256, token_id, csrf_token, expires_at)
VALUES ($1, $2, $3, clock_timestamp() + make_interval(secs => $4))
RETURNING id;

-- name: dashboard_session
-- $1 secret_sha256
-- The live session of a cookie, with its token's name and role (NULL for open access); a
-- revoked token's sessions are gone with it (ON DELETE CASCADE).
SELECT s.id, s.csrf_token, s.token_id, t.name AS token_name, t.role
  FROM dashboard_sessions s
  LEFT JOIN api_tokens t ON t.id = s.token_id
 WHERE s.secret_sha256 = $1 AND s.expires_at > clock_timestamp();

-- name: delete_dashboard_session
-- $1 secret_sha256
DELETE FROM dashboard_sessions WHERE secret_sha256 = $1;

-- name: dashboard_token_id
-- $1 secret_sha256 of an API token
SELECT id FROM api_tokens WHERE secret_sha256 = $1;

-- name: dashboard_runs
-- $1 finished within (seconds), $2 limit
-- The runs the overview shows: every unfinished one, then those finished lately, newest first.
SELECT r.*, c.name AS campaign_name
  FROM runs r JOIN campaigns c ON c.id = r.campaign_id
 WHERE r.status IN ('running', 'paused')
    OR r.finished_at > clock_timestamp() - make_interval(secs => $1)
 ORDER BY r.status NOT IN ('running', 'paused'), r.id DESC
 LIMIT $2;

-- name: dashboard_recent_sends
-- $1 run_ids (bigint[]), $2 window (seconds)
-- Messages sent in the last moments, per run and bot: the pace now, not the run's average.
-- deliveries_run_sent holds exactly these rows, in this order; now() (this statement's
-- start: the dashboard reads outside a transaction), not the volatile clock_timestamp(),
-- so the window bounds the index scan instead of filtering the run's every sent row.
SELECT d.run_id, d.bot_id, count(*) AS sent
  FROM deliveries d
 WHERE d.run_id = ANY($1::bigint[]) AND d.status = 'sent'
   AND d.sent_at > now() - make_interval(secs => $2)
 GROUP BY d.run_id, d.bot_id;

-- name: dashboard_bot_health
-- (no parameters) Every bot: its status and limit, the worker holding a live lease on it,
-- its 429s of the last hour and until when the last of them told it to wait.
SELECT b.id, b.name, b.username, b.status, b.rate_per_s, b.paid_broadcast, b.paid_rate_per_s,
       l.worker_id,
       limited.answers AS rate_limited_1h,
       limited.until AS rate_limited_until
  FROM bots b
  LEFT JOIN bot_leases l ON l.bot_id = b.id AND l.expires_at > clock_timestamp()
  LEFT JOIN LATERAL (
      -- events_kind_at: the last hour of one kind. The wait is in Telegram's description
      -- ("Too Many Requests: retry after 5"); a description without one counts as no wait.
      SELECT count(*) AS answers,
             max(e.at + make_interval(
                 secs => coalesce(substring(e.detail FROM 'retry after ([0-9]+)')::integer, 0)
             )) AS until
        FROM events e
       WHERE e.kind = 'delivery.rate_limited' AND e.bot_id = b.id
         AND e.at > now() - interval '1 hour'  -- now(): bounds the index scan
  ) limited ON true
 ORDER BY b.name;

-- name: dashboard_throughput
-- $1 run_id, $2 bucket width (seconds)
-- A run's sends per time bucket, from run_sends (its sends per second, kept by the
-- statements that write deliveries); buckets with none are absent.
SELECT (s.second / $2::bigint * $2::bigint)::bigint AS bucket, sum(s.sent)::bigint AS sent
  FROM run_sends s
 WHERE s.run_id = $1
 GROUP BY 1
HAVING sum(s.sent) > 0
 ORDER BY 1;

-- name: dashboard_run_errors
-- $1 run_id, $2 limit
-- What Telegram said, grouped by its description, for deliveries not sent (or sent after
-- an error), most common first.
SELECT d.error, min(coalesce(d.failure, d.status)) AS failure, count(*) AS deliveries
  FROM deliveries d
 WHERE d.run_id = $1 AND d.status IN ('failed', 'skipped', 'uncertain')
 GROUP BY d.error
 ORDER BY 3 DESC, 1
 LIMIT $2;

-- name: dashboard_variant_results
-- $1 run_id
-- A run's results per variant, as an A/B test reads them: blocked is among failed, as
-- campaign status counts it. From run_delivery_counts, as run_counts.
SELECT v.name AS variant, v.language,
       sum(c.pending + c.sending + c.sent + c.failed + c.skipped + c.uncertain)::bigint
           AS total,
       sum(c.sent)::bigint AS sent,
       sum(c.failed)::bigint AS failed,
       sum(c.blocked)::bigint AS blocked,
       sum(c.pending + c.sending)::bigint AS pending
  FROM run_delivery_counts c JOIN variants v ON v.id = c.variant_id
 WHERE c.run_id = $1
 GROUP BY v.id, v.name, v.language
HAVING sum(c.pending + c.sending + c.sent + c.failed + c.skipped + c.uncertain) > 0
 ORDER BY v.id;

-- name: dashboard_sources
-- $1 bot_id (NULL: every bot), $2 limit
-- Where subscribers came from: the /start payload of a deep link (t.me/bot?start=spring),
-- "start" for a plain /start, "added" for a group or channel, an import's --source; the
-- most common first, with how many of them are still subscribed.
SELECT coalesce(s.source, '') AS source,
       count(*) AS subscribers,
       count(*) FILTER (WHERE s.status = 'subscribed') AS subscribed
  FROM subscribers s
 WHERE $1::bigint IS NULL OR s.bot_id = $1
 GROUP BY 1
 ORDER BY 2 DESC, 1
 LIMIT $2;

-- name: dashboard_bots
-- (no parameters) The Bots page's live part: every bot as dashboard_bot_health reads it,
-- with the last 429 it ever got.
SELECT b.id, b.name, b.username, b.status, b.rate_per_s, b.paid_broadcast, b.paid_rate_per_s,
       l.worker_id, l.expires_at AS lease_expires_at,
       limited.answers AS rate_limited_1h,
       limited.until AS rate_limited_until,
       (SELECT e.at FROM events e
         WHERE e.kind = 'delivery.rate_limited' AND e.bot_id = b.id
         ORDER BY e.at DESC LIMIT 1) AS last_rate_limited_at
  FROM bots b
  LEFT JOIN bot_leases l ON l.bot_id = b.id AND l.expires_at > clock_timestamp()
  LEFT JOIN LATERAL (
      -- as in dashboard_bot_health: the wait is in Telegram's description
      SELECT count(*) AS answers,
             max(e.at + make_interval(
                 secs => coalesce(substring(e.detail FROM 'retry after ([0-9]+)')::integer, 0)
             )) AS until
        FROM events e
       WHERE e.kind = 'delivery.rate_limited' AND e.bot_id = b.id
         AND e.at > now() - interval '1 hour'  -- now(): bounds the index scan
  ) limited ON true
 ORDER BY b.name;

-- name: dashboard_bot_subscribers
-- (no parameters) Each bot's subscribers, subscribed and of every status: one pass over
-- subscribers_bot_status (an index-only scan), read when the Bots page loads, not polled.
SELECT bot_id, count(*) FILTER (WHERE status = 'subscribed') AS subscribed,
       count(*) AS subscribers
  FROM subscribers
 GROUP BY bot_id;

-- name: dashboard_bot_campaigns
-- (no parameters) Which campaigns use which bot: the campaign's own bot, or a bot its
-- segment names (segment.bots), with the campaign's status.
SELECT b.id AS bot_id, c.name, c.status
  FROM bots b
  JOIN campaigns c
    ON c.bot_id = b.id OR coalesce(c.segment -> 'bots', '[]'::jsonb) ? b.name
 ORDER BY b.id, c.name;

-- name: dashboard_bot_names
-- (no parameters)
SELECT name FROM bots ORDER BY name;

-- name: dashboard_events
-- $1 kind (NULL: every kind), $2 bot_id (NULL: every bot), $3 before this id, $4 limit
-- The Activity page: events newest first, a page at a time by id (keyset: a page is as
-- fast at the millionth event as at the first), with the names a person reads them by.
-- events_kind_id serves a kind, events_bot_id a bot, the primary key everything else.
SELECT e.id, e.at, e.kind, e.chat_id, e.detail, e.run_id, e.bot_id,
       b.name AS bot_name, r.number AS run_number, c.name AS campaign_name
  FROM events e
  LEFT JOIN bots b ON b.id = e.bot_id
  LEFT JOIN runs r ON r.id = e.run_id
  LEFT JOIN campaigns c ON c.id = r.campaign_id
 WHERE ($1::text IS NULL OR e.kind = $1)
   AND ($2::bigint IS NULL OR e.bot_id = $2)
   AND e.id < $3
 ORDER BY e.id DESC
 LIMIT $4;

-- name: dashboard_bot_steps
-- $1 bot_id, $2 limit
-- The Bots page's latest of a bot: its runs' steps and its revocation, not every chat's
-- outcome; events_bot_steps holds exactly these rows, in this order.
SELECT e.id, e.at, e.kind, e.chat_id, e.detail, e.run_id, e.bot_id,
       b.name AS bot_name, r.number AS run_number, c.name AS campaign_name
  FROM events e
  LEFT JOIN bots b ON b.id = e.bot_id
  LEFT JOIN runs r ON r.id = e.run_id
  LEFT JOIN campaigns c ON c.id = r.campaign_id
 WHERE e.bot_id = $1
   AND e.kind IN ('run.started', 'run.paused', 'run.resumed', 'run.finished', 'bot.revoked')
 ORDER BY e.id DESC
 LIMIT $2;

-- name: dashboard_event_kinds
-- (no parameters) Every kind of event recorded, each found by one probe of events_kind_at
-- (a loose index scan), not by reading every event.
WITH RECURSIVE kinds (kind) AS (
    (SELECT kind FROM events ORDER BY kind LIMIT 1)
    UNION ALL
    SELECT (SELECT e.kind FROM events e WHERE e.kind > k.kind ORDER BY e.kind LIMIT 1)
      FROM kinds k
     WHERE k.kind IS NOT NULL
)
SELECT kind FROM kinds WHERE kind IS NOT NULL;

-- name: insert_run_events
-- $1 kinds, $2 bot_ids, $3 run_ids, $4 times (NULL: now), $5 details
-- A run's lifecycle in the activity, written as serve's run log claims the change, in the
-- same transaction: once per change, whatever the number of serve processes.
INSERT INTO events (kind, bot_id, run_id, at, detail)
SELECT kind, bot_id, run_id, coalesce(at, clock_timestamp()), detail
  FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::timestamptz[], $5::text[])
       AS e (kind, bot_id, run_id, at, detail);

-- HTTP API -------------------------------------------------------------------------------

-- name: insert_api_token
-- $1 name, $2 role, $3 secret_sha256
INSERT INTO api_tokens (name, role, secret_sha256) VALUES ($1, $2, $3)
RETURNING id, name, role, created_at, last_used_at;

-- name: api_tokens
-- (no parameters) Every token, oldest first: never the secret, which is not kept anyway.
SELECT id, name, role, created_at, last_used_at FROM api_tokens ORDER BY id;

-- name: delete_api_token
-- $1 name
DELETE FROM api_tokens WHERE name = $1 RETURNING id;

-- name: api_token_count
-- (no parameters)
SELECT count(*) FROM api_tokens;

-- name: authenticate_api_token
-- $1 secret_sha256
-- The token a request's secret hashes to. last_used_at is written at most once a minute per
-- token: a busy client must not turn every read into a write of the same row.
WITH found AS (
    SELECT id, name, role, created_at, last_used_at FROM api_tokens WHERE secret_sha256 = $1
), touched AS (
    UPDATE api_tokens t SET last_used_at = now()
      FROM found
     WHERE t.id = found.id
       AND (found.last_used_at IS NULL OR found.last_used_at < now() - interval '60 seconds')
)
SELECT id, name, role, created_at, last_used_at FROM found;

-- name: claim_idempotency_key
-- $1 scope, $2 key
-- Inserted in the transaction that does the work: a concurrent request with the same key
-- waits on this row's unique index until that transaction ends, then finds the answer.
INSERT INTO api_idempotency (scope, key, status_code, answer) VALUES ($1, $2, 0, 'null')
ON CONFLICT DO NOTHING
RETURNING true;

-- name: idempotent_answer
-- $1 scope, $2 key
SELECT status_code, answer FROM api_idempotency WHERE scope = $1 AND key = $2;

-- name: keep_idempotent_answer
-- $1 scope, $2 key, $3 status_code, $4 answer (jsonb text)
UPDATE api_idempotency SET status_code = $3, answer = $4::jsonb WHERE scope = $1 AND key = $2;

-- name: delivery_page
-- $1 run_id, $2 outcome (NULL: every delivery; a status, or the failure blocked / gone),
-- $3 after (the last delivery id of the previous page, 0 for the first), $4 page size
-- One page of a run's report, by keyset on the primary key: a page costs the same wherever
-- it is in the run, and rows settled meanwhile neither repeat nor go missing.
SELECT d.id, d.chat_id, d.status, d.failure, d.error, d.attempts,
       coalesce(d.sent_at, d.updated_at) AS at
  FROM deliveries d
 WHERE d.run_id = $1
   AND ($2::text IS NULL OR d.status = $2 OR d.failure = $2)
   AND d.id > $3
 ORDER BY d.id
 LIMIT $4;

-- name: metrics_deliveries_by_bot
-- (no parameters) Every delivery settled so far, per bot: the sum of the daily rollups, so
-- one scrape of any serve process says what the database says.
SELECT b.name AS bot, sum(s.sent) AS sent, sum(s.failed) AS failed,
       sum(s.skipped) AS skipped, sum(s.uncertain) AS uncertain,
       sum(s.rate_limited) AS rate_limited, sum(s.opted_out) AS opted_out
  FROM daily_bot_stats s JOIN bots b ON b.id = s.bot_id
 GROUP BY b.name;

-- name: metrics_deliveries_by_campaign
-- (no parameters) Every delivery settled so far, per bot, campaign and variant.
SELECT b.name AS bot, c.name AS campaign, v.name AS variant, sum(s.sent) AS sent,
       sum(s.failed) AS failed, sum(s.skipped) AS skipped, sum(s.uncertain) AS uncertain
  FROM daily_campaign_stats s
  JOIN bots b ON b.id = s.bot_id
  JOIN campaigns c ON c.id = s.campaign_id
  JOIN variants v ON v.id = s.variant_id
 GROUP BY b.name, c.name, v.name;

-- name: metrics_pending_by_bot
-- (no parameters) Deliveries not settled yet, per bot: deliveries_due and deliveries_sending
-- are partial indexes over exactly these rows.
SELECT b.name AS bot,
       count(d.id) FILTER (WHERE d.status = 'pending') AS pending,
       count(d.id) FILTER (WHERE d.status = 'sending') AS sending
  FROM bots b LEFT JOIN deliveries d ON d.bot_id = b.id AND d.status IN ('pending', 'sending')
 GROUP BY b.name;

-- name: metrics_leases_by_worker
-- (no parameters) Bots each worker holds a live lease on.
SELECT worker_id AS worker, count(*) AS leases
  FROM bot_leases
 WHERE expires_at > clock_timestamp()
 GROUP BY worker_id;

-- ───── history (issue 12): `db prune`, `db reset` ─────

-- name: prune_candidates
-- $1 finished before
-- Runs finished (done or cancelled) before then with deliveries or events left to delete,
-- or not marked pruned yet; with what each has left. A run still running or paused never
-- is one; a cancelled run whose last sends are still being answered says so (unsettled).
SELECT r.id, r.campaign_id, r.number, c.name AS campaign_name, r.pruned_at,
       d.deliveries, d.unsettled, e.events
  FROM runs r
  JOIN campaigns c ON c.id = r.campaign_id
 CROSS JOIN LATERAL (
       SELECT count(*) AS deliveries,
              count(*) FILTER (WHERE status IN ('pending', 'sending')) AS unsettled
         FROM deliveries WHERE run_id = r.id) d
 CROSS JOIN LATERAL (
       SELECT count(*) AS events FROM events
        WHERE run_id = r.id AND kind LIKE 'delivery.%') e
 WHERE r.status IN ('done', 'cancelled') AND r.finished_at < $1
   AND (r.pruned_at IS NULL OR d.deliveries > 0 OR e.events > 0)
 ORDER BY r.id;

-- name: lock_run_for_prune
-- $1 run_id
SELECT status, pruned_at FROM runs
 WHERE id = $1 AND status IN ('done', 'cancelled') FOR UPDATE;

-- name: keep_pruned_run_tallies
-- $1 run_id, $2 tallies (jsonb)
-- Before a finished run's deliveries go: its tallies, final (done, or cancelled and settled).
INSERT INTO finished_run_tallies (run_id, tallies)
SELECT id, $2::jsonb FROM runs WHERE id = $1 AND status IN ('done', 'cancelled')
ON CONFLICT (run_id) DO NOTHING;

-- name: mark_run_pruned
-- $1 run_id
UPDATE runs SET pruned_at = clock_timestamp() WHERE id = $1 AND pruned_at IS NULL;

-- name: prune_deliveries
-- $1 run_id, $2 campaign_id, $3 batch size
-- One batch of a pruned run's deliveries, deleted; the chats they reached are kept in
-- campaign_reached in the same statement, so the no-resend rule never misses one. Rows
-- are found by their physical address (ctid): one lookup each, not one per index.
WITH batch AS (
    DELETE FROM deliveries
     WHERE ctid = ANY (ARRAY(SELECT ctid FROM deliveries WHERE run_id = $1 LIMIT $3))
       AND run_id = $1
    RETURNING bot_id, chat_id, status
), reached AS (
    INSERT INTO campaign_reached (campaign_id, chat_id, bot_id)
    SELECT $2, chat_id, bot_id FROM batch WHERE status IN ('sent', 'uncertain')
    ON CONFLICT (campaign_id, chat_id) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM batch) AS deleted, (SELECT count(*) FROM reached) AS reached;

-- name: prune_events
-- $1 run_id, $2 batch size
-- One batch of a pruned run's delivery events (retries, 429s, …). Subscription changes
-- (a block seen while sending) stay: they are the chat's consent history.
DELETE FROM events
 WHERE ctid = ANY (ARRAY(SELECT ctid FROM events
                          WHERE run_id = $1 AND kind LIKE 'delivery.%' LIMIT $2))
   AND run_id = $1;

-- name: live_leases
-- (no parameters) Bot leases a running serve holds now; 0 if there is no schema yet.
SELECT count(*) FROM bot_leases WHERE expires_at > now();

-- name: drop_schema_objects
-- (no parameters) Every table, view, sequence and function of the current schema, dropped:
-- `db reset` re-applies the migrations on what is left, a clean slate.
DO $$
DECLARE
    statements text[];
    statement text;
BEGIN
    SELECT coalesce(array_agg(x.drop ORDER BY x.ordering), '{}') INTO statements FROM (
        SELECT 1 AS ordering,
               format('DROP %s IF EXISTS %I.%I CASCADE',
                      CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                     WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                                     ELSE 'TABLE' END,
                      n.nspname, c.relname) AS drop
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
        UNION ALL
        SELECT 2, format('DROP FUNCTION IF EXISTS %s CASCADE', p.oid::regprocedure)
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = current_schema() AND p.prokind = 'f'
    ) x;
    FOREACH statement IN ARRAY statements LOOP
        EXECUTE statement;
    END LOOP;
END
$$;
