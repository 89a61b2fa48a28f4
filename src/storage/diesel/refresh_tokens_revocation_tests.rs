//! Tests of revoking refresh tokens (a family, a session, a user, a client), alone and against rotations in
//! flight, on both backends.
use super::*;

async fn revoke_family_returns_live_access_tokens(backend: Backend) {
    let t = TestDb::new(backend).await;
    let client = t.add_client("app").await;
    let tokens = [
        // Used (rotated) but its access token still lives: returned.
        RefreshTokenRecord { used_at: Some(NOW - 10), ..with_access(refresh_token("a", "f", &client), NOW + 100) },
        // Access token expired already, or expiring right now: not returned.
        with_access(refresh_token("b", "f", &client), NOW - 1),
        with_access(refresh_token("c", "f", &client), NOW),
        // Revoked before: its access token was returned then.
        RefreshTokenRecord { revoked: true, ..with_access(refresh_token("d", "f", &client), NOW + 100) },
        // No access token linked.
        refresh_token("e", "f", &client),
        with_access(refresh_token("g", "f", &client), NOW + 300),
        // Another family.
        with_access(refresh_token("x", "other", &client), NOW + 100),
    ];
    for token in &tokens {
        t.store.insert_refresh_token(token).await.unwrap();
    }
    let revoked = t.store.revoke_family("f", NOW).await.unwrap();
    assert_eq!(sorted(revoked), issued(&[("at-a", NOW + 100), ("at-g", NOW + 300)]));
    let rows = family(&t, "f").await;
    assert_eq!(rows.len(), 6);
    for row in &rows {
        assert!(row.revoked, "{}", row.id);
    }
    // Nothing but `revoked` moved.
    for (row, token) in rows.iter().zip(&tokens[..6]) {
        assert_eq!(row, &RefreshTokenRecord { revoked: true, ..token.clone() });
    }
    assert_eq!(family(&t, "other").await, vec![tokens[6].clone()]);

    // Nothing left to revoke; unknown families are not an error.
    assert!(t.store.revoke_family("f", NOW).await.unwrap().is_empty());
    assert!(t.store.revoke_family("nope", NOW).await.unwrap().is_empty());
    // A revoked family is still known; an unknown one is not.
    assert!(t.store.refresh_family_exists("f").await.unwrap());
    assert!(t.store.refresh_family_exists("other").await.unwrap());
    assert!(!t.store.refresh_family_exists("nope").await.unwrap());
}

async fn a_family_is_revoked_as_live_only_while_a_token_of_it_can_be_used(backend: Backend) {
    let t = TestDb::new(backend).await;
    let client = t.add_client("app").await;
    let alice = t.add_user("alice").await;
    let rotated = |id: &str, family_id: &str| RefreshTokenRecord {
        used_at: Some(NOW - 10),
        ..with_access(refresh_token(id, family_id, &client), NOW + 100)
    };
    let tokens = [
        // A live family: a rotated token and its successor.
        RefreshTokenRecord { user_id: Some(alice.clone()), ..rotated("a1", "live") },
        RefreshTokenRecord {
            user_id: Some(alice.clone()),
            ..with_access(refresh_token("a2", "live", &client), NOW + 200)
        },
        // Ended families: past its idle end, past its end, revoked, and nothing but used tokens.
        rotated("b1", "idle"),
        RefreshTokenRecord { idle_expires_at: NOW, ..refresh_token("b2", "idle", &client) },
        RefreshTokenRecord { expires_at: NOW, idle_expires_at: NOW, ..refresh_token("c", "ended", &client) },
        RefreshTokenRecord { revoked: true, ..refresh_token("d", "revoked", &client) },
        rotated("e", "used"),
    ];
    for token in &tokens {
        t.store.insert_refresh_token(token).await.unwrap();
    }
    for ended in ["idle", "ended", "revoked", "used", "unknown"] {
        let before = family(&t, ended).await;
        assert_eq!(t.store.revoke_live_family(ended, None, NOW).await.unwrap(), None, "{ended}");
        assert_eq!(family(&t, ended).await, before, "{ended}: nothing is written");
    }
    // A family bound to a DPoP key is ended only by a request that proves it.
    let key = crate::domain::Jkt::parse(&"k".repeat(43)).unwrap();
    let other = crate::domain::Jkt::parse(&"o".repeat(43)).unwrap();
    let bound = RefreshTokenRecord { dpop_jkt: Some(key.clone()), ..refresh_token("f", "bound", &client) };
    t.store.insert_refresh_token(&bound).await.unwrap();
    for proof in [None, Some(&other)] {
        assert_eq!(t.store.revoke_live_family("bound", proof, NOW).await.unwrap(), None, "{proof:?}");
    }
    assert!(!by_id(&t, "f").await.unwrap().revoked);
    assert!(t.store.revoke_live_family("bound", Some(&key), NOW).await.unwrap().is_some());
    let revoked = t.store.revoke_live_family("live", None, NOW).await.unwrap().expect("live");
    assert_eq!((&revoked.client_id, revoked.user_id.as_ref()), (&client, Some(&alice)));
    assert_eq!(sorted(revoked.issued), issued(&[("at-a1", NOW + 100), ("at-a2", NOW + 200)]));
    assert!(family(&t, "live").await.iter().all(|r| r.revoked));
    assert_eq!(t.store.revoke_live_family("live", None, NOW).await.unwrap(), None, "revoked now");
}

