-- 0017: history that can be pruned. `bulletin db prune` deletes the deliveries of runs that
-- finished long ago; the run rows stay, marked pruned, and their tallies are kept first
-- (finished_run_tallies), so `campaign status --run N` still answers. What a one-shot
-- campaign must remember of the deleted rows, which chats it reached, moves to
-- campaign_reached: a later run still leaves those chats out.

ALTER TABLE runs ADD COLUMN pruned_at timestamptz;

CREATE TABLE campaign_reached (
    campaign_id  bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    chat_id      bigint NOT NULL,
    bot_id       bigint NOT NULL REFERENCES bots (id) ON DELETE CASCADE,  -- the sender
    PRIMARY KEY (campaign_id, chat_id)
);

-- Forgetting a chat drops what it was sent: its reached rows with its deliveries.
CREATE INDEX campaign_reached_chat ON campaign_reached (chat_id);
