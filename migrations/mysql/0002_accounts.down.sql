ALTER TABLE users DROP CONSTRAINT users_role_known;
ALTER TABLE users DROP COLUMN role;
ALTER TABLE users DROP COLUMN password_hash;
