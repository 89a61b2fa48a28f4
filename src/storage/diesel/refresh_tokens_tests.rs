//! Tests of the `refresh_tokens` table on both backends.
use super::super::test_support::{both_backends, refresh_token, TestDb};
use super::super::{AnyConnection, Backend};
use super::*;
use std::collections::BTreeSet;
use std::time::Duration;

#[path = "refresh_tokens_revocation_tests.rs"]
mod revocation;

const NOW: UnixTime = 1_700_001_000;
/// A `keep_until` past every token's expiry: the rotated token keeps its own.
const FAR: UnixTime = UnixTime::MAX;

/// Every token of a family as stored, by id.
async fn family(t: &TestDb, family_id: &str) -> Vec<RefreshTokenRecord> {
    let family_id = family_id.to_owned();
    t.db.run(move |c| {
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .select(RefreshTokenRow::as_select())
            .order(refresh_tokens::id.asc())
            .load(c)?
            .into_iter()
            .map(record_from_row)
            .collect()
    })
    .await
    .unwrap()
}

async fn by_id(t: &TestDb, id: &str) -> Option<RefreshTokenRecord> {
    t.store.refresh_token_by_hash(&format!("hash-{id}")).await.unwrap()
}

/// `token` with an access token `at-<id>` expiring at `exp`.
fn with_access(token: RefreshTokenRecord, exp: UnixTime) -> RefreshTokenRecord {
    RefreshTokenRecord { access_jti: Some(format!("at-{}", token.id)), access_expires_at: Some(exp), ..token }
}

fn issued(pairs: &[(&str, UnixTime)]) -> IssuedAccessTokens {
    pairs.iter().map(|(jti, exp)| ((*jti).to_owned(), *exp)).collect()
}

fn sorted(mut tokens: IssuedAccessTokens) -> IssuedAccessTokens {
    tokens.sort();
    tokens
}

async fn round_trips_every_field(backend: Backend) {
    let t = TestDb::new(backend).await;
    let client = t.add_client("app").await;
    let alice = t.add_user("alice").await;
    let full = RefreshTokenRecord {
        id: "rt-full".into(),
        token_hash: "h4sh_with-base64url".into(),
        family_id: "fam-full".into(),
        parent_id: Some("rt-parent".into()),
        client_id: client.clone(),
        user_id: Some(alice.clone()),
        session_id: Some("sid-1".into()),
        scope: Scope::parse("openid profile offline_access").unwrap(),
        resource: Some("https://api.example/".into()),
        auth_time: Some(1_699_999_000),
        offline: true,
        created_at: 1_700_000_001,
        expires_at: 1_702_592_001,
        idle_expires_at: 1_701_296_001,
        used_at: Some(1_700_000_500),
        revoked: true,
        access_jti: Some("jti-full".into()),
        access_expires_at: Some(1_700_000_301),
        dpop_jkt: crate::domain::Jkt::parse("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"),
        userinfo_claims: crate::domain::ClaimNames::parse("email name").unwrap(),
        amr: vec!["pwd".into(), "otp".into()],
        id_token_claims: crate::domain::ClaimNames::parse("email_verified name").unwrap(),
        grace_record: Some(vec![1, 0, 255, 7]),
    };
    // Every optional field empty, the scope too.
    let bare = refresh_token("rt-bare", "fam-bare", &client);
    for token in [&full, &bare] {
        t.store.insert_refresh_token(token).await.unwrap();
        assert_eq!(t.store.refresh_token_by_hash(&token.token_hash).await.unwrap().as_ref(), Some(token));
    }
    assert!(t.store.refresh_token_by_hash("unknown").await.unwrap().is_none());
    assert!(t.store.refresh_token_by_hash("").await.unwrap().is_none());
}

