-- A rotation first checks that its family has no revoked token (so none follows a revocation that committed
-- while it was under way): with this index that check reads only revoked rows, however long the family.
CREATE INDEX refresh_tokens_revoked_family_idx ON refresh_tokens (family_id) WHERE revoked;
