-- 0007: a campaign has at most one unfinished run, runs are numbered per campaign,
-- and a campaign whose runs are over (and whose schedule has nothing to come) is done.

-- Before this migration two runs of one campaign could be unfinished at once: each
-- messaged the same audience. The oldest one stays; the later ones are cancelled and
-- their pending deliveries skipped, so no chat gets the message twice.
WITH ranked AS (
    SELECT id, campaign_id,
           row_number() OVER (PARTITION BY campaign_id ORDER BY id) AS place
      FROM runs
     WHERE status IN ('running', 'paused')
), extra AS (
    UPDATE runs r
       SET status = 'cancelled', finished_at = now(),
           paused_reason = 'cancelled by migration 0007: another run of the campaign was unfinished'
      FROM ranked
     WHERE r.id = ranked.id AND ranked.place > 1
    RETURNING r.id
)
UPDATE deliveries d
   SET status = 'skipped', failure = 'cancelled', claimed_by = NULL, updated_at = now()
  FROM extra
 WHERE d.run_id = extra.id AND d.status = 'pending';

-- Two processes racing to start a run of one campaign cannot both succeed.
CREATE UNIQUE INDEX runs_one_unfinished ON runs (campaign_id)
 WHERE status IN ('running', 'paused');

-- "run 3 of launch": the number a person reads, unique within its campaign.
ALTER TABLE runs ADD COLUMN number integer;
UPDATE runs r
   SET number = n.number
  FROM (SELECT id, row_number() OVER (PARTITION BY campaign_id ORDER BY id) AS number
          FROM runs) n
 WHERE r.id = n.id;
ALTER TABLE runs ALTER COLUMN number SET NOT NULL;
CREATE UNIQUE INDEX runs_campaign_number ON runs (campaign_id, number);

-- Campaigns: `done` once their last run finished and their schedule has nothing to come.
ALTER TABLE campaigns DROP CONSTRAINT campaigns_status_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_status_check
    CHECK (status IN ('draft', 'active', 'paused', 'done', 'cancelled'));
UPDATE campaigns c
   SET status = 'done'
 WHERE c.status = 'active' AND c.next_run_at IS NULL
   AND EXISTS (SELECT 1 FROM runs r WHERE r.campaign_id = c.id)
   AND NOT EXISTS (SELECT 1 FROM runs r
                    WHERE r.campaign_id = c.id AND r.status IN ('running', 'paused'));

