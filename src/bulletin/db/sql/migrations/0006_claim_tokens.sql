-- 0006: every claim of a delivery gets a token of its own. A write meant for one claim
-- (an outcome, a release) and sent again because its answer was lost must not land on a
-- later claim of the same row by the same worker: that row may be in flight again.

CREATE SEQUENCE delivery_claims;

ALTER TABLE deliveries ADD COLUMN claim_id bigint;
