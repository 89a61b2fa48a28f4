//! Upstream "sign in with" federation: the upstream provider is a second Tessera (its own issuer and database)
//! with alice and a confidential client whose redirect URI is the downstream's callback; the downstream offers
//! it on its login page. Each server gets its own cookie-keeping client (`api_client`): both are on 127.0.0.1,
//! where one cookie jar would mix their cookies. The sign-in in a real browser is `browser/federation.rs`,
//! with the upstream on `localhost`.
use crate::helpers::{oidc_http_client, spawn_app_named, TestApp};
use crate::signin::{add_alice, add_client, browse, hidden, location, query_of, REDIRECT};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope,
};
use reqwest::StatusCode;
use serde_json::Value;
use tessera::config::RawUpstreamProvider;

/// The upstream provider's id at the downstream.
pub const UP: &str = "up";

pub struct Federation {
    pub up: TestApp,
    pub down: TestApp,
    /// alice at the upstream provider.
    pub alice: Value,
    /// The downstream's relying party.
    pub client: Value,
    /// Its redirect URI.
    pub redirect: String,
}

impl Federation {
    /// The downstream of `up` (which has alice), trusting its email addresses or not.
    pub async fn around(up: TestApp, trust_email: bool) -> Self {
        Self::around_to(up, trust_email, REDIRECT).await
    }

    /// [`Federation::around`], the relying party's redirect URI being `redirect`.
    pub async fn around_to(up: TestApp, trust_email: bool, redirect: &str) -> Self {
        Self::around_with(up, trust_email, redirect, |_| {}).await
    }

    /// [`Federation::around_to`], the downstream's settings changed by `tweak` too.
    pub async fn around_with(
        up: TestApp,
        trust_email: bool,
        redirect: &str,
        tweak: impl FnOnce(&mut tessera::config::RawSettings),
    ) -> Self {
        Self::around_named(up, trust_email, redirect, "127.0.0.1", tweak).await
    }

    /// [`Federation::around_with`], the downstream named by `host` (`localhost` has passkeys).
    pub async fn around_named(
        up: TestApp,
        trust_email: bool,
        redirect: &str,
        host: &str,
        tweak: impl FnOnce(&mut tessera::config::RawSettings),
    ) -> Self {
        let alice = add_alice(&up);
        // Loopback http redirect URIs match on any port: the downstream's is not known yet.
        let callback = format!("http://{host}/login/federation/{UP}/callback");
        let rp = up.cli_json(&["clients", "add", "--name", "Downstream", "--redirect-uri", &callback], None);
        let provider = RawUpstreamProvider {
            id: UP.into(),
            name: "Upstream".into(),
            issuer: up.address.clone(),
            client_id: rp["client_id"].as_str().unwrap().into(),
            client_secret: Some(rp["client_secret"].as_str().unwrap().into()),
            client_secret_file: None,
            scopes: None,
            trust_email,
        };
        let down = spawn_app_named(up.backend, host, |raw| {
            raw.federation.providers = vec![provider];
            tweak(raw);
        })
        .await;
        let client = down.cli_json(&["clients", "add", "--name", "Test App", "--redirect-uri", redirect], None);
        Self { up, down, alice, client, redirect: redirect.to_owned() }
    }

    /// Runs `sql` on the downstream's database.
    async fn down_sql(&self, sql: &str) {
        crate::account::execute(&self.down.open_key_ring().await.0, sql.to_owned()).await;
    }
}

/// A browser for the downstream: cookies kept, redirects not followed.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap()
}

/// An authorization request of the downstream's relying party, on its way.
pub struct Request {
    pub verifier: PkceCodeVerifier,
    pub nonce: Nonce,
    pub state: CsrfToken,
    /// The pending sign-in's login page.
    pub login_page: String,
}

async fn relying_party(
    f: &Federation,
) -> CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
> {
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(f.down.address.clone()).unwrap(), &oidc_http_client())
            .await
            .expect("discovery");
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(f.client["client_id"].as_str().unwrap().to_owned()),
        Some(ClientSecret::new(f.client["client_secret"].as_str().unwrap().to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(f.redirect.clone()).unwrap())
}

