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
