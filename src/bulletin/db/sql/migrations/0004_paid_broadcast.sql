-- 0004: paid broadcasts (allow_paid_broadcast, up to 1000 msgs/s billed in Stars by Telegram).

ALTER TABLE bots
    ADD COLUMN paid_broadcast boolean NOT NULL DEFAULT false,
    ADD COLUMN paid_rate_per_s double precision NOT NULL DEFAULT 1000
        CHECK (paid_rate_per_s > 0);

ALTER TABLE campaigns
    ADD COLUMN paid_broadcast boolean NOT NULL DEFAULT false;
