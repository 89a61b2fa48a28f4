-- OpenID Connect Dynamic Client Registration 1.0 §2 `application_type`: "web" (the default) or "native", an app on
-- the user's device. Self-registered web clients may not have private-use scheme redirect URIs (RFC 8252 §7.1).
-- Clients stored before had no type; each gets the one its redirect URIs do not contradict: native when a redirect
-- or post-logout redirect URI is not plainly http(s) (a private-use scheme), web otherwise. A URI whose text is
-- unusual (an upper-case scheme, leading spaces) counts as native too: native clients may have every kind of
-- redirect URI a web client may but https on a loopback host, so erring that way contradicts nothing else. (A
-- client with both a private-use scheme and https on a loopback host fits neither type: it is typed native, and
-- its next update through PUT /register/{client_id} must drop one of them.) (GLOB, unlike LIKE, is case-sensitive, as
-- Postgres's LIKE is.)
ALTER TABLE clients ADD COLUMN application_type TEXT NOT NULL DEFAULT 'web';

UPDATE clients
SET application_type = 'native'
WHERE EXISTS (
    SELECT 1
    FROM json_each(clients.redirect_uris) AS stored
    WHERE stored.value NOT GLOB 'https://*' AND stored.value NOT GLOB 'http://*'
) OR EXISTS (
    SELECT 1
    FROM json_each(clients.post_logout_redirect_uris) AS stored
    WHERE stored.value NOT GLOB 'https://*' AND stored.value NOT GLOB 'http://*'
);
