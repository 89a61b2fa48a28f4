//! Sign-in: the authorization code flow with PKCE through the `openidconnect` relying party, and the
//! table of ways it must refuse.
use crate::helpers::{assert_failure, oidc_http_client, TestApp};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;
use tessera::domain::{Session, UnixTime, UserId, Username};
use tessera::oauth::session::{Refusal, SignIn};
use tessera::storage::{SessionContext, SessionStore, StoreResult, UserStore};

pub const PASSWORD: &str = "correct horse battery";
pub const REDIRECT: &str = "http://127.0.0.1:9/cb";

/// Creates alice through the CLI.
pub fn add_alice(app: &TestApp) -> Value {
    app.cli_json(
        &["users", "add", "alice", "--password-stdin", "--email", "alice@example.com", "--name", "Alice"],
        Some(PASSWORD),
    )
}

/// Creates a client through the CLI and returns its JSON (with `client_secret` when confidential).
pub fn add_client(app: &TestApp, extra: &[&str]) -> Value {
    let mut args = vec!["clients", "add", "--name", "Test App", "--redirect-uri", REDIRECT];
    args.extend_from_slice(extra);
    app.cli_json(&args, None)
}

/// The value of `name="…" value="…"` in a page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no field {name} in page:\n{html}")) + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// `POST /token` with HTTP Basic client authentication: the status and the JSON body.
pub async fn token_basic(app: &TestApp, client_id: &str, secret: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = app.api_client.post(app.url("/token")).basic_auth(client_id, Some(secret)).form(form).send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

/// Redeems a code issued for [`REDIRECT`] with its PKCE verifier.
pub async fn redeem_code(
    app: &TestApp,
    client_id: &str,
    secret: &str,
    code: &str,
    verifier: &str,
) -> (StatusCode, Value) {
    let form =
        [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT), ("code_verifier", verifier)];
    token_basic(app, client_id, secret, &form).await
}

/// `POST /introspect` with HTTP Basic client authentication: the JSON body, which must come with a 200.
pub async fn introspect_basic(app: &TestApp, client_id: &str, secret: &str, token: &str) -> Value {
    let r = app.api_client.post(app.url("/introspect")).basic_auth(client_id, Some(secret)).form(&[("token", token)]);
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on {}", resp.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

pub fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

/// Drives the browser part of the flow with plain HTTP (cookies kept): from the authorization URL to the
/// redirect back to the client, signing in as alice and consenting as needed. Returns the final redirect URL.
pub async fn browse(app: &TestApp, auth_url: &str, consent: Option<&str>) -> String {
    browse_as(app, "alice", auth_url, consent).await
}

/// [`browse`], signing in as `username` (whose password is [`PASSWORD`]).
pub async fn browse_as(app: &TestApp, username: &str, auth_url: &str, consent: Option<&str>) -> String {
    let c = &app.api_client;
    let mut resp = c.get(auth_url).send().await.unwrap();
    for _ in 0..4 {
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{}", resp.text().await.unwrap());
        let loc = location(&resp);
        if !loc.starts_with('/') {
            return loc;
        }
        let page = c.get(app.url(&loc)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        let interaction = hidden(&html, "interaction");
        let csrf = hidden(&html, "csrf");
        resp = if loc.starts_with("/login") {
            c.post(app.url("/login"))
                .header("Origin", &app.address)
                .form(&[
                    ("interaction", &interaction),
                    ("csrf", &csrf),
                    ("username", &username.to_owned()),
                    ("password", &PASSWORD.to_owned()),
                ])
                .send()
                .await
                .unwrap()
        } else {
            let decision = consent.expect("a consent page was not expected").to_owned();
            c.post(app.url("/consent"))
                .header("Origin", &app.address)
                .form(&[("interaction", &interaction), ("csrf", &csrf), ("decision", &decision)])
                .send()
                .await
                .unwrap()
        };
    }
    panic!("too many steps");
}

/// Follows an authorization request through the login page up to the consent page and returns its HTML.
pub async fn consent_page(app: &TestApp, url: &str) -> String {
    let c = &app.api_client;
    let mut resp = c.get(url).send().await.unwrap();
    for _ in 0..4 {
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{}", resp.text().await.unwrap());
        let loc = location(&resp);
        let html = c.get(app.url(&loc)).send().await.unwrap().text().await.unwrap();
        if loc.starts_with("/consent") {
            return html;
        }
        assert!(loc.starts_with("/login"), "{loc}");
        let form = [
            ("interaction", hidden(&html, "interaction")),
            ("csrf", hidden(&html, "csrf")),
            ("username", "alice".to_owned()),
            ("password", PASSWORD.to_owned()),
        ];
        resp = c.post(app.url("/login")).header("Origin", &app.address).form(&form).send().await.unwrap();
    }
    panic!("no consent page");
}

pub fn pkce_pair() -> (String, String) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    (challenge.as_str().to_owned(), verifier.secret().to_owned())
}

/// An authorization URL for `client_id` with S256 PKCE, state `st` and nonce `n`.
pub fn auth_url(app: &TestApp, client_id: &str, challenge: &str, extra: &str) -> String {
    format!(
        "{}/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid%20profile%20email&state=st&nonce=n&code_challenge={challenge}&code_challenge_method=S256{extra}",
        app.address,
        urlencode(REDIRECT)
    )
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The relying party of `client` (its secret, if it has one), configured from our discovery document and
/// redirecting to [`REDIRECT`].
pub(crate) async fn discovered_rp(
    app: &TestApp,
    client: &Value,
) -> CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet> {
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &oidc_http_client())
            .await
            .expect("discovery");
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client["client_id"].as_str().unwrap().to_owned()),
        client["client_secret"].as_str().map(|s| ClientSecret::new(s.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap())
}

async fn relying_party_flow(app: &TestApp, public: bool) {
    let alice = add_alice(app);
    let client = add_client(app, if public { &["--public"] } else { &[] });
    let http = oidc_http_client();
    let rp = discovered_rp(app, &client).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let back = browse(app, url.as_str(), Some("allow")).await;
    let q = query_of(&back);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(q.get("state"), Some(csrf.secret()));
    assert_eq!(q.get("iss"), Some(&app.address), "RFC 9207 iss");

    let tokens = rp
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    let id_token = tokens.id_token().expect("an id_token");
    let verifier = rp.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).expect("a valid ID token");
    assert_eq!(claims.subject().as_str(), alice["id"].as_str().unwrap());
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
    assert!(claims.auth_time().is_some());

    let info: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().to_owned(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("alice"));

    // The access token is an RFC 9068 JWT with the claims resource servers need.
    let parts: Vec<&str> = tokens.access_token().secret().split('.').collect();
    let decode = |s: &str| -> Value {
        use base64::Engine;
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap()
    };
    let header = decode(parts[0]);
    let at = decode(parts[1]);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    for claim in ["iss", "sub", "aud", "client_id", "scope", "exp", "iat", "jti", "auth_time", "sid"] {
        assert!(at.get(claim).is_some(), "access token lacks {claim}: {at}");
    }

    // Consent is remembered: the second authorization needs no page.
    let (challenge2, _) = pkce_pair();
    let again = browse(app, &auth_url(app, client["client_id"].as_str().unwrap(), &challenge2, ""), None).await;
    assert!(query_of(&again).contains_key("code"), "{again}");
}

