//! The pages' and mails' languages: a sign-in's `ui_locales` (in the query, pushed, or in a signed request object)
//! holds for every page of it; otherwise the browser's `Accept-Language`; otherwise `ui.default_locale`. Pages say
//! theirs in `<html lang>` and `Content-Language`, with `Vary: Accept-Language` when the browser's header chose.
use crate::account::{other_browser, sign_in_to_account};
use crate::clients::rsa_key;
use crate::helpers::*;
use crate::otp::{account_csrf, enrol, post};
use crate::password_reset::with_mail;
use crate::request_object::{add_signing_client, changed, object_claims, signed};
use crate::signin::{add_alice, add_client, auth_url, hidden, location, pkce_pair, urlencode, PASSWORD};
use crate::smtp_sink::{Captured, SmtpSink};
use crate::temporary_password::{add_temporary_alice, CHOSEN};
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A browser whose every request says `accept_language`, when given.
pub(crate) fn browser(accept_language: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(value) = accept_language {
        headers.insert(reqwest::header::ACCEPT_LANGUAGE, value.parse().unwrap());
    }
    let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true);
    builder.default_headers(headers).build().unwrap()
}

/// A page as served: its status, `Content-Language`, `Vary` and markup.
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) language: String,
    pub(crate) vary: Option<String>,
    pub(crate) html: String,
}

pub(crate) async fn page(r: reqwest::Response) -> Page {
    let header = |name| r.headers().get(name).map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned());
    let language = header("content-language").unwrap_or_else(|| panic!("no Content-Language on {}", r.url()));
    let (status, vary) = (r.status(), header("vary"));
    Page { status, language, vary, html: r.text().await.unwrap() }
}

impl Page {
    /// Asserts the page is in `lang`, said by `<html lang>` and `Content-Language`, and whether the browser's header
    /// chose it (`Vary`).
    pub(crate) fn is_in(&self, lang: &str, by_browser: bool) -> &Self {
        assert!(self.html.contains(&format!("<html lang=\"{lang}\">")), "not in {lang}:\n{}", self.html);
        assert_eq!(self.language, lang, "{}", self.html);
        let varies = self.vary.as_deref().is_some_and(|v| v.to_ascii_lowercase().contains("accept-language"));
        assert_eq!(varies, by_browser, "Vary: {:?}", self.vary);
        self
    }

    pub(crate) fn says(&self, words: &str) -> &Self {
        assert!(self.html.contains(words), "no {words:?} in:\n{}", self.html);
        self
    }
}

/// Opens an authorization of `client_id` with `extra` parameters in browser `b`, and the page it sends to.
pub(crate) async fn start(app: &TestApp, b: &reqwest::Client, client_id: &str, extra: &str) -> Page {
    let (challenge, _) = pkce_pair();
    let r = b.get(auth_url(app, client_id, &challenge, extra)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let shown = page(b.get(app.url(&location(&r))).send().await.unwrap()).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.html);
    shown
}

/// Posts the login form of `login` (a login page) with `password`.
pub(crate) async fn sign_in(app: &TestApp, b: &reqwest::Client, login: &Page, password: &str) -> reqwest::Response {
    let (interaction, csrf) = (hidden(&login.html, "interaction"), hidden(&login.html, "csrf"));
    let form = [("interaction", interaction.as_str()), ("csrf", &csrf), ("username", "alice"), ("password", password)];
    post(app, b, "/login", &form).await
}

