-- A rider may have been referred by another (shown on the profile through a self-join).
ALTER TABLE users ADD COLUMN referrer_id INTEGER REFERENCES users (id);
