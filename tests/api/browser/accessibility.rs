//! Every page a user sees, checked for accessibility in the real browser by axe-core (the engine of the
//! common accessibility audits), against WCAG 2.2 A and AA and axe's best practices. axe is installed by
//! `scripts/npm-ci.sh`, which `scripts/test.sh` runs.
use super::frontchannel::signed_in_to_framed_app;
use super::{expect_consent_page, on_server, setup, AppSite, PASSWORD, USERNAME};
use crate::helpers::{spawn_app, spawn_app_with, Backend};
use crate::webdriver::Browser;
use serde_json::Value;
use tessera::domain::totp::{code_at_step, time_step, TotpSecret};

/// What axe checks: WCAG 2.0 to 2.2, levels A and AA, and its best practices.
const TAGS: &str = "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']";

/// axe-core's browser build, as `scripts/npm-ci.sh` leaves it.
pub(super) fn axe_source() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}; run scripts/npm-ci.sh tests/browser (scripts/test.sh does)"))
}

/// Runs axe on the page the browser shows, in the dark and the light colour scheme (the pages follow the
/// user's), and fails with every violation it finds, each with the elements concerned.
pub(super) async fn assert_accessible(browser: &Browser, axe: &str, page: &str) {
    for scheme in ["dark", "light"] {
        browser.prefer_color_scheme(scheme).await;
        assert_no_violations(browser, axe, &format!("{page} in the {scheme} scheme")).await;
    }
}

async fn assert_no_violations(browser: &Browser, axe: &str, page: &str) {
    // The only frames are apps' front-channel logout pages, not ours: their `iframe` is checked, not what they hold
    // (axe would wait for an answer from inside each).
    let script = format!(
        "{axe}\n;return axe.run(document, {{ runOnly: {{ type: 'tag', values: {TAGS} }}, resultTypes: ['violations'], \
         iframes: false }})\
         .then(r => r.violations.map(v => ({{ id: v.id, impact: v.impact, help: v.help, \
         nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary) }})));"
    );
    let violations = browser.execute(&script).await;
    let Value::Array(found) = &violations else { panic!("axe answered {violations} on {page}") };
    assert!(
        found.is_empty(),
        "{page} ({}) has accessibility violations:\n{}",
        browser.current_url().await,
        serde_json::to_string_pretty(&violations).unwrap_or_default()
    );
}

