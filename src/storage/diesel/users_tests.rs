//! Tests of the `users` table on both backends.
use super::super::test_support::{both_backends, TestDb};
use super::super::Backend;
use crate::domain::{NewUser, UserId, Username};
use crate::storage::{StoreError, UserFilter, UserStore, UserUpdate};
use diesel::prelude::*;

pub(super) fn new_user(name: &str) -> NewUser {
    NewUser {
        id: UserId::generate(),
        username: Username::parse(name).unwrap(),
        password_hash: format!("$argon2id$fake${name}"),
        email: Some(format!("{name}@example.com")),
        email_verified: false,
        name: Some(format!("Name of {name}")),
        password_change_required: false,
        created_at: 1_700_000_000,
    }
}

async fn create_and_get(backend: Backend) {
    let t = TestDb::new(backend).await;
    let nu = new_user("alice");
    let created = t.store.create_user(nu.clone()).await.unwrap();
    assert_eq!(created.id, nu.id);
    assert_eq!(created.username, nu.username);
    assert_eq!(created.email.as_deref(), Some("alice@example.com"));
    assert_eq!(created.name.as_deref(), Some("Name of alice"));
    assert!(!created.email_verified && !created.disabled);
    assert_eq!((created.created_at, created.updated_at, created.revoked_before), (1_700_000_000, 1_700_000_000, None));

    let by_id = t.store.user_by_id(&nu.id).await.unwrap().unwrap();
    assert_eq!(by_id, created);
    let (by_name, hash) = t.store.user_by_username(&nu.username).await.unwrap().unwrap();
    assert_eq!(by_name, created);
    assert_eq!(hash, nu.password_hash);

    // Optional fields stay empty.
    let mut bare = new_user("bob");
    bare.email = None;
    bare.name = None;
    t.store.create_user(bare.clone()).await.unwrap();
    let bob = t.store.user_by_id(&bare.id).await.unwrap().unwrap();
    assert_eq!((bob.email, bob.name), (None, None));
}

async fn missing_users(backend: Backend) {
    let t = TestDb::new(backend).await;
    assert!(t.store.user_by_id(&UserId::generate()).await.unwrap().is_none());
    let nobody = Username::parse("nobody").unwrap();
    assert!(t.store.user_by_username(&nobody).await.unwrap().is_none());
    let err = t.store.set_user_disabled(&nobody, true, 1).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let err = t.store.set_password_hash(&nobody, "h".into(), false, 1).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn duplicates_conflict(backend: Backend) {
    let t = TestDb::new(backend).await;
    let first = new_user("carol");
    t.store.create_user(first.clone()).await.unwrap();

    let same_name = new_user("carol");
    let err = t.store.create_user(same_name).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(what) if what == "username"), "{err:?}");

    let mut same_id = new_user("carol2");
    same_id.id = first.id.clone();
    let err = t.store.create_user(same_id).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(what) if what == "user id"), "{err:?}");
    assert!(t.store.user_by_username(&Username::parse("carol2").unwrap()).await.unwrap().is_none());
}

// Regression: a username was matched exactly, so "Alice" could not sign in typing "alice", and "alice" could be
// created beside her and imitate her on the consent and account pages.
async fn usernames_match_in_any_letter_case(backend: Backend) {
    let t = TestDb::new(backend).await;
    let alice = new_user("Alice");
    t.store.create_user(alice.clone()).await.unwrap();
    for typed in ["Alice", "alice", "ALICE", "aLiCe"] {
        let (found, hash) = t.store.user_by_username(&Username::parse(typed).unwrap()).await.unwrap().unwrap();
        assert_eq!((found.id, found.username.as_str(), hash), (alice.id.clone(), "Alice", alice.password_hash.clone()));
    }
    assert!(t.store.user_by_username(&Username::parse("alicia").unwrap()).await.unwrap().is_none());
    let typed = Username::parse("ALICE").unwrap();
    assert!(t.store.set_user_disabled(&typed, true, 1_700_000_100).await.unwrap().disabled);
    let changed = t.store.set_password_hash(&typed, "$argon2id$new".into(), false, 1_700_000_200).await.unwrap();
    assert_eq!((changed.id, changed.username.as_str()), (alice.id.clone(), "Alice"));

    // Another account that folds alike is refused, by the unique key whatever the case.
    for taken in ["alice", "ALICE", "Alice"] {
        let err = t.store.create_user(new_user(taken)).await.unwrap_err();
        assert!(matches!(&err, StoreError::Conflict(what) if what == "username"), "{taken}: {err:?}");
    }
    // Two creations at once: one account.
    let (bob, shouty) = tokio::join!(t.store.create_user(new_user("Bob")), t.store.create_user(new_user("bob")));
    assert!(bob.is_ok() != shouty.is_ok(), "{bob:?} {shouty:?}");
    assert_eq!(t.store.list_users(&UserFilter::default(), None, 10).await.unwrap().len(), 2);
}