async fn session_revocation_spares_offline_tokens(backend: Backend) {
    let t = TestDb::new(backend).await;
    let client = t.add_client("app").await;
    let bound = |id: &str, family_id: &str, sid: &str, offline: bool| RefreshTokenRecord {
        session_id: Some(sid.into()),
        offline,
        ..with_access(refresh_token(id, family_id, &client), NOW + 60)
    };
    for token in [
        bound("a1", "fa", "s1", false),
        bound("a2", "fa", "s1", false),
        bound("b1", "fb", "s1", true),
        bound("c1", "fc", "s2", false),
        with_access(refresh_token("d1", "fd", &client), NOW + 60),
    ] {
        t.store.insert_refresh_token(&token).await.unwrap();
    }
    let revoked = t.store.revoke_session_refresh_tokens("s1", NOW).await.unwrap();
    assert_eq!(sorted(revoked), issued(&[("at-a1", NOW + 60), ("at-a2", NOW + 60)]));
    assert!(by_id(&t, "a1").await.unwrap().revoked && by_id(&t, "a2").await.unwrap().revoked);
    // The offline token, another session's and an unbound one are left alone.
    for id in ["b1", "c1", "d1"] {
        assert!(!by_id(&t, id).await.unwrap().revoked, "{id}");
    }
    assert!(t.store.revoke_session_refresh_tokens("s1", NOW).await.unwrap().is_empty());
}

/// A hand-over leaves a session's tokens bound to it (their access tokens name it as their `sid`) and revokes it;
/// a logout of the new session ends them, with those bound to it after the hand-over (a successor of a rotation,
/// a code redeemed), and the tokens of a session are live while the session they went to is.
async fn a_hand_over_keeps_the_session_tokens_until_the_new_session_ends(backend: Backend) {
    use crate::storage::SessionStore;
    let (t, _alice, record) = alice_in_session(backend).await;
    let current = t.store.session("sid").await.unwrap().unwrap();
    t.store.create_session(&crate::domain::Session { id_hash: "next".into(), ..current.clone() }).await.unwrap();
    let revoked = RefreshTokenRecord {
        revoked: true,
        session_id: Some("sid".into()),
        ..refresh_token("gone", "g", &record.client_id)
    };
    for token in [&record, &revoked] {
        t.store.insert_refresh_token(token).await.unwrap();
    }

    t.store.hand_over_session("sid", "next").await.unwrap();
    assert!(t.store.session("sid").await.unwrap().unwrap().revoked, "its cookie signs nobody in");
    assert!(!t.store.session("next").await.unwrap().unwrap().revoked);
    assert_eq!(by_id(&t, "rt").await.unwrap().session_id.as_deref(), Some("sid"));
    let live = |id: &'static str| t.db.run(move |c| crate::storage::diesel::sessions::session_is_live(c, id, NOW));
    assert!(live("sid").await.unwrap(), "as live as the new session");

    let successor = RefreshTokenRecord {
        id: "rt2".into(),
        token_hash: "hash-rt2".into(),
        parent_id: Some("rt".into()),
        ..record.clone()
    };
    assert!(t.store.rotate_refresh_token("rt", &successor, None, NOW, FAR).await.unwrap());
    assert_eq!(by_id(&t, "rt2").await.unwrap().session_id.as_deref(), Some("sid"));
    let late = RefreshTokenRecord { session_id: Some("sid".into()), ..refresh_token("late", "l", &record.client_id) };
    t.store.insert_refresh_token(&late).await.unwrap();
    let ended = t.store.revoke_session_refresh_tokens("next", NOW).await.unwrap();
    assert!(ended.is_empty(), "no access tokens recorded, {ended:?}");
    assert!(by_id(&t, "late").await.unwrap().revoked, "a logout of the new session ends what was bound later");
    t.store.revoke_session("next").await.unwrap();
    assert!(!live("sid").await.unwrap(), "ended with the new session");
    assert!(by_id(&t, "rt2").await.unwrap().revoked, "a logout of the new session ends the successor");
}

