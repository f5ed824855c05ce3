ALTER TABLE users DROP COLUMN referrer_id;
