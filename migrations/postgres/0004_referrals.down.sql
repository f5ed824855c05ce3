DROP INDEX users_referrer_idx;
ALTER TABLE users DROP COLUMN referrer_id;