async fn duplicates_and_unknown_clients_are_refused(backend: Backend) {
    let t = TestDb::new(backend).await;
    let client = t.add_client("app").await;
    let first = refresh_token("rt1", "f", &client);
    t.store.insert_refresh_token(&first).await.unwrap();

    let same_hash = RefreshTokenRecord { id: "rt2".into(), ..first.clone() };
    let err = t.store.insert_refresh_token(&same_hash).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(what) if what == "refresh token hash"), "{err:?}");

    let same_id = RefreshTokenRecord { token_hash: "other".into(), ..first.clone() };
    let err = t.store.insert_refresh_token(&same_id).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(what) if what == "refresh token id"), "{err:?}");

    let orphan = refresh_token("rt3", "f", &ClientId::parse("ghost").unwrap());
    let err = t.store.insert_refresh_token(&orphan).await.unwrap_err();
    assert!(matches!(err, StoreError::ReferenceGone(_)), "{err:?}");
    assert_eq!(family(&t, "f").await, vec![first]);
}

async fn rotation_happens_once(backend: Backend) {
    let t = TestDb::new(backend).await;
    let client = t.add_client("app").await;
    let first = refresh_token("rt1", "f", &client);
    t.store.insert_refresh_token(&first).await.unwrap();

    // A bound family's successor keeps its key and what its ID tokens say (Postgres writes it in a statement of its
    // own).
    let second = RefreshTokenRecord {
        parent_id: Some("rt1".into()),
        dpop_jkt: crate::domain::Jkt::parse("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"),
        userinfo_claims: crate::domain::ClaimNames::parse("email").unwrap(),
        amr: vec!["pop".into(), "mfa".into()],
        id_token_claims: crate::domain::ClaimNames::parse("email").unwrap(),
        ..refresh_token("rt2", "f", &client)
    };
    // The rotated row keeps the grace record it is given; the successor has none.
    let kept = Some(vec![4, 0, 9, 255]);
    assert!(t.store.rotate_refresh_token("rt1", &second, kept.as_deref(), NOW, FAR).await.unwrap());
    let rotated = RefreshTokenRecord { used_at: Some(NOW), grace_record: kept.clone(), ..first.clone() };
    assert_eq!(by_id(&t, "rt1").await, Some(rotated));
    assert_eq!(by_id(&t, "rt2").await, Some(second.clone()));

    // The same token again: a replay. Nothing is written, not even a later used_at or another record.
    let third = refresh_token("rt3", "f", &client);
    assert!(!t.store.rotate_refresh_token("rt1", &third, Some(&[1]), NOW + 5, FAR).await.unwrap());
    let replayed = by_id(&t, "rt1").await.unwrap();
    assert_eq!((replayed.used_at, replayed.grace_record), (Some(NOW), kept));
    assert!(by_id(&t, "rt3").await.is_none());

    // The successor rotates in turn; unknown tokens never do.
    assert!(t.store.rotate_refresh_token("rt2", &third, None, NOW + 10, FAR).await.unwrap());
    assert!(!t.store.rotate_refresh_token("nope", &refresh_token("rt4", "f", &client), None, NOW, FAR).await.unwrap());
    assert_eq!(family(&t, "f").await.len(), 3);
}

async fn lookup_brings_the_user_along(backend: Backend) {
    let t = TestDb::new(backend).await;
    let client = t.add_client("app").await;
    let alice = t.add_user("alice").await;
    let mine = RefreshTokenRecord { user_id: Some(alice.clone()), ..refresh_token("rt1", "f1", &client) };
    t.store.insert_refresh_token(&mine).await.unwrap();
    t.store.insert_refresh_token(&refresh_token("rt2", "f2", &client)).await.unwrap();
    let (token, user) = t.store.refresh_token_and_user_by_hash("hash-rt1").await.unwrap().unwrap();
    assert_eq!((token, user.map(|u| u.id)), (mine, Some(alice.clone())));
    let (token, user) = t.store.refresh_token_and_user_by_hash("hash-rt2").await.unwrap().unwrap();
    assert_eq!((token.id.as_str(), user), ("rt2", None), "a client's own token has no user");
    assert!(t.store.refresh_token_and_user_by_hash("hash-nope").await.unwrap().is_none());
    // A family's user, from any of its tokens.
    assert_eq!(t.store.refresh_family_user("f1").await.unwrap(), Some(alice));
    assert_eq!(t.store.refresh_family_user("f2").await.unwrap(), None, "a client's own family");
    assert_eq!(t.store.refresh_family_user("nope").await.unwrap(), None);
}

