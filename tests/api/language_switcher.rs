//! The language switcher: every page links to itself in each language (`lang=…`), the steps whose state is in
//! their form post it; a choice made during a sign-in is kept with it, outside one in the `tessera_locale` cookie,
//! which comes after a sign-in's `ui_locales` and before `Accept-Language`. A device's `ui_locales` and a mail's
//! language reach the pages they lead to. A page answering a form links to a page of its own, never repeating the
//! form; the device flow's forms carry its language to their answers.
use crate::account::{other_browser, sign_in_to_account};
use crate::device::add_device_client;
use crate::helpers::*;
use crate::languages::{browser, page, sign_in, start, Page};
use crate::otp::{enrol, post, send_code};
use crate::password_reset::{link_in, with_mail, NEW_PASSWORD};
use crate::signin::{add_alice, add_client, hidden, location, PASSWORD};
use crate::smtp_sink::SmtpSink;
use reqwest::StatusCode;
use serde_json::Value;

/// The switcher's link to `lang` in `html`, as the browser follows it (`&#38;` unescaped).
fn link_to(html: &str, lang: &str) -> String {
    let nav = &html[html.find("<nav class=\"languages\"").unwrap_or_else(|| panic!("no switcher in:\n{html}"))..];
    let marker = format!("\" hreflang=\"{lang}\" lang=\"{lang}\"");
    let end = nav.find(&marker).unwrap_or_else(|| panic!("no link to {lang} in:\n{nav}"));
    let start = nav[..end].rfind("href=\"").unwrap() + "href=\"".len();
    nav[start..end].replace("&#38;", "&")
}

/// The `tessera_locale` cookie `r` sets, if any.
fn remembered(r: &reqwest::Response) -> Option<String> {
    let set = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned());
    set.into_iter().find(|c| c.starts_with("tessera_locale="))
}

/// The switcher of `html`, which carries nothing of a form.
fn nav(html: &str) -> &str {
    let nav = &html[html.find("<nav class=\"languages\"").unwrap_or_else(|| panic!("no switcher in:\n{html}"))..];
    &nav[..nav.find("</nav>").unwrap()]
}

async fn open(app: &TestApp, b: &reqwest::Client, path: &str) -> (Option<String>, Page) {
    let r = b.get(app.url(path)).send().await.unwrap();
    (remembered(&r), page(r).await)
}