/// Waits for the page titled `title`: a form's answer may stay on the same URL.
pub(super) async fn wait_for_title(browser: &Browser, title: &str) {
    let started = std::time::Instant::now();
    while browser.title().await != title {
        assert!(
            started.elapsed() < crate::webdriver::WAIT_TIMEOUT,
            "no page {title:?}: {}",
            browser.source_excerpt().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

// The pages' markup is the same on both backends: one is enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_the_accessibility_checks() {
    // With an upstream provider, so that the sign-in pages show its button (it is not asked anything).
    // And with self-registration, so that the login page links to the sign-up page.
    let app = spawn_app_with(Backend::Sqlite, |raw| {
        raw.users.self_registration = true;
        raw.federation.providers = vec![tessera::config::RawUpstreamProvider {
            id: "corp".into(),
            name: "Corp".into(),
            issuer: "https://id.corp.example".into(),
            client_id: "tessera".into(),
            client_secret: Some("not used".into()),
            client_secret_file: None,
            scopes: None,
            trust_email: false,
        }];
    })
    .await;
    let flow = setup(&app);
    // In a group, so that the account page lists its groups.
    app.cli_json(&["groups", "create", "eng"], None);
    app.cli_json(&["users", "groups", USERNAME, "--add", "eng"], None);
    let axe = axe_source();
    let browser = Browser::start().await;

    // An authorization request the server cannot redirect back: its error page.
    browser.goto(&app.url("/authorize?response_type=code&client_id=nobody")).await;
    assert_accessible(&browser, &axe, "the error page").await;

    browser.goto(&flow.authorize_url).await;
    browser.wait_for_url("the login page", |u| on_server(&app, u, "/login")).await;
    browser.wait_for("form[action=\"/login/federation/corp\"] button").await;
    browser.wait_for("a#sign-up").await;
    assert_accessible(&browser, &axe, "the login page").await;
    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys("not the password").await;
    browser.find("button[type=submit]").await.click().await;
    browser.wait_for("[role=alert]").await;
    assert_accessible(&browser, &axe, "the login page after a wrong password").await;
    browser.find("input#username").await.clear().await;
    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys(PASSWORD).await;
    browser.find("button[type=submit]").await.click().await;
    expect_consent_page(&app, &browser).await;
    assert_accessible(&browser, &axe, "the consent page").await;
    browser.find("button[name=decision][value=allow]").await.click().await;
    browser.wait_for_url("the redirect to the app", |u| !on_server(&app, u, "/consent")).await;

    browser.goto(&app.url("/account")).await;
    browser.wait_for("button[aria-label=\"Sign out of this session\"]").await;
    browser.wait_for("#groups-heading").await;
    assert_accessible(&browser, &axe, "the account page").await;

    // The password form refused: its alert, and the field it names marked invalid. A mismatch counts no failed
    // sign-in, so the sign-ins below are not held back.
    browser.find("input#current-password").await.send_keys(PASSWORD).await;
    browser.find("input#new-password").await.send_keys("a new secret one").await;
    browser.find("input#new-password-again").await.send_keys("a new secret two").await;
    browser.find("form[action=\"/account/password\"] button").await.click().await;
    browser.wait_for("#password-error[role=alert]").await;
    browser.wait_for("input#new-password-again[aria-invalid=true]").await;
    assert_accessible(&browser, &axe, "the account page after a refused password change").await;

    // Two-step verification: the set-up page (with its QR code), a wrong code there, and the page turned on.
    browser.find("form[action=\"/account/otp/setup\"] button").await.click().await;
    wait_for_title(&browser, "Set up two-step verification · Tessera").await;
    browser.wait_for("svg.qr").await;
    assert_accessible(&browser, &axe, "the two-step set-up page").await;
    let shown = browser.find("code.secret").await.text().await;
    let secret = TotpSecret::from_bytes(&crate::otp::base32_decode(&shown)).expect("the page shows 20 bytes");
    let step = time_step(tessera::domain::now());
    let right = code_at_step(&secret, step).unwrap();
    let wrong = if right == "000000" { "111111" } else { "000000" };
    browser.find("input#code").await.send_keys(wrong).await;
    browser.find("form[action=\"/account/otp/confirm\"] button").await.click().await;
    browser.wait_for("[role=alert]").await;
    assert_accessible(&browser, &axe, "the two-step set-up page after a wrong code").await;
    browser.find("input#code").await.send_keys(&right).await;
    browser.find("form[action=\"/account/otp/confirm\"] button").await.click().await;
    wait_for_title(&browser, "Two-step verification is on · Tessera").await;
    assert_accessible(&browser, &axe, "the recovery codes page").await;
    browser.goto(&app.url("/account")).await;
    browser.wait_for("input#otp-off-code").await;
    assert_accessible(&browser, &axe, "the account page with two-step verification on").await;
    // New recovery codes, with the next step's code.
    browser.find("input#otp-recovery-code").await.send_keys(&code_at_step(&secret, step + 1).unwrap()).await;
    browser.find("form[action=\"/account/otp/recovery\"] button").await.click().await;
    wait_for_title(&browser, "New recovery codes · Tessera").await;
    assert_accessible(&browser, &axe, "the new recovery codes page").await;

    // The device flow's pages: the code, the approval, the end.
    let tv = crate::device::add_device_client(&app, true);
    let (_, auth) = crate::device::authorize_device(&app, &tv, "openid").await;
    browser.goto(&app.url("/device")).await;
    assert_accessible(&browser, &axe, "the device code page").await;
    browser.find("input#user_code").await.send_keys(auth["user_code"].as_str().unwrap()).await;
    browser.find("button[type=submit]").await.click().await;
    browser.wait_for("button[name=decision][value=allow]").await;
    assert_accessible(&browser, &axe, "the device approval page").await;
    browser.find("button[name=decision][value=allow]").await.click().await;
    wait_for_title(&browser, "Device connected · Tessera").await;
    assert_accessible(&browser, &axe, "the device done page").await;

    // Signing out without an app's hint asks first, then says it is done.
    browser.goto(&app.url("/logout")).await;
    browser.wait_for("button[name=decision][value=logout]").await;
    assert_accessible(&browser, &axe, "the sign-out question").await;
    browser.find("button[name=decision][value=logout]").await.click().await;
    wait_for_title(&browser, "Signed out · Tessera").await;
    assert_accessible(&browser, &axe, "the signed-out page").await;

    // Signed out, the account page's own sign-in.
    browser.goto(&app.url("/account")).await;
    browser.wait_for_url("the account sign-in", |u| on_server(&app, u, "/login")).await;
    browser.wait_for("a#sign-up").await;
    assert_accessible(&browser, &axe, "the account sign-in page").await;

    // With two-step verification on, the password leads to the code page.
    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys(PASSWORD).await;
    browser.find("button[type=submit]").await.click().await;
    wait_for_title(&browser, "Two-step verification · Tessera").await;
    assert_accessible(&browser, &axe, "the sign-in code page").await;
    browser.find("input#code").await.send_keys(wrong).await;
    browser.find("button[type=submit]").await.click().await;
    browser.wait_for("[role=alert]").await;
    assert_accessible(&browser, &axe, "the sign-in code page after a wrong code").await;

    // The sign-up page (prompt=create), and a mismatch refused there.
    browser.goto(&format!("{}&prompt=create", flow.authorize_url)).await;
    browser.wait_for_url("the sign-up page", |u| on_server(&app, u, "/login/register")).await;
    assert_accessible(&browser, &axe, "the sign-up page").await;
    browser.find("input#username").await.send_keys("newcomer").await;
    browser.find("input#password").await.send_keys("a new secret one").await;
    browser.find("input#password-again").await.send_keys("a new secret two").await;
    browser.find("button[type=submit]").await.click().await;
    browser.wait_for("#signup-error[role=alert]").await;
    browser.wait_for("input#password-again[aria-invalid=true]").await;
    assert_accessible(&browser, &axe, "the sign-up page after a mismatch").await;
    // The account page's sign-up page.
    browser.goto(&app.url("/login/register?return=account")).await;
    browser.wait_for("input[name=return][value=account]").await;
    assert_accessible(&browser, &axe, "the account page's sign-up page").await;

    // Where every password sign-in needs two-step verification, a user without it sets it up first.
    let app = spawn_app_with(Backend::Sqlite, |raw| raw.otp.required = true).await;
    setup(&app);
    browser.goto(&app.url("/login?return=account")).await;
    browser.find("input#username").await.send_keys(USERNAME).await;
    browser.find("input#password").await.send_keys(PASSWORD).await;
    browser.find("button[type=submit]").await.click().await;
    wait_for_title(&browser, "Set up two-step verification · Tessera").await;
    browser.wait_for("svg.qr").await;
    assert_accessible(&browser, &axe, "the sign-in's two-step set-up page").await;
    let shown = browser.find("code.secret").await.text().await;
    let secret = TotpSecret::from_bytes(&crate::otp::base32_decode(&shown)).expect("the page shows 20 bytes");
    let right = code_at_step(&secret, time_step(tessera::domain::now())).unwrap();
    let wrong = if right == "000000" { "111111" } else { "000000" };
    browser.find("input#code").await.send_keys(wrong).await;
    browser.find("form[action=\"/login/enrol\"] button").await.click().await;
    browser.wait_for("[role=alert]").await;
    assert_accessible(&browser, &axe, "the sign-in's two-step set-up page after a wrong code").await;
    browser.find("input#code").await.send_keys(&right).await;
    browser.find("form[action=\"/login/enrol\"] button").await.click().await;
    wait_for_title(&browser, "Two-step verification is on · Tessera").await;
    assert_accessible(&browser, &axe, "the sign-in's recovery codes page").await;
    browser.find("form[action=\"/login/enrol/continue\"] button").await.click().await;
    browser.wait_for("button[aria-label=\"Sign out of this session\"]").await;
    assert_accessible(&browser, &axe, "the account page with two-step verification required").await;
    browser.quit().await;
}

// The signed-out page that frames an app (front-channel logout): the frame is titled and hidden from assistive
// technology.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signed_out_page_with_an_app_s_frame_passes_the_accessibility_checks() {
    let app = spawn_app(Backend::Sqlite).await;
    let site = AppSite::serve("<!doctype html><title>The app</title><p>The app</p>".into());
    let axe = axe_source();
    let browser = Browser::start().await;
    signed_in_to_framed_app(&app, &browser, &site).await;
    browser.goto(&app.url("/logout")).await;
    browser.wait_for("button[name=decision][value=logout]").await.click().await;
    wait_for_title(&browser, "Signed out · Tessera").await;
    browser.wait_for("iframe.logout-frame").await;
    assert_accessible(&browser, &axe, "the signed-out page with an app's frame").await;
    browser.quit().await;
}