async fn a_code_grant_stands_while_its_user_and_session_do(backend: Backend) {
    use crate::storage::{CodeGrantStanding::*, SessionStore, UserStore};
    let t = TestDb::new(backend).await;
    let client = t.add_client("app").await;
    let alice = t.add_user("alice").await;
    let session = |id: &str, expires_at: UnixTime| crate::domain::Session {
        id_hash: id.into(),
        user_id: alice.clone(),
        auth_time: NOW - 60,
        amr: vec!["pwd".into()],
        created_at: NOW - 60,
        last_used_at: NOW - 60,
        expires_at,
        revoked: false,
        device: Default::default(),
    };
    let sessions = [
        ("live", NOW + 3600),
        ("ended", NOW),
        ("logged-out", NOW + 3600),
        ("other", NOW + 3600),
        ("handed", NOW + 3600),
        ("handed-then-ended", NOW + 3600),
        ("ends", NOW + 3600),
    ];
    for (id, end) in sessions {
        t.store.create_session(&session(id, end)).await.unwrap();
    }
    t.store.revoke_session("logged-out").await.unwrap();
    // A session handed over is as live as the one it went to.
    t.store.hand_over_session("handed", "live").await.unwrap();
    t.store.hand_over_session("handed-then-ended", "ends").await.unwrap();
    t.store.revoke_session("ends").await.unwrap();

    let of_alice = |id: &str, sid: &str| RefreshTokenRecord {
        user_id: Some(alice.clone()),
        session_id: Some(sid.into()),
        amr: vec!["pwd".into(), "otp".into()],
        id_token_claims: crate::domain::ClaimNames::parse("email").unwrap(),
        ..refresh_token(id, id, &client)
    };

    assert_eq!(
        t.store
            .redeem_code_grant(&alice, Some("live"), (&client, NOW), Some(&of_alice("rt1", "live")), NOW)
            .await
            .unwrap(),
        Live
    );
    assert_eq!(t.store.redeem_code_grant(&alice, Some("live"), (&client, NOW), None, NOW).await.unwrap(), Live);
    let handed = of_alice("rt-handed", "handed");
    let standing = t.store.redeem_code_grant(&alice, Some("handed"), (&client, NOW), Some(&handed), NOW).await;
    assert_eq!(standing.unwrap(), Live, "handed over to a live session");
    for sid in ["ended", "logged-out", "unknown", "handed-then-ended"] {
        let standing =
            t.store.redeem_code_grant(&alice, Some(sid), (&client, NOW), Some(&of_alice(sid, sid)), NOW).await.unwrap();
        assert_eq!(standing, SessionEnded, "{sid}");
        assert_eq!(
            t.store.redeem_code_grant(&alice, Some(sid), (&client, NOW), None, NOW).await.unwrap(),
            SessionEnded,
            "{sid}"
        );
        assert!(by_id(&t, sid).await.is_none(), "nothing is stored for a session that ended ({sid})");
    }
    let alice_name = crate::domain::Username::parse("alice").unwrap();
    t.store.set_user_disabled(&alice_name, true, NOW).await.unwrap();
    let standing = t
        .store
        .redeem_code_grant(&alice, Some("other"), (&client, NOW), Some(&of_alice("rt2", "other")), NOW)
        .await
        .unwrap();
    assert_eq!(standing, UserCannotSignIn);
    assert_eq!(by_id(&t, "rt1").await, Some(of_alice("rt1", "live")), "stored whole");
    assert!(by_id(&t, "rt2").await.is_none(), "nothing is stored for a disabled user");
}