/// Inserts a user as a release before keys did: no `username_key`.
pub(super) async fn insert_unkeyed(t: &TestDb, name: &str) -> UserId {
    let id = UserId::generate();
    let row = (
        super::users::id.eq(id.as_str().to_owned()),
        super::users::username.eq(name.to_owned()),
        super::users::password_hash.eq(format!("$argon2id$fake${name}")),
        super::users::email_verified.eq(false),
        super::users::disabled.eq(false),
        super::users::created_at.eq(1_700_000_000_i64),
        super::users::updated_at.eq(1_700_000_000_i64),
    );
    t.db.write(move |c| Ok(diesel::insert_into(super::users::table).values(row).execute(c)?)).await.unwrap();
    id
}

/// Inserts a user keyed `key`, as an earlier release keyed it.
async fn insert_keyed(t: &TestDb, name: &str, key: &str) -> UserId {
    let id = insert_unkeyed(t, name).await;
    let (row, key) = (id.as_str().to_owned(), key.to_owned());
    let set = super::users::username_key.eq(key);
    t.db.write(move |c| Ok(diesel::update(super::users::table.find(row)).set(set).execute(c)?)).await.unwrap();
    id
}

async fn key_of(t: &TestDb, id: &UserId) -> Option<String> {
    let id = id.as_str().to_owned();
    t.db.run(move |c| Ok(super::users::table.find(id).select(super::users::username_key).first(c)?)).await.unwrap()
}

async fn fill(t: &TestDb) -> usize {
    t.db.write(super::fill_username_keys).await.unwrap()
}

// The upgrade keys stored usernames where the fold is one account's alone; accounts that differ only in case
// keep no key and are found by their exact name only. Without the fill, no stored user would match in another
// case.
async fn the_upgrade_keys_usernames_that_no_other_folds_to(backend: Backend) {
    let t = TestDb::new(backend).await;
    let reverted = t.revert_down_to("20261205500000").await;
    let names = ["Alice", "alice", "ALICE", "Bob", "carol", "Dave"];
    let mut ids = Vec::new();
    for name in names {
        ids.push(insert_unkeyed(&t, name).await);
    }
    assert_eq!(t.db.migrate().await.unwrap(), reverted);
    let keys: Vec<_> = futures_util::future::join_all(ids.iter().map(|id| key_of(&t, id))).await;
    assert_eq!(keys, [None, None, None, Some("bob".into()), Some("carol".into()), Some("dave".into())]);

    for (name, id) in names.iter().zip(&ids) {
        let (found, _) = t.store.user_by_username(&Username::parse(name).unwrap()).await.unwrap().unwrap();
        assert_eq!((&found.id, found.username.as_str()), (id, *name), "the exact name finds its own account");
    }
    for (typed, id) in [("BOB", &ids[3]), ("Carol", &ids[4]), ("dAVE", &ids[5])] {
        let (found, _) = t.store.user_by_username(&Username::parse(typed).unwrap()).await.unwrap().unwrap();
        assert_eq!(&found.id, id, "{typed}");
    }
    assert!(t.store.user_by_username(&Username::parse("aLICE").unwrap()).await.unwrap().is_none());
    // Nor can a new account take the fold the colliding ones share.
    let err = t.store.create_user(new_user("aLICE")).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(what) if what == "username"), "{err:?}");

    // A row left without a key (an instance of the earlier release during a rolling update) whose fold another
    // user holds keeps none; one whose fold is free gets it. Then nothing is left to do.
    let frank = t.add_user("frank").await;
    let shouty_frank = insert_unkeyed(&t, "FRANK").await;
    let erin = insert_unkeyed(&t, "Erin").await;
    assert_eq!(fill(&t).await, 1);
    assert_eq!(
        (key_of(&t, &frank).await, key_of(&t, &shouty_frank).await, key_of(&t, &erin).await),
        (Some("frank".into()), None, Some("erin".into()))
    );
    assert_eq!(fill(&t).await, 0);
    assert!(t.db.migrate().await.unwrap().is_empty());
    let (found, _) = t.store.user_by_username(&Username::parse("FRANK").unwrap()).await.unwrap().unwrap();
    assert_eq!(found.id, shouty_frank);
    let (found, _) = t.store.user_by_username(&Username::parse("Frank").unwrap()).await.unwrap().unwrap();
    assert_eq!(found.id, frank);

    // Once the others that fold alike are deleted, the one left gets its key at the next start.
    for other in [&ids[1], &ids[2]] {
        t.store.delete_user(other).await.unwrap();
    }
    assert!(t.db.migrate().await.unwrap().is_empty());
    assert_eq!(key_of(&t, &ids[0]).await, Some("alice".into()));
    let (found, _) = t.store.user_by_username(&Username::parse("aLICE").unwrap()).await.unwrap().unwrap();
    assert_eq!(found.username.as_str(), "Alice");
}

