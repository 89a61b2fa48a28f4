// A relying party built on openid-client alone, run by tests/api/interop_node.rs: `node rp.mjs <scenario>`.
//
// Input comes from the environment: TESSERA_ISSUER, CLIENT_ID, CLIENT_SECRET (confidential clients),
// AUTH_METHOD (client_secret_basic | client_secret_post | none), REDIRECT_URI, INITIAL_ACCESS_TOKEN (optional,
// for `register`), CLIENT_KEY_PEM and CLIENT_KEY_KID (the ES256 private key of `jar`, a PKCS#8 PEM file). A scenario with a user prints the authorization URL on one line and reads the URL the browser
// was sent back to from stdin; every scenario ends by printing one line of JSON with what it saw. Any error the
// library raises where the scenario expects success ends the script with a non-zero status and the error on
// stderr.
import * as client from 'openid-client';
import * as jose from 'jose';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const issuer = new URL(env('TESSERA_ISSUER'));
const redirectUri = process.env.REDIRECT_URI;
// The test server is plain http on loopback.
const insecure = { execute: [client.allowInsecureRequests] };
const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

function clientAuth(method, secret) {
  switch (method) {
    case 'client_secret_basic':
      return client.ClientSecretBasic(secret);
    case 'client_secret_post':
      return client.ClientSecretPost(secret);
    case 'none':
      return client.None();
    default:
      throw new Error(`unknown AUTH_METHOD ${method}`);
  }
}

async function configure() {
  const method = env('AUTH_METHOD');
  const secret = method === 'none' ? undefined : env('CLIENT_SECRET');
  return client.discovery(issuer, env('CLIENT_ID'), secret, clientAuth(method, secret), insecure);
}

// What an expected refusal looked like: the OAuth error code and status of the error response the library raised.
async function refusal(promise) {
  try {
    await promise;
    return { refused: false };
  } catch (e) {
    // A resource server's refusal comes as a WWW-Authenticate challenge, its error code a parameter of it.
    const error = e.error ?? e.cause?.[0]?.parameters?.error ?? null;
    return { refused: true, error, status: e.status ?? null, code: e.code ?? null };
  }
}

// The authorization code flow with PKCE S256, state and nonce, the browser's part done by the test. With `par`
// the request is pushed (PAR), with `dpop` the code redeemed with proofs of that key, and with `jar` the request
// is a request object signed with that key (JAR, RFC 9101), sent in the URL or pushed.
async function codeFlow(config, { dpop, par, jar } = {}) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const params = {
    redirect_uri: redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state: client.randomState(),
    nonce: client.randomNonce(),
  };
  let url = jar ? await client.buildAuthorizationUrlWithJAR(config, params, jar) : null;
  const request = url?.searchParams.get('request') ?? null;
  if (par) {
    url = await client.buildAuthorizationUrlWithPAR(config, url?.searchParams ?? params, { DPoP: dpop });
  } else if (!url) {
    url = client.buildAuthorizationUrl(config, params);
  }
  process.stdout.write(`${url.href}\n`);
  const { value: callback, done } = await stdinLines.next();
  if (done) throw new Error('stdin closed before the callback URL came');
  const tokens = await client.authorizationCodeGrant(
    config,
    new URL(callback.trim()),
    { pkceCodeVerifier: codeVerifier, expectedState: params.state, expectedNonce: params.nonce, idTokenExpected: true },
    undefined,
    { DPoP: dpop },
  );
  return { tokens, requestUri: url.searchParams.get('request_uri'), request, state: params.state };
}

// Verifies an access token as a resource server would: an RFC 9068 JWT signed with a key of `jwks_uri`.
async function verifyAccessToken(config, token) {
  const metadata = config.serverMetadata();
  const keys = jose.createRemoteJWKSet(new URL(metadata.jwks_uri));
  const { payload, protectedHeader } = await jose.jwtVerify(token, keys, {
    issuer: metadata.issuer,
    typ: 'at+jwt',
    algorithms: ['RS256'],
  });
  return { alg: protectedHeader.alg, typ: protectedHeader.typ, kid: protectedHeader.kid, claims: payload };
}