// Regression: usernames were matched exactly, so an account created as "Alice" could not sign in typing "alice".
// The pages show the name as created.
both_backends!(usernames_are_matched_in_any_letter_case, async |app| {
    app.cli_json(&["users", "add", "Alice", "--password-stdin"], Some(PASSWORD));
    let client = add_client(&app, &[]);
    let id = client["client_id"].as_str().unwrap();
    let (challenge, _) = pkce_pair();
    // consent_page types "alice".
    let html = consent_page(&app, &auth_url(&app, id, &challenge, "")).await;
    assert!(html.contains("Signed in as <strong><bdi>Alice</bdi></strong>"), "{html}");

    let (challenge, verifier) = pkce_pair();
    let back = browse_as(&app, "ALICE", &auth_url(&app, id, &challenge, "&prompt=login"), Some("allow")).await;
    let code = query_of(&back).remove("code").unwrap_or_else(|| panic!("no code: {back}"));
    let (status, tokens) = redeem_code(&app, id, client["client_secret"].as_str().unwrap(), &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let r = app.api_client.get(app.url("/userinfo")).bearer_auth(tokens["access_token"].as_str().unwrap());
    let claims: Value = r.send().await.unwrap().json().await.unwrap();
    assert_eq!(claims["preferred_username"], "Alice", "{claims}");
});

/// A password with accented letters, each typed as one character (NFC)...
pub const COMPOSED_PASSWORD: &str = "cr\u{e8}me br\u{fb}l\u{e9}e";
/// ...and as a letter and a combining accent, as another keyboard or system may send it.
pub const DECOMPOSED_PASSWORD: &str = "cre\u{300}me bru\u{302}le\u{301}e";

/// Whether `username` signs in with `password` at the login page of a new authorization request for the public
/// client `client_id`, in a browser of its own.
pub async fn signs_in(app: &TestApp, client_id: &str, username: &str, password: &str) -> bool {
    let browser =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap();
    let (challenge, _) = pkce_pair();
    let login = location(&browser.get(auth_url(app, client_id, &challenge, "")).send().await.unwrap());
    assert!(login.starts_with("/login?"), "{login}");
    let html = browser.get(app.url(&login)).send().await.unwrap().text().await.unwrap();
    let form = [
        ("interaction", hidden(&html, "interaction")),
        ("csrf", hidden(&html, "csrf")),
        ("username", username.to_owned()),
        ("password", password.to_owned()),
    ];
    let r = browser.post(app.url("/login")).header("Origin", &app.address).form(&form).send().await.unwrap();
    match r.status() {
        StatusCode::SEE_OTHER => true,
        StatusCode::OK => false,
        other => panic!("{other}: {}", r.text().await.unwrap()),
    }
}

// Regression: a name or a password with "é" typed as one character (U+00E9) did not sign in typed as "e" and a
// combining accent (U+0301), as another keyboard or system may send it, nor the reverse. A new username is kept
// composed, the form pages show.
both_backends!(usernames_and_passwords_sign_in_typed_in_either_unicode_form, async |app| {
    let added = app.cli_json(&["users", "add", "Jose\u{301}", "--password-stdin"], Some(DECOMPOSED_PASSWORD));
    assert_eq!(added["username"], "Jos\u{e9}", "{added}");
    let client = add_client(&app, &["--public"]);
    let id = client["client_id"].as_str().unwrap();
    for name in ["Jos\u{e9}", "Jose\u{301}", "JOS\u{c9}"] {
        for password in [COMPOSED_PASSWORD, DECOMPOSED_PASSWORD] {
            assert!(signs_in(&app, id, name, password).await, "{name:?} {password:?}");
        }
    }
    assert!(!signs_in(&app, id, "Jose\u{301}", "creme brulee").await);
    // Set again in the other form, by the other name.
    app.cli_json(&["users", "passwd", "jos\u{e9}", "--password-stdin"], Some(COMPOSED_PASSWORD));
    for password in [COMPOSED_PASSWORD, DECOMPOSED_PASSWORD] {
        assert!(signs_in(&app, id, "Jose\u{301}", password).await, "{password:?}");
    }
    let args = ["users", "add", "jos\u{e9}", "--password-stdin"];
    let err = assert_failure(&app.cli(&args, Some(PASSWORD)), &args);
    assert!(err.contains("already exists"), "{err}");
});

/// The password hash stored for `username`.
async fn stored_hash(store: &impl UserStore, username: &str) -> String {
    store.user_by_username(&Username::parse(username).unwrap()).await.unwrap().unwrap().1
}

// A password set with combining accents before passwords were hashed in NFC was hashed as typed: it still signs
// in typed so. Typed with composed letters it is another password, as it was then, until that sign-in stores it
// again in NFC; from then on it signs in typed either way.
both_backends!(a_password_hashed_as_typed_before_nfc_signs_in_and_is_hashed_again_in_nfc, async |app| {
    use argon2::password_hash::{PasswordHasher, SaltString};
    add_alice(&app);
    // At the configured cost: only the form is out of date.
    let cost = app.settings.passwords.cost;
    let params = argon2::Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None).unwrap();
    let argon2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(&[7; 16]).unwrap();
    let as_typed = argon2.hash_password(DECOMPOSED_PASSWORD.as_bytes(), &salt).unwrap().to_string();
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    let alice = Username::parse("alice").unwrap();
    store.set_password_hash(&alice, as_typed.clone(), false, tessera::domain::now()).await.unwrap();
    let client = add_client(&app, &["--public"]);
    let id = client["client_id"].as_str().unwrap();
    assert!(!signs_in(&app, id, "alice", COMPOSED_PASSWORD).await);
    assert!(!signs_in(&app, id, "alice", PASSWORD).await);
    assert_eq!(stored_hash(&store, "alice").await, as_typed, "a refused sign-in stores nothing");
    assert!(signs_in(&app, id, "alice", DECOMPOSED_PASSWORD).await);
    assert_ne!(stored_hash(&store, "alice").await, as_typed);
    for password in [COMPOSED_PASSWORD, DECOMPOSED_PASSWORD] {
        assert!(signs_in(&app, id, "alice", password).await, "{password:?}");
    }
    assert!(!signs_in(&app, id, "alice", PASSWORD).await);
});

