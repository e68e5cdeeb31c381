-- 0003: campaigns as designed in a file: per-variant rich content and language,
-- segment, schedule, caps and campaign fields; scheduled runs; uploaded media per bot.
-- Depends only on 0001 (0002 may be applied before or after it).

ALTER TABLE campaigns
    ADD COLUMN fields       jsonb NOT NULL DEFAULT '{}',  -- campaign fields for templates
    ADD COLUMN segment      jsonb NOT NULL DEFAULT '{}',  -- who: bots, tags, languages, …
    ADD COLUMN schedule     jsonb NOT NULL DEFAULT '{}',  -- when: at, every, cron, quiet hours
    ADD COLUMN caps         jsonb NOT NULL DEFAULT '{}',  -- how much: per hour per bot, per run
    ADD COLUMN next_run_at  timestamptz,                  -- the scheduler's next slot; NULL: none
    ADD COLUMN updated_at   timestamptz NOT NULL DEFAULT now();

-- The scheduler looks only at campaigns with a slot to come.
CREATE INDEX campaigns_next_run ON campaigns (next_run_at) WHERE next_run_at IS NOT NULL;

ALTER TABLE variants
    ADD COLUMN language  text,                     -- NULL: the fallback for every language
    ADD COLUMN content   jsonb NOT NULL DEFAULT '{}';  -- kind, media, buttons, flags

ALTER TABLE runs
    ADD COLUMN scheduled_for  timestamptz,         -- the schedule slot this run fills
    ADD COLUMN quiet_until    timestamptz;         -- paused for quiet hours until then

-- One run per schedule slot, whatever number of schedulers race for it
-- (NULLs are distinct: runs started by hand are not affected).
CREATE UNIQUE INDEX runs_campaign_slot ON runs (campaign_id, scheduled_for);

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
