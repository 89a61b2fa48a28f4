-- The hourly purges select expired rows by expires_at: without an index each pass ends in a scan of the whole
-- table (on SQLite while holding the write lock), which at a million refresh tokens reads the table from disk.
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
