-- 0002: the consent loop. Group and channel details, update offsets and processed
-- update ids for the listener, and tombstones of forgotten chats.

ALTER TABLE subscribers
    ADD COLUMN title     text,                -- a group's or channel's title
    ADD COLUMN can_post  boolean;             -- whether the bot may post there (NULL: unknown)

-- Where each bot's long polling resumes: the first update id not yet handled.
-- Written in the same transaction as the update's effects, so a restart neither
-- loses nor replays an update.
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

-- A forgotten chat leaves only a hash of (bot, chat id): enough to refuse re-importing
-- it, not enough to read the id back at a glance. Removed when the chat opts in again.
CREATE TABLE forgotten_chats (
    bot_id        bigint NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    chat_hash     bytea NOT NULL,
    forgotten_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_id, chat_hash)
);

CREATE INDEX events_chat ON events (bot_id, chat_id) WHERE chat_id IS NOT NULL;

-- The tombstone of one chat of one bot; the only definition, used by forget, import and /start.
CREATE FUNCTION chat_hash(bot_id bigint, chat_id bigint) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN sha256((bot_id::text || ':' || chat_id::text)::bytea);
