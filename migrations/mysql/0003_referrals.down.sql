ALTER TABLE users DROP FOREIGN KEY users_referrer_fk;
ALTER TABLE users DROP COLUMN referrer_id;