/// A new authorization request of the downstream's relying party: its URL, PKCE verifier, nonce and state.
pub async fn authorize_url(f: &Federation) -> (url::Url, PkceCodeVerifier, Nonce, CsrfToken) {
    let rp = relying_party(f).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    (url, verifier, nonce, state)
}

/// Redeems `code` as the downstream's relying party: the verified ID token's claims.
pub async fn redeem(f: &Federation, code: &str, verifier: PkceCodeVerifier, nonce: &Nonce) -> CoreIdTokenClaims {
    let rp = relying_party(f).await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&oidc_http_client())
        .await
        .expect("token exchange");
    let id_token = openidconnect::TokenResponse::id_token(&tokens).expect("an id_token");
    let claims = id_token.claims(&rp.id_token_verifier(), nonce).expect("a valid ID token").clone();
    claims
}

/// Sends `b` to the downstream's `/authorize` and on to its login page.
pub async fn authorize(f: &Federation, b: &reqwest::Client) -> Request {
    authorize_with(f, b, &[]).await
}

/// [`authorize`], the request carrying the `extra` parameters too.
pub async fn authorize_with(f: &Federation, b: &reqwest::Client, extra: &[(&str, &str)]) -> Request {
    let (mut url, verifier, nonce, state) = authorize_url(f).await;
    url.query_pairs_mut().extend_pairs(extra);
    let resp = b.get(url.as_str()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let loc = location(&resp);
    assert!(loc.starts_with("/login?"), "{loc}");
    let login_page = b.get(f.down.url(&loc)).send().await.unwrap().text().await.unwrap();
    Request { verifier, nonce, state, login_page }
}

/// Clicks "Sign in with Upstream" on the login page: the upstream's authorization URL.
pub async fn click(f: &Federation, b: &reqwest::Client, page: &str) -> String {
    assert!(page.contains("Sign in with <bdi>Upstream</bdi>"), "{page}");
    let form = [("interaction", hidden(page, "interaction")), ("csrf", hidden(page, "csrf"))];
    let resp = b
        .post(f.down.url(&format!("/login/federation/{UP}")))
        .header("Origin", &f.down.address)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = location(&resp);
    assert!(to.starts_with(&format!("{}/authorize?", f.up.address)), "{to}");
    let q = query_of(&to);
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["state"].len() >= 16 && q["nonce"].len() >= 16, "{to}");
    to
}

/// At the upstream: signs in as alice and answers its consent page: the URL it sends the browser back to.
pub async fn at_upstream(f: &Federation, url: &str, decision: &str) -> String {
    let back = browse(&f.up, url, Some(decision)).await;
    assert!(back.starts_with(&format!("{}/login/federation/{UP}/callback?", f.down.address)), "{back}");
    back
}

/// From the callback's answer to the relying party's redirect (consenting at the downstream as needed), then the
/// code exchange: the verified ID token's `sub`.
pub async fn finish(f: &Federation, b: &reqwest::Client, mut resp: reqwest::Response, req: Request) -> String {
    for _ in 0..3 {
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{}", resp.text().await.unwrap());
        let loc = location(&resp);
        if loc.starts_with(&f.redirect) {
            let q = query_of(&loc);
            assert_eq!(q.get("state"), Some(req.state.secret()));
            let claims = redeem(f, &q["code"], req.verifier, &req.nonce).await;
            return claims.subject().as_str().to_owned();
        }
        assert!(loc.starts_with("/consent?"), "{loc}");
        let page = b.get(f.down.url(&loc)).send().await.unwrap().text().await.unwrap();
        let form = [
            ("interaction", hidden(&page, "interaction")),
            ("csrf", hidden(&page, "csrf")),
            ("decision", "allow".into()),
        ];
        resp = b.post(f.down.url("/consent")).header("Origin", &f.down.address).form(&form).send().await.unwrap();
    }
    panic!("too many steps");
}

/// A whole federated sign-in in browser `b`: the local `sub`.
pub async fn sign_in(f: &Federation, b: &reqwest::Client) -> String {
    let req = authorize(f, b).await;
    let to = click(f, b, &req.login_page).await;
    let back = at_upstream(f, &to, "allow").await;
    let resp = b.get(&back).send().await.unwrap();
    finish(f, b, resp, req).await
}

