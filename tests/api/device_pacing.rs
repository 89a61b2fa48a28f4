//! The device grant's pacing (RFC 8628 §3.5) when polls come at once: the decision is one atomic cache write, so
//! of polls of one code at the same moment exactly one is told `authorization_pending` and the others
//! `slow_down`, each slow-down adding 5 seconds to that code's interval (and to no other code's).
use crate::device::{add_device_client, authorize_device, poll};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;

/// The `error` of each reply, sorted.
fn errors(replies: &[(StatusCode, Value)]) -> Vec<String> {
    let mut errors: Vec<String> = replies
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
            body["error"].as_str().unwrap().to_owned()
        })
        .collect();
    errors.sort();
    errors
}

both_backends!(
    of_polls_at_once_exactly_one_waits_and_the_others_slow_down,
    |raw| {
        // Workers enough for the polls to be handled in parallel, not one after the other.
        raw.http.workers = Some(4);
    },
    async |app| {
        let client = add_device_client(&app, true);
        for round in 0..4 {
            let (status, auth) = authorize_device(&app, &client, "openid").await;
            assert_eq!(status, StatusCode::OK, "{auth}");
            let code = auth["device_code"].as_str().unwrap();
            let (first, second) = tokio::join!(poll(&app, &client, code), poll(&app, &client, code));
            assert_eq!(errors(&[first, second]), ["authorization_pending", "slow_down"], "round {round}");
            // The slow-down grew this code's interval to 10 s: sooner again, it grows to 15 s.
            let again = poll(&app, &client, code).await;
            assert_eq!(errors(std::slice::from_ref(&again)), ["slow_down"]);
            assert!(again.1["error_description"].as_str().unwrap().contains("15 seconds"), "{}", again.1);
        }
        // A burst: still one waits.
        let (_, auth) = authorize_device(&app, &client, "openid").await;
        let code = auth["device_code"].as_str().unwrap();
        let replies = join_all((0..6).map(|_| poll(&app, &client, code))).await;
        let errors = errors(&replies);
        assert_eq!(errors.iter().filter(|e| *e == "authorization_pending").count(), 1, "{errors:?}");
        assert_eq!(errors.iter().filter(|e| *e == "slow_down").count(), 5, "{errors:?}");
    }
);
