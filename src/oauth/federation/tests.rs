use super::*;

fn user(name: &str, disabled: bool) -> User {
    User {
        id: UserId::generate(),
        username: Username::parse(name).unwrap(),
        email: Some(format!("{name}@example.com")),
        email_verified: true,
        name: None,
        disabled,
        created_at: 1_700_000_000,
        updated_at: 1_700_000_000,
        revoked_before: None,
        password_change_required: false,
    }
}

#[test]
fn a_linked_identity_signs_in_as_its_user_unless_disabled() {
    let alice = user("alice", false);
    // Whatever the address says: the link decides.
    for (trust, verified) in [(false, false), (true, true)] {
        let others = vec![user("bob", false)];
        assert_eq!(
            decide(Some(alice.clone()), others, Some("Alice@Example.com"), trust, verified),
            Mapping::SignIn(alice.clone())
        );
    }
    let off = user("carol", true);
    assert_eq!(
        decide(Some(off.clone()), vec![], Some("Alice@Example.com"), true, true),
        Mapping::Refuse(Some(off), FederationRefusal::Disabled)
    );
}

#[test]
fn an_unknown_identity_with_a_new_address_gets_a_new_user() {
    for (trust, verified) in [(false, false), (false, true), (true, false), (true, true)] {
        assert_eq!(decide(None, vec![], Some("Alice@Example.com"), trust, verified), Mapping::Create);
    }
}

#[test]
fn an_address_in_use_links_only_when_trusted_and_verified() {
    let alice = user("alice", false);
    assert_eq!(
        decide(None, vec![alice.clone()], Some("Alice@Example.com"), true, true),
        Mapping::LinkTo(alice.clone())
    );
    for (trust, verified) in [(false, false), (false, true), (true, false)] {
        assert_eq!(
            decide(None, vec![alice.clone()], Some("Alice@Example.com"), trust, verified),
            Mapping::Refuse(Some(alice.clone()), FederationRefusal::EmailInUse),
            "trust_email {trust}, email_verified {verified}"
        );
    }
    // An address nobody verified here is not linked to, whatever the provider says of its own.
    let unverified = User { email_verified: false, ..alice.clone() };
    assert_eq!(
        decide(None, vec![unverified.clone()], Some("Alice@Example.com"), true, true),
        Mapping::Refuse(Some(unverified), FederationRefusal::EmailInUse)
    );
    // Regression: an account made with the address and never verified kept the one that verified it from being
    // linked to (anyone could block another's federated sign-in so).
    let planted = User { email_verified: false, email: alice.email.clone(), ..user("mallory", false) };
    assert_eq!(
        decide(None, vec![planted.clone(), alice.clone()], Some("Alice@Example.com"), true, true),
        Mapping::LinkTo(alice.clone())
    );
    // Two accounts that verified the address: neither is picked.
    let twin = user("alice2", false);
    assert_eq!(
        decide(None, vec![alice.clone(), twin], Some("Alice@Example.com"), true, true),
        Mapping::Refuse(Some(alice), FederationRefusal::EmailInUse)
    );
    let off = user("dave", true);
    let dave = Some("dave@example.com");
    assert_eq!(
        decide(None, vec![off.clone()], dave, true, true),
        Mapping::Refuse(Some(off), FederationRefusal::Disabled)
    );
}

// A link hands an account over, so the address must be the very same, but for ASCII letter case: not merely one
// the look-up's key (lower case) or, before it, SQL's lower() took for it.
#[test]
fn an_address_in_use_links_only_when_it_is_the_same_address() {
    let kate = user("kate", false);
    for theirs in ["kate@example.com", "KATE@example.COM", "Kate@Example.com"] {
        assert_eq!(
            decide(None, vec![kate.clone()], Some(theirs), true, true),
            Mapping::LinkTo(kate.clone()),
            "{theirs}"
        );
    }
    for theirs in ["kate@example.co", "k\u{e2}te@example.com"] {
        assert_eq!(
            decide(None, vec![kate.clone()], Some(theirs), true, true),
            Mapping::Refuse(Some(kate.clone()), FederationRefusal::EmailInUse),
            "{theirs}"
        );
    }
    let elodie = User { email: Some("\u{c9}lodie@example.com".into()), ..user("elodie", false) };
    let refused = decide(None, vec![elodie.clone()], Some("\u{e9}lodie@example.com"), true, true);
    assert_eq!(refused, Mapping::Refuse(Some(elodie), FederationRefusal::EmailInUse), "case outside ASCII");
}

