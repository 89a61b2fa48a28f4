//! Mail delivery (`[mail]`) against an SMTP server that fails: a temporary refusal (4xx) is retried and the mail
//! delivered, a permanent one (5xx) is not retried, both counted in `tessera_mails_total`; and a server told to
//! stop still delivers the mail waiting for its retry before it exits.
use crate::helpers::*;
use crate::password_reset::{link_in, with_mail};
use crate::signin::{add_alice, hidden};
use crate::smtp_sink::SmtpSink;
use reqwest::StatusCode;
use std::time::Duration;

const LATER: &str = "451 4.3.0 try again later\r\n";
const NEVER: &str = "554 5.7.1 refused\r\n";

/// Asks the server at `base` (an instance of `app`'s deployment) for a reset link for alice from the account
/// sign-in's "Forgot your password?", in a browser of its own.
async fn ask_reset_at(app: &TestApp, base: &str) {
    let b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).cookie_store(true).build().unwrap();
    let html = b.get(format!("{base}/login/forgot?return=account")).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    let form = [("return", "account"), ("csrf", csrf.as_str()), ("login", "alice")];
    // The deployment's origin is its issuer's, whichever instance the form is posted to.
    let r = b.post(format!("{base}/login/forgot")).header("Origin", &app.address).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

/// The line of `tessera_mails_total` for `result`, once it reads `value` (10 s at most).
async fn mails_counted(app: &TestApp, result: &str, value: u64) -> String {
    let line = format!("tessera_mails_total{{result=\"{result}\"}} {value}\n");
    eventually(&line, Duration::from_secs(10), || async {
        let metrics = app.get("/metrics").await.text().await.unwrap();
        metrics.contains(&line).then_some(metrics)
    })
    .await
}

with_mail!(
    a_temporary_refusal_is_retried_and_the_mail_delivered,
    |raw| {
        raw.mail.retry_seconds = 1;
    },
    async |app, sink| {
        add_alice(&app);
        sink.refuse_next(LATER);
        ask_reset_at(&app, &app.address).await;
        let mail = sink.nth(1).await;
        assert_eq!((mail.to.as_slice(), sink.attempts()), (["alice@example.com".to_owned()].as_slice(), 2));
        assert!(link_in(&mail).contains("/login/reset?token="));
        let metrics = mails_counted(&app, "sent", 1).await;
        assert!(metrics.contains("tessera_mails_total{result=\"retried\"} 1\n"), "{metrics}");
        assert!(metrics.contains("tessera_mails_total{result=\"failed\"} 0\n"), "{metrics}");
    }
);

with_mail!(
    a_permanent_refusal_is_not_retried,
    |raw| {
        raw.mail.retry_seconds = 1;
    },
    async |app, sink| {
        add_alice(&app);
        sink.refuse_next(NEVER);
        ask_reset_at(&app, &app.address).await;
        let metrics = mails_counted(&app, "failed", 1).await;
        assert!(metrics.contains("tessera_mails_total{result=\"retried\"} 0\n"), "{metrics}");
        // Past the time a retry would have come.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!((sink.attempts(), sink.mails().len()), (1, 0));
        assert!(app.get("/metrics").await.text().await.unwrap().contains("tessera_mails_total{result=\"sent\"} 0\n"));
    }
);

with_mail!(
    a_stopping_server_delivers_the_mail_waiting_for_its_retry,
    |raw| {
        // Far beyond the stop's bound (`mail.timeout_seconds`): only a retry made at once gets through.
        raw.mail.retry_seconds = 300;
    },
    async |app, sink| {
        add_alice(&app);
        sink.refuse_next(LATER);
        // Another instance of the deployment, as a process of its own, takes the request and is then stopped.
        let mut env = settings_env(&app.raw);
        env.retain(|(key, _)| key != "TESSERA__HTTP__BIND");
        env.push(("TESSERA__HTTP__BIND".into(), "127.0.0.1:0".into()));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let (mut child, serving) = tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            serve_json(&path, &env)
        })
        .await
        .unwrap();
        ask_reset_at(&app, &format!("http://{}", s(&serving, "listening"))).await;
        sink.nth_attempt(1).await;
        assert!(sink.mails().is_empty(), "the first attempt was refused");
        let pid = libc::pid_t::try_from(child.id()).unwrap();
        // SAFETY: sends a signal to the child this test started and still owns (not yet waited for).
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);

        let mail = sink.nth(1).await;
        assert_eq!((mail.to.as_slice(), sink.attempts()), (["alice@example.com".to_owned()].as_slice(), 2));
        let status = eventually("serve to exit after SIGTERM", Duration::from_secs(30), || {
            let status = child.try_wait().unwrap();
            async move { status }
        })
        .await;
        assert!(status.success(), "{status}");
    }
);
