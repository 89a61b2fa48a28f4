"""A relying party built on Authlib alone, driven by tests/api/interop_python.rs.

Usage: rp.py SCENARIO, with the server and the client in the environment:
  TESSERA_ISSUER        the issuer (discovery is read from it)
  TESSERA_CLIENT_ID     the client
  TESSERA_CLIENT_SECRET its secret (client_secret_basic / client_secret_post)
  TESSERA_CLIENT_KEY    a PEM file with its private key (private_key_jwt)
  TESSERA_REDIRECT_URI  its redirect URI
  TESSERA_POST_CLIENT_ID, TESSERA_POST_CLIENT_SECRET  a second client, for client_secret_post

When a scenario needs the user's browser it prints the authorization URL on one line and reads the URL the
browser was sent back to from standard input. Its last line of output is one JSON object: what Authlib saw,
for the test to check against the server. A failure that is not an expected protocol error exits non-zero.
"""

import json
import os
import sys
import warnings
from urllib.parse import urlparse

import requests
from authlib.common.security import generate_token
from authlib.common.urls import url_decode
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc6749.errors import MissingCodeException
from authlib.oauth2.rfc6749.parameters import parse_authorization_code_response
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from authlib.oidc.core import CodeIDToken, UserInfo
from authlib.oidc.discovery import OpenIDProviderMetadata

with warnings.catch_warnings():
    # Deprecated in favour of joserfc (to go in Authlib 2.0), but it is what most applications written against
    # Authlib call; the access token goes through joserfc, by way of authlib.oauth2.rfc9068.
    warnings.simplefilter("ignore")
    from authlib.jose import jwt as jose_jwt

TIMEOUT = 10


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"rp.py: {name} is not set")
    return value


def discover(issuer):
    """The OpenID provider metadata, checked by Authlib's RFC 8414 and OIDC Discovery validators."""
    resp = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=TIMEOUT)
    resp.raise_for_status()
    doc = resp.json()
    # Both validators insist on https; the server under test listens on loopback http, so the test runs this
    # script with AUTHLIB_INSECURE_TRANSPORT set, which Authlib reads for exactly that.
    OpenIDProviderMetadata(doc).validate()
    AuthorizationServerMetadata(doc).validate()
    if doc["issuer"] != issuer:
        raise SystemExit(f"rp.py: discovery names issuer {doc['issuer']}, not {issuer}")
    return doc


def key_set(meta):
    resp = requests.get(meta["jwks_uri"], timeout=TIMEOUT)
    resp.raise_for_status()
    return resp.json()


def read_callback(url):
    """Prints the authorization URL for the browser and reads back where the browser was sent."""
    print(url, flush=True)
    line = sys.stdin.readline().strip()
    if not line:
        raise SystemExit("rp.py: no callback URL on stdin")
    return line


def oauth_error(call):
    """The OAuth error code Authlib raised for `call`, or None when it succeeded."""
    try:
        call()
    except OAuthError as e:
        return e.error
    return None


def record_status(session):
    """Keeps the status of every token endpoint answer: Authlib's OAuthError does not carry it."""
    seen = []

    def hook(resp):
        seen.append(resp.status_code)
        return resp

    session.register_compliance_hook("access_token_response", hook)
    session.register_compliance_hook("refresh_token_response", hook)
    return seen


def validate_id_token(meta, jwks, client_id, token, nonce):
    """The ID token's claims: its signature checked with authlib.jose against the discovery JWKS, then
    CodeIDToken's checks (iss, aud, exp, iat, nonce, azp, at_hash against the access token)."""
    claims = jose_jwt.decode(
        token["id_token"],
        jwks,
        claims_cls=CodeIDToken,
        claims_options={
            "iss": {"essential": True, "value": meta["issuer"]},
            "aud": {"essential": True, "value": client_id},
            "nonce": {"essential": True},
            "at_hash": {"essential": True},
        },
        claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
    )
    claims.validate()
    if claims.header.get("alg") not in meta["id_token_signing_alg_values_supported"]:
        raise SystemExit(f"rp.py: ID token alg {claims.header.get('alg')!r} is not advertised")
    return dict(claims), dict(claims.header)


def validate_access_token(meta, jwks, access_token, scopes):
    """The access token's claims, validated as an RFC 9068 JWT by Authlib's resource server validator."""

    class Validator(JWTBearerTokenValidator):
        def get_jwks(self):
            return jwks

    validator = Validator(issuer=meta["issuer"], resource_server=meta["issuer"])
    claims = validator.authenticate_token(access_token)
    validator.validate_token(claims, scopes, None)
    # Authlib accepts a token without `typ`; RFC 9068 §4 says a resource server must check it is at+jwt.
    if claims.header.get("typ") != "at+jwt":
        raise SystemExit(f"rp.py: access token typ is {claims.header.get('typ')!r}")
    return dict(claims), dict(claims.header)