#[test]
fn usernames_come_from_the_claims_when_they_are_valid() {
    let id = |preferred: Option<&str>, email: Option<&str>| UpstreamIdentity {
        provider_id: "corp".into(),
        subject: "s".into(),
        preferred_username: preferred.map(str::to_owned),
        email: email.map(str::to_owned),
        ..UpstreamIdentity::default()
    };
    assert_eq!(username_base(&id(Some("alice"), Some("a@x.example"))), "alice");
    assert_eq!(username_base(&id(None, Some("a.b@x.example"))), "a.b");
    // Invisible characters, surrounding spaces trimmed, too long: the next source.
    assert_eq!(username_base(&id(Some("al\u{200b}ice"), Some("bob@x.example"))), "bob");
    assert_eq!(username_base(&id(Some(" carol "), None)), "carol");
    assert_eq!(username_base(&id(Some(&"x".repeat(60)), None)), "corp-user");
    assert_eq!(username_base(&id(None, None)), "corp-user");
    assert_eq!(username_candidate("alice", 0), "alice");
    assert_eq!(username_candidate("alice", 1), "alice-2");
}

#[test]
fn a_pending_sign_in_shows_no_secret_in_debug() {
    let p = PendingFederation {
        provider_id: "corp".into(),
        interaction: "INTERACTION".into(),
        returns_to: Some(Continuation::Device("WDJB-MJHT".into())),
        browser: "BROWSER".into(),
        nonce: "NONCE".into(),
        pkce_verifier: "VERIFIER".into(),
        fresh: Freshness::again(),
        started_at: 1_700_000_000,
        names_itself: true,
    };
    let shown = format!("{p:?}");
    assert!(shown.contains("corp"), "{shown}");
    for secret in ["INTERACTION", "BROWSER", "NONCE", "VERIFIER"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[test]
fn a_provider_that_names_itself_must_name_itself_as_configured() {
    let stored = r#"{"provider_id":"corp","interaction":"I","browser":"B","nonce":"N","pkce_verifier":"V"}"#;
    let quiet: PendingFederation = serde_json::from_str(stored).unwrap();
    assert!(!quiet.names_itself, "entries stored before it was kept");
    let issuer = "https://corp.example";
    assert!(quiet.issuer_answers(issuer, Some(issuer)) && quiet.issuer_answers(issuer, None));
    assert!(!quiet.issuer_answers(issuer, Some("https://evil.example")));
    // RFC 9207 §2.4: a response without iss from a provider that says it sends one is refused.
    let naming = PendingFederation { names_itself: true, ..quiet };
    assert!(naming.issuer_answers(issuer, Some(issuer)));
    assert!(!naming.issuer_answers(issuer, None) && !naming.issuer_answers(issuer, Some("https://evil.example")));
}

#[test]
fn a_pending_sign_in_stored_before_return_targets_existed_still_reads() {
    let stored = r#"{"provider_id":"corp","interaction":"I","browser":"B","nonce":"N","pkce_verifier":"V"}"#;
    let p: PendingFederation = serde_json::from_str(stored).unwrap();
    assert_eq!((p.interaction.as_str(), p.returns_to), ("I", None));
    // Nor a fresh sign-in asked: no auth_time demand.
    assert_eq!((p.fresh, p.started_at), (Freshness::default(), 0));
    let again = PendingFederation { returns_to: Some(Continuation::Account), fresh: Freshness::again(), ..p };
    let round: PendingFederation = serde_json::from_str(&serde_json::to_string(&again).unwrap()).unwrap();
    assert_eq!((round.returns_to, round.fresh), (Some(Continuation::Account), Freshness::again()));
}