// Regression: "José" with a composed "é" and with "e" and a combining accent were two names, so a user created
// in one form was not found typing the other, and the other could be created beside them.
async fn usernames_match_in_either_unicode_form(backend: Backend) {
    let t = TestDb::new(backend).await;
    let renee = new_user("Ren\u{e9}e");
    t.store.create_user(renee.clone()).await.unwrap();
    for typed in ["Ren\u{e9}e", "Rene\u{301}e", "RENE\u{301}E", "ren\u{e9}e"] {
        let (found, _) = t.store.user_by_username(&Username::parse(typed).unwrap()).await.unwrap().unwrap();
        assert_eq!(found.id, renee.id, "{typed:?}");
    }
    for taken in ["Rene\u{301}e", "rene\u{301}e", "REN\u{c9}E"] {
        let err = t.store.create_user(new_user(taken)).await.unwrap_err();
        assert!(matches!(&err, StoreError::Conflict(what) if what == "username"), "{taken:?}: {err:?}");
    }
}

// The upgrade to the NFC fold: keys of names that are not pure ASCII, made by the earlier fold, are made again
// with the new one. Names that fold alike only in NFC ("José" composed and decomposed) keep no key, as names
// that differ only in case do; ASCII names keep theirs untouched. Without the migration the decomposed names
// would keep keys the new fold never computes, and be found by their exact name only.
async fn the_nfc_upgrade_keys_again_the_names_that_are_not_ascii(backend: Backend) {
    let t = TestDb::new(backend).await;
    let reverted = t.revert_down_to("20261205700000").await;
    // As the earlier fold keyed them.
    let composed = insert_keyed(&t, "Jos\u{e9}", "jos\u{e9}").await;
    let decomposed = insert_keyed(&t, "Jose\u{301}", "jose\u{301}").await;
    let angstrom = insert_keyed(&t, "A\u{30a}ngstro\u{308}m", "a\u{30a}ngstro\u{308}m").await;
    let greek = insert_keyed(&t, "\u{39f}\u{3b4}\u{3c5}\u{3c3}\u{3c3}\u{3b5}\u{3cd}\u{3c2}", "odysseus").await;
    // A key no fold makes, to see that the migration leaves ASCII names alone.
    let ascii = insert_keyed(&t, "Eve", "eve (as stored)").await;

    assert_eq!(t.db.migrate().await.unwrap(), reverted);
    assert_eq!(key_of(&t, &composed).await, None);
    assert_eq!(key_of(&t, &decomposed).await, None);
    assert_eq!(key_of(&t, &angstrom).await, Some("\u{e5}ngstr\u{f6}m".into()));
    assert_eq!(key_of(&t, &greek).await, Some("\u{3bf}\u{3b4}\u{3c5}\u{3c3}\u{3c3}\u{3b5}\u{3cd}\u{3c2}".into()));
    assert_eq!(key_of(&t, &ascii).await, Some("eve (as stored)".into()));

    let store = &t.store;
    let find = |typed: &str| {
        let typed = Username::parse(typed).unwrap();
        async move { store.user_by_username(&typed).await.unwrap().map(|(u, _)| u.id) }
    };
    assert_eq!(find("Jos\u{e9}").await, Some(composed), "the exact name finds its own account");
    assert_eq!(find("Jose\u{301}").await, Some(decomposed), "the exact name finds its own account");
    assert_eq!(find("JOS\u{c9}").await, None);
    assert_eq!(find("\u{212b}NGSTR\u{d6}M").await, Some(angstrom));
    assert_eq!(find("\u{39f}\u{394}\u{3a5}\u{3a3}\u{3a3}\u{395}\u{38e}\u{3a3}").await, Some(greek));
    let err = t.store.create_user(new_user("jos\u{e9}")).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(what) if what == "username"), "{err:?}");
}

// More users than one batch: each batch is one statement, and a user whose key another holds is left
// without one wherever it falls.
async fn the_fill_keys_users_in_batches(backend: Backend) {
    let t = TestDb::new(backend).await;
    let count = super::FILL_BATCH * 2 + 234;
    let shouty = format!("USER{:04}", count - 7);
    let holder = t.add_user(&shouty.to_lowercase()).await;
    let names: Vec<String> = (0..count).map(|n| format!("User{n:04}")).collect();
    let rows: Vec<_> = names
        .iter()
        .map(|name| {
            (
                super::users::id.eq(UserId::generate().as_str().to_owned()),
                super::users::username.eq(name.clone()),
                super::users::password_hash.eq("$argon2id$fake"),
                super::users::created_at.eq(1_700_000_000_i64),
                super::users::updated_at.eq(1_700_000_000_i64),
            )
        })
        .collect();
    t.db.write(move |c| {
        c.transaction(|c| {
            for row in rows {
                diesel::insert_into(super::users::table).values(row).execute(c)?;
            }
            Ok(())
        })
    })
    .await
    .unwrap();

    assert_eq!(fill(&t).await, count - 1);
    let keys: Vec<(String, Option<String>)> =
        t.db.run(|c| {
            Ok(super::users::table
                .select((super::users::username, super::users::username_key))
                .order(super::users::username)
                .load(c)?)
        })
        .await
        .unwrap();
    assert_eq!(keys.len(), count + 1);
    for (name, key) in keys {
        let expected = (name != shouty.replace("USER", "User")).then(|| name.to_lowercase());
        assert_eq!(key, expected, "{name}");
    }
    assert_eq!(key_of(&t, &holder).await, Some(shouty.to_lowercase()));
    assert_eq!(fill(&t).await, 0);
}