async fn a_code_grant_stands_while_its_client_does(backend: Backend) {
    use crate::storage::ClientStore;
    let (t, alice, record) = alice_in_session(backend).await;
    let client = record.client_id.clone();
    t.store.set_client_revoked_before(&client, NOW).await.unwrap();
    let redeem = |issued_at: UnixTime, refresh: Option<RefreshTokenRecord>| {
        let (t, alice, client) = (&t, &alice, &client);
        async move {
            t.store.redeem_code_grant(alice, Some("sid"), (client, issued_at), refresh.as_ref(), NOW).await.unwrap()
        }
    };
    // Issued in the cut-off's second or before: revoked with the client's tokens.
    assert_eq!(redeem(NOW, Some(record.clone())).await, CodeGrantStanding::ClientRevoked);
    assert_eq!(redeem(NOW - 5, None).await, CodeGrantStanding::ClientRevoked);
    assert!(by_id(&t, "rt").await.is_none(), "nothing is stored for a revoked client");
    assert_eq!(redeem(NOW + 1, Some(record)).await, CodeGrantStanding::Live);
    assert!(by_id(&t, "rt").await.is_some());
    let gone = ClientId::parse("gone").unwrap();
    let standing = t.store.redeem_code_grant(&alice, Some("sid"), (&gone, NOW + 1), None, NOW).await.unwrap();
    assert_eq!(standing, CodeGrantStanding::ClientRevoked, "a removed client");
}

/// A code issued before the user withdrew the app on the account page leaves no live token behind, whether it
/// comes with a refresh token or not; one issued after stands.
async fn a_code_grant_stands_until_the_user_withdraws_the_app(backend: Backend) {
    use crate::storage::ConsentStore;
    let (t, alice, record) = alice_in_session(backend).await;
    let client = record.client_id.clone();
    t.store.withdraw_grant(&alice, &client, NOW, NOW + 600).await.unwrap();
    let redeem = |issued_at: UnixTime, refresh: Option<RefreshTokenRecord>| {
        let (t, alice, client) = (&t, &alice, &client);
        async move {
            t.store.redeem_code_grant(alice, Some("sid"), (client, issued_at), refresh.as_ref(), NOW).await.unwrap()
        }
    };
    // Issued in the cut-off's second or before.
    assert_eq!(redeem(NOW, Some(record.clone())).await, CodeGrantStanding::AppWithdrawn);
    assert_eq!(redeem(NOW - 5, None).await, CodeGrantStanding::AppWithdrawn);
    // Postgres stores the token before it looks, so it is there, revoked.
    assert!(by_id(&t, "rt").await.is_none_or(|rt| rt.revoked), "no live token for a withdrawn app");
    let later =
        RefreshTokenRecord { id: "rt2".into(), token_hash: "hash-rt2".into(), family_id: "f2".into(), ..record };
    assert_eq!(redeem(NOW + 1, Some(later)).await, CodeGrantStanding::Live);
    assert!(by_id(&t, "rt2").await.is_some_and(|rt| !rt.revoked));
}

/// A grant bound to no session (the device grant) outlives every session, but not the user's cut-off: issued
/// in the second of "sign out everywhere" or before, it is refused and nothing is stored.
async fn a_grant_without_a_session_stands_until_the_users_cut_off(backend: Backend) {
    use crate::storage::UserStore;
    let (t, alice, record) = alice_in_session(backend).await;
    let client = record.client_id.clone();
    let unbound = |id: &str| RefreshTokenRecord {
        id: id.into(),
        token_hash: format!("hash-{id}"),
        family_id: format!("f-{id}"),
        session_id: None,
        ..record.clone()
    };
    let redeem = |issued_at: UnixTime, refresh: Option<RefreshTokenRecord>| {
        let (t, alice, client) = (&t, &alice, &client);
        async move { t.store.redeem_code_grant(alice, None, (client, issued_at), refresh.as_ref(), NOW).await.unwrap() }
    };
    assert_eq!(redeem(NOW, Some(unbound("d1"))).await, CodeGrantStanding::Live);
    assert!(by_id(&t, "d1").await.is_some_and(|rt| rt.session_id.is_none()));
    t.store.set_user_revoked_before(&alice, NOW).await.unwrap();
    assert_eq!(redeem(NOW, Some(unbound("d2"))).await, CodeGrantStanding::UserCannotSignIn);
    assert_eq!(redeem(NOW - 5, None).await, CodeGrantStanding::UserCannotSignIn);
    assert!(by_id(&t, "d2").await.is_none(), "nothing is stored past the user's cut-off");
    assert_eq!(redeem(NOW + 1, Some(unbound("d3"))).await, CodeGrantStanding::Live);
    // A grant bound to a session is judged by its session, as before.
    assert_eq!(
        t.store.redeem_code_grant(&alice, Some("sid"), (&client, NOW - 5), None, NOW).await.unwrap(),
        CodeGrantStanding::Live
    );
}

