-- 0004: paid broadcasts (allow_paid_broadcast, up to 1000 msgs/s billed in Stars by
-- Telegram), and per-bot proxies.

ALTER TABLE bots
    ADD COLUMN paid_broadcast boolean NOT NULL DEFAULT false,
    ADD COLUMN paid_rate_per_s double precision NOT NULL DEFAULT 1000
        CHECK (paid_rate_per_s > 0);

-- Proxies to reach the Bot API from networks where Telegram is blocked (connectivity only).
ALTER TABLE bots
    ADD COLUMN proxies text[] NOT NULL DEFAULT '{}';

-- Whether deliveries a crashed worker left unknown are sent again (default: no; a
-- duplicate in someone's chat is worse than a rare miss).
ALTER TABLE campaigns
    ADD COLUMN paid_broadcast boolean NOT NULL DEFAULT false,
    ADD COLUMN resend_uncertain boolean NOT NULL DEFAULT false;