/// `tessera users identities <username>` at the downstream.
pub fn identities(f: &Federation, username: &str) -> Vec<Value> {
    f.down.cli_json(&["users", "identities", username], None)["identities"].as_array().unwrap().clone()
}

both_backends!(a_federated_sign_in_creates_a_local_user_and_reuses_it, async |app| {
    let f = Federation::around(app, false).await;
    let sub = sign_in(&f, &browser()).await;
    let upstream_sub = f.alice["id"].as_str().unwrap();
    assert_ne!(sub, upstream_sub, "the downstream's own user");
    let users = f.down.cli_json(&["users", "list"], None);
    let local = &users["users"][0];
    assert_eq!(local["id"], sub.as_str());
    assert_eq!(local["username"], "alice", "from the upstream's preferred_username");
    assert_eq!(local["email"], "alice@example.com");
    assert_eq!(local["email_verified"], false, "not trusted with addresses");
    let links = identities(&f, "alice");
    assert_eq!(links.len(), 1);
    assert_eq!((links[0]["provider"].as_str(), links[0]["subject"].as_str()), (Some(UP), Some(upstream_sub)));

    // Another browser, another sign-in (the upstream remembers alice): the same local user.
    assert_eq!(sign_in(&f, &browser()).await, sub);
    assert_eq!(f.down.cli_json(&["users", "list"], None)["users"].as_array().unwrap().len(), 1);

    let audit = f.down.cli_json(&["audit", "list"], None);
    let kinds: Vec<&str> = audit["events"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in ["federation_user_created", "federation_identity_linked", "login_succeeded"] {
        assert!(kinds.contains(&kind), "{kind} not in {kinds:?}");
    }
    // The local user has no password to sign in with, whatever is typed.
    for typed in ["", "!"] {
        assert!(!crate::signin::signs_in(&f.down, f.client["client_id"].as_str().unwrap(), "alice", typed).await);
    }

    // Disabled downstream, the link signs in no more.
    f.down.cli_json(&["users", "disable", "alice"], None);
    let b = browser();
    let req = authorize(&f, &b).await;
    let to = click(&f, &b, &req.login_page).await;
    let back = at_upstream(&f, &to, "allow").await;
    let resp = b.get(&back).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("This account cannot sign in."));
});

both_backends!(a_callback_is_taken_once_and_only_in_its_browser, async |app| {
    let f = Federation::around(app, false).await;
    let b = browser();
    let req = authorize(&f, &b).await;
    let to = click(&f, &b, &req.login_page).await;
    let back = at_upstream(&f, &to, "allow").await;

    // Another browser (with a browser cookie of its own) cannot use it, and burns it.
    let other = browser();
    authorize(&f, &other).await;
    let resp = other.get(&back).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("This sign-in link has expired"));

    // The right browser, with a fresh state, signs in; its callback replayed is refused.
    let req = authorize(&f, &b).await;
    let to = click(&f, &b, &req.login_page).await;
    let back = at_upstream(&f, &to, "allow").await;
    let resp = b.get(&back).send().await.unwrap();
    finish(&f, &b, resp, req).await;
    let replay = b.get(&back).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.text().await.unwrap().contains("This sign-in link has expired"));
    // A made-up state too.
    let made_up = back.replace("state=", "state=x");
    assert_eq!(b.get(&made_up).send().await.unwrap().status(), StatusCode::BAD_REQUEST);

    // An answer naming another issuer (RFC 9207: a mix-up) is refused before the code is used.
    let b = browser();
    let req = authorize(&f, &b).await;
    let to = click(&f, &b, &req.login_page).await;
    let back = at_upstream(&f, &to, "allow").await;
    let q = query_of(&back);
    let mut mixed = url::Url::parse(&back).unwrap();
    mixed
        .query_pairs_mut()
        .clear()
        .extend_pairs(q.iter().filter(|(k, _)| *k != "iss"))
        .append_pair("iss", "https://evil.example");
    let resp = b.get(mixed.as_str()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    assert!(resp.text().await.unwrap().contains("Signing in with Upstream did not work this time."));

    // Regression: one naming no issuer was taken, though the provider says it always names itself (RFC 9207 §2.4).
    let b = browser();
    let req = authorize(&f, &b).await;
    let to = click(&f, &b, &req.login_page).await;
    let back = at_upstream(&f, &to, "allow").await;
    let mut silent = url::Url::parse(&back).unwrap();
    silent.query_pairs_mut().clear().extend_pairs(query_of(&back).iter().filter(|(k, _)| *k != "iss"));
    let resp = b.get(silent.as_str()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
});