both_backends!(a_sign_in_that_asks_for_german_is_german_on_every_page, async |app| {
    add_alice(&app);
    let client = app
        .cli_json(&["clients", "add", "--name", "<i>Evil</i> & Co", "--redirect-uri", crate::signin::REDIRECT], None);
    let client_id = s(&client, "client_id");
    // The request's own choice beats the browser's; a region falls back to its language, and tags that name none
    // of ours are passed over.
    let b = browser(Some("fr"));
    let login = start(&app, &b, client_id, "&ui_locales=es%20de-CH%20fr").await;
    login.is_in("de", false).says("<h1>Anmelden</h1>").says("<label for=\"password\">Passwort</label>");
    // The app's name, chosen by a third party, stays escaped inside the German sentence.
    login.says("weiter zu <strong><bdi>&#60;i&#62;Evil&#60;/i&#62; &#38; Co</bdi></strong></p>");

    let refused = page(sign_in(&app, &b, &login, "not the password").await).await;
    refused.is_in("de", false).says("Benutzername und Passwort passen nicht zusammen. Versuchen Sie es erneut.");
    let r = sign_in(&app, &b, &login, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let consent = page(b.get(app.url(&location(&r))).send().await.unwrap()).await;
    consent
        .is_in("de", false)
        .says("&#60;i&#62;Evil&#60;/i&#62; &#38; Co</bdi></strong> möchte auf Ihr Konto zugreifen");
    consent.says("<li>Bestätigen, wer Sie sind (Ihre Kontokennung)</li>").says(">Zulassen</button>");
    // A form from elsewhere is refused in the sign-in's language too.
    let forged = [("interaction", hidden(&consent.html, "interaction")), ("csrf", "forged".to_owned())];
    let r = b.post(app.url("/consent")).header("Origin", &app.address).form(&forged).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    page(r).await.is_in("de", false).says("Dieses Formular kann nicht angenommen werden");
    let (interaction, csrf) = (hidden(&consent.html, "interaction"), hidden(&consent.html, "csrf"));
    let allow = [("interaction", interaction.as_str()), ("csrf", &csrf), ("decision", "allow")];
    assert_eq!(post(&app, &b, "/consent", &allow).await.status(), StatusCode::SEE_OTHER);

    // Answered at once from the session and the consent: a form post's page still speaks the request's language.
    let (challenge, _) = pkce_pair();
    let url = auth_url(&app, client_id, &challenge, "&response_mode=form_post&ui_locales=en");
    page(b.get(url).send().await.unwrap()).await.is_in("en", false).says("<p>Returning to the application…</p>");

    // Without ui_locales the same browser gets its own language.
    page(b.get(app.url("/device")).send().await.unwrap()).await.is_in("fr", true).says("Connecter un appareil");
});

// Regression: RP-Initiated Logout's ui_locales held for the confirmation page only; its form did not carry it on,
// and the "signed out" page answered in the browser's language.
both_backends!(a_logout_that_asks_for_german_is_german_to_the_end, async |app| {
    add_alice(&app);
    let b = browser(Some("en"));
    sign_in_to_account(&app, &b).await;
    let asked = page(b.get(app.url("/logout?ui_locales=de")).send().await.unwrap()).await;
    asked.is_in("de", false);
    let form = [("csrf", hidden(&asked.html, "csrf")), ("ui_locales", hidden(&asked.html, "ui_locales"))];
    let form = [form[0].clone(), form[1].clone(), ("decision", "logout".to_owned())];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = page(post(&app, &b, "/logout", &form).await).await;
    assert_eq!(done.status, StatusCode::OK);
    done.is_in("de", false);
});

both_backends!(the_browsers_language_decides_when_the_request_does_not, async |app| {
    let client = add_client(&app, &[]);
    let client_id = s(&client, "client_id");
    let french = start(&app, &browser(Some("es, fr-CA;q=0.8, en;q=0.5")), client_id, "").await;
    french.is_in("fr", true).says("<h1>Connexion</h1>").says("pour continuer vers <strong><bdi>Test App</bdi>");
    // Nothing of ours, a malformed header, or none at all: English, the default.
    for accept in [Some("es, it;q=0.9"), Some("fr;q=7"), Some("de, <fr>"), None] {
        let english = start(&app, &browser(accept), client_id, "").await;
        english.is_in("en", true).says("<h1>Sign in</h1>");
    }
    // ui_locales naming none of ours leaves it to the browser.
    start(&app, &browser(Some("de")), client_id, "&ui_locales=es").await.is_in("de", true).says("<h1>Anmelden</h1>");

    // A refusal at /authorize itself: the user's words in their language, the developer's in English.
    let r = browser(Some("de")).get(app.url("/authorize?client_id=nope&response_type=code")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let refused = page(r).await;
    refused.is_in("de", true).says("<h1>Diese Anmeldeanfrage kann nicht abgeschlossen werden</h1>");
    refused.says("<br>Angaben für den Entwickler der Anwendung: <span lang=\"en\">");
    let r = browser(None).get(app.url("/authorize?client_id=nope&ui_locales=fr")).send().await.unwrap();
    page(r).await.is_in("fr", false).says("<h1>Cette demande de connexion ne peut pas aboutir</h1>");

    // Discovery lists the languages, and stays the same bytes for every browser.
    let r = browser(Some("fr")).get(app.url("/.well-known/openid-configuration")).send().await.unwrap();
    assert!(r.headers().get("content-language").is_none() && r.headers().get("vary").is_none());
    let discovery: Value = r.json().await.unwrap();
    assert_eq!(discovery["ui_locales_supported"], json!(["en", "de", "fr"]));
});

both_backends!(
    the_default_language_is_the_configured_one,
    |raw| {
        raw.ui.default_locale = "de".into();
    },
    async |app| {
        let client = add_client(&app, &[]);
        let client_id = s(&client, "client_id");
        start(&app, &browser(None), client_id, "").await.is_in("de", true).says("<h1>Anmelden</h1>");
        start(&app, &browser(Some("es")), client_id, "").await.is_in("de", true);
        start(&app, &browser(Some("fr")), client_id, "").await.is_in("fr", true);
        start(&app, &browser(Some("fr")), client_id, "&ui_locales=en").await.is_in("en", false).says("Sign in");
    }
);

both_backends!(pushed_and_signed_requests_keep_their_language, async |app| {
    let client = add_client(&app, &[]);
    let (id, secret) = (s(&client, "client_id"), s(&client, "client_secret"));
    let (challenge, _) = pkce_pair();
    let form = [
        ("response_type", "code"),
        ("client_id", id),
        ("redirect_uri", crate::signin::REDIRECT),
        ("scope", "openid"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("ui_locales", "fr"),
    ];
    let r = app.api_client.post(app.url("/par")).basic_auth(id, Some(secret)).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let pushed: Value = r.json().await.unwrap();
    let b = browser(Some("de"));
    let url = format!("/authorize?client_id={id}&request_uri={}", urlencode(s(&pushed, "request_uri")));
    let r = b.get(app.url(&url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    page(b.get(app.url(&location(&r))).send().await.unwrap()).await.is_in("fr", false).says("<h1>Connexion</h1>");

    let key = rsa_key(app.dir.path(), "ro-lang");
    let (id, _) = add_signing_client(&app, &[&key], &["--request-object-signing-alg", "RS256"]);
    let object = signed(&changed(object_claims(&app, &id, &challenge), json!({ "ui_locales": "de-AT" })), &key);
    let b = browser(Some("fr"));
    let r = b.get(app.url(&format!("/authorize?client_id={id}&request={}", urlencode(&object)))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    page(b.get(app.url(&location(&r))).send().await.unwrap()).await.is_in("de", false).says("<h1>Anmelden</h1>");
});

both_backends!(the_code_step_of_a_german_sign_in_is_german, async |app| {
    add_alice(&app);
    let client = add_client(&app, &[]);
    let client_id = s(&client, "client_id");
    let otp = enrol(&app).await;
    let b = browser(None);
    let login = start(&app, &b, client_id, "&ui_locales=de").await;
    let step = page(sign_in(&app, &b, &login, PASSWORD).await).await;
    step.is_in("de", false).says("<h1>Bestätigung in zwei Schritten</h1>");
    let form = [("pending", hidden(&step.html, "pending")), ("csrf", hidden(&step.html, "csrf"))];
    let wrong = [("pending", form[0].1.as_str()), ("csrf", &form[1].1), ("code", &otp.wrong())];
    let again = page(post(&app, &b, "/login/code", &wrong).await).await;
    again.is_in("de", false).says("Dieser Code stimmt nicht.");
});

/// Posts the "Choose a new password" form (`pending`, `csrf`) from browser `b` with `password` twice.
async fn choose(app: &TestApp, b: &reqwest::Client, (pending, csrf): (&str, &str), password: &str) -> Page {
    let form = [("pending", pending), ("csrf", csrf), ("password", password), ("password_again", password)];
    page(post(app, b, "/login/new-password", &form).await).await
}

/// Posts `form` to `path` from browser `b` (signed in to its account page), asking for German.
async fn post_in_german(app: &TestApp, b: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> Page {
    let r = b.post(app.url(path)).header("Origin", &app.address).header("Accept-Language", "de");
    page(r.form(form).send().await.unwrap()).await
}

both_backends!(
    a_new_password_step_and_the_deletion_section_are_german_too,
    |raw| { raw.users.self_deletion = true },
    async |app| {
        add_temporary_alice(&app);
        let client = add_client(&app, &[]);
        let client_id = s(&client, "client_id");
        // The page after a temporary password, of a sign-in that asked for German in a browser that says nothing.
        let b = browser(None);
        let login = start(&app, &b, client_id, "&ui_locales=de").await;
        let step = page(sign_in(&app, &b, &login, PASSWORD).await).await;
        step.is_in("de", false)
            .says("<h1>Neues Passwort wählen</h1>")
            .says("Mindestens 8 Zeichen, und nicht das vorläufige Passwort.")
            .says(">Passwort festlegen und weiter</button>");
        let (pending, csrf) = (hidden(&step.html, "pending"), hidden(&step.html, "csrf"));
        let again = choose(&app, &b, (&pending, &csrf), "short").await;
        again.is_in("de", false).says("Das neue Passwort ist zu kurz: Verwenden Sie mindestens 8 Zeichen.");
        // The step keeps the language: refused before the authorization is read again, it answers in German too.
        let forged = choose(&app, &b, (&pending, "forged"), CHOSEN).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        forged.is_in("de", false).says("Dieses Formular kann nicht angenommen werden");
        let chosen = [("pending", pending.as_str()), ("csrf", &csrf), ("password", CHOSEN), ("password_again", CHOSEN)];
        assert_eq!(post(&app, &b, "/login/new-password", &chosen).await.status(), StatusCode::SEE_OTHER);

        // The account page's "Delete account" section, its refusals and the page after, for a German browser.
        let r = b.get(app.url("/account")).header("Accept-Language", "de").send().await.unwrap();
        let account = page(r).await;
        account
            .is_in("de", true)
            .says("<h2 id=\"delete-heading\">Konto löschen</h2>")
            .says("Das lässt sich nicht rückgängig machen.")
            .says(">Ihr Passwort, zur Bestätigung, dass Sie es sind</label>")
            .says(">Mir ist bewusst, dass mein Konto endgültig gelöscht wird</label>")
            .says(">Mein Konto löschen</button>");
        let csrf = hidden(&account.html, "csrf");
        let unticked = [("csrf", csrf.as_str()), ("password", CHOSEN)];
        let refused = post_in_german(&app, &b, "/account/delete", &unticked).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        refused.is_in("de", true).says("Setzen Sie das Häkchen, um zu bestätigen");
        let wrong = [("csrf", csrf.as_str()), ("password", PASSWORD), ("confirm", "on")];
        post_in_german(&app, &b, "/account/delete", &wrong).await.says("Ihr Passwort stimmt nicht.");
        let right = [("csrf", csrf.as_str()), ("password", CHOSEN), ("confirm", "on")];
        let deleted = post_in_german(&app, &b, "/account/delete", &right).await;
        assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.html);
        deleted.is_in("de", true).says("<h1>Ihr Konto wurde gelöscht</h1>").says("Sie sind überall abgemeldet");
    }
);

/// The subject of `mail`, its RFC 2047 encoded words (`=?utf-8?b?…?=`) decoded; the space between two encoded
/// words is not part of the text, the one beside plain words is.
fn subject(mail: &Captured) -> String {
    let mut text = String::new();
    let mut after_encoded = false;
    for word in mail.header("subject").unwrap().split_whitespace() {
        let encoded = word.len() > 12 && word[..10].eq_ignore_ascii_case("=?utf-8?b?") && word.ends_with("?=");
        let joined = encoded && after_encoded;
        if !text.is_empty() && !joined {
            text.push(' ');
        }
        if encoded {
            let bytes = base64::engine::general_purpose::STANDARD.decode(&word[10..word.len() - 2]).unwrap();
            text.push_str(&String::from_utf8(bytes).unwrap());
        } else {
            text.push_str(word);
        }
        after_encoded = encoded;
    }
    text
}

with_mail!(mails_are_in_the_language_of_the_page_that_asked, async |app, sink| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let client_id = s(&client, "client_id");

    // "Forgot your password?" from a German sign-in.
    let b = browser(Some("fr"));
    let login = start(&app, &b, client_id, "&ui_locales=de").await;
    let interaction = hidden(&login.html, "interaction");
    let forgot = page(b.get(app.url(&format!("/login/forgot?interaction={interaction}"))).send().await.unwrap()).await;
    forgot.is_in("de", false).says("<h1>Passwort zurücksetzen</h1>");
    let form = [("interaction", interaction.as_str()), ("csrf", &hidden(&forgot.html, "csrf")), ("login", "alice")];
    page(post(&app, &b, "/login/forgot", &form).await).await.is_in("de", false).says("Sehen Sie in Ihr Postfach");
    let mail = sink.nth(1).await;
    assert_eq!(subject(&mail), "Passwort zurücksetzen");
    let body = mail.body().replace("\r\n", "\n");
    assert!(body.starts_with("Hallo Alice,\n\njemand, vermutlich Sie, hat darum gebeten"), "{body}");
    assert!(body.contains("innerhalb von ") && body.contains(" Minuten:"), "{body}");
    let html = mail.html().unwrap();
    assert!(html.contains("<html lang=\"de\">") && html.contains(">Neues Passwort wählen</a>"), "{html}");

    // A verification link from the account page of a French browser.
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    let csrf = account_csrf(&app, &b).await;
    let r = b
        .post(app.url("/account/email/verify"))
        .header("Origin", &app.address)
        .header("Accept-Language", "fr-FR,fr;q=0.9")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let mail = sink.nth(2).await;
    assert_eq!(subject(&mail), "Vérifier votre adresse e-mail");
    assert!(mail.body().contains("Bonjour Alice,") && mail.body().contains("ouvrez ce lien dans les 24 heures :"));
    assert!(mail.html().unwrap().contains("<html lang=\"fr\">"));
});
