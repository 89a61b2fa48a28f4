-- A temporary password: set by an operator (`tessera users add|passwd --temporary`, the admin API's
-- `"temporary": true`), it signs the user in only as far as the "Choose a new password" page, whose change clears
-- the flag. Every row stored before has an ordinary password.
ALTER TABLE users ADD COLUMN password_change_required BOOLEAN NOT NULL DEFAULT FALSE;