both_backends!(an_upstream_refusal_goes_back_to_the_login_page, async |app| {
    let f = Federation::around(app, false).await;
    let b = browser();
    let req = authorize(&f, &b).await;
    let to = click(&f, &b, &req.login_page).await;
    let back = at_upstream(&f, &to, "deny").await;
    assert_eq!(query_of(&back)["error"], "access_denied");
    let resp = b.get(&back).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    assert!(page.contains("Signing in with Upstream was cancelled."), "{page}");
    // Still the same pending sign-in: the button works again.
    assert_eq!(hidden(&page, "interaction"), hidden(&req.login_page, "interaction"));
    assert!(f.down.cli_json(&["users", "list"], None)["users"].as_array().unwrap().is_empty());
});

both_backends!(an_address_in_use_is_not_taken_over, async |app| {
    let f = Federation::around(app, false).await;
    // A local alice with the same address (and a password).
    let local = add_alice(&f.down);
    let b = browser();
    let req = authorize(&f, &b).await;
    let to = click(&f, &b, &req.login_page).await;
    let back = at_upstream(&f, &to, "allow").await;
    let resp = b.get(&back).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    assert!(page.contains("An account with this email address exists already. Sign in with your password."), "{page}");
    assert!(identities(&f, "alice").is_empty());
    let users = f.down.cli_json(&["users", "list"], None);
    assert_eq!(users["users"].as_array().unwrap().len(), 1);
    assert_eq!(users["users"][0]["id"], local["id"]);
});

both_backends!(a_trusted_verified_address_links_the_local_account, async |app| {
    let f = Federation::around(app, true).await;
    let local = add_alice(&f.down);
    let b = browser();
    // Not verified at the upstream: refused even when trusted.
    let req = authorize(&f, &b).await;
    let to = click(&f, &b, &req.login_page).await;
    let back = at_upstream(&f, &to, "allow").await;
    let page = b.get(&back).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("An account with this email address exists already."), "{page}");

    // Verified at the upstream but not here: refused (regression: linked, so that whoever made an account in the
    // owner's name held the owner's sign-ins).
    let up_store = f.up.open_key_ring().await.0;
    crate::account::execute(&up_store, "UPDATE users SET email_verified = TRUE".into()).await;
    let req = authorize(&f, &b).await;
    let to = click(&f, &b, &req.login_page).await;
    let back = at_upstream(&f, &to, "allow").await;
    let page = b.get(&back).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("An account with this email address exists already."), "{page}");

    // Verified on both sides: linked to the local alice.
    f.down_sql("UPDATE users SET email_verified = TRUE").await;
    assert_eq!(sign_in(&f, &b).await, local["id"].as_str().unwrap());
    let links = identities(&f, "alice");
    assert_eq!(links.len(), 1);
    assert_eq!(links[0]["subject"], f.alice["id"]);
    // Once linked, the link decides: the address no longer matters.
    f.down_sql("UPDATE users SET email = 'changed@example.com'").await;
    assert_eq!(sign_in(&f, &browser()).await, local["id"].as_str().unwrap());
});

