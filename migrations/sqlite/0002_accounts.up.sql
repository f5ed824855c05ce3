-- Riders sign in with a password (an Argon2id PHC string); admins manage drivers.
ALTER TABLE users ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'rider'
    CONSTRAINT users_role_known CHECK (role IN ('rider', 'admin'));