// Regression: a hash kept the cost it was made with, so raising `[passwords]` cost protected only passwords set
// afterwards. A right password stores it again at the configured cost, as no change to the user: nothing else
// moves and the audit trail has the sign-ins only. A wrong one stores nothing, and neither does a current hash.
both_backends!(a_sign_in_hashes_a_password_of_another_cost_again_at_the_configured_one, async |app| {
    use tessera::domain::password::{hash_password, Password, PasswordCost};
    add_alice(&app);
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    let alice = Username::parse("alice").unwrap();
    let cost = app.settings.passwords.cost;
    let earlier = PasswordCost { memory_kib: cost.memory_kib * 2, iterations: cost.iterations + 1, ..cost };
    let old = hash_password(&Password::new(PASSWORD), earlier).unwrap();
    store.set_password_hash(&alice, old.clone(), false, tessera::domain::now()).await.unwrap();
    let (before, _) = store.user_by_username(&alice).await.unwrap().unwrap();
    let events_before = app.cli_json(&["audit", "list", "--user", "alice"], None)["events"].as_array().unwrap().len();
    let client = add_client(&app, &["--public"]);
    let id = client["client_id"].as_str().unwrap();

    assert!(!signs_in(&app, id, "alice", "wrong horse battery").await);
    assert_eq!(stored_hash(&store, "alice").await, old, "a wrong password stores nothing");
    assert!(signs_in(&app, id, "alice", PASSWORD).await);
    let upgraded = stored_hash(&store, "alice").await;
    let configured = format!("$argon2id$v=19$m={},t={},p={}$", cost.memory_kib, cost.iterations, cost.parallelism);
    assert!(upgraded.starts_with(&configured), "{upgraded} at {configured}");
    let (after, _) = store.user_by_username(&alice).await.unwrap().unwrap();
    assert_eq!(after, before, "updated_at and the revoked-before cut-off stay");
    assert!(signs_in(&app, id, "alice", PASSWORD).await);
    assert_eq!(stored_hash(&store, "alice").await, upgraded, "a current hash is not stored again");
    let events = app.cli_json(&["audit", "list", "--user", "alice"], None);
    let kinds: Vec<&str> = events["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), events_before + 3, "{events}");
    assert!(kinds.iter().all(|k| k.starts_with("login_") || *k == "user_created"), "{kinds:?}");
});

both_backends!(rp_flow_confidential_client, async |app| {
    relying_party_flow(&app, false).await;
});

both_backends!(rp_flow_public_client, async |app| {
    relying_party_flow(&app, true).await;
});

/// A code for `client`, with its PKCE verifier.
async fn code_for(app: &TestApp, client_id: &str, extra: &str) -> (String, String) {
    let (challenge, verifier) = pkce_pair();
    let back = browse(app, &auth_url(app, client_id, &challenge, extra), Some("allow")).await;
    (query_of(&back).remove("code").unwrap_or_else(|| panic!("no code in {back}")), verifier)
}

/// Alice's tokens from a code flow of the public client `client_id`.
async fn public_code_flow(app: &TestApp, client_id: &str) -> Value {
    let (code, verifier) = code_for(app, client_id, "").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, tokens) = redeem(app, &form).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

/// A public client's code for alice, with its PKCE verifier.
struct PublicCode {
    client_id: String,
    code: String,
    verifier: String,
}

impl PublicCode {
    async fn new(app: &TestApp) -> Self {
        let public = add_client(app, &["--public"]);
        let client_id = public["client_id"].as_str().unwrap().to_owned();
        let (code, verifier) = code_for(app, &client_id, "").await;
        Self { client_id, code, verifier }
    }

    /// The form that redeems it.
    fn token_request(&self) -> [(&'static str, &str); 5] {
        [
            ("grant_type", "authorization_code"),
            ("client_id", &self.client_id),
            ("code", &self.code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &self.verifier),
        ]
    }
}

async fn redeem(app: &TestApp, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = app.api_client.post(app.url("/token")).form(form).send().await.unwrap();
    let status = r.status();
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    (status, r.json().await.unwrap())
}

both_backends!(refusals, async |app| {
    add_alice(&app);
    let public = add_client(&app, &["--public"]);
    let pid = public["client_id"].as_str().unwrap().to_owned();
    let other = add_client(&app, &["--public"]);
    let oid = other["client_id"].as_str().unwrap().to_owned();
    let c = &app.api_client;
    let (challenge, _) = pkce_pair();

    // Unknown client and unregistered redirect_uri: an HTML page, never a redirect.
    for url in [
        auth_url(&app, "nobody", &challenge, ""),
        auth_url(&app, &pid, &challenge, "").replace(&urlencode(REDIRECT), &urlencode("http://127.0.0.1:9/evil")),
        format!("{}/authorize?response_type=code&client_id={pid}&client_id={pid}", app.address),
    ] {
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(r.headers().get("location").is_none(), "{url} redirected");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    }

    // Errors after the redirect URI is verified go back with error, state and iss.
    let redirected = |extra: &'static str, challenge: Option<&str>| {
        let base = format!(
            "{}/authorize?response_type=code&client_id={pid}&redirect_uri={}&scope=openid&state=st",
            app.address,
            urlencode(REDIRECT)
        );
        let pk = challenge.map(|ch| format!("&code_challenge={ch}&code_challenge_method=S256")).unwrap_or_default();
        format!("{base}{pk}{extra}")
    };
    for (url, code) in [
        (redirected("", None), "invalid_request"),
        (redirected("&code_challenge=abc&code_challenge_method=plain", None), "invalid_request"),
        (redirected("&prompt=none", Some(&challenge)), "login_required"),
        (
            redirected("", Some(&challenge)).replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (redirected("", Some(&challenge)).replace("scope=openid", "scope=openid%20tessera:admin"), "invalid_scope"),
        (redirected("&resource=https://api.example/", Some(&challenge)), "invalid_target"),
        // RFC 8707 §2 lets resource repeat; a token here has one audience.
        (redirected("&resource=https://a.example/&resource=https://b.example/", Some(&challenge)), "invalid_target"),
    ] {
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{url}");
        let q = query_of(&location(&r));
        assert_eq!(q.get("error").map(String::as_str), Some(code), "{url}: {q:?}");
        assert_eq!(q.get("state").map(String::as_str), Some("st"));
        assert_eq!(q.get("iss"), Some(&app.address));
    }
    // Regression: POSTed from the app's site (no cookie), the request was asked again as a GET that carried the
    // first resource alone, and went on for it.
    let two = redirected("&resource=https://a.example/&resource=https://b.example/", Some(&challenge));
    let r = without_cookies().post(app.url("/authorize")).header("content-type", "application/x-www-form-urlencoded");
    let r = r.body(two.split_once('?').unwrap().1.to_owned()).send().await.unwrap();
    assert_eq!(query_of(&location(&r)).get("error").map(String::as_str), Some("invalid_target"), "{}", location(&r));

    // Deny on the consent page.
    let back = browse(&app, &auth_url(&app, &pid, &challenge, ""), Some("deny")).await;
    let q = query_of(&back);
    assert_eq!(q.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(q.get("state").map(String::as_str), Some("st"));

    // Token endpoint refusals.
    let (code, verifier) = code_for(&app, &pid, "").await;
    let wrong = "A".repeat(43);
    let (s, e) = redeem(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &pid),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &wrong),
        ],
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    // The failed attempt consumed the code.
    let (s, e) = redeem(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &pid),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));

    let (code, verifier) = code_for(&app, &pid, "").await;
    let (s, e) = redeem(
        &app,
        &[("grant_type", "authorization_code"), ("client_id", &pid), ("code", &code), ("redirect_uri", REDIRECT)],
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "missing verifier");
    let _ = verifier;

    // A code from another client.
    let (code, verifier) = code_for(&app, &pid, "").await;
    let (s, e) = redeem(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &oid),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));

    // Duplicate parameters, unknown grant, unknown client.
    let r = c
        .post(app.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=authorization_code&grant_type=authorization_code&client_id={pid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    let (s, e) = redeem(&app, &[("grant_type", "password"), ("client_id", &pid)]).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unsupported_grant_type")));
    let r = c
        .post(app.url("/token"))
        .basic_auth("nobody", Some("x"))
        .form(&[("grant_type", "authorization_code")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("www-authenticate").is_some());
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
});

both_backends!(code_replay_revokes_the_first_tokens, async |app| {
    let alice = add_alice(&app);
    // With a refresh token (its family is found from the code) and without (the access token is recorded).
    for (grants, refreshes) in [(&[][..], true), (&["--grant-type", "authorization_code"][..], false)] {
        let public = add_client(&app, &[&["--public"][..], grants].concat());
        let pid = public["client_id"].as_str().unwrap().to_owned();
        let (code, verifier) = code_for(&app, &pid, "").await;
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", pid.as_str()),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ];
        let (s, first) = redeem(&app, &form).await;
        assert_eq!(s, StatusCode::OK, "{first}");
        assert_eq!(first["refresh_token"].is_string(), refreshes, "{first}");
        let at = first["access_token"].as_str().unwrap().to_owned();
        let ok = app.api_client.get(app.url("/userinfo")).bearer_auth(&at).send().await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);

        // Replayed twice: each replay is refused and audited.
        for _ in 0..2 {
            let (s, e) = redeem(&app, &form).await;
            assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
            assert_eq!(e["error_description"], "the authorization code was already used", "{e}");
        }
        let r = app.api_client.get(app.url("/userinfo")).bearer_auth(&at).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the first access token must be revoked");
        assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
        if let Some(rt) = first["refresh_token"].as_str() {
            let refresh = [("grant_type", "refresh_token"), ("client_id", pid.as_str()), ("refresh_token", rt)];
            let (s, e) = redeem(&app, &refresh).await;
            assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{e}");
        }
    }
    // Each replay event names the code's user, the second one too.
    let events = crate::hostile::audit_events(&app);
    let replays = crate::hostile::events_of(&events, "code_replay");
    assert_eq!(replays.len(), 4, "{events:?}");
    for e in replays {
        assert_eq!(e["user_id"], alice["id"], "{e}");
    }
    // A code never issued is not a replay.
    let public = add_client(&app, &["--public"]);
    let pid = public["client_id"].as_str().unwrap();
    let verifier = "x".repeat(43);
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", pid),
        ("code", "never-issued"),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let (s, e) = redeem(&app, &form).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    assert_eq!(e["error_description"], "invalid or expired authorization code", "{e}");
});

