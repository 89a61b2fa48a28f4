//! Two-step verification required of every password sign-in (`otp.required`): a user without it sets it up after
//! the password, before any session, at the authorization's, the account page's and the device page's sign-in;
//! the set-up counts wrong codes as the code step does; it cannot be turned off; operators' resets make the user
//! set it up again; federated sign-ins are not asked. Codes are computed from the secret the page shows.
use crate::account::other_browser;
use crate::device::{add_device_client, authorize_device};
use crate::helpers::*;
use crate::otp::{admin_call, audit_reasons, claims_of, code_form, password_step, post, send_code, shown_secret};
use crate::signin::{add_alice, add_client, auth_url, hidden, location, pkce_pair, query_of, redeem_code, PASSWORD};
use reqwest::StatusCode;
use serde_json::Value;
use tessera::domain::totp::{code_at_step, time_step, TotpSecret};

fn require(raw: &mut tessera::config::RawSettings) {
    raw.otp.required = true;
}

/// Waits for the first half of a 30 s step, so that a test has its step's code and the next one's for 45 s.
async fn early_in_a_step() -> i64 {
    if tessera::domain::now() % 30 >= 15 {
        sleep_until_unix((time_step(tessera::domain::now()) + 1) * 30).await;
    }
    time_step(tessera::domain::now())
}

/// The set-up page a password sign-in answered: its secret, and its form's fields (`pending`, `csrf`).
struct SetUp {
    secret: TotpSecret,
    form: (String, String),
}

impl SetUp {
    /// Checks that `r` is the set-up page, with no session started.
    async fn read(r: reqwest::Response) -> Self {
        assert_eq!(r.status(), StatusCode::OK);
        let cookies: Vec<String> =
            r.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap().to_owned()).collect();
        assert!(cookies.iter().all(|c| !c.starts_with("tessera=")), "no session yet: {cookies:?}");
        let html = r.text().await.unwrap();
        assert!(html.contains("Signing in here needs two-step verification"), "{html}");
        assert!(html.contains("action=\"/login/enrol\"") && html.contains("<svg class=\"qr\" role=\"img\""), "{html}");
        assert!(!html.contains("Enter the 6-digit code from your authenticator app"), "not the code step");
        Self { secret: shown_secret(&html), form: (hidden(&html, "pending"), hidden(&html, "csrf")) }
    }

    fn code(&self, step: i64) -> String {
        code_at_step(&self.secret, step).unwrap()
    }

    fn wrong(&self, step: i64) -> String {
        let near: Vec<String> = (-2..=2).map(|o| self.code(step + o)).collect();
        (0..).map(|n| format!("{n:06}")).find(|c| !near.contains(c)).unwrap()
    }

    async fn send(&self, app: &TestApp, b: &reqwest::Client, code: &str) -> reqwest::Response {
        post(app, b, "/login/enrol", &[("pending", &self.form.0), ("csrf", &self.form.1), ("code", code)]).await
    }
}

/// The recovery codes page a right set-up code answered: the codes, and the continue form's fields.
async fn recovery_page(r: reqwest::Response) -> (Vec<String>, (String, String)) {
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Two-step verification is on") && html.contains("action=\"/login/enrol/continue\""),
        "{html}"
    );
    let codes: Vec<String> = html
        .split("<li><code translate=\"no\">")
        .skip(1)
        .map(|part| part[..part.find('<').unwrap()].to_owned())
        .collect();
    (codes, (hidden(&html, "pending"), hidden(&html, "csrf")))
}

async fn continue_with(app: &TestApp, b: &reqwest::Client, form: &(String, String)) -> reqwest::Response {
    post(app, b, "/login/enrol/continue", &[("pending", &form.0), ("csrf", &form.1)]).await
}

/// Posts alice's (or `username`'s) password to the account page's sign-in in browser `b`.
async fn account_password(app: &TestApp, b: &reqwest::Client, username: &str) -> reqwest::Response {
    let html = b.get(app.url("/login?return=account")).send().await.unwrap().text().await.unwrap();
    let form =
        [("return", "account"), ("csrf", &hidden(&html, "csrf")), ("username", username), ("password", PASSWORD)];
    post(app, b, "/login", &form).await
}

fn otp_enabled(app: &TestApp, username: &str) -> bool {
    let users = app.cli_json(&["users", "list"], None);
    let user = users["users"].as_array().unwrap().iter().find(|u| u["username"] == username).unwrap();
    user["otp_enabled"].as_bool().unwrap()
}

