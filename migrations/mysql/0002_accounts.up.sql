-- Riders sign in with a password (an Argon2id PHC string); admins manage drivers.
ALTER TABLE users ADD COLUMN password_hash VARCHAR(255) NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN role VARCHAR(16) NOT NULL DEFAULT 'rider';
ALTER TABLE users ADD CONSTRAINT users_role_known CHECK (role IN ('rider', 'admin'));