// A replay after the record of the first redemption has expired (10 s when a refresh token family follows; the
// code lives 60 s): the family, found from the code, is revoked and names the user for the audit event.
both_backends!(a_replay_after_the_redemption_record_expired_names_the_user, async |app| {
    let alice = add_alice(&app);
    let c = PublicCode::new(&app).await;
    let (pid, form) = (c.client_id.as_str(), c.token_request());
    let (s, first) = redeem(&app, &form).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let rt = first["refresh_token"].as_str().expect("a refresh token family").to_owned();
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    let (s, e) = redeem(&app, &form).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{e}");
    let refresh = [("grant_type", "refresh_token"), ("client_id", pid), ("refresh_token", rt.as_str())];
    let (s, e) = redeem(&app, &refresh).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{e}");
    let events = crate::hostile::audit_events(&app);
    let replays = crate::hostile::events_of(&events, "code_replay");
    assert_eq!(replays.len(), 1, "{events:?}");
    assert_eq!(replays[0]["user_id"], alice["id"], "{}", replays[0]);
});

// Uses of a code that arrive while its first redemption is still signing and storing: they revoke what it
// issues all the same (the first answer may already be on its way; its tokens are dead on arrival).
both_backends!(replays_racing_the_first_redemption_revoke_it, async |app| {
    add_alice(&app);
    let c = PublicCode::new(&app).await;
    let (pid, form) = (c.client_id.as_str(), c.token_request());
    let answers = futures_util::future::join_all((0..8).map(|_| redeem(&app, &form))).await;
    let (issued, refused): (Vec<_>, Vec<_>) = answers.into_iter().partition(|(s, _)| *s == StatusCode::OK);
    assert_eq!(issued.len(), 1, "{refused:?}");
    for (_, e) in &refused {
        assert_eq!(e["error_description"], "the authorization code was already used", "{e}");
    }
    let first = &issued[0].1;
    let at = first["access_token"].as_str().unwrap();
    let r = app.api_client.get(app.url("/userinfo")).bearer_auth(at).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the access token must be revoked");
    let rt = first["refresh_token"].as_str().unwrap();
    let refresh = [("grant_type", "refresh_token"), ("client_id", pid), ("refresh_token", rt)];
    let (s, e) = redeem(&app, &refresh).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{e}");
});

