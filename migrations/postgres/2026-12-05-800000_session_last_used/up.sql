-- When each session was last used in the browser, shown on the account page so that a user can spot a session
-- they do not recognise. Sessions stored before were last seen, as far as is known, when they began.
ALTER TABLE sessions ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET last_used_at = created_at;