both_backends!(an_authorization_sign_in_sets_it_up_before_the_code_is_issued, |raw| { require(raw) }, async |app| {
    let alice = add_alice(&app);
    let alice_id = alice["id"].as_str().unwrap();
    let client = add_client(&app, &["--first-party"]);
    let (client_id, client_secret) = (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());
    let step = early_in_a_step().await;

    let b = other_browser();
    let (challenge, verifier) = pkce_pair();
    let setup = SetUp::read(password_step(&app, &b, &auth_url(&app, client_id, &challenge, "")).await).await;
    assert_eq!(location(&b.get(app.url("/account")).send().await.unwrap()), "/login?return=account", "no session");
    assert!(!otp_enabled(&app, "alice"), "nothing is on until a code is confirmed");

    // A wrong code: refused, the same secret shown again, a failed sign-in.
    let r = setup.send(&app, &b, &setup.wrong(step)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("That code is not right") && html.contains("role=\"alert\""), "{html}");
    assert_eq!(shown_secret(&html), setup.secret);
    assert_eq!(audit_reasons(&app, alice_id, "login_failed"), ["wrong_otp"]);
    // Not without the form's token, nor from another browser.
    let forged = SetUp { secret: setup.secret.clone(), form: (setup.form.0.clone(), "forged".into()) };
    assert_eq!(forged.send(&app, &b, &setup.code(step)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(setup.send(&app, &other_browser(), &setup.code(step)).await.status(), StatusCode::BAD_REQUEST);
    assert!(!otp_enabled(&app, "alice"));
    // Neither the code step nor the button under the recovery codes takes a set-up step: no way around its code.
    assert_eq!(continue_with(&app, &b, &setup.form).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(send_code(&app, &b, &setup.form, &setup.code(step)).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(location(&b.get(app.url("/account")).send().await.unwrap()), "/login?return=account");

    // The right code turns it on and shows the recovery codes, still without a session.
    let (codes, proceed) = recovery_page(setup.send(&app, &b, &setup.code(step)).await).await;
    assert_eq!(codes.len(), 10, "{codes:?}");
    assert!(otp_enabled(&app, "alice"));
    let enabled = app.cli_json(&["audit", "list", "--user", alice_id], None);
    let enabled: Vec<&Value> =
        enabled["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "otp_enabled").collect();
    assert_eq!((enabled.len(), &enabled[0]["details"]["at_sign_in"]), (1, &Value::Bool(true)));
    assert_eq!(location(&b.get(app.url("/account")).send().await.unwrap()), "/login?return=account");
    // The set-up step is taken.
    assert_eq!(setup.send(&app, &b, &setup.code(step + 1)).await.status(), StatusCode::BAD_REQUEST);
    // Continuing needs the page's token.
    let r = continue_with(&app, &b, &(proceed.0.clone(), "forged".into())).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = continue_with(&app, &b, &proceed).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let q = query_of(&location(&r));
    let (status, tokens) = redeem_code(&app, client_id, client_secret, &q["code"], &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let id_token = claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["amr"], serde_json::json!(["pwd", "otp"]), "{id_token}");
    assert_eq!(b.get(app.url("/account")).send().await.unwrap().status(), StatusCode::OK, "signed in now");
    assert_eq!(continue_with(&app, &b, &proceed).await.status(), StatusCode::BAD_REQUEST, "once");

    // The next sign-in asks for a code: the one used to set it up is spent, the next one works.
    let b = other_browser();
    let (challenge, _) = pkce_pair();
    let r = password_step(&app, &b, &auth_url(&app, client_id, &challenge, "")).await;
    let form = code_form(&r.text().await.unwrap());
    assert_eq!(send_code(&app, &b, &form, &setup.code(step)).await.status(), StatusCode::OK, "a replay");
    let r = send_code(&app, &b, &form, &setup.code(step + 1)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    // A recovery code shown at the set-up stands in for a code too.
    let b = other_browser();
    let form = code_form(&account_password(&app, &b, "alice").await.text().await.unwrap());
    assert_eq!(location(&send_code(&app, &b, &form, &codes[0]).await), "/account");
});

both_backends!(
    wrong_set_up_codes_count_toward_the_sign_in_lock,
    |raw| {
        require(raw);
        raw.limits.login_user_failures = 3;
    },
    async |app| {
        add_alice(&app);
        let step = early_in_a_step().await;
        let b = other_browser();
        let setup = SetUp::read(account_password(&app, &b, "alice").await).await;
        for _ in 0..2 {
            assert_eq!(setup.send(&app, &b, &setup.wrong(step)).await.status(), StatusCode::OK);
        }
        let r = setup.send(&app, &b, &setup.wrong(step)).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "the third failure locks the name");
        assert!(r.headers().contains_key("retry-after"));
        assert_eq!(shown_secret(&r.text().await.unwrap()), setup.secret, "the page again");
        // Locked: the right code is refused unchecked, and so is the password.
        assert_eq!(setup.send(&app, &b, &setup.code(step)).await.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(account_password(&app, &b, "alice").await.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(!otp_enabled(&app, "alice"));
    }
);

both_backends!(the_account_and_device_sign_ins_set_it_up_too, |raw| { require(raw) }, async |app| {
    add_alice(&app);
    let step = early_in_a_step().await;

    // The account page's sign-in: abandoned once (nothing is on, and the next sign-in asks again), then done.
    let b = other_browser();
    let abandoned = SetUp::read(account_password(&app, &b, "alice").await).await;
    assert!(!otp_enabled(&app, "alice"));
    let setup = SetUp::read(account_password(&app, &b, "alice").await).await;
    assert_ne!(setup.secret, abandoned.secret, "a new secret each time");
    let (_, proceed) = recovery_page(setup.send(&app, &b, &setup.code(step)).await).await;
    assert_eq!(location(&continue_with(&app, &b, &proceed).await), "/account");
    let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("(password, one-time code)"), "the session's methods: {html}");
    assert!(html.contains("It is required here, so it stays on.") && !html.contains("/account/otp/disable"), "{html}");
    // The step left pending cannot replace the secret turned on since.
    assert_eq!(abandoned.send(&app, &b, &abandoned.code(step)).await.status(), StatusCode::BAD_REQUEST);

    // Turning it off is refused while it is required, even with a right code.
    let csrf = hidden(&html, "csrf");
    let r = post(&app, &b, "/account/otp/disable", &[("csrf", &csrf), ("code", &setup.code(step + 1))]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("Two-step verification is required"));
    assert!(otp_enabled(&app, "alice"));

    // The device verification page's sign-in, for bob, who has none yet.
    app.cli_json(&["users", "add", "bob", "--password-stdin"], Some(PASSWORD));
    let device = add_device_client(&app, true);
    let (status, auth) = authorize_device(&app, &device, "openid").await;
    assert_eq!(status, StatusCode::OK);
    let b = other_browser();
    let html = b.get(app.url("/device")).send().await.unwrap().text().await.unwrap();
    let user_code = auth["user_code"].as_str().unwrap();
    let r = post(&app, &b, "/device", &[("csrf", &hidden(&html, "csrf")), ("user_code", user_code)]).await;
    let html = b.get(app.url(&location(&r))).send().await.unwrap().text().await.unwrap();
    let form = [
        ("return", "device".to_owned()),
        ("user_code", hidden(&html, "user_code")),
        ("csrf", hidden(&html, "csrf")),
        ("username", "bob".to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let setup = SetUp::read(post(&app, &b, "/login", &form).await).await;
    let (_, proceed) = recovery_page(setup.send(&app, &b, &setup.code(step)).await).await;
    let r = continue_with(&app, &b, &proceed).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert!(location(&r).starts_with("/device?user_code="), "{}", location(&r));
    assert!(otp_enabled(&app, "bob"));
});

both_backends!(operators_resets_have_the_user_set_it_up_again, |raw| { require(raw) }, async |app| {
    let alice = add_alice(&app);
    let alice_id = alice["id"].as_str().unwrap();
    let step = early_in_a_step().await;
    let set_up = async |app: &TestApp| {
        let b = other_browser();
        let setup = SetUp::read(account_password(app, &b, "alice").await).await;
        let (_, proceed) = recovery_page(setup.send(app, &b, &setup.code(step)).await).await;
        assert_eq!(location(&continue_with(app, &b, &proceed).await), "/account");
        (b, setup)
    };
    let (b, first) = set_up(&app).await;

    assert_eq!(app.cli_json(&["users", "reset-otp", "alice"], None)["was_enabled"], true);
    // The set-up that was confirmed is spent: it cannot turn that secret on again.
    assert_eq!(first.send(&app, &b, &first.code(step)).await.status(), StatusCode::BAD_REQUEST);
    assert!(!otp_enabled(&app, "alice"));
    set_up(&app).await;
    let (status, _) = admin_call(&app, reqwest::Method::DELETE, &format!("/admin/api/users/{alice_id}/otp")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    set_up(&app).await;
    assert_eq!(audit_reasons(&app, alice_id, "otp_disabled"), ["admin_reset", "cli_reset"]);
    assert_eq!(audit_reasons(&app, alice_id, "otp_enabled").len(), 3);
});

both_backends!(without_the_policy_nothing_changes, async |app| {
    add_alice(&app);
    // The password alone signs in, and no set-up step can be posted.
    let b = other_browser();
    crate::account::sign_in_to_account(&app, &b).await;
    let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("required here"), "{html}");
    assert!(!otp_enabled(&app, "alice"));
    let r = post(&app, &b, "/login/enrol", &[("pending", "x"), ("csrf", "y"), ("code", "123456")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
});

both_backends!(a_federated_sign_in_is_not_asked, async |app| {
    let f = crate::federation::Federation::around_with(app, false, crate::signin::REDIRECT, require).await;
    crate::federation::sign_in(&f, &crate::federation::browser()).await;
    let users = f.down.cli_json(&["users", "list"], None);
    assert_eq!(users["users"][0]["otp_enabled"], false, "{users}");
});

// Switched on later, as Keycloak's "Configure OTP" required action applies at the next login: sessions begun
// before go on, and the user's next password sign-in (an app's `prompt=login` or `max_age`) sets it up first.
both_backends!(users_signed_in_before_the_policy_set_it_up_at_their_next_sign_in, async |app| {
    add_alice(&app);
    let client = add_client(&app, &["--first-party"]);
    let id = client["client_id"].as_str().unwrap();
    let b = other_browser();
    let (challenge, _) = pkce_pair();
    let r = password_step(&app, &b, &auth_url(&app, id, &challenge, "")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "signed in with the password alone");
    assert_eq!(b.get(app.url("/account")).send().await.unwrap().status(), StatusCode::OK);

    // The operator restarts with the policy: an instance of the same deployment with it stands for the restart.
    let restarted = app.spawn_peer_with(require).await;
    let at = |url: String| url.replacen(&app.address, &restarted.address, 1);
    let r = b.get(at(auth_url(&app, id, &challenge, ""))).send().await.unwrap();
    assert!(query_of(&location(&r)).contains_key("code"), "the session goes on: {}", location(&r));

    for asks in ["&prompt=login", "&max_age=0"] {
        let r = b.get(at(auth_url(&app, id, &challenge, asks))).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{asks}");
        let login = location(&r);
        assert!(login.starts_with("/login?"), "{asks}: {login}");
        let html = b.get(restarted.url(&login)).send().await.unwrap().text().await.unwrap();
        let form = [
            ("interaction", hidden(&html, "interaction")),
            ("csrf", hidden(&html, "csrf")),
            ("username", "alice".to_owned()),
            ("password", PASSWORD.to_owned()),
        ];
        // Forms are checked against the issuer's origin, which the instances share.
        let r = b.post(restarted.url("/login")).header("Origin", &app.address).form(&form).send().await.unwrap();
        SetUp::read(r).await;
    }
    assert!(!otp_enabled(&app, "alice"), "nothing is on until the user confirms a code");
});

both_backends!(
    a_sign_up_from_the_account_pages_sign_in_sets_it_up_then_lands_there,
    |raw| {
        require(raw);
        crate::signup::on(raw);
    },
    async |app| {
        let step = early_in_a_step().await;
        let b = other_browser();
        let html = b.get(app.url("/login/register?return=account")).send().await.unwrap().text().await.unwrap();
        let csrf = hidden(&html, "csrf");
        let mut form = vec![("return", "account"), ("csrf", csrf.as_str())];
        form.extend(crate::signup::fields("newcomer", "a long new password", "a long new password"));
        let setup = SetUp::read(post(&app, &b, "/login/register", &form).await).await;
        assert!(!otp_enabled(&app, "newcomer"));
        let (_, proceed) = recovery_page(setup.send(&app, &b, &setup.code(step)).await).await;
        assert_eq!(location(&continue_with(&app, &b, &proceed).await), "/account");
        let html = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("Signed in as <strong><bdi>newcomer</bdi></strong>"), "{html}");
        assert!(otp_enabled(&app, "newcomer"));
    }
);

// Regression: a sign-in past its password step outlived a sign-out everywhere (a reset, `users revoke`) and a
// new password: whoever had the old password then turned two-step verification on with the secret its page
// showed them, locking the owner out, and was signed in.
both_backends!(a_set_up_ends_with_a_sign_out_everywhere_or_a_new_password, |raw| { require(raw) }, async |app| {
    add_alice(&app);
    let step = early_in_a_step().await;
    let b = other_browser();
    let setup = SetUp::read(account_password(&app, &b, "alice").await).await;
    assert_success(&app.cli(&["users", "revoke", "alice"], None), &["users", "revoke", "alice"]);
    let r = setup.send(&app, &b, &setup.code(step)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("This sign-in has expired"));
    assert!(!otp_enabled(&app, "alice"));

    // Begun after the sign-out (a second later: the cut-off is by the second), a set-up ends with a new password.
    sleep_until_unix(tessera::domain::now() + 1).await;
    let c = other_browser();
    let setup = SetUp::read(account_password(&app, &c, "alice").await).await;
    app.cli_json(&["users", "passwd", "alice", "--password-stdin"], Some("a passphrase of her own"));
    let r = setup.send(&app, &c, &setup.code(step)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(!otp_enabled(&app, "alice"));
    let r = c.get(app.url("/account")).send().await.unwrap();
    assert_eq!(location(&r), "/login?return=account", "no session");
});