// Regression: a replay waits 3 s for the refresh token family of a first redemption still running; one that the
// database held up for longer stored its family after the replay had given up, and the family lived. Postgres
// only: a table lock there holds the redemption's write and nothing else the replay does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_that_gives_up_on_a_slow_first_redemption_still_ends_it() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Postgres).await;
    add_alice(&app);
    let c = PublicCode::new(&app).await;
    let form = c.token_request();
    let url = app.settings.database.url().to_owned();
    let (locked, held) = std::sync::mpsc::channel();
    let lock = tokio::task::spawn_blocking(move || {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let mut c = diesel::PgConnection::establish(&url).unwrap();
        c.batch_execute("BEGIN; LOCK TABLE refresh_tokens IN EXCLUSIVE MODE").unwrap();
        locked.send(()).unwrap();
        std::thread::sleep(std::time::Duration::from_secs(5));
        c.batch_execute("COMMIT").unwrap();
    });
    tokio::task::spawn_blocking(move || held.recv()).await.unwrap().unwrap();
    let replay = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        redeem(&app, &form).await
    };
    let ((first_status, first), (replay_status, replayed)) = tokio::join!(redeem(&app, &form), replay);
    lock.await.unwrap();
    let used = Some("the authorization code was already used");
    assert_eq!((replay_status, replayed["error_description"].as_str()), (StatusCode::BAD_REQUEST, used), "{replayed}");
    assert_eq!((first_status, first["error_description"].as_str()), (StatusCode::BAD_REQUEST, used), "{first}");
    let url = app.settings.database.url().to_owned();
    let usable: i64 = tokio::task::spawn_blocking(move || {
        use diesel::{Connection, RunQueryDsl};
        let mut c = diesel::PgConnection::establish(&url).unwrap();
        let count =
            diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT COUNT(*) FROM refresh_tokens WHERE NOT revoked");
        count.get_result(&mut c).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(usable, 0, "nothing the first redemption stored is left usable");
}

both_backends!(
    expired_code,
    |raw| {
        raw.tokens.code_ttl_seconds = 1;
    },
    async |app| {
        add_alice(&app);
        let public = add_client(&app, &["--public"]);
        let pid = public["client_id"].as_str().unwrap().to_owned();
        let (code, verifier) = code_for(&app, &pid, "").await;
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let (s, e) = redeem(
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &pid),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
        )
        .await;
        assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    }
);

// The token request must repeat the redirect_uri exactly as the authorization request sent it (RFC 6749
// §4.1.3), even when parsing would rewrite it (a bare origin gains a slash).
both_backends!(redirect_uri_is_compared_as_sent, async |app| {
    add_alice(&app);
    let bare = "http://localhost:3000";
    let public = app.cli_json(&["clients", "add", "--name", "SPA", "--redirect-uri", bare, "--public"], None);
    let pid = public["client_id"].as_str().unwrap().to_owned();
    let code_for_bare = || async {
        let (challenge, verifier) = pkce_pair();
        let url = auth_url(&app, &pid, &challenge, "").replace(&urlencode(REDIRECT), &urlencode(bare));
        let back = browse(&app, &url, Some("allow")).await;
        assert!(back.starts_with("http://localhost:3000/?"), "{back}");
        (query_of(&back).remove("code").unwrap(), verifier)
    };
    for (sent, status) in [(bare, StatusCode::OK), ("http://localhost:3000/", StatusCode::BAD_REQUEST)] {
        let (code, verifier) = code_for_bare().await;
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", pid.as_str()),
            ("code", &code),
            ("redirect_uri", sent),
            ("code_verifier", &verifier),
        ];
        let (s, body) = redeem(&app, &form).await;
        assert_eq!(s, status, "{sent}: {body}");
    }
});

both_backends!(userinfo_refuses_id_tokens_and_garbage, async |app| {
    add_alice(&app);
    let public = add_client(&app, &["--public"]);
    let pid = public["client_id"].as_str().unwrap().to_owned();
    let tokens = public_code_flow(&app, &pid).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    for bad in [id_token, "garbage", "a.b.c"] {
        let r = app.api_client.get(app.url("/userinfo")).bearer_auth(bad).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("error=\"invalid_token\""));
    }
    // No credentials, or credentials of another scheme: the bare challenge, no error code (RFC 6750 §3.1).
    for scheme in [None, Some("Basic YWxpY2U6cHc="), Some("Bearerx abc")] {
        let mut r = app.api_client.get(app.url("/userinfo"));
        if let Some(value) = scheme {
            r = r.header("Authorization", value);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{scheme:?}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"tessera\"", "{scheme:?}");
    }
    // A Bearer header without a token is malformed.
    let r = app.api_client.get(app.url("/userinfo")).header("Authorization", "Bearer ").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("error=\"invalid_request\""));
});

