-- 0014: the tallies of a finished run (its counts, its commonest failures, its variants),
-- kept the first time they are read. A done run has no delivery left to send, so its
-- counts no longer change; reading them again costs a lookup, not a scan of the run's
-- deliveries (500,000 rows for a large audience). Forgetting a chat deletes its
-- deliveries: it deletes every kept tally, and the next read counts again.

CREATE TABLE finished_run_tallies (
    run_id      bigint PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    tallies     jsonb NOT NULL,
    counted_at  timestamptz NOT NULL DEFAULT now()
);
