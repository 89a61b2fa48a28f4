-- DROP COLUMN needs SQLite 3.35 or later; neither column is indexed, which DROP COLUMN would refuse.
ALTER TABLE refresh_tokens DROP COLUMN access_expires_at;
ALTER TABLE refresh_tokens DROP COLUMN access_jti;
