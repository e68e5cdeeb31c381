-- 0015: when a claimed delivery was handed over to Telegram. A worker marks a few rows at a
-- time (about 0.1 s of its pace) just before it sends them. When the worker dies, or stops
-- while the database is away so that it cannot put its unsent rows back, the next lease
-- holder tells the two kinds of `sending` rows apart: never handed over (surely not sent:
-- pending again) and handed over (Telegram may have shown it: uncertain). NULL: not handed
-- over under the current claim (every claim clears it).

ALTER TABLE deliveries ADD COLUMN handed_at timestamptz;