// The `public-dpop` flow: PAR, the code, userinfo and a refresh, all with proofs of one ES256 key.
async function publicDpop(config) {
  const keyPair = await client.randomDPoPKeyPair('ES256');
  const dpop = client.getDPoPHandle(config, keyPair);
  const thumbprint = await jose.calculateJwkThumbprint(await jose.exportJWK(keyPair.publicKey));
  const { tokens, requestUri } = await codeFlow(config, { dpop, par: true });
  const claims = tokens.claims();
  // A handle of its own, as a resource client apart from the sign-in would hold: it starts without a nonce.
  const resourceDpop = client.getDPoPHandle(config, keyPair);
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP: resourceDpop });
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP: dpop });
  const refreshedUserinfo = await client.fetchUserInfo(config, refreshed.access_token, claims.sub, { DPoP: dpop });
  return {
    request_uri: requestUri,
    token_type: tokens.token_type,
    thumbprint,
    id_token_claims: claims,
    userinfo,
    access_token: tokens.access_token,
    access_token_verified: await verifyAccessToken(config, tokens.access_token),
    refresh: {
      token_type: refreshed.token_type,
      rotated: refreshed.refresh_token !== tokens.refresh_token,
      access_token: refreshed.access_token,
      access_token_verified: await verifyAccessToken(config, refreshed.access_token),
      userinfo_sub: refreshedUserinfo.sub,
    },
  };
}

const introspect = async (config, token) => (await client.tokenIntrospection(config, token)).active;

