DROP TRIGGER users_email_changed ON users;
DROP FUNCTION users_email_key_clear();
DROP INDEX users_email_unkeyed_idx;
DROP INDEX users_email_key_idx;
ALTER TABLE users DROP COLUMN email_key;