/// A database where alice is signed in (session `sid`), and a refresh token `rt` of hers for that session,
/// not stored.
async fn alice_in_session(backend: Backend) -> (TestDb, UserId, RefreshTokenRecord) {
    use crate::storage::SessionStore;
    let t = TestDb::new(backend).await;
    let client = t.add_client("app").await;
    let alice = t.add_user("alice").await;
    let session = crate::domain::Session {
        id_hash: "sid".into(),
        user_id: alice.clone(),
        auth_time: NOW - 60,
        amr: vec!["pwd".into()],
        created_at: NOW - 60,
        last_used_at: NOW - 60,
        expires_at: NOW + 3600,
        revoked: false,
        device: Default::default(),
    };
    t.store.create_session(&session).await.unwrap();
    let record = RefreshTokenRecord {
        user_id: Some(alice.clone()),
        session_id: Some("sid".into()),
        ..refresh_token("rt", "f", &client)
    };
    (t, alice, record)
}

/// Runs `write` in a transaction of its own and returns once it has run, with the transaction held open until
/// something is sent on the returned channel (or 10 s pass), and the task that then commits it.
async fn hold_open<F>(t: &TestDb, write: F) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<StoreResult<()>>)
where
    F: FnOnce(&mut AnyConnection) -> StoreResult<()> + Send + 'static,
{
    let (held, is_held) = tokio::sync::oneshot::channel();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let db = t.db.clone();
    let holder = tokio::spawn(async move {
        db.run(move |c| {
            c.transaction(|c| {
                write(c)?;
                let _ = held.send(());
                let _ = wait.recv_timeout(Duration::from_secs(10));
                Ok(())
            })
        })
        .await
    });
    is_held.await.expect("the held write failed");
    (go, holder)
}

/// A code grant that comes while a logout is being written waits for it, then stores nothing.
async fn a_code_grant_waits_for_a_logout_in_flight(backend: Backend) {
    use diesel::prelude::*;
    let (t, alice, record) = alice_in_session(backend).await;
    let (go, logging_out) = hold_open(&t, |c| {
        use super::super::schema::sessions;
        diesel::update(sessions::table.find("sid")).set(sessions::revoked.eq(true)).execute(c)?;
        Ok(())
    })
    .await;
    let store = t.store.clone();
    let (user, grant) = (alice.clone(), record.clone());
    let redeeming = tokio::spawn(async move {
        store.redeem_code_grant(&user, Some("sid"), (&grant.client_id, NOW), Some(&grant), NOW).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!redeeming.is_finished(), "the grant waits for the logout in flight");
    go.send(()).unwrap();
    logging_out.await.unwrap().unwrap();
    assert_eq!(redeeming.await.unwrap().unwrap(), CodeGrantStanding::SessionEnded);
    assert!(by_id(&t, "rt").await.is_none(), "nothing is stored for the session logged out of");
}

/// A logout that comes while a code grant's refresh token is being stored waits for it, and then revokes it
/// with the session's other tokens.
async fn a_logout_waits_for_a_code_grant_in_flight(backend: Backend) {
    use crate::storage::SessionStore;
    let (t, alice, record) = alice_in_session(backend).await;
    let row = row_from_record(&record);
    let (go, redeeming) = hold_open(&t, move |c| {
        assert_eq!(
            redeem_code_grant(c, alice.as_str(), Some("sid"), (row.client_id.as_str(), NOW), Some(&row), NOW)?,
            CodeGrantStanding::Live
        );
        Ok(())
    })
    .await;
    let store = t.store.clone();
    let logout = tokio::spawn(async move {
        store.revoke_session("sid").await?;
        store.revoke_session_refresh_tokens("sid", NOW).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!logout.is_finished(), "the logout waits for the grant in flight");
    go.send(()).unwrap();
    redeeming.await.unwrap().unwrap();
    logout.await.unwrap().unwrap();
    assert!(by_id(&t, "rt").await.unwrap().revoked, "the logout revoked the token stored meanwhile");
}

async fn failed_rotation_rolls_back(backend: Backend) {
    let t = TestDb::new(backend).await;
    let client = t.add_client("app").await;
    t.store.insert_refresh_token(&refresh_token("rt1", "f", &client)).await.unwrap();
    t.store.insert_refresh_token(&refresh_token("rt2", "f", &client)).await.unwrap();
    // The successor clashes with rt2's hash after rt1 was marked used; the mark must roll back with it.
    let clash = RefreshTokenRecord { token_hash: "hash-rt2".into(), ..refresh_token("rt3", "f", &client) };
    let err = t.store.rotate_refresh_token("rt1", &clash, None, NOW, FAR).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(what) if what == "refresh token hash"), "{err:?}");
    assert_eq!(by_id(&t, "rt1").await.unwrap().used_at, None);
    assert!(t.store.rotate_refresh_token("rt1", &refresh_token("rt3", "f", &client), None, NOW, FAR).await.unwrap());
}