async fn user_and_client_revocations_stay_in_scope(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (c1, c2) = (t.add_client("c1").await, t.add_client("c2").await);
    let (alice, bob) = (t.add_user("alice").await, t.add_user("bob").await);
    let of = |id: &str, client: &ClientId, user: Option<&UserId>| RefreshTokenRecord {
        user_id: user.cloned(),
        offline: true,
        ..with_access(refresh_token(id, id, client), NOW + 60)
    };
    // Access tokens issued up to NOW are ended by the cut-off the caller sets: only later ones are returned.
    let later = |t: RefreshTokenRecord| RefreshTokenRecord { created_at: NOW + 1, ..t };
    for token in [
        later(of("alice-c1", &c1, Some(&alice))),
        later(of("alice-c2", &c2, Some(&alice))),
        later(of("bob-c1", &c1, Some(&bob))),
        of("bob-c2", &c2, Some(&bob)),
        later(of("nobody-c1", &c1, None)),
    ] {
        t.store.insert_refresh_token(&token).await.unwrap();
    }
    let state = || async {
        let mut revoked = Vec::new();
        for id in ["alice-c1", "alice-c2", "bob-c1", "bob-c2", "nobody-c1"] {
            revoked.push(by_id(&t, id).await.unwrap().revoked);
        }
        revoked
    };

    // Offline tokens included: signing out everywhere ends them too.
    let revoked = t.store.revoke_user_refresh_tokens(&alice, NOW).await.unwrap();
    assert_eq!(sorted(revoked), issued(&[("at-alice-c1", NOW + 60), ("at-alice-c2", NOW + 60)]));
    assert_eq!(state().await, [true, true, false, false, false]);
    assert!(t.store.revoke_user_refresh_tokens(&UserId::generate(), NOW).await.unwrap().is_empty());

    // alice-c2 is revoked already and not returned again.
    let revoked = t.store.revoke_client_refresh_tokens(&c2, NOW).await.unwrap();
    assert!(revoked.is_empty(), "bob-c2's access token was issued before NOW: {revoked:?}");
    assert_eq!(state().await, [true, true, false, true, false]);

    let revoked = t.store.revoke_client_refresh_tokens(&c1, NOW).await.unwrap();
    assert_eq!(sorted(revoked), issued(&[("at-bob-c1", NOW + 60), ("at-nobody-c1", NOW + 60)]));
    assert_eq!(state().await, [true; 5]);
    assert!(t.store.revoke_user_refresh_tokens(&bob, NOW).await.unwrap().is_empty());
}

async fn live_tokens_of_a_user_are_the_usable_ones(backend: Backend) {
    let t = TestDb::new(backend).await;
    let (c1, c2) = (t.add_client("c1").await, t.add_client("c2").await);
    let (alice, bob) = (t.add_user("alice").await, t.add_user("bob").await);
    let of = |id: &str, client: &ClientId, user: &UserId| RefreshTokenRecord {
        user_id: Some(user.clone()),
        ..refresh_token(id, id, client)
    };
    for token in [
        of("live-c2", &c2, &alice),
        of("live-c1", &c1, &alice),
        RefreshTokenRecord { used_at: Some(NOW - 1), ..of("used", &c1, &alice) },
        RefreshTokenRecord { revoked: true, ..of("revoked", &c1, &alice) },
        RefreshTokenRecord { idle_expires_at: NOW, ..of("idle", &c1, &alice) },
        RefreshTokenRecord { expires_at: NOW, ..of("ended", &c1, &alice) },
        of("bobs", &c1, &bob),
    ] {
        t.store.insert_refresh_token(&token).await.unwrap();
    }
    let live = t.store.live_refresh_tokens_of_user(&alice, NOW).await.unwrap();
    assert_eq!(live.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["live-c1", "live-c2"]);
    assert!(t.store.live_refresh_tokens_of_user(&UserId::generate(), NOW).await.unwrap().is_empty());
}

