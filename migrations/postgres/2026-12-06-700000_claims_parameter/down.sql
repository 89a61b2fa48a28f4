ALTER TABLE refresh_tokens DROP COLUMN userinfo_claims;
ALTER TABLE consents DROP COLUMN claims;