// OIDC Core §3.1.2.1: an id_token_hint names the user the client expects; a session of that user answers.
both_backends!(id_token_hint_at_authorize, async |app| {
    add_alice(&app);
    let public = add_client(&app, &["--public"]);
    let pid = public["client_id"].as_str().unwrap().to_owned();
    let other = add_client(&app, &["--public"]);
    let oid = other["client_id"].as_str().unwrap().to_owned();
    let tokens = public_code_flow(&app, &pid).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let (challenge, _) = pkce_pair();
    let c = &app.api_client;
    let silent = |client: &str, hint: &str| {
        let url = auth_url(&app, client, &challenge, &format!("&prompt=none&id_token_hint={hint}"));
        async move { query_of(&location(&c.get(url).send().await.unwrap())) }
    };
    assert!(silent(&pid, id_token).await.contains_key("code"), "alice's own hint answers at once");
    let q = silent(&oid, id_token).await;
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"), "another client's hint: {q:?}");
    // A hint signed by a key the ring no longer has (gone after a rotation) names nobody: as if none were sent.
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let json =
        |part: &str| -> serde_json::Value { serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap() };
    let parts: Vec<&str> = id_token.split('.').collect();
    let (mut header, mut claims) = (json(parts[0]), json(parts[1]));
    header["kid"] = "a-key-long-gone".into();
    let gone = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), parts[1], parts[2]);
    assert!(silent(&pid, &gone).await.contains_key("code"));
    // Regression: anything else that does not verify was ignored the same way; it is refused now.
    claims["sub"] = "someone-else".into();
    let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
    let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), parts[1]);
    for forged in ["garbage", tampered.as_str(), none.as_str()] {
        let q = silent(&pid, forged).await;
        assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"), "{forged}: {q:?}");
    }
});

