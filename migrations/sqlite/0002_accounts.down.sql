ALTER TABLE users DROP COLUMN role;
ALTER TABLE users DROP COLUMN password_hash;
