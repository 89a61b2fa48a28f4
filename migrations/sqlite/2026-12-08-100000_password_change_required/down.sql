ALTER TABLE users DROP COLUMN password_change_required;