both_backends!(the_switcher_keeps_the_sign_in_and_its_new_language, async |app| {
    add_alice(&app);
    let client = add_client(&app, &[]);
    let client_id = s(&client, "client_id");
    let b = browser(Some("fr"));
    let login = start(&app, &b, client_id, "&ui_locales=de").await;
    login.is_in("de", false);
    let interaction = hidden(&login.html, "interaction");
    // Labelled, each language in its own words and tagged as such, the current one marked.
    login.says("<nav class=\"languages\" aria-label=\"Sprache\">");
    login.says("hreflang=\"de\" lang=\"de\" aria-current=\"true\">Deutsch</a>");
    login.says("lang=\"en\">English</a>").says("lang=\"fr\">Français</a>");
    let english = link_to(&login.html, "en");
    assert_eq!(english, format!("/login?interaction={interaction}&lang=en"));

    let (cookie, shown) = open(&app, &b, &english).await;
    shown.is_in("en", false).says("<h1>Sign in</h1>").says("aria-current=\"true\">English</a>");
    let cookie = cookie.expect("the choice is remembered");
    assert!(cookie.contains("Path=/") && cookie.contains("SameSite=Lax") && !cookie.contains("Secure"), "{cookie}");
    // The same sign-in, whose form and token stay as they were.
    assert_eq!(hidden(&shown.html, "interaction"), interaction);
    assert_eq!(hidden(&shown.html, "csrf"), hidden(&login.html, "csrf"));
    // A refusal, and the pages after the sign-in, speak the choice, not the request's ui_locales.
    page(sign_in(&app, &b, &login, "not the password").await).await.is_in("en", false).says("Try again.");
    let r = sign_in(&app, &b, &login, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let consent = page(b.get(app.url(&location(&r))).send().await.unwrap()).await;
    consent.is_in("en", false).says("Allow access?");
    assert_eq!(link_to(&consent.html, "fr"), format!("/consent?interaction={interaction}&lang=fr"));
});

both_backends!(the_cookie_comes_after_a_sign_ins_language_and_before_the_browsers, async |app| {
    let client = add_client(&app, &[]);
    let client_id = s(&client, "client_id");
    let b = browser(Some("fr"));
    page(b.get(app.url("/device")).send().await.unwrap()).await.is_in("fr", true);
    let (cookie, chosen) = open(&app, &b, "/device?lang=de").await;
    assert!(cookie.is_some_and(|c| c.starts_with("tessera_locale=de;")));
    chosen.is_in("de", false).says("aria-current=\"true\">Deutsch</a>");
    assert_eq!(link_to(&chosen.html, "en"), "/device?lang=en");

    // Remembered over the browser's language, saying it varies with the cookie.
    let again = page(b.get(app.url("/device")).send().await.unwrap()).await;
    again.is_in("de", false);
    assert_eq!(again.vary.as_deref(), Some("Cookie"));
    start(&app, &b, client_id, "").await.is_in("de", false).says("<h1>Anmelden</h1>");
    // A sign-in's ui_locales comes first.
    start(&app, &b, client_id, "&ui_locales=en").await.is_in("en", false).says("<h1>Sign in</h1>");
    // A cookie naming none of ours says nothing.
    let r = browser(Some("fr")).get(app.url("/device")).header("Cookie", "tessera_locale=es").send().await.unwrap();
    let shown = page(r).await;
    shown.is_in("fr", true);
    assert_eq!(shown.vary.as_deref(), Some("Accept-Language, Cookie"));
});

both_backends!(the_code_step_switches_with_its_own_form, async |app| {
    add_alice(&app);
    let client = add_client(&app, &[]);
    let client_id = s(&client, "client_id");
    let otp = enrol(&app).await;
    let b = browser(None);
    let login = start(&app, &b, client_id, "&ui_locales=de").await;
    let step = page(sign_in(&app, &b, &login, PASSWORD).await).await;
    step.is_in("de", false).says("<label for=\"language\">Sprache</label>");
    step.says("<select id=\"language\" name=\"lang\">").says(">Sprache wechseln</button>");
    let (pending, csrf) = (hidden(&step.html, "pending"), hidden(&step.html, "csrf"));
    let r = post(&app, &b, "/login/code", &[("pending", &pending), ("csrf", &csrf), ("lang", "fr")]).await;
    assert!(remembered(&r).is_some());
    let french = page(r).await;
    french.is_in("fr", false).says("<option value=\"fr\" lang=\"fr\" selected>Français</option>");
    // Without its token, the switcher's form is refused as any.
    let forged = post(&app, &b, "/login/code", &[("pending", &pending), ("csrf", "forged"), ("lang", "en")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(remembered(&forged).is_none());
    // The same step: its code signs in, and the sign-in goes on in French.
    assert_eq!(code_form_of(&french), (pending, csrf));
    let r = send_code(&app, &b, &code_form_of(&french), &otp.code(0)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    page(b.get(app.url(&location(&r))).send().await.unwrap()).await.is_in("fr", false);
});

/// The code form of a page in any language.
fn code_form_of(p: &Page) -> (String, String) {
    (hidden(&p.html, "pending"), hidden(&p.html, "csrf"))
}

both_backends!(a_devices_ui_locales_reaches_its_pages, async |app| {
    add_alice(&app);
    let client = add_device_client(&app, true);
    let id = s(&client, "client_id").to_owned();
    let form = [("client_id", id.as_str()), ("scope", "openid"), ("ui_locales", "es fr-CA")];
    let r = app.api_client.post(app.url("/device_authorization")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let device: Value = r.json().await.unwrap();
    let complete = s(&device, "verification_uri_complete");
    assert!(complete.ends_with("&ui_locales=fr"), "{complete}");

    // The link opens the page in French in a German browser, which its switcher can still change.
    let b = browser(Some("de"));
    let entry = page(b.get(complete).send().await.unwrap()).await;
    entry.is_in("fr", false).says("Connecter un appareil");
    // Typed on the bare page instead, the code leads to a French sign-in, approval and answer.
    let bare = page(b.get(app.url("/device")).send().await.unwrap()).await;
    bare.is_in("de", true);
    let typed = s(&device, "user_code");
    let r = post(&app, &b, "/device", &[("csrf", &hidden(&bare.html, "csrf")), ("user_code", typed)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let login = page(b.get(app.url(&location(&r))).send().await.unwrap()).await;
    login.is_in("fr", false);
    let form = [
        ("return", "device"),
        ("user_code", &hidden(&login.html, "user_code")),
        ("csrf", &hidden(&login.html, "csrf")),
        ("username", "alice"),
        ("password", PASSWORD),
    ];
    let r = post(&app, &b, "/login", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let approval = page(b.get(app.url(&location(&r))).send().await.unwrap()).await;
    approval.is_in("fr", false);
    let form = [
        ("user_code", hidden(&approval.html, "user_code")),
        ("csrf", hidden(&approval.html, "csrf")),
        ("decision", "allow".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    page(post(&app, &b, "/device", &form).await).await.is_in("fr", false);
});

with_mail!(a_mailed_link_opens_its_page_in_the_mails_language, async |app, sink| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let client_id = s(&client, "client_id");
    let b = browser(Some("fr"));
    let login = start(&app, &b, client_id, "&ui_locales=de").await;
    let interaction = hidden(&login.html, "interaction");
    let forgot = page(b.get(app.url(&format!("/login/forgot?interaction={interaction}"))).send().await.unwrap()).await;
    let form = [("interaction", interaction.as_str()), ("csrf", &hidden(&forgot.html, "csrf")), ("login", "alice")];
    page(post(&app, &b, "/login/forgot", &form).await).await.is_in("de", false);
    let link = link_in(&sink.nth(1).await);
    // The token is the link's one secret; the language is said beside it.
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(link.split_once('?').unwrap().1.as_bytes()).into_owned().collect();
    assert_eq!(query.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["token", "lang"]);
    assert_eq!(query[1].1, "de");
    // Opened in another browser that prefers French: German, and remembered there.
    let other = browser(Some("fr"));
    let r = other.get(&link).send().await.unwrap();
    assert!(remembered(&r).is_some_and(|c| c.starts_with("tessera_locale=de;")));
    page(r).await.is_in("de", false).says("aria-current=\"true\">Deutsch</a>");
});

with_mail!(the_forgot_and_reset_answers_switch_without_repeating_the_form, async |app, sink| {
    add_alice(&app);
    let client = add_client(&app, &["--public"]);
    let b = browser(Some("fr"));
    let login = start(&app, &b, s(&client, "client_id"), "").await;
    let interaction = hidden(&login.html, "interaction");
    let forgot = page(b.get(app.url(&format!("/login/forgot?interaction={interaction}"))).send().await.unwrap()).await;
    let csrf = hidden(&forgot.html, "csrf");
    // A refusal links to the form's own page.
    let r = post(&app, &b, "/login/forgot", &[("interaction", &interaction), ("csrf", &csrf), ("login", " ")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let refused = page(r).await;
    refused.is_in("fr", true);
    assert_eq!(link_to(&refused.html, "de"), format!("/login/forgot?interaction={interaction}&lang=de"));
    let (cookie, german) = open(&app, &b, &link_to(&refused.html, "de")).await;
    assert!(cookie.is_some_and(|c| c.starts_with("tessera_locale=de;")));
    german.is_in("de", false);
    assert_eq!(hidden(&german.html, "csrf"), csrf);

    // The notice that a link may have gone out leads on to the sign-in; nothing typed is in its links.
    let form = [("interaction", interaction.as_str()), ("csrf", &csrf), ("login", "alice@example.com")];
    let sent = page(post(&app, &b, "/login/forgot", &form).await).await;
    sent.is_in("de", false);
    assert!(!nav(&sent.html).contains("alice") && !nav(&sent.html).contains(&csrf), "{}", sent.html);
    assert_eq!(link_to(&sent.html, "en"), format!("/login?interaction={interaction}&lang=en"));
    let (_, english) = open(&app, &b, &link_to(&sent.html, "en")).await;
    english.is_in("en", false).says("<h1>Sign in</h1>");
    assert_eq!(hidden(&english.html, "interaction"), interaction);

    // The new password's answer, whose link is used up, leads on to the sign-in too, without the token.
    let link = link_in(&sink.nth(1).await);
    let reset = page(b.get(&link).send().await.unwrap()).await;
    let token = hidden(&reset.html, "token");
    let form = [("token", token.as_str()), ("password", NEW_PASSWORD), ("password_again", NEW_PASSWORD)];
    let done = page(post(&app, &b, "/login/reset", &form).await).await;
    // In the mail's language, the German chosen before.
    done.is_in("de", false).says("<a id=\"sign-in\"");
    assert!(!nav(&done.html).contains(&token), "{}", done.html);
    assert_eq!(link_to(&done.html, "fr"), format!("/login?interaction={interaction}&lang=fr"));
    let (_, french) = open(&app, &b, &link_to(&done.html, "fr")).await;
    french.is_in("fr", false).says("<h1>Connexion</h1>");
});

with_mail!(the_verified_address_page_switches_to_the_account_page, async |app, sink| {
    add_alice(&app);
    let b = other_browser();
    sign_in_to_account(&app, &b).await;
    let account = b.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    let r = post(&app, &b, "/account/email/verify", &[("csrf", &hidden(&account, "csrf"))]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let link = link_in(&sink.nth(1).await);
    // Opened in a browser without a session, the button's answer links to the account page, not to the link.
    let o = browser(Some("fr"));
    let opened = page(o.get(&link).send().await.unwrap()).await;
    let token = hidden(&opened.html, "token");
    let done = page(post(&app, &o, "/login/verify-email", &[("token", &token)]).await).await;
    assert_eq!(done.status, StatusCode::OK);
    done.says("Your email address is verified");
    assert!(!nav(&done.html).contains(&token), "{}", done.html);
    assert_eq!(link_to(&done.html, "de"), "/account?lang=de");
    // Signed out there, the sign-in to the account page, in the language chosen, which is remembered.
    let r = o.get(app.url(&link_to(&done.html, "de"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?return=account&lang=de");
    let (cookie, login) = open(&app, &o, &location(&r)).await;
    assert!(cookie.is_some_and(|c| c.starts_with("tessera_locale=de;")));
    login.is_in("de", false).says("<h1>Anmelden</h1>");
    // Signed in, the account page in it.
    let (_, account) = open(&app, &b, &link_to(&done.html, "fr")).await;
    assert_eq!(account.status, StatusCode::OK);
    account.is_in("fr", false);
});

/// `names`' hidden fields of page `p`, then `more`: a form as the browser posts it.
fn form_of(p: &Page, names: &[&'static str], more: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let fields = names.iter().map(|&k| (k, hidden(&p.html, k)));
    fields.chain(more.iter().map(|&(k, v)| (k, v.to_owned()))).collect()
}

async fn post_form(app: &TestApp, b: &reqwest::Client, path: &str, form: &[(&'static str, String)]) -> Page {
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    page(post(app, b, path, &form).await).await
}

both_backends!(the_device_flows_language_holds_after_its_forms, async |app| {
    add_alice(&app);
    let client = add_device_client(&app, true);
    let id = s(&client, "client_id").to_owned();
    let form = [("client_id", id.as_str()), ("scope", "openid"), ("ui_locales", "fr")];
    let r = app.api_client.post(app.url("/device_authorization")).form(&form).send().await.unwrap();
    let device: Value = r.json().await.unwrap();
    let b = browser(Some("de"));
    let entry = page(b.get(s(&device, "verification_uri_complete")).send().await.unwrap()).await;
    entry.is_in("fr", false);
    // A mistyped code: the form again, in the flow's language rather than the browser's.
    let entry_fields = ["csrf", "ui_locales"];
    let again = post_form(&app, &b, "/device", &form_of(&entry, &entry_fields, &[("user_code", "!!")])).await;
    again.is_in("fr", false);

    // Signed out: the sign-in, whose refusal speaks it too.
    let typed = form_of(&again, &entry_fields, &[("user_code", s(&device, "user_code"))]);
    let typed: Vec<(&str, &str)> = typed.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post(&app, &b, "/device", &typed).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let login = page(b.get(app.url(&location(&r))).send().await.unwrap()).await;
    login.is_in("fr", false);
    let login_fields = ["return", "user_code", "csrf", "ui_locales"];
    let wrong = [("username", "alice"), ("password", "not the password")];
    let refused = post_form(&app, &b, "/login", &form_of(&login, &login_fields, &wrong)).await;
    refused.is_in("fr", false).says("ne correspondent pas. Réessayez.");

    // English chosen there: the rest of the flow speaks it, the device's French notwithstanding.
    let (_, english) = open(&app, &b, &link_to(&refused.html, "en")).await;
    english.is_in("en", false);
    let right = form_of(&english, &login_fields, &[("username", "alice"), ("password", PASSWORD)]);
    let right: Vec<(&str, &str)> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post(&app, &b, "/login", &right).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let approval = page(b.get(app.url(&location(&r))).send().await.unwrap()).await;
    approval.is_in("en", false);
    let answer = form_of(&approval, &["user_code", "csrf", "ui_locales"], &[("decision", "allow")]);
    let done = post_form(&app, &b, "/device", &answer).await;
    done.is_in("en", false).says("<h1>Device connected</h1>");
    // The answer is given once: its switcher leads to the verification page itself.
    assert_eq!(link_to(&done.html, "de"), "/device?lang=de");
    let (_, german) = open(&app, &b, &link_to(&done.html, "de")).await;
    german.is_in("de", false).says("action=\"/device\"");
});
