//! A sign-in asking for German (`ui_locales=de`) in the real browser: the login page, a refusal and the consent
//! page in German, each passing the accessibility checks with `lang="de"`; and the language switcher, which turns
//! the same sign-in French.
use super::accessibility::{assert_accessible, axe_source, wait_for_title};
use super::{expect_consent_page, on_server, setup, PASSWORD, USERNAME};
use crate::webdriver::Browser;

both_backends!(a_german_sign_in_is_german_and_accessible, async |app| {
    let mut flow = setup(&app);
    flow.authorize_url.push_str("&ui_locales=de");
    let (browser, axe) = (Browser::start().await, axe_source());
    browser.goto(&flow.authorize_url).await;
    browser.wait_for_url("the login page", |u| on_server(&app, u, "/login")).await;
    assert_eq!(browser.execute("return document.documentElement.lang;").await, "de");
    assert_eq!(browser.title().await, "Anmelden · Tessera");
    assert_eq!(browser.find("label[for=password]").await.text().await, "Passwort");
    assert_accessible(&browser, &axe, "the German login page").await;

    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys("not the password").await;
    browser.find("button[type=submit]").await.click().await;
    let alert = browser.wait_for("#login-error[role=alert]").await;
    assert_eq!(alert.text().await, "Benutzername und Passwort passen nicht zusammen. Versuchen Sie es erneut.");
    assert_accessible(&browser, &axe, "the German login page with its refusal").await;

    browser.find("input#password").await.send_keys(PASSWORD).await;
    browser.find("button[type=submit]").await.click().await;
    expect_consent_page(&app, &browser).await;
    wait_for_title(&browser, "Zugriff erlauben? · Tessera").await;
    assert_eq!(browser.execute("return document.documentElement.lang;").await, "de");
    assert_eq!(browser.find("button[name=decision][value=allow]").await.text().await, "Zulassen");
    assert_accessible(&browser, &axe, "the German consent page").await;
    browser.quit().await;
});

both_backends!(the_switcher_changes_a_sign_ins_language_and_keeps_it, async |app| {
    let mut flow = setup(&app);
    flow.authorize_url.push_str("&ui_locales=de");
    let (browser, axe) = (Browser::start().await, axe_source());
    browser.goto(&flow.authorize_url).await;
    browser.wait_for_url("the login page", |u| on_server(&app, u, "/login")).await;
    assert_eq!(browser.title().await, "Anmelden · Tessera");
    let switcher = browser.find("nav.languages[aria-label=Sprache]").await;
    assert_eq!(switcher.text().await.split_whitespace().collect::<Vec<_>>(), ["English", "Deutsch", "Français"]);
    browser.find("nav.languages a[hreflang=fr]").await.click().await;
    wait_for_title(&browser, "Connexion · Tessera").await;
    assert_eq!(browser.execute("return document.documentElement.lang;").await, "fr");
    assert_eq!(browser.find("nav.languages a[aria-current=true]").await.text().await, "Français");
    assert_accessible(&browser, &axe, "the login page switched to French").await;

    // The same sign-in goes on, in French.
    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys(PASSWORD).await;
    browser.find("main button[type=submit]").await.click().await;
    expect_consent_page(&app, &browser).await;
    wait_for_title(&browser, "Autoriser l'accès ? · Tessera").await;
    assert_accessible(&browser, &axe, "the French consent page").await;
    browser.quit().await;
});
