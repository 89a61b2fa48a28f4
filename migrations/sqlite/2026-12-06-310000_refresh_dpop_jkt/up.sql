-- The DPoP key (RFC 7638 thumbprint) a public client's refresh token family is bound to (RFC 9449 §5): each of its
-- tokens is refreshed only with a proof of that key. NULL: not bound (every family stored before).
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT;