def code_flow():
    """Scenario 1: a confidential client with client_secret_basic through code, PKCE, state and nonce, the
    ID token, userinfo, refresh rotation, a replayed refresh token, introspection and revocation."""
    issuer, client_id = env("TESSERA_ISSUER"), env("TESSERA_CLIENT_ID")
    meta = discover(issuer)
    jwks = key_set(meta)
    session = OAuth2Session(
        client_id,
        env("TESSERA_CLIENT_SECRET"),
        token_endpoint_auth_method="client_secret_basic",
        revocation_endpoint_auth_method="client_secret_basic",
        scope="openid profile email",
        redirect_uri=env("TESSERA_REDIRECT_URI"),
        code_challenge_method="S256",
        default_timeout=TIMEOUT,
    )
    statuses = record_status(session)
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    callback = read_callback(url)
    token = session.fetch_token(
        meta["token_endpoint"], authorization_response=callback, state=state, code_verifier=verifier
    )
    id_claims, id_header = validate_id_token(meta, jwks, client_id, token, nonce)
    at_claims, at_header = validate_access_token(meta, jwks, token["access_token"], ["openid"])
    userinfo = UserInfo(session.get(meta["userinfo_endpoint"]).json())

    first_refresh = token["refresh_token"]
    rotated = session.refresh_token(meta["token_endpoint"])
    second_refresh = rotated["refresh_token"]

    def introspect(t, hint):
        return session.introspect_token(meta["introspection_endpoint"], token=t, token_type_hint=hint).json()

    active_before = introspect(rotated["access_token"], "access_token")
    refresh_active_before = introspect(second_refresh, "refresh_token")
    revoked = session.revoke_token(
        meta["revocation_endpoint"], token=rotated["access_token"], token_type_hint="access_token"
    )
    active_after = introspect(rotated["access_token"], "access_token")

    replay = oauth_error(lambda: session.refresh_token(meta["token_endpoint"], refresh_token=first_refresh))
    newest = oauth_error(lambda: session.refresh_token(meta["token_endpoint"], refresh_token=second_refresh))
    refresh_active_after = introspect(second_refresh, "refresh_token")
    return {
        "callback": callback,
        "state": state,
        "token_type": token["token_type"],
        "scope": token.get("scope"),
        "id_token": id_claims,
        "id_token_header": id_header,
        "access_token_claims": at_claims,
        "access_token_header": at_header,
        "userinfo": dict(userinfo),
        "refresh_tokens": [first_refresh, second_refresh],
        "rotated_access_token": rotated["access_token"],
        "rotated_id_token": "id_token" in rotated,
        "introspection_before_revocation": active_before,
        "refresh_introspection_before_replay": refresh_active_before,
        "revocation_status": revoked.status_code,
        "introspection_after_revocation": active_after,
        "replay_error": replay,
        "newest_refresh_error": newest,
        "refresh_introspection_after_replay": refresh_active_after,
        "token_statuses": statuses,
    }


def public_client():
    """A public client (no secret, token_endpoint_auth_method none): code + PKCE, the ID token, a refresh, then
    the refresh token revoked by the client itself."""
    issuer, client_id = env("TESSERA_ISSUER"), env("TESSERA_CLIENT_ID")
    meta = discover(issuer)
    jwks = key_set(meta)
    session = OAuth2Session(
        client_id,
        scope="openid",
        redirect_uri=env("TESSERA_REDIRECT_URI"),
        code_challenge_method="S256",
        default_timeout=TIMEOUT,
    )
    verifier, nonce = generate_token(64), generate_token(20)
    url, state = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    token = session.fetch_token(
        meta["token_endpoint"], authorization_response=read_callback(url), state=state, code_verifier=verifier
    )
    id_claims, _ = validate_id_token(meta, jwks, client_id, token, nonce)
    rotated = session.refresh_token(meta["token_endpoint"])
    revoked = session.revoke_token(
        meta["revocation_endpoint"], token=rotated["refresh_token"], token_type_hint="refresh_token"
    )
    after = oauth_error(lambda: session.refresh_token(meta["token_endpoint"]))
    return {
        "auth_methods": [session.token_endpoint_auth_method, session.revocation_endpoint_auth_method],
        "id_token": id_claims,
        "refresh_tokens": [token["refresh_token"], rotated["refresh_token"]],
        "access_token": rotated["access_token"],
        "revocation_status": revoked.status_code,
        "refresh_after_revocation": after,
    }


