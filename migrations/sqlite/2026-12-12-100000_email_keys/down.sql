DROP TRIGGER users_email_changed;
DROP INDEX users_email_unkeyed_idx;
DROP INDEX users_email_key_idx;
ALTER TABLE users DROP COLUMN email_key;
