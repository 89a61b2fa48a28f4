use super::sign_in::{PasskeyRefusal, PendingPasskeySignIn};
use super::*;
use crate::domain::Username;
use crate::oauth::interaction::Continuation;

fn rp(issuer: &str) -> Option<PasskeyRp> {
    PasskeyRp::for_issuer(&Url::parse(issuer).unwrap())
}

fn alice(id: &str) -> User {
    User {
        id: UserId::parse(id).unwrap(),
        username: Username::parse("alice").unwrap(),
        email: None,
        email_verified: false,
        name: Some("Alice A.".into()),
        disabled: false,
        created_at: 0,
        updated_at: 0,
        revoked_before: None,
        password_change_required: false,
    }
}

#[test]
fn the_relying_party_is_the_issuers_host_and_origin() {
    let with_path = rp("https://id.example.com/realms/main").expect("a domain");
    assert_eq!(with_path.rp_id(), "id.example.com");
    assert_eq!(rp("http://localhost:8080").expect("localhost is a domain").rp_id(), "localhost");
    // WebAuthn takes domains only: no passkeys on an issuer named by an address.
    assert!(rp("http://127.0.0.1:8080").is_none());
    assert!(rp("http://[::1]:8080").is_none());
}

#[test]
fn a_user_handle_is_the_uuid_or_a_hash_of_the_id() {
    let uuid = "6c9d4a2e-8e0b-4f4e-9a57-1f0e7b2c9d10";
    assert_eq!(user_handle(&UserId::parse(uuid).unwrap()).to_string(), uuid);
    let (a, b) = (UserId::parse("alice-1").unwrap(), UserId::parse("alice-2").unwrap());
    assert_eq!(user_handle(&a), user_handle(&a), "the same at every ceremony");
    assert_ne!(user_handle(&a), user_handle(&b));
}

#[test]
fn registration_asks_for_a_discoverable_credential_with_user_verification() {
    let rp = rp("https://id.example.com").unwrap();
    let uuid = "6c9d4a2e-8e0b-4f4e-9a57-1f0e7b2c9d10";
    let excluded = CredentialID::from(vec![1u8, 2, 3]);
    let (options, _state) = rp.registration_options(&alice(uuid), vec![excluded]).unwrap();
    let json = serde_json::to_value(&options).unwrap();
    let options = &json["publicKey"];
    assert_eq!(options["rp"]["id"], "id.example.com");
    assert_eq!(options["user"]["name"], "alice");
    assert_eq!(options["user"]["displayName"], "Alice A.");
    let selection = &options["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required", "{json}");
    assert_eq!(selection["requireResidentKey"], true);
    assert_eq!(selection["userVerification"], "required");
    assert_eq!(options["excludeCredentials"][0]["id"], "AQID", "base64url of the stored credential id");
    assert!(options["challenge"].as_str().is_some_and(|c| c.len() >= 43), "{json}");
}

#[test]
fn a_sign_in_asks_for_any_passkey_in_the_browsers_own_dialog() {
    let rp = rp("https://id.example.com").unwrap();
    let (options, _state) = rp.sign_in_options().unwrap();
    let json = serde_json::to_value(&options).unwrap();
    assert!(json.get("mediation").is_none(), "not the autofill of a username field: {json}");
    assert_eq!(json["publicKey"]["rpId"], "id.example.com");
    assert_eq!(json["publicKey"]["allowCredentials"], serde_json::json!([]), "no name, so no list");
    assert_eq!(json["publicKey"]["userVerification"], "required");
}

#[test]
fn a_pending_sign_in_keeps_its_state_and_binding_out_of_debug() {
    let rp = rp("https://id.example.com").unwrap();
    let (_options, state) = rp.sign_in_options().unwrap();
    let pending: PendingPasskeySignIn = serde_json::from_value(serde_json::json!({
        "state": state,
        "browser": "the-browser-hash",
        "continuation": Continuation::Account,
        "client_id": null,
        "created_at": 1,
    }))
    .unwrap();
    let debug = format!("{pending:?}");
    assert!(debug.contains("Account"), "{debug}");
    assert!(!debug.contains("the-browser-hash") && !debug.contains("challenge"), "{debug}");
}

#[test]
fn a_passkey_sign_in_is_possession_and_more_per_rfc_8176() {
    assert_eq!(PASSKEY_AMR, ["pop", "mfa"]);
    assert_eq!(PasskeyRefusal::PossibleClone.as_str(), "passkey_possible_clone");
    assert_eq!(PasskeyRefusal::Disabled.as_str(), "disabled", "as a password sign-in's");
}

#[tokio::test]
async fn answers_are_verified_on_the_pool_and_wait_for_it() {
    let rp = rp("https://id.example.com").unwrap();
    let uuid = "6c9d4a2e-8e0b-4f4e-9a57-1f0e7b2c9d10";
    let (_options, state) = rp.registration_options(&alice(uuid), Vec::new()).unwrap();
    let answer: RegisterPublicKeyCredential = serde_json::from_value(json!({
        "id": "AQID",
        "rawId": "AQID",
        "type": "public-key",
        "response": { "attestationObject": "AQID", "clientDataJSON": "AQID" },
        "extensions": {},
    }))
    .unwrap();
    // The pool's one thread is held: the check waits for it rather than running on the caller's thread.
    let pool = CpuPool::new("test-sign", 1).unwrap();
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let (release, held) = std::sync::mpsc::channel::<()>();
    let holder = pool.clone();
    let hold = tokio::spawn(async move {
        holder
            .run(move || {
                let _ = started_tx.send(());
                let _ = held.recv();
            })
            .await
    });
    started.await.unwrap();
    let caller = std::thread::current().id();
    let check =
        rp.on_pool(&pool, move |w| (std::thread::current().id(), w.finish_passkey_registration(&answer, &state)));
    tokio::pin!(check);
    assert!(tokio::time::timeout(Duration::from_millis(200), &mut check).await.is_err(), "it waits for the pool");
    release.send(()).unwrap();
    hold.await.unwrap().unwrap();
    let (ran_on, verified) = check.await.unwrap();
    assert_ne!(ran_on, caller);
    assert!(verified.is_err(), "a made-up answer does not verify");
}