async fn list_pages_by_username(backend: Backend) {
    let t = TestDb::new(backend).await;
    // Inserted out of order; listed in username order.
    for i in [3, 0, 4, 1, 2] {
        t.store.create_user(new_user(&format!("user{i}"))).await.unwrap();
    }
    let names = |users: &[crate::domain::User]| users.iter().map(|u| u.username.to_string()).collect::<Vec<_>>();
    let page1 = t.store.list_users(&UserFilter::default(), None, 2).await.unwrap();
    assert_eq!(names(&page1), ["user0", "user1"]);
    let page2 = t.store.list_users(&UserFilter::default(), Some(&page1[1].username), 2).await.unwrap();
    assert_eq!(names(&page2), ["user2", "user3"]);
    let page3 = t.store.list_users(&UserFilter::default(), Some(&page2[1].username), 2).await.unwrap();
    assert_eq!(names(&page3), ["user4"]);
    assert!(t.store.list_users(&UserFilter::default(), Some(&page3[0].username), 2).await.unwrap().is_empty());
    assert_eq!(t.store.list_users(&UserFilter::default(), None, 100).await.unwrap().len(), 5);
    assert!(t.store.list_users(&UserFilter::default(), None, 0).await.unwrap().is_empty());
}

/// The usernames `filter` lists, sorted here: their order is the database collation's.
pub(super) async fn listed(t: &TestDb, filter: UserFilter) -> Vec<String> {
    let users = t.store.list_users(&filter, None, 100).await.unwrap();
    let mut names: Vec<String> = users.iter().map(|u| u.username.to_string()).collect();
    names.sort();
    names
}

async fn filters_find_by_name_address_and_prefix(backend: Backend) {
    let t = TestDb::new(backend).await;
    let with_email = |name: &str, email: Option<&str>| NewUser { email: email.map(str::to_owned), ..new_user(name) };
    for (name, email) in [
        ("Alice", Some("Alice.Smith@Example.com")),
        ("alfred", Some("fred@example.com")),
        ("Ren\u{e9}e", None),
        ("bob", Some("al%b@example.com")),
        ("al%_x", Some("x@example.com")),
        ("alZ", None),
    ] {
        t.store.create_user(with_email(name, email)).await.unwrap();
    }
    insert_unkeyed(&t, "Alma").await;
    let prefix = |p: &str| UserFilter { prefix: Some(p.into()), ..UserFilter::default() };
    // A username folded as at sign-in, an address in any letter case; a user without a key by their exact name.
    assert_eq!(listed(&t, prefix("AL")).await, ["Alice", "al%_x", "alZ", "alfred", "bob"]);
    assert_eq!(listed(&t, prefix("Al")).await, ["Alice", "Alma", "al%_x", "alZ", "alfred", "bob"]);
    assert_eq!(listed(&t, prefix("alice.s")).await, ["Alice"]);
    assert_eq!(listed(&t, prefix("RENE\u{301}")).await, ["Ren\u{e9}e"]);
    // What LIKE would take for wildcards is only text.
    assert_eq!(listed(&t, prefix("al%")).await, ["al%_x", "bob"]);
    assert_eq!(listed(&t, prefix("al_")).await, Vec::<String>::new());
    assert_eq!(listed(&t, prefix("al%_")).await, ["al%_x"]);
    assert!(listed(&t, prefix("lice")).await.is_empty(), "a prefix, not a substring");
    // Exact: the address in any letter case, the user a sign-in by that name finds.
    let email = |e: &str| UserFilter { email: Some(e.into()), ..UserFilter::default() };
    assert_eq!(listed(&t, email("alice.smith@example.COM")).await, ["Alice"]);
    assert!(listed(&t, email("alice.smith@example")).await.is_empty());
    let username = |u: &str| UserFilter { username: Some(Username::parse(u).unwrap()), ..UserFilter::default() };
    assert_eq!(listed(&t, username("ALICE")).await, ["Alice"]);
    assert_eq!(listed(&t, username("rene\u{301}e")).await, ["Ren\u{e9}e"]);
    assert!(listed(&t, username("Ali")).await.is_empty());
    // Filters narrow each other, and pages follow each other within them.
    let both = UserFilter { email: Some("FRED@example.com".into()), ..prefix("al") };
    assert_eq!(listed(&t, both).await, ["alfred"]);
    let none = UserFilter { username: Some(Username::parse("bob").unwrap()), ..prefix("alf") };
    assert!(listed(&t, none).await.is_empty());
    let all = t.store.list_users(&prefix("al"), None, 100).await.unwrap();
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = t.store.list_users(&prefix("al"), after.as_ref(), 2).await.unwrap();
        after = page.last().map(|u| u.username.clone());
        paged.extend(page);
        if after.is_none() {
            break;
        }
    }
    assert_eq!(paged, all);
    assert_eq!(all.len(), 5);
}