both_backends!(prompt_login_and_form_post, async |app| {
    add_alice(&app);
    let public = add_client(&app, &["--public"]);
    let pid = public["client_id"].as_str().unwrap().to_owned();
    let _ = code_for(&app, &pid, "").await;
    // With a session and consent, prompt=login still shows the login page.
    let (challenge, _) = pkce_pair();
    let r = app.api_client.get(auth_url(&app, &pid, &challenge, "&prompt=login")).send().await.unwrap();
    assert!(location(&r).starts_with("/login"), "{}", location(&r));
    // form_post: an auto-submitting page with the code, no redirect.
    let r = app.api_client.get(auth_url(&app, &pid, &challenge, "&response_mode=form_post")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{REDIRECT}\"")), "{html}");
    assert!(!hidden(&html, "code").is_empty());
    assert!(html.contains("<script src=\"/static/form_post.js\">"));
    // A wrong password is the form again with a message that does not say which part was wrong. It is a 200:
    // a 401 would need a WWW-Authenticate challenge (RFC 9110 §15.5.2), which no form answer has.
    let r = app.api_client.get(auth_url(&app, &pid, &challenge, "&prompt=login")).send().await.unwrap();
    let page = app.api_client.get(app.url(&location(&r))).send().await.unwrap().text().await.unwrap();
    let r = app
        .api_client
        .post(app.url("/login"))
        .header("Origin", &app.address)
        .form(&[
            ("interaction", hidden(&page, "interaction")),
            ("csrf", hidden(&page, "csrf")),
            ("username", "alice".into()),
            ("password", "wrong".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "a failed sign-in shows the form again");
    assert!(r.headers().get("www-authenticate").is_none());
    assert!(r.text().await.unwrap().contains("do not match"));
    // A form from another origin is refused.
    let r = app
        .api_client
        .post(app.url("/login"))
        .header("Origin", "http://evil.example")
        .form(&[
            ("interaction", hidden(&page, "interaction")),
            ("csrf", hidden(&page, "csrf")),
            ("username", "alice".into()),
            ("password", PASSWORD.into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .api_client
        .post(app.url("/login"))
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[
            ("interaction", hidden(&page, "interaction")),
            ("csrf", hidden(&page, "csrf")),
            ("username", "alice".into()),
            ("password", PASSWORD.into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a cross-site post is refused even with a valid token");
});

/// A client that keeps no cookies and follows no redirects: what the server sees of a form posted from
/// another site, since the session and browser cookies are SameSite=Lax.
pub fn without_cookies() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

// Regression: a POST /authorize from the app's site carries no SameSite=Lax cookie, so it was answered as if
// nobody were signed in (prompt=none got login_required) and the browser binding was replaced.
both_backends!(authorize_posted_without_cookies_is_asked_again_as_a_get, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let id = client["client_id"].as_str().unwrap().to_owned();
    let _ = code_for(&app, &id, "").await;
    let (challenge, _) = pkce_pair();
    let url = auth_url(&app, &id, &challenge, "&prompt=none");
    let sent = query_of(&url);
    let r = without_cookies().post(app.url("/authorize")).form(&sent).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers().get("set-cookie").is_none(), "the browser binding was replaced");
    let get = location(&r);
    assert!(get.starts_with("/authorize?"), "{get}");
    assert_eq!(query_of(&app.url(&get)), sent, "the GET carries the same parameters");
    // The browser follows with its cookies: the session is seen.
    let r = app.api_client.get(app.url(&get)).send().await.unwrap();
    assert!(query_of(&location(&r)).contains_key("code"), "{}", location(&r));
    // A post that carries the session is answered at once.
    let r = app.api_client.post(app.url("/authorize")).form(&sent).send().await.unwrap();
    assert!(query_of(&location(&r)).contains_key("code"), "{}", location(&r));
});

// Two consent pages open at once (two tabs): approving both remembers both scopes, whatever the order of the
// writes.
both_backends!(consents_approved_in_two_tabs_add_up, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let id = client["client_id"].as_str().unwrap().to_owned();
    let with_scope = |scope: &str| {
        let (challenge, _) = pkce_pair();
        auth_url(&app, &id, &challenge, "").replace("scope=openid%20profile%20email", &format!("scope={scope}"))
    };
    let signed_in = browse(&app, &with_scope("openid"), Some("allow")).await;
    assert!(query_of(&signed_in).contains_key("code"), "{signed_in}");

    let c = &app.api_client;
    let mut forms = Vec::new();
    for scope in ["openid%20profile", "openid%20email"] {
        let r = c.get(with_scope(scope)).send().await.unwrap();
        let page = location(&r);
        assert!(page.starts_with("/consent"), "{page}");
        let html = c.get(app.url(&page)).send().await.unwrap().text().await.unwrap();
        forms.push([("interaction", hidden(&html, "interaction")), ("csrf", hidden(&html, "csrf"))]);
    }
    let approve = |form: &[(&'static str, String); 2]| {
        let mut fields = form.to_vec();
        fields.push(("decision", "allow".into()));
        c.post(app.url("/consent")).header("Origin", &app.address).form(&fields).send()
    };
    let (a, b) = tokio::join!(approve(&forms[0]), approve(&forms[1]));
    for r in [a.unwrap(), b.unwrap()] {
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(query_of(&location(&r)).contains_key("code"));
    }

    let both = browse(&app, &with_scope("openid%20profile%20email"), None).await;
    assert!(query_of(&both).contains_key("code"), "no consent page once both were approved: {both}");
});

// Regression: what one user did on a request's pages counted for whoever signed in next. Alice approved, her
// sign-in turned out too old for the request's max_age, and bob, signing in on the page that followed, got a code
// without being asked.
both_backends!(a_consent_given_by_one_user_is_not_anothers, async |app| {
    add_alice(&app);
    app.cli_json(&["users", "add", "bob", "--password-stdin"], Some(PASSWORD));
    let client = add_client(&app, &["--public"]);
    let id = client["client_id"].as_str().unwrap().to_owned();
    let (challenge, _) = pkce_pair();
    let refused = browse(&app, &auth_url(&app, &id, &challenge, ""), Some("deny")).await;
    assert_eq!(query_of(&refused).get("error").map(String::as_str), Some("access_denied"), "{refused}");

    let c = &app.api_client;
    let page_after = async |r: reqwest::Response, expected: &str| {
        let page = location(&r);
        assert!(page.starts_with(expected), "{page}");
        c.get(app.url(&page)).send().await.unwrap().text().await.unwrap()
    };
    let post = async |path: &str, html: &str, fields: &[(&str, &str)]| {
        let mut form = vec![("interaction", hidden(html, "interaction")), ("csrf", hidden(html, "csrf"))];
        form.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
        c.post(app.url(path)).header("Origin", &app.address).form(&form).send().await.unwrap()
    };
    let r = c.get(auth_url(&app, &id, &challenge, "&max_age=2")).send().await.unwrap();
    let consent = page_after(r, "/consent").await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let r = post("/consent", &consent, &[("decision", "allow")]).await;
    let login = page_after(r, "/login").await;
    let r = post("/login", &login, &[("username", "bob"), ("password", PASSWORD)]).await;
    let bobs = page_after(r, "/consent").await;
    let r = post("/consent", &bobs, &[("decision", "allow")]).await;
    assert!(query_of(&location(&r)).contains_key("code"), "{}", location(&r));

    // A consent page shown to bob, answered after he signed out and alice signed in in another tab: she is asked
    // herself, on a page of her own.
    let other = add_client(&app, &["--public"]);
    let r = c.get(auth_url(&app, other["client_id"].as_str().unwrap(), &challenge, "")).send().await.unwrap();
    let shown_to_bob = page_after(r, "/consent").await;
    let html = c.get(app.url("/logout")).send().await.unwrap().text().await.unwrap();
    let r = c.post(app.url("/logout")).header("Origin", &app.address);
    r.form(&[("csrf", hidden(&html, "csrf")), ("decision", "logout".into())]).send().await.unwrap();
    let html = c.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    let form = [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", "alice"), ("password", PASSWORD)];
    let r = c.post(app.url("/login")).header("Origin", &app.address).form(&form).send().await.unwrap();
    assert_eq!(location(&r), "/account");
    let r = post("/consent", &shown_to_bob, &[("decision", "allow")]).await;
    let alices = page_after(r, "/consent").await;
    let r = post("/consent", &alices, &[("decision", "allow")]).await;
    assert!(query_of(&location(&r)).contains_key("code"), "{}", location(&r));
    // Alice's for the first client, bob's, and alice's for the other: bob's answer on her behalf granted nothing.
    let events = app.cli_json(&["audit", "list", "--type", "consent_granted"], None);
    assert_eq!(events["events"].as_array().unwrap().len(), 3, "{events}");
});

/// The start tag of the element with `id` in a page.
fn tag_with_id<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no element {id} in:\n{html}"));
    let start = html[..at].rfind('<').unwrap();
    &html[start..at + html[at..].find('>').unwrap() + 1]
}

// Regression: after a failed sign-in the error was announced, but the fields did not say they were in error nor
// point at the message, so a screen reader moving through the form heard nothing of it.
both_backends!(a_failed_sign_in_marks_the_fields_and_points_at_the_error, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let (challenge, _) = pkce_pair();
    let c = &app.api_client;
    let r = c.get(auth_url(&app, client["client_id"].as_str().unwrap(), &challenge, "")).send().await.unwrap();
    let html = c.get(app.url(&location(&r))).send().await.unwrap().text().await.unwrap();
    for id in ["username", "password"] {
        let tag = tag_with_id(&html, id);
        assert!(!tag.contains("aria-invalid") && !tag.contains("aria-describedby"), "a fresh form: {tag}");
    }
    let form = [
        ("interaction", hidden(&html, "interaction")),
        ("csrf", hidden(&html, "csrf")),
        ("username", "alice".to_owned()),
        ("password", "wrong".to_owned()),
    ];
    let r = c.post(app.url("/login")).header("Origin", &app.address).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let alert = html.find("role=\"alert\"").map(|at| &html[html[..at].rfind('<').unwrap()..at]);
    let alert_id = alert
        .and_then(|tag| tag.split_once("id=\""))
        .map(|(_, rest)| &rest[..rest.find('"').unwrap()])
        .unwrap_or_else(|| panic!("the alert has no id:\n{html}"));
    for id in ["username", "password"] {
        let tag = tag_with_id(&html, id);
        assert!(tag.contains("aria-invalid=\"true\""), "{tag}");
        assert!(tag.contains(&format!("aria-describedby=\"{alert_id}\"")), "{tag}");
    }
});

// Regression: with cookies blocked the login page said the sign-in link had expired, and starting again led
// to the same page.
both_backends!(sign_in_without_cookies_asks_for_them, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let (challenge, _) = pkce_pair();
    let url = auth_url(&app, client["client_id"].as_str().unwrap(), &challenge, "");
    let blocked = without_cookies();
    let login = location(&blocked.get(&url).send().await.unwrap());
    assert!(login.starts_with("/login?interaction="), "{login}");
    let r = blocked.get(app.url(&login)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(html.contains("cookies are enabled for this site"), "{html}");
    let consent = login.replace("/login", "/consent");
    let html = blocked.get(app.url(&consent)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("cookies are enabled for this site"), "{html}");
    // Another browser's cookie is not a blocked one: that link is just not this browser's.
    let other = app.api_client.get(&url).send().await.unwrap();
    assert!(location(&other).starts_with("/login?interaction="));
    let html = app.api_client.get(app.url(&login)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("This sign-in link has expired") && !html.contains("cookies"), "{html}");
});

// Regression: the consent page did not say where the browser would be sent, whichever button was pressed.
both_backends!(consent_names_where_the_browser_goes, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--public", "--redirect-uri", "https://app.example.com/cb"]);
    let id = client["client_id"].as_str().unwrap();
    let c = &app.api_client;
    for (redirect, shown) in [(REDIRECT, "127.0.0.1:9"), ("https://app.example.com/cb", "app.example.com")] {
        let (challenge, _) = pkce_pair();
        let url = auth_url(&app, id, &challenge, "").replace(&urlencode(REDIRECT), &urlencode(redirect));
        let mut page = location(&c.get(&url).send().await.unwrap());
        if page.starts_with("/login") {
            let html = c.get(app.url(&page)).send().await.unwrap().text().await.unwrap();
            let form = [
                ("interaction", hidden(&html, "interaction")),
                ("csrf", hidden(&html, "csrf")),
                ("username", "alice".to_owned()),
                ("password", PASSWORD.to_owned()),
            ];
            page =
                location(&c.post(app.url("/login")).header("Origin", &app.address).form(&form).send().await.unwrap());
        }
        assert!(page.starts_with("/consent"), "{page}");
        let html = c.get(app.url(&page)).send().await.unwrap().text().await.unwrap();
        assert!(html.contains(&format!("you will be sent to <strong>{shown}</strong>")), "{redirect}:\n{html}");
    }
});

// Regression: the consent form sent several times at once (same interaction) gave as many working codes,
// each a grant of its own, and as many consent_granted events.
both_backends!(a_consent_sent_twice_at_once_gives_one_code, async |app| {
    add_alice(&app);
    let client = add_client(&app, &[]);
    let (challenge, _) = pkce_pair();
    let c = &app.api_client;
    let html = consent_page(&app, &auth_url(&app, client["client_id"].as_str().unwrap(), &challenge, "")).await;
    let form =
        [("interaction", hidden(&html, "interaction")), ("csrf", hidden(&html, "csrf")), ("decision", "allow".into())];
    let post = || c.post(app.url("/consent")).header("Origin", &app.address).form(&form).send();
    let answers = futures_util::future::join_all((0..5).map(|_| post())).await;
    let statuses: Vec<StatusCode> = answers.iter().map(|r| r.as_ref().unwrap().status()).collect();
    let codes = answers
        .iter()
        .filter_map(|r| r.as_ref().unwrap().headers().get("location"))
        .filter(|l| l.to_str().unwrap().contains("code="))
        .count();
    assert_eq!(codes, 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::BAD_REQUEST).count(), 4, "{statuses:?}");
    let events = app.cli_json(&["audit", "list"], None);
    let granted = events["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "consent_granted").count();
    assert_eq!(granted, 1, "{events}");
});

/// The sessions of a provider, stored as usual except that the user is deleted just before: what a removal
/// that lands between the password check and the session's insert looks like.
struct RemovesTheUserFirst {
    sessions: std::sync::Arc<dyn SessionStore>,
    users: std::sync::Arc<dyn UserStore>,
}

#[async_trait::async_trait]
impl SessionStore for RemovesTheUserFirst {
    async fn create_session(&self, session: &Session) -> StoreResult<()> {
        self.users.delete_user(&session.user_id).await?;
        self.sessions.create_session(session).await
    }
    async fn session(&self, id_hash: &str) -> StoreResult<Option<Session>> {
        self.sessions.session(id_hash).await
    }
    async fn session_for_client(
        &self,
        id_hash: &str,
        client_id: &tessera::domain::ClientId,
    ) -> StoreResult<Option<SessionContext>> {
        self.sessions.session_for_client(id_hash, client_id).await
    }
    async fn record_session_use(&self, id_hash: &str, now: UnixTime, stale_before: UnixTime) -> StoreResult<bool> {
        self.sessions.record_session_use(id_hash, now, stale_before).await
    }
    async fn revoke_session(&self, id_hash: &str) -> StoreResult<()> {
        self.sessions.revoke_session(id_hash).await
    }
    async fn hand_over_session(&self, from: &str, to: &str) -> StoreResult<()> {
        self.sessions.hand_over_session(from, to).await
    }
    async fn renew_session(&self, from: &str, to: &Session) -> StoreResult<()> {
        self.sessions.renew_session(from, to).await
    }
    async fn record_session_client(&self, session_id: &str, client_id: &tessera::domain::ClientId) -> StoreResult<()> {
        self.sessions.record_session_client(session_id, client_id).await
    }
    async fn session_clients(&self, session_ids: &[String]) -> StoreResult<Vec<tessera::storage::SessionClient>> {
        self.sessions.session_clients(session_ids).await
    }
    async fn sessions_of_user(&self, user_id: &UserId, now: UnixTime) -> StoreResult<Vec<Session>> {
        self.sessions.sessions_of_user(user_id, now).await
    }
    async fn revoke_user_sessions(&self, user_id: &UserId) -> StoreResult<u64> {
        self.sessions.revoke_user_sessions(user_id).await
    }
    async fn purge_expired_sessions(&self, now: UnixTime) -> StoreResult<u64> {
        self.sessions.purge_expired_sessions(now).await
    }
}

// Regression: a user removed between the password check and the session's insert got the server-error page
// (the insert failed on the foreign key). It is the ordinary failed sign-in, as if the removal had come first.
both_backends!(a_user_removed_during_sign_in_is_refused_as_unknown, async |app| {
    add_alice(&app);
    let store = tessera::startup::open_store(&app.settings).await.unwrap();
    let mut provider = tessera::startup::open_provider(&app.settings, &store).await.unwrap();
    provider.sessions = std::sync::Arc::new(RemovesTheUserFirst {
        sessions: std::sync::Arc::clone(&provider.sessions),
        users: std::sync::Arc::clone(&provider.users),
    });
    let password = tessera::domain::password::Password::new(PASSWORD);
    let device = tessera::domain::Device::default();
    let outcome = provider.sign_in("alice", password, vec!["pwd".into()], device, tessera::domain::now()).await;
    assert!(matches!(outcome, Ok(SignIn::Refused { user: None, refusal: Refusal::UnknownUser })), "{outcome:?}");
    assert!(store.user_by_username(&Username::parse("alice").unwrap()).await.unwrap().is_none());
});
