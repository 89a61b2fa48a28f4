DROP INDEX sessions_expires_at_idx;
DROP INDEX refresh_tokens_expires_at_idx;
