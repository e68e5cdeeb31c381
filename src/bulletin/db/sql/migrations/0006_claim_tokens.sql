-- 0006: every claim of a delivery carries a token the worker chose for that claim. A
-- write meant for one claim (an outcome, a release) and sent again because its answer
-- was lost must not land on a later claim of the same row by the same worker: that row
-- may be in flight again. And the rows of a claim whose own answer was lost can be found
-- and put back by its token.

ALTER TABLE deliveries ADD COLUMN claim_id bigint;
