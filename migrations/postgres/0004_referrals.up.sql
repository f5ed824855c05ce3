-- A rider may have been referred by another (shown on the profile through a self-join).
ALTER TABLE users ADD COLUMN referrer_id BIGINT REFERENCES users (id);
-- Who a rider brought in (the referral tree's recursive step).
CREATE INDEX users_referrer_idx ON users (referrer_id);
