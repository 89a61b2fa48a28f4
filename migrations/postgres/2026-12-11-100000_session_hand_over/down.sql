DROP INDEX sessions_handed_over_to_idx;
ALTER TABLE sessions DROP COLUMN handed_over_to;