async fn concurrent_rotations_and_revocations_lose_no_access_token(backend: Backend) {
    let t = TestDb::with_pool(backend, 10, Duration::from_secs(30)).await;
    let client = t.add_client("app").await;
    const FAMILIES: i64 = 10;
    for f in 0..FAMILIES {
        t.store
            .insert_refresh_token(&with_access(refresh_token(&format!("f{f}-0"), &format!("f{f}"), &client), NOW + 60))
            .await
            .unwrap();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for f in 0..FAMILIES {
        let (store, next) =
            (t.store.clone(), with_access(refresh_token(&format!("f{f}-1"), &format!("f{f}"), &client), NOW + 120));
        tasks.spawn(async move {
            (f, None, Some(store.rotate_refresh_token(&format!("f{f}-0"), &next, None, NOW, FAR).await))
        });
        let store = t.store.clone();
        tasks.spawn(async move {
            let family_id = format!("f{f}");
            // A family being rotated is live all along: revoking it as such finds it so.
            let revoked = match f % 2 {
                0 => store.revoke_family(&family_id, NOW).await,
                _ => store.revoke_live_family(&family_id, None, NOW).await.map(|r| r.expect("found live").issued),
            };
            (f, Some(revoked), None)
        });
    }
    let mut returned = vec![BTreeSet::new(); FAMILIES as usize];
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            (f, Some(revoked), None) => {
                let revoked = revoked.unwrap_or_else(|e| panic!("revocation of f{f} failed: {e:?}"));
                returned[f as usize].extend(revoked.into_iter().map(|(jti, _)| jti));
            }
            (f, None, Some(rotated)) => {
                rotated.unwrap_or_else(|e| panic!("rotation in f{f} failed: {e:?}"));
            }
            other => unreachable!("{other:?}"),
        }
    }
    for f in 0..FAMILIES {
        // Whichever ran first, every token of the family ends revoked and every access token issued in it,
        // the rotated one's included, was handed back for denial.
        let rows = family(&t, &format!("f{f}")).await;
        assert!(rows.iter().all(|r| r.revoked), "f{f}: {rows:?}");
        let linked: BTreeSet<String> = rows.iter().filter_map(|r| r.access_jti.clone()).collect();
        assert_eq!(returned[f as usize], linked, "f{f}");
    }
}

/// A family rotated in a loop, as fast as the store allows, while it is revoked: the loop stops, and every token
/// of the family ends revoked with its access token handed back. On Postgres a chain could outrun a single
/// pass of the revocation and rotate on for ever.
async fn a_revocation_stops_a_family_rotating_in_a_loop(backend: Backend) {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    const LOOP_LIMIT: usize = 2000;
    let t = TestDb::with_pool(backend, 10, Duration::from_secs(30)).await;
    let client = t.add_client("app").await;
    for trial in 0..5 {
        let family_id = format!("loop{trial}");
        let token = |i: usize| with_access(refresh_token(&format!("{family_id}-{i}"), &family_id, &client), NOW + 60);
        t.store.insert_refresh_token(&token(0)).await.unwrap();
        let rotations = Arc::new(AtomicUsize::new(0));
        let chain = {
            let (store, rotations) = (t.store.clone(), Arc::clone(&rotations));
            let tokens: Vec<RefreshTokenRecord> = (1..=LOOP_LIMIT).map(token).collect();
            tokio::spawn(async move {
                for next in tokens {
                    let parent =
                        next.id.rsplit_once('-').map(|(f, i)| format!("{f}-{}", i.parse::<usize>().unwrap() - 1));
                    if !store.rotate_refresh_token(&parent.unwrap(), &next, None, NOW, FAR).await.unwrap() {
                        return false;
                    }
                    rotations.fetch_add(1, SeqCst);
                }
                true
            })
        };
        while rotations.load(SeqCst) < 10 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let revoked = match trial % 2 {
            0 => t.store.revoke_family(&family_id, NOW).await.unwrap(),
            _ => t.store.revoke_live_family(&family_id, None, NOW).await.unwrap().expect("found live").issued,
        };
        let returned: BTreeSet<String> = revoked.into_iter().map(|(jti, _)| jti).collect();
        assert!(!chain.await.unwrap(), "trial {trial}: the family rotated {LOOP_LIMIT} times, past its revocation");
        let rows = family(&t, &family_id).await;
        let live: Vec<&str> = rows.iter().filter(|r| !r.revoked).map(|r| r.id.as_str()).collect();
        assert!(live.is_empty(), "trial {trial}: live after the revocation: {live:?}");
        let linked: BTreeSet<String> = rows.iter().filter_map(|r| r.access_jti.clone()).collect();
        assert_eq!(returned, linked, "trial {trial}");
    }
}

both_backends!(
    revoke_family_returns_live_access_tokens,
    a_family_is_revoked_as_live_only_while_a_token_of_it_can_be_used,
    session_revocation_spares_offline_tokens,
    a_hand_over_keeps_the_session_tokens_until_the_new_session_ends,
    user_and_client_revocations_stay_in_scope,
    live_tokens_of_a_user_are_the_usable_ones,
    concurrent_rotations_and_revocations_lose_no_access_token,
    a_revocation_stops_a_family_rotating_in_a_loop,
);
