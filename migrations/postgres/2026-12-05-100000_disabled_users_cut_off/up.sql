-- Disabling a user now also moves their revoked-before cut-off, so that enabling them later brings back none of
-- the tokens and sessions they held before. Users disabled before that get their cut-off here. Nothing is issued
-- to a disabled user, so any time since they were disabled ends exactly what they held: the time of the upgrade.
UPDATE users SET revoked_before = CAST(FLOOR(EXTRACT(EPOCH FROM now())) AS BIGINT)
WHERE disabled AND (revoked_before IS NULL OR revoked_before < CAST(FLOOR(EXTRACT(EPOCH FROM now())) AS BIGINT));