// The server starts while a provider is down (discovery waits for the first sign-in); its button then shows the
// form again with a message. The button is a form of the pending sign-in: without its CSRF token it is refused.
both_backends!(
    an_unreachable_provider_is_an_error_on_the_login_page,
    |raw| {
        raw.federation.providers = vec![RawUpstreamProvider {
            id: "gone".into(),
            name: "Nowhere".into(),
            // Nothing listens on the discard port.
            issuer: "http://127.0.0.1:9".into(),
            client_id: "c".into(),
            client_secret: Some("s".into()),
            client_secret_file: None,
            scopes: None,
            trust_email: false,
        }];
    },
    async |app| {
        let client = add_client(&app, &[]);
        let b = browser();
        let (challenge, _) = crate::signin::pkce_pair();
        let url = crate::signin::auth_url(&app, client["client_id"].as_str().unwrap(), &challenge, "");
        let login = location(&b.get(&url).send().await.unwrap());
        let page = b.get(app.url(&login)).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("Sign in with <bdi>Nowhere</bdi>"), "{page}");
        let interaction = hidden(&page, "interaction");
        let post = |form: Vec<(&'static str, String)>, path: &str| {
            b.post(app.url(path)).header("Origin", &app.address).form(&form).send()
        };

        let forged = post(vec![("interaction", interaction.clone()), ("csrf", "x".into())], "/login/federation/gone");
        assert_eq!(forged.await.unwrap().status(), StatusCode::FORBIDDEN);
        let form = vec![("interaction", interaction.clone()), ("csrf", hidden(&page, "csrf"))];
        assert_eq!(post(form.clone(), "/login/federation/nope").await.unwrap().status(), StatusCode::NOT_FOUND);
        let resp = post(form, "/login/federation/gone").await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
        let again = resp.text().await.unwrap();
        assert!(again.contains("Signing in with Nowhere did not work this time."), "{again}");
        assert_eq!(hidden(&again, "interaction"), interaction);
    }
);