const scenarios = {
  // A confidential client: sign-in, userinfo, introspection and revocation of the access token, refresh token
  // rotation and the replay of a rotated refresh token.
  async confidential() {
    const config = await configure();
    const { tokens } = await codeFlow(config);
    const claims = tokens.claims();
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    const accessToken = await verifyAccessToken(config, tokens.access_token);
    const activeBefore = await introspect(config, tokens.access_token);
    await client.tokenRevocation(config, tokens.access_token, { token_type_hint: 'access_token' });
    const activeAfterRevocation = await introspect(config, tokens.access_token);
    const userinfoAfterRevocation = await refusal(client.fetchUserInfo(config, tokens.access_token, claims.sub));

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    const refreshedActive = await introspect(config, refreshed.access_token);
    const replay = await refusal(client.refreshTokenGrant(config, tokens.refresh_token));
    const newestAfterReplay = await refusal(client.refreshTokenGrant(config, refreshed.refresh_token));
    const refreshedActiveAfterReplay = await introspect(config, refreshed.access_token);
    return {
      token_type: tokens.token_type,
      id_token_claims: claims,
      userinfo,
      access_token: tokens.access_token,
      access_token_verified: accessToken,
      introspection: { active: activeBefore, after_revocation: activeAfterRevocation },
      userinfo_after_revocation: userinfoAfterRevocation,
      refresh: {
        first: tokens.refresh_token,
        second: refreshed.refresh_token,
        access_token: refreshed.access_token,
        id_token_sub: refreshed.claims()?.sub ?? null,
        active: refreshedActive,
        replay,
        newest_after_replay: newestAfterReplay,
        active_after_replay: refreshedActiveAfterReplay,
      },
    };
  },

  // A public client that pushes its request (PAR) and binds its tokens to an ES256 DPoP key.
  async 'public-dpop'() {
    return publicDpop(await configure());
  },

  // `public-dpop` against a server that asks for DPoP nonces (RFC 9449 §8, §9): the library retries a
  // `use_dpop_nonce` refusal by itself with the nonce of the answer, and keeps the newest nonce for its next
  // proofs. Every exchange with a DPoP proof is recorded, as seen on the wire.
  async 'public-dpop-nonce'() {
    const config = await configure();
    const exchanges = [];
    config[client.customFetch] = async (url, options) => {
      const response = await fetch(url, options);
      const proof = new Headers(options.headers).get('dpop');
      if (proof) {
        const claims = jose.decodeJwt(proof);
        let error = null;
        if (response.status === 400) error = (await response.clone().json()).error ?? null;
        if (response.status === 401) error = /error="([^"]*)"/.exec(response.headers.get('www-authenticate') ?? '')?.[1] ?? null;
        exchanges.push({
          path: new URL(url).pathname,
          proof_nonce: typeof claims.nonce === 'string',
          status: response.status,
          error,
          dpop_nonce: response.headers.has('dpop-nonce'),
        });
      }
      return response;
    };
    return { ...(await publicDpop(config)), exchanges };
  },

  // A private_key_jwt client that signs its authorization requests with the same key (JAR, RFC 9101): one sent
  // in the authorization URL, one pushed (PAR, RFC 9126 §3).
  async jar() {
    const key = {
      key: await jose.importPKCS8(await readFile(env('CLIENT_KEY_PEM'), 'utf8'), 'ES256'),
      kid: env('CLIENT_KEY_KID'),
    };
    const config = await client.discovery(issuer, env('CLIENT_ID'), undefined, client.PrivateKeyJwt(key), insecure);
    const result = {};
    for (const [name, par] of [['direct', false], ['pushed', true]]) {
      const { tokens, requestUri, request } = await codeFlow(config, { jar: key, par });
      const claims = tokens.claims();
      result[name] = {
        request_uri: requestUri,
        request_header: jose.decodeProtectedHeader(request),
        request_claims: jose.decodeJwt(request),
        id_token_claims: claims,
        userinfo: await client.fetchUserInfo(config, tokens.access_token, claims.sub),
      };
    }
    return result;
  },

  // The client credentials grant of a confidential service client.
  async 'client-credentials'() {
    const config = await configure();
    const tokens = await client.clientCredentialsGrant(config);
    return {
      token_type: tokens.token_type,
      refresh_token: tokens.refresh_token ?? null,
      access_token: tokens.access_token,
      access_token_verified: await verifyAccessToken(config, tokens.access_token),
      active: await introspect(config, tokens.access_token),
    };
  },

  // Dynamic client registration (RFC 7591), then a sign-in with the client it made.
  async register() {
    const options = { ...insecure };
    if (process.env.INITIAL_ACCESS_TOKEN) options.initialAccessToken = process.env.INITIAL_ACCESS_TOKEN;
    const config = await client.dynamicClientRegistration(
      issuer,
      {
        client_name: 'Interop RP',
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      client.ClientSecretBasic(),
      options,
    );
    const metadata = config.clientMetadata();
    const { tokens } = await codeFlow(config);
    const claims = tokens.claims();
    return {
      client_id: metadata.client_id,
      token_endpoint_auth_method: metadata.token_endpoint_auth_method,
      id_token_claims: claims,
      userinfo: await client.fetchUserInfo(config, tokens.access_token, claims.sub),
      access_token_verified: await verifyAccessToken(config, tokens.access_token),
    };
  },
};

const name = process.argv[2];
if (!scenarios[name]) {
  process.stderr.write(`usage: node rp.mjs <${Object.keys(scenarios).join(' | ')}>\n`);
  process.exit(2);
}
try {
  const result = await scenarios[name]();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
} catch (e) {
  process.stderr.write(`${e.stack ?? e}\n`);
  for (const extra of ['code', 'error', 'error_description', 'status', 'cause']) {
    if (e[extra] !== undefined) process.stderr.write(`${extra}: ${JSON.stringify(e[extra])}\n`);
  }
  if (e.cause?.message) process.stderr.write(`cause: ${e.cause.message}\n`);
  process.exit(1);
}