async fn disable_and_change_password(backend: Backend) {
    let t = TestDb::new(backend).await;
    let nu = new_user("dave");
    t.store.create_user(nu.clone()).await.unwrap();

    let disabled = t.store.set_user_disabled(&nu.username, true, 1_700_000_100).await.unwrap();
    assert!(disabled.disabled);
    assert_eq!(disabled.updated_at, 1_700_000_100);
    assert!(t.store.user_by_id(&nu.id).await.unwrap().unwrap().disabled);

    assert_eq!(disabled.revoked_before, Some(1_700_000_100), "disabling is a cut-off");
    let enabled = t.store.set_user_disabled(&nu.username, false, 1_700_000_200).await.unwrap();
    assert!(!enabled.disabled);
    assert_eq!(enabled.revoked_before, Some(1_700_000_100), "enabling keeps it");
    // Disabled through an update, the cut-off moves too, and never back.
    let update = |disabled| UserUpdate { disabled: Some(disabled), ..UserUpdate::default() };
    let again = t.store.update_user(&nu.id, update(true), 1_700_000_250).await.unwrap();
    assert_eq!(again.revoked_before, Some(1_700_000_250));
    t.store.update_user(&nu.id, update(false), 1_700_000_260).await.unwrap();
    let late = t.store.set_user_disabled(&nu.username, true, 1_700_000_240).await.unwrap();
    assert_eq!(late.revoked_before, Some(1_700_000_250), "an earlier clock moves nothing back");
    t.store.set_user_disabled(&nu.username, false, 1_700_000_270).await.unwrap();

    let changed = t.store.set_password_hash(&nu.username, "$argon2id$new".into(), false, 1_700_000_300).await.unwrap();
    assert_eq!(changed.updated_at, 1_700_000_300);
    let (_, hash) = t.store.user_by_username(&nu.username).await.unwrap().unwrap();
    assert_eq!(hash, "$argon2id$new");
    // Nothing else moved.
    assert_eq!(changed.created_at, nu.created_at);
    assert_eq!(changed.email, nu.email);
}

// A sign-in's upgrade of a stale hash replaces it only while it is still the one checked, so a password
// changed meanwhile stays; and it is no change to the user: updated_at and the cut-off stay.
async fn upgrade_password_hash_replaces_only_the_hash_checked(backend: Backend) {
    let t = TestDb::new(backend).await;
    let nu = new_user("olga");
    t.store.create_user(nu.clone()).await.unwrap();
    let other = new_user("paul");
    t.store.create_user(other.clone()).await.unwrap();
    t.store.set_user_revoked_before(&nu.id, 1_700_000_050).await.unwrap();
    let before = t.store.user_by_id(&nu.id).await.unwrap().unwrap();
    let hash_of = |name: &Username| {
        let name = name.clone();
        let store = &t.store;
        async move { store.user_by_username(&name).await.unwrap().unwrap().1 }
    };

    assert!(t.store.upgrade_password_hash(&nu.id, &nu.password_hash, "$argon2id$up".into()).await.unwrap());
    assert_eq!(hash_of(&nu.username).await, "$argon2id$up");
    assert_eq!(t.store.user_by_id(&nu.id).await.unwrap().unwrap(), before, "nothing else moved");
    assert_eq!(hash_of(&other.username).await, other.password_hash, "other users are left alone");

    // The password was changed since the hash was checked: the change stays.
    t.store.set_password_hash(&nu.username, "$argon2id$changed".into(), false, 1_700_000_100).await.unwrap();
    assert!(!t.store.upgrade_password_hash(&nu.id, "$argon2id$up", "$argon2id$late".into()).await.unwrap());
    assert_eq!(hash_of(&nu.username).await, "$argon2id$changed");
    // A user gone is no error.
    assert!(!t.store.upgrade_password_hash(&UserId::generate(), "$argon2id$up", "x".into()).await.unwrap());
}

// A user's own change replaces the hash only while it is the one their current password was checked against, and
// moves updated_at (a UserInfo claim); nothing else.
async fn change_password_hash_replaces_only_the_hash_checked(backend: Backend) {
    let t = TestDb::new(backend).await;
    let nu = new_user("quinn");
    t.store.create_user(nu.clone()).await.unwrap();
    let other = new_user("rita");
    t.store.create_user(other.clone()).await.unwrap();
    let hash_of = |name: &Username| {
        let name = name.clone();
        let store = &t.store;
        async move { store.user_by_username(&name).await.unwrap().unwrap().1 }
    };

    let at = nu.created_at + 100;
    assert!(t.store.change_password_hash(&nu.id, &nu.password_hash, "$argon2id$mine".into(), at).await.unwrap());
    assert_eq!(hash_of(&nu.username).await, "$argon2id$mine");
    let after = t.store.user_by_id(&nu.id).await.unwrap().unwrap();
    assert_eq!((after.updated_at, after.revoked_before), (at, None));
    assert_eq!(hash_of(&other.username).await, other.password_hash, "other users are left alone");

    // Changed meanwhile (an operator, another tab): the later change stays.
    assert!(!t.store.change_password_hash(&nu.id, &nu.password_hash, "$argon2id$late".into(), at + 1).await.unwrap());
    assert_eq!(hash_of(&nu.username).await, "$argon2id$mine");
    assert!(!t.store.change_password_hash(&UserId::generate(), "$argon2id$mine", "x".into(), at).await.unwrap());
}

