-- A rider may have been referred by another (shown on the profile through a self-join).
ALTER TABLE users ADD COLUMN referrer_id BIGINT NULL;
ALTER TABLE users ADD CONSTRAINT users_referrer_fk FOREIGN KEY (referrer_id) REFERENCES users (id);