def client_credentials():
    """Scenario 2: client_credentials with private_key_jwt (Authlib's PrivateKeyJWT) and client_secret_post."""
    meta = discover(env("TESSERA_ISSUER"))
    jwks = key_set(meta)
    token_endpoint = meta["token_endpoint"]
    with open(env("TESSERA_CLIENT_KEY"), "rb") as f:
        private_key = f.read()
    jwt_session = OAuth2Session(
        env("TESSERA_CLIENT_ID"),
        private_key,
        token_endpoint_auth_method="private_key_jwt",
        # Authlib's default here is client_secret_basic whenever a "secret" is given, even this private key.
        revocation_endpoint_auth_method="private_key_jwt",
        scope="read",
        default_timeout=TIMEOUT,
    )
    # The assertion's audience is the token endpoint for every endpoint (introspection and revocation too);
    # PrivateKeyJWT() without it would name the URL each request goes to.
    jwt_session.register_client_auth_method(PrivateKeyJWT(token_endpoint))
    # Twice: each assertion has its own jti, so the second is no replay.
    first = jwt_session.fetch_token(token_endpoint, grant_type="client_credentials")
    second = jwt_session.fetch_token(token_endpoint, grant_type="client_credentials")
    jwt_claims, jwt_header = validate_access_token(meta, jwks, second["access_token"], ["read"])
    own_introspection = jwt_session.introspect_token(
        meta["introspection_endpoint"], token=first["access_token"], token_type_hint="access_token"
    ).json()
    own_revocation = jwt_session.revoke_token(meta["revocation_endpoint"], token=first["access_token"])

    post_session = OAuth2Session(
        env("TESSERA_POST_CLIENT_ID"),
        env("TESSERA_POST_CLIENT_SECRET"),
        token_endpoint_auth_method="client_secret_post",
        revocation_endpoint_auth_method="client_secret_post",
        scope="read",
        default_timeout=TIMEOUT,
    )
    post = post_session.fetch_token(token_endpoint, grant_type="client_credentials")
    post_claims, _ = validate_access_token(meta, jwks, post["access_token"], ["read"])
    # A resource server (this client) asks about the other client's live token, then it revokes its own.
    looked_up = post_session.introspect_token(
        meta["introspection_endpoint"], token=second["access_token"], token_type_hint="access_token"
    ).json()
    revoked = post_session.revoke_token(meta["revocation_endpoint"], token=post["access_token"])
    return {
        "private_key_jwt": {"tokens": [first["access_token"], second["access_token"]], "claims": jwt_claims},
        "private_key_jwt_header": jwt_header,
        "private_key_jwt_introspection": own_introspection,
        "private_key_jwt_revocation_status": own_revocation.status_code,
        "refresh_token": "refresh_token" in first or "refresh_token" in post,
        "client_secret_post": {"token": post["access_token"], "claims": post_claims},
        "introspection": looked_up,
        "revocation_status": revoked.status_code,
    }


def errors():
    """Scenario 3: error answers as Authlib surfaces them (OAuthError.error), with the HTTP status seen."""
    meta = discover(env("TESSERA_ISSUER"))
    token_endpoint = meta["token_endpoint"]
    client_id = env("TESSERA_CLIENT_ID")
    verifier = generate_token(48)
    redirect_uri = env("TESSERA_REDIRECT_URI")

    def attempt(secret):
        session = OAuth2Session(
            client_id, secret, redirect_uri=redirect_uri, code_challenge_method="S256", default_timeout=TIMEOUT
        )
        statuses = record_status(session)
        error = oauth_error(
            lambda: session.fetch_token(
                token_endpoint, grant_type="authorization_code", code="not-a-code", code_verifier=verifier
            )
        )
        return {"error": error, "status": statuses[-1] if statuses else None}

    return {
        "wrong_secret": attempt(env("TESSERA_CLIENT_SECRET") + "x"),
        "bad_code": attempt(env("TESSERA_CLIENT_SECRET")),
    }


def prompt_none():
    """prompt=none without a session: the error comes back to the redirect URI."""
    meta = discover(env("TESSERA_ISSUER"))
    session = OAuth2Session(
        env("TESSERA_CLIENT_ID"),
        env("TESSERA_CLIENT_SECRET"),
        scope="openid",
        redirect_uri=env("TESSERA_REDIRECT_URI"),
        code_challenge_method="S256",
        prompt="none",
        default_timeout=TIMEOUT,
    )
    verifier = generate_token(48)
    url, state = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=generate_token(20)
    )
    callback = read_callback(url)
    # OAuth2Session has no reader for an error response: the code parser refuses it for its missing code, and
    # the framework integrations (flask_client, django_client, starlette_client) raise OAuthError from the
    # query's error and error_description, as done here from Authlib's own URL decoder.
    try:
        parse_authorization_code_response(callback, state=state)
        parsed = None
    except MissingCodeException as e:
        parsed = e.error
    # Handed the error response, fetch_token finds no "code=" in it and guesses a client_credentials grant,
    # sent as this client: the server must refuse it rather than issue a token.
    fetch_error = oauth_error(
        lambda: session.fetch_token(meta["token_endpoint"], authorization_response=callback, state=state)
    )
    params = dict(url_decode(urlparse(callback).query))
    try:
        if params.get("error"):
            raise OAuthError(error=params["error"], description=params.get("error_description"))
        raised = None
    except OAuthError as e:
        raised = e.error
    return {
        "callback": callback,
        "state": state,
        "code_parser_error": parsed,
        "fetch_token_error": fetch_error,
        "error": raised,
        "params": params,
    }


SCENARIOS = {
    "code_flow": code_flow,
    "public_client": public_client,
    "client_credentials": client_credentials,
    "errors": errors,
    "prompt_none": prompt_none,
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        sys.exit(f"usage: rp.py {{{','.join(SCENARIOS)}}}")
    result = SCENARIOS[sys.argv[1]]()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
