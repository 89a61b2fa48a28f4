-- Where a session was started from, shown on the account page so that a user can tell their sessions apart.
-- Sessions stored before have neither (an unknown device).
ALTER TABLE sessions ADD COLUMN ip TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