async fn concurrent_rotations_have_one_winner(backend: Backend) {
    // Enough connections for the rotations to really run at the same time.
    let t = TestDb::with_pool(backend, 10, Duration::from_secs(30)).await;
    let client = t.add_client("app").await;
    t.store.insert_refresh_token(&refresh_token("rt0", "f", &client)).await.unwrap();
    let mut rotations = tokio::task::JoinSet::new();
    for i in 0..20 {
        let store = t.store.clone();
        let new = refresh_token(&format!("rt-new-{i:02}"), "f", &client);
        let keep_until = NOW + 1_000 + i;
        let record = [u8::try_from(i).unwrap()];
        rotations.spawn(async move {
            (i, store.rotate_refresh_token("rt0", &new, Some(&record), NOW + i, keep_until).await)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = rotations.join_next().await {
        let (i, rotated) = joined.unwrap();
        // Every call answers: losers with Ok(false), never with an error (SQLite "database is locked").
        if rotated.unwrap_or_else(|e| panic!("rotation {i} failed: {e:?}")) {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation must win, got {winners:?}");
    let winner = winners[0];
    let rows = family(&t, "f").await;
    // The old token and the winner's successor; no loser's row.
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [format!("rt-new-{winner:02}").as_str(), "rt0"]);
    assert_eq!(rows[1].used_at, Some(NOW + winner));
    // Only the winner's retention was written.
    assert_eq!((rows[1].expires_at, rows[1].idle_expires_at), (NOW + 1_000 + winner, NOW + 1_000 + winner));
    // And only the winner's grace record: a loser's retry reads the response the winner gave.
    assert_eq!(rows[1].grace_record, Some(vec![u8::try_from(winner).unwrap()]));
}

async fn revoked_tokens_cannot_rotate(backend: Backend) {
    let t = TestDb::new(backend).await;
    let client = t.add_client("app").await;
    t.store
        .insert_refresh_token(&RefreshTokenRecord { revoked: true, ..refresh_token("r1", "f1", &client) })
        .await
        .unwrap();
    assert!(!t.store.rotate_refresh_token("r1", &refresh_token("r2", "f1", &client), None, NOW, FAR).await.unwrap());
    assert_eq!(by_id(&t, "r1").await.unwrap().used_at, None);
    assert!(by_id(&t, "r2").await.is_none());

    // Revoked through its family.
    t.store.insert_refresh_token(&refresh_token("s1", "f2", &client)).await.unwrap();
    t.store.revoke_family("f2", NOW).await.unwrap();
    assert!(!t.store.rotate_refresh_token("s1", &refresh_token("s2", "f2", &client), None, NOW, FAR).await.unwrap());
    assert_eq!(family(&t, "f2").await.len(), 1);
}

async fn a_rotated_token_is_kept_for_the_retention_only(backend: Backend) {
    let t = TestDb::new(backend).await;
    let client = t.add_client("app").await;
    let first = refresh_token("rt1", "f", &client);
    let bystander = refresh_token("other", "g", &client);
    for token in [&first, &bystander] {
        t.store.insert_refresh_token(token).await.unwrap();
    }
    let second = refresh_token("rt2", "f", &client);
    assert!(t.store.rotate_refresh_token("rt1", &second, None, NOW, NOW + 100).await.unwrap());
    let rotated = RefreshTokenRecord { used_at: Some(NOW), expires_at: NOW + 100, idle_expires_at: NOW + 100, ..first };
    assert_eq!(by_id(&t, "rt1").await, Some(rotated.clone()));
    assert_eq!(by_id(&t, "rt2").await, Some(second.clone()), "the successor keeps the family's expiry");
    assert_eq!(by_id(&t, "other").await, Some(bystander.clone()));

    // A later use loses and writes nothing, a shorter retention neither.
    assert!(!t
        .store
        .rotate_refresh_token("rt1", &refresh_token("rt3", "f", &client), None, NOW + 5, NOW + 50)
        .await
        .unwrap());
    assert_eq!(by_id(&t, "rt1").await, Some(rotated));

    // A retention past the idle end leaves that alone, and one past the family's expiry leaves both.
    let keep_until = second.idle_expires_at + 1;
    assert!(t
        .store
        .rotate_refresh_token("rt2", &refresh_token("rt3", "f", &client), None, NOW, keep_until)
        .await
        .unwrap());
    let rt2 = by_id(&t, "rt2").await.unwrap();
    assert_eq!((rt2.expires_at, rt2.idle_expires_at), (keep_until, second.idle_expires_at));
    assert!(t.store.rotate_refresh_token("rt3", &refresh_token("rt4", "f", &client), None, NOW, FAR).await.unwrap());
    let rt3 = by_id(&t, "rt3").await.unwrap();
    assert_eq!((rt3.expires_at, rt3.idle_expires_at), (second.expires_at, second.idle_expires_at));

    // The purge deletes the rotated token once its retention is over, not its successors.
    assert_eq!(t.store.purge_expired_refresh_tokens(NOW + 100).await.unwrap(), 0);
    assert_eq!(t.store.purge_expired_refresh_tokens(NOW + 101).await.unwrap(), 1);
    let ids = |rows: Vec<RefreshTokenRecord>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(family(&t, "f").await), ["rt2", "rt3", "rt4"]);
    assert_eq!(t.store.purge_expired_refresh_tokens(keep_until + 1).await.unwrap(), 1);
    assert_eq!(ids(family(&t, "f").await), ["rt3", "rt4"]);
    assert_eq!(by_id(&t, "other").await, Some(bystander));
}

async fn purge_removes_expired_families(backend: Backend) {
    let t = TestDb::new(backend).await;
    let client = t.add_client("app").await;
    for (id, expires_at) in [("a", 10), ("b", 20), ("c", 30), ("d", 19)] {
        let token = RefreshTokenRecord { expires_at, ..refresh_token(id, "f", &client) };
        t.store.insert_refresh_token(&token).await.unwrap();
    }
    // A token expiring exactly now is kept: only expires_at < now goes.
    assert_eq!(t.store.purge_expired_refresh_tokens(20).await.unwrap(), 2);
    let ids = |rows: Vec<RefreshTokenRecord>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(family(&t, "f").await), ["b", "c"]);
    assert_eq!(t.store.purge_expired_refresh_tokens(20).await.unwrap(), 0);
    assert_eq!(t.store.purge_expired_refresh_tokens(1_000).await.unwrap(), 2);
    assert!(family(&t, "f").await.is_empty());
}

async fn corrupt_rows_are_errors_not_panics(backend: Backend) {
    let t = TestDb::new(backend).await;
    let client = t.add_client("app").await;
    t.store.insert_refresh_token(&refresh_token("bad", "f", &client)).await.unwrap();
    // A users row whose id is no valid UserId, so that the foreign key lets refresh_tokens point at it.
    // client_id cannot go bad that way: ClientId and the clients table are filled by the same code.
    t.db.run(|c| {
        diesel::sql_query(
            "INSERT INTO users (id, username, password_hash, email_verified, disabled, created_at, updated_at) \
             VALUES ('not a user id', 'u1', 'h', FALSE, FALSE, 0, 0)",
        )
        .execute(c)?;
        Ok(())
    })
    .await
    .unwrap();
    for (column, value) in [("user_id", "not a user id"), ("scope", "caf\u{e9}")] {
        let sql = format!("UPDATE refresh_tokens SET {column} = '{value}' WHERE id = 'bad'");
        t.db.run(move |c| Ok(diesel::sql_query(sql).execute(c)?)).await.unwrap();
        let err = t.store.refresh_token_by_hash("hash-bad").await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Backend(msg) if msg.contains("\"bad\"") && msg.contains(column)),
            "{column}: {err:?}"
        );
        t.db.run(|c| Ok(diesel::sql_query("UPDATE refresh_tokens SET user_id = NULL, scope = ''").execute(c)?))
            .await
            .unwrap();
    }
}