async fn revoked_before_round_trips(backend: Backend) {
    let t = TestDb::new(backend).await;
    let nu = new_user("erin");
    t.store.create_user(nu.clone()).await.unwrap();
    let other = new_user("frank");
    t.store.create_user(other.clone()).await.unwrap();

    t.store.set_user_revoked_before(&nu.id, 1_700_000_500).await.unwrap();
    let erin = t.store.user_by_id(&nu.id).await.unwrap().unwrap();
    assert_eq!(erin.revoked_before, Some(1_700_000_500));
    // Nothing else moved.
    assert_eq!((erin.updated_at, erin.disabled), (nu.created_at, false));
    let (by_name, hash) = t.store.user_by_username(&nu.username).await.unwrap().unwrap();
    assert_eq!((by_name, hash), (erin, nu.password_hash.clone()));

    // A later sign-out everywhere replaces the cut-off.
    t.store.set_user_revoked_before(&nu.id, 1_700_000_900).await.unwrap();
    assert_eq!(t.store.user_by_id(&nu.id).await.unwrap().unwrap().revoked_before, Some(1_700_000_900));
    // An earlier one does not move it back.
    t.store.set_user_revoked_before(&nu.id, 1_700_000_700).await.unwrap();
    assert_eq!(t.store.user_by_id(&nu.id).await.unwrap().unwrap().revoked_before, Some(1_700_000_900));
    // Other users are left alone.
    assert_eq!(t.store.user_by_id(&other.id).await.unwrap().unwrap().revoked_before, None);

    let err = t.store.set_user_revoked_before(&UserId::generate(), 1).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn update_changes_only_what_is_given(backend: Backend) {
    use crate::storage::UserUpdate;
    let t = TestDb::new(backend).await;
    // Verified, to see that changing the address clears the mark.
    let nu = NewUser { email_verified: true, ..new_user("gina") };
    assert!(t.store.create_user(nu.clone()).await.unwrap().email_verified);

    // Nothing to change: nothing moves, not even updated_at.
    let same = t.store.update_user(&nu.id, UserUpdate::default(), 1_700_000_100).await.unwrap();
    assert_eq!((same.updated_at, same.email_verified), (nu.created_at, true));
    // The same address again keeps it verified.
    let update = UserUpdate { email: Some(nu.email.clone()), ..UserUpdate::default() };
    let same = t.store.update_user(&nu.id, update, 1_700_000_150).await.unwrap();
    assert_eq!((same.updated_at, same.email_verified), (1_700_000_150, true));

    let update = UserUpdate {
        email: Some(Some("g@example.org".into())),
        email_verified: None,
        name: Some(None),
        disabled: Some(true),
        password_hash: Some("$argon2id$changed".into()),
        password_change_required: Some(true),
    };
    let changed = t.store.update_user(&nu.id, update, 1_700_000_200).await.unwrap();
    assert_eq!(changed.email.as_deref(), Some("g@example.org"));
    assert!(!changed.email_verified, "a new address is not verified");
    assert_eq!(changed.name, None);
    assert!(changed.disabled);
    assert!(changed.password_change_required);
    assert_eq!((changed.created_at, changed.updated_at), (nu.created_at, 1_700_000_200));
    let (by_name, hash) = t.store.user_by_username(&nu.username).await.unwrap().unwrap();
    assert_eq!((by_name, hash.as_str()), (changed.clone(), "$argon2id$changed"));

    // One field at a time leaves the others alone.
    let update = UserUpdate { name: Some(Some("Gina".into())), ..UserUpdate::default() };
    let named = t.store.update_user(&nu.id, update, 1_700_000_300).await.unwrap();
    assert_eq!(named.name.as_deref(), Some("Gina"));
    assert_eq!((named.email, named.disabled, named.password_change_required), (changed.email, true, true));
    let update = UserUpdate { password_change_required: Some(false), ..UserUpdate::default() };
    assert!(!t.store.update_user(&nu.id, update, 1_700_000_400).await.unwrap().password_change_required);

    // An operator may say the address is the user's, with it or later, and take it back.
    let verify = |email: Option<Option<&str>>, verified| UserUpdate {
        email: email.map(|e| e.map(str::to_owned)),
        email_verified: Some(verified),
        ..UserUpdate::default()
    };
    let user = t.store.update_user(&nu.id, verify(None, true), 1_700_000_500).await.unwrap();
    assert_eq!((user.email.as_deref(), user.email_verified), (Some("g@example.org"), true));
    let user = t.store.update_user(&nu.id, verify(Some(Some("h@example.org")), true), 1_700_000_600).await.unwrap();
    assert_eq!((user.email.as_deref(), user.email_verified), (Some("h@example.org"), true));
    assert!(!t.store.update_user(&nu.id, verify(None, false), 1_700_000_700).await.unwrap().email_verified);
    // Never verified without an address.
    let user = t.store.update_user(&nu.id, verify(Some(None), true), 1_700_000_800).await.unwrap();
    assert_eq!((user.email, user.email_verified), (None, false));
    assert!(!t.store.update_user(&nu.id, verify(None, true), 1_700_000_900).await.unwrap().email_verified);
    let bare = NewUser { email: None, email_verified: true, ..new_user("hal") };
    assert!(!t.store.create_user(bare).await.unwrap().email_verified);

    let err = t.store.update_user(&UserId::generate(), UserUpdate::default(), 1).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn delete_cascades(backend: Backend) {
    use super::super::schema::{consents, refresh_tokens, sessions};
    use super::super::test_support::refresh_token;
    use crate::domain::{Scope, Session};
    use crate::storage::{ConsentStore, RefreshTokenStore, SessionStore};
    let t = TestDb::new(backend).await;
    let gone = new_user("hank");
    let kept = new_user("ivy");
    t.store.create_user(gone.clone()).await.unwrap();
    t.store.create_user(kept.clone()).await.unwrap();
    let client = t.add_client("app").await;
    for (n, user) in [(1, &gone), (2, &kept)] {
        let session = Session {
            id_hash: format!("s{n}"),
            user_id: user.id.clone(),
            auth_time: 1,
            amr: vec!["pwd".into()],
            created_at: 1,
            last_used_at: 1,
            expires_at: 2_000_000_000,
            revoked: false,
            device: Default::default(),
        };
        t.store.create_session(&session).await.unwrap();
        t.store
            .grant_consent(
                &user.id,
                &client,
                &crate::domain::Consent { scope: Scope::parse("openid").unwrap(), ..Default::default() },
                1,
            )
            .await
            .unwrap();
        let rt = refresh_token(&format!("rt{n}"), &format!("f{n}"), &client);
        let rt = crate::storage::RefreshTokenRecord { user_id: Some(user.id.clone()), ..rt };
        t.store.insert_refresh_token(&rt).await.unwrap();
    }

    t.store.delete_user(&gone.id).await.unwrap();
    assert!(t.store.user_by_id(&gone.id).await.unwrap().is_none());
    assert!(t.store.user_by_username(&gone.username).await.unwrap().is_none());
    let counts =
        t.db.run(|c| {
            Ok((
                sessions::table.count().get_result::<i64>(c)?,
                consents::table.count().get_result::<i64>(c)?,
                refresh_tokens::table.count().get_result::<i64>(c)?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(counts, (1, 1, 1), "the deleted user's rows went, the other user's stayed");
    assert!(t.store.user_by_id(&kept.id).await.unwrap().is_some());

    let err = t.store.delete_user(&gone.id).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

// Regression: a user disabled by a release whose disable set no cut-off got back everything they held before
// when enabled after the upgrade. The migration gives such users their cut-off; the others keep theirs.
async fn the_upgrade_gives_disabled_users_their_cut_off(backend: Backend) {
    use super::super::schema::users;
    let t = TestDb::new(backend).await;
    let (old, stale, enabled) = (new_user("old"), new_user("stale"), new_user("enabled"));
    for user in [&old, &stale, &enabled] {
        t.store.create_user(user.clone()).await.unwrap();
    }
    let reverted = t.revert_down_to("20261205100000").await;
    // As the earlier release left them: one disabled without a cut-off, one with an old cut-off, one enabled.
    for (user, disabled, cut_off) in [(&old, true, None), (&stale, true, Some(1_000)), (&enabled, false, None)] {
        let id = user.id.as_str().to_owned();
        t.db.write(move |c| {
            let row = users::table.find(id);
            Ok(diesel::update(row).set((users::disabled.eq(disabled), users::revoked_before.eq(cut_off))).execute(c)?)
        })
        .await
        .unwrap();
    }
    let before = crate::domain::now();
    assert_eq!(t.db.migrate().await.unwrap(), reverted);
    let after = crate::domain::now();
    for user in [&old, &stale] {
        let cut_off = t.store.user_by_id(&user.id).await.unwrap().unwrap().revoked_before;
        assert!(cut_off.is_some_and(|t| (before..=after).contains(&t)), "{}: {cut_off:?}", user.username);
    }
    assert_eq!(t.store.user_by_id(&enabled.id).await.unwrap().unwrap().revoked_before, None);
}

// A temporary password (an operator's, `--temporary`) is flagged from the user's creation or from when an operator
// sets it, until a password the user chooses (the forced change, a reset, the account page) or an operator's
// ordinary one replaces it; a sign-in's rehash of it keeps it temporary.
async fn a_temporary_password_is_flagged_until_one_replaces_it(backend: Backend) {
    let t = TestDb::new(backend).await;
    let flagged = |user: &crate::domain::User| user.password_change_required;
    let nu = NewUser { password_change_required: true, ..new_user("tess") };
    assert!(flagged(&t.store.create_user(nu.clone()).await.unwrap()));
    assert!(flagged(&t.store.user_by_id(&nu.id).await.unwrap().unwrap()));
    assert!(flagged(&t.store.user_by_username(&nu.username).await.unwrap().unwrap().0));
    assert!(flagged(&t.store.list_users(&UserFilter::default(), None, 10).await.unwrap()[0]));
    let other = new_user("uma");
    assert!(!flagged(&t.store.create_user(other.clone()).await.unwrap()), "not unless asked");

    assert!(t.store.upgrade_password_hash(&nu.id, &nu.password_hash, "$argon2id$rehashed".into()).await.unwrap());
    assert!(flagged(&t.store.user_by_id(&nu.id).await.unwrap().unwrap()), "the same password, still temporary");
    // A change that lost its race changes nothing.
    assert!(!t
        .store
        .change_password_hash(&nu.id, "$argon2id$stale", "$argon2id$x".into(), 1_700_000_050)
        .await
        .unwrap());
    assert!(flagged(&t.store.user_by_id(&nu.id).await.unwrap().unwrap()));
    assert!(t
        .store
        .change_password_hash(&nu.id, "$argon2id$rehashed", "$argon2id$chosen".into(), 1_700_000_100)
        .await
        .unwrap());
    assert!(!flagged(&t.store.user_by_id(&nu.id).await.unwrap().unwrap()), "the user chose it");

    let set = |temporary| t.store.set_password_hash(&nu.username, "$argon2id$op".into(), temporary, 1_700_000_200);
    assert!(flagged(&set(true).await.unwrap()));
    assert!(flagged(&t.store.user_by_id(&nu.id).await.unwrap().unwrap()));
    assert!(!flagged(&set(false).await.unwrap()), "an operator's ordinary password clears it");
    assert!(!flagged(&t.store.user_by_id(&nu.id).await.unwrap().unwrap()));
    assert!(!flagged(&t.store.user_by_id(&other.id).await.unwrap().unwrap()), "other users are left alone");
}

// Users stored before the flag have an ordinary password (the column's default); its migration reverts cleanly.
async fn users_stored_before_the_flag_have_ordinary_passwords(backend: Backend) {
    let t = TestDb::new(backend).await;
    let nu = NewUser { password_change_required: true, ..new_user("vic") };
    t.store.create_user(nu.clone()).await.unwrap();
    let reverted = t.revert_down_to("20261208100000").await;
    assert_eq!(t.db.migrate().await.unwrap(), reverted);
    assert!(!t.store.user_by_id(&nu.id).await.unwrap().unwrap().password_change_required);
}

// A verification link's address is marked verified only while it is still the user's.
async fn mark_email_verified_only_for_the_address_of_the_link(backend: Backend) {
    let t = TestDb::new(backend).await;
    let nu = new_user("vera");
    t.store.create_user(nu.clone()).await.unwrap();
    assert!(!t.store.mark_email_verified(&nu.id, "old@example.com", 1_700_000_100).await.unwrap());
    let user = t.store.user_by_id(&nu.id).await.unwrap().unwrap();
    assert_eq!((user.email_verified, user.updated_at), (false, nu.created_at));
    assert!(t.store.mark_email_verified(&nu.id, "vera@example.com", 1_700_000_200).await.unwrap());
    let user = t.store.user_by_id(&nu.id).await.unwrap().unwrap();
    assert_eq!((user.email_verified, user.updated_at), (true, 1_700_000_200));
    assert!(!t.store.mark_email_verified(&UserId::generate(), "vera@example.com", 1).await.unwrap());
}

both_backends!(
    a_temporary_password_is_flagged_until_one_replaces_it,
    users_stored_before_the_flag_have_ordinary_passwords,
    mark_email_verified_only_for_the_address_of_the_link,
    the_upgrade_gives_disabled_users_their_cut_off,
    the_upgrade_keys_usernames_that_no_other_folds_to,
    the_nfc_upgrade_keys_again_the_names_that_are_not_ascii,
    the_fill_keys_users_in_batches,
    usernames_match_in_any_letter_case,
    usernames_match_in_either_unicode_form,
    create_and_get,
    missing_users,
    duplicates_conflict,
    list_pages_by_username,
    filters_find_by_name_address_and_prefix,
    disable_and_change_password,
    revoked_before_round_trips,
    upgrade_password_hash_replaces_only_the_hash_checked,
    change_password_hash_replaces_only_the_hash_checked,
    update_changes_only_what_is_given,
    delete_cascades,
);