/// Presses "Sign in with Upstream" on the sign-in `page` with its CSRF token and the `extra` fields (first with a
/// forged token, refused), signs in at the upstream, and comes back: where the callback sends the browser.
async fn sign_in_returning(
    f: &Federation,
    b: &reqwest::Client,
    page: &str,
    extra: &[(&'static str, String)],
) -> String {
    assert!(page.contains("Sign in with <bdi>Upstream</bdi>"), "{page}");
    let mut form = vec![("csrf", hidden(page, "csrf"))];
    form.extend(extra.iter().cloned());
    let post = |form: Vec<(&'static str, String)>| {
        b.post(f.down.url(&format!("/login/federation/{UP}"))).header("Origin", &f.down.address).form(&form).send()
    };
    let mut forged = form.clone();
    forged[0].1 = "forged".into();
    assert_eq!(post(forged).await.unwrap().status(), StatusCode::FORBIDDEN);
    let resp = post(form).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let back = at_upstream(f, &location(&resp), "allow").await;
    let resp = b.get(&back).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{}", resp.text().await.unwrap());
    location(&resp)
}

// The sign-ins of the account page and of the device verification page offer the providers as well, and the
// callback returns to where each began.
both_backends!(account_and_device_sign_ins_offer_the_providers, async |app| {
    let f = Federation::around(app, false).await;
    let b = browser();
    let login = location(&b.get(f.down.url("/account")).send().await.unwrap());
    let page = b.get(f.down.url(&login)).send().await.unwrap().text().await.unwrap();
    let extra = [("return", "account".to_owned())];
    assert_eq!(sign_in_returning(&f, &b, &page, &extra).await, "/account");
    let page = b.get(f.down.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Signed in as <strong><bdi>alice</bdi></strong>"), "{page}");
    assert_eq!(identities(&f, "alice").len(), 1);

    // A device's code, entered in another browser that signs in with the upstream, then approved.
    let grant = "urn:ietf:params:oauth:grant-type:device_code";
    let tv = f.down.cli_json(&["clients", "add", "--name", "Living room TV", "--grant-type", grant, "--public"], None);
    let tv_id = tv["client_id"].as_str().unwrap();
    let ask = f.down.api_client.post(f.down.url("/device_authorization"));
    let auth: Value =
        ask.form(&[("client_id", tv_id), ("scope", "openid")]).send().await.unwrap().json().await.unwrap();
    let user_code = auth["user_code"].as_str().unwrap();
    let b = browser();
    // Where the verification page sends a browser that is not signed in.
    let login = format!("/login?return=device&user_code={user_code}");
    let page = b.get(f.down.url(&login)).send().await.unwrap().text().await.unwrap();
    let extra = [("return", "device".to_owned()), ("user_code", hidden(&page, "user_code"))];
    let to = sign_in_returning(&f, &b, &page, &extra).await;
    assert!(to.starts_with("/device?user_code="), "{to}");
    let page = b.get(f.down.url(&to)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<bdi>Living room TV</bdi>") && page.contains("<bdi>alice</bdi>"), "{page}");
    let form =
        [("user_code", hidden(&page, "user_code")), ("csrf", hidden(&page, "csrf")), ("decision", "allow".into())];
    b.post(f.down.url("/device")).header("Origin", &f.down.address).form(&form).send().await.unwrap();
    let poll = [("grant_type", grant), ("device_code", auth["device_code"].as_str().unwrap()), ("client_id", tv_id)];
    let tokens: Value =
        f.down.api_client.post(f.down.url("/token")).form(&poll).send().await.unwrap().json().await.unwrap();
    assert!(tokens["id_token"].is_string(), "{tokens}");
    assert_eq!(f.down.cli_json(&["users", "list"], None)["users"].as_array().unwrap().len(), 1, "the same alice");
});

// A federated sign-in of a user whose password is temporary asks for a new one too, once the upstream answered
// (Keycloak runs its required actions after any authentication); the session then says `fed`.
both_backends!(a_federated_sign_in_replaces_a_temporary_password_first, async |app| {
    use crate::temporary_password::{new_password_form, send_new, CHOSEN};
    let f = Federation::around(app, true).await;
    // The operator vouches for the address: a verified sign-in at the trusted provider is linked by it.
    let add = ["users", "add", "alice", "--password-stdin", "--email", "alice@example.com", "--email-verified"];
    let local = f.down.cli_json(&add, Some(crate::signin::PASSWORD));
    assert_eq!(local["email_verified"], true, "{local}");
    let up_store = f.up.open_key_ring().await.0;
    crate::account::execute(&up_store, "UPDATE users SET email_verified = TRUE".into()).await;
    assert_eq!(sign_in(&f, &browser()).await, local["id"].as_str().unwrap(), "linked");
    f.down.cli_json(&["users", "passwd", "alice", "--password-stdin", "--temporary"], Some(crate::signin::PASSWORD));

    let b = browser();
    let req = authorize(&f, &b).await;
    let to = click(&f, &b, &req.login_page).await;
    let back = at_upstream(&f, &to, "allow").await;
    let r = b.get(&back).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let fields = new_password_form(&r.text().await.unwrap());
    let r = send_new(&f.down, &b, &fields, CHOSEN, CHOSEN).await;
    assert_eq!(finish(&f, &b, r, req).await, local["id"].as_str().unwrap());
    let events = f.down.cli_json(&["audit", "list", "--user", local["id"].as_str().unwrap()], None);
    let signed_in = events["events"].as_array().unwrap().iter().find(|e| e["kind"] == "login_succeeded").unwrap();
    assert_eq!(signed_in["details"]["amr"], serde_json::json!(["fed"]), "{signed_in}");
    assert_eq!(signed_in["details"]["provider"], UP, "{signed_in}");
    assert_eq!(signed_in["details"]["password_changed"], true, "{signed_in}");
    assert_eq!(f.down.cli_json(&["users", "show", "alice"], None)["password_change_required"], false);
});

// Regression: a federated user took the upstream's name and address as they came, where an operator's, a
// sign-up's or the admin API's refuse control and invisible characters: a provider could give a local account a
// name that shows as another (a bidi override) or that writes escape sequences to an operator's terminal.
both_backends!(an_upstream_name_or_address_that_breaks_the_rules_is_left_out, async |app| {
    let f = Federation::around(app, false).await;
    let sql = "UPDATE users SET name = 'Alice \u{202e}nimda', email = 'alice\u{7}@example.com'".to_owned();
    crate::account::execute(&f.up.open_key_ring().await.0, sql).await;
    sign_in(&f, &browser()).await;
    let local = &f.down.cli_json(&["users", "list"], None)["users"][0];
    assert_eq!((&local["name"], &local["email"]), (&Value::Null, &Value::Null), "{local}");
    assert_eq!(local["email_verified"], false);
});