async fn access_link_migration_reverts(backend: Backend) {
    let t = TestDb::new(backend).await;
    let client = t.add_client("app").await;
    let token = with_access(refresh_token("rt", "f", &client), NOW);
    t.store.insert_refresh_token(&token).await.unwrap();
    // The later migrations go first (the revoked-family index is Postgres's alone: see `RotatePg`).
    let later = t.revert_down_to("20261205100000").await;
    if backend == Backend::Postgres {
        assert_eq!(t.revert_last_migration().await, "20261205000000");
    }
    assert_eq!(t.revert_last_migration().await, "20261204000000");
    assert_eq!(t.revert_last_migration().await, "20250602000000");
    // The columns are gone, the row is not.
    let err = t.db.run(|c| Ok(diesel::sql_query("SELECT access_jti FROM refresh_tokens").execute(c)?)).await;
    assert!(matches!(err, Err(StoreError::Backend(_))), "{err:?}");
    let mut reapplied = vec!["20250602000000", "20261204000000"];
    if backend == Backend::Postgres {
        reapplied.push("20261205000000");
    }
    reapplied.extend(later);
    assert_eq!(t.db.migrate().await.unwrap(), reapplied);
    let back = by_id(&t, "rt").await.unwrap();
    assert_eq!(back, RefreshTokenRecord { access_jti: None, access_expires_at: None, ..token });
}

