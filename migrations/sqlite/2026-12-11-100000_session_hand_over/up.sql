-- The session a session was handed over to when its user signed in again in the same browser: the tokens bound
-- to the old session live as long as the new one, and end with it.
ALTER TABLE sessions ADD COLUMN handed_over_to TEXT;
CREATE INDEX sessions_handed_over_to_idx ON sessions (handed_over_to) WHERE handed_over_to IS NOT NULL;