/// Rows stored before the grant's `amr` and ID-token claims were kept read as having none.
async fn rows_stored_before_the_id_token_columns_read_without_them(backend: Backend) {
    let t = TestDb::new(backend).await;
    let client = t.add_client("app").await;
    let token = RefreshTokenRecord {
        amr: vec!["pwd".into()],
        id_token_claims: ClaimNames::parse("email").unwrap(),
        ..refresh_token("rt", "f", &client)
    };
    t.store.insert_refresh_token(&token).await.unwrap();
    let reverted = t.revert_down_to("20261207200000").await;
    assert_eq!(t.db.migrate().await.unwrap(), reverted);
    let back = by_id(&t, "rt").await.unwrap();
    assert_eq!(back, RefreshTokenRecord { amr: Vec::new(), id_token_claims: ClaimNames::default(), ..token });
}

both_backends!(
    round_trips_every_field,
    duplicates_and_unknown_clients_are_refused,
    rotation_happens_once,
    lookup_brings_the_user_along,
    a_code_grant_stands_while_its_user_and_session_do,
    a_code_grant_stands_while_its_client_does,
    a_code_grant_stands_until_the_user_withdraws_the_app,
    a_grant_without_a_session_stands_until_the_users_cut_off,
    a_logout_waits_for_a_code_grant_in_flight,
    a_code_grant_waits_for_a_logout_in_flight,
    failed_rotation_rolls_back,
    concurrent_rotations_have_one_winner,
    a_rotated_token_is_kept_for_the_retention_only,
    revoked_tokens_cannot_rotate,
    purge_removes_expired_families,
    corrupt_rows_are_errors_not_panics,
    access_link_migration_reverts,
    rows_stored_before_the_id_token_columns_read_without_them,
);
