//! Tests of the `users` table's email keys on both backends.
use super::super::test_support::{both_backends, TestDb};
use super::super::Backend;
use super::tests::{insert_unkeyed, listed, new_user};
use crate::domain::{NewUser, UserId, Username};
use crate::storage::{IdentityStore, UserFilter, UserStore, UserUpdate};
use diesel::prelude::*;

async fn with_email(t: &TestDb, email: &str) -> Vec<String> {
    let users = t.store.users_with_email(email, 10).await.unwrap();
    let by_filter = listed(t, UserFilter { email: Some(email.into()), ..UserFilter::default() }).await;
    let names: Vec<String> = users.iter().map(|u| u.username.to_string()).collect();
    assert_eq!(names, by_filter, "{email}: the admin filter finds whom the look-up does");
    names
}

// Regression: addresses were matched with SQL's lower(), which folds ASCII only on SQLite and follows the
// database's locale on Postgres, so a password reset or a federated sign-in by "élodie@…" found the account of
// "ÉLODIE@…" on one backend and not on the other.
async fn email_addresses_match_in_any_letter_case_and_form(backend: Backend) {
    let t = TestDb::new(backend).await;
    let with = |name: &str, email: &str| NewUser { email: Some(email.into()), ..new_user(name) };
    for (name, email) in
        [("elodie", "\u{c9}LODIE@Example.com"), ("sam", "Stra\u{df}e@example.de"), ("bob", "Bob@x.org")]
    {
        t.store.create_user(with(name, email)).await.unwrap();
    }
    for typed in ["\u{e9}lodie@example.com", "E\u{301}LODIE@EXAMPLE.COM", "\u{c9}LODIE@Example.com"] {
        assert_eq!(with_email(&t, typed).await, ["elodie"], "{typed}");
    }
    assert_eq!(with_email(&t, "STRA\u{df}E@example.de").await, ["sam"]);
    assert!(with_email(&t, "strasse@example.de").await.is_empty(), "\"ß\" is not \"ss\" in an address");
    assert_eq!(with_email(&t, "bob@X.ORG").await, ["bob"]);
    assert!(with_email(&t, "elodie@example.com").await.is_empty(), "an accent is not a letter case");
    let prefix = |p: &str| UserFilter { prefix: Some(p.into()), ..UserFilter::default() };
    assert_eq!(listed(&t, prefix("\u{e9}lo")).await, ["elodie"]);
    assert_eq!(listed(&t, prefix("STRA\u{df}")).await, ["sam"]);

    // A changed address is matched as the new one, and the old one no longer.
    let elodie = t.store.user_by_username(&Username::parse("elodie").unwrap()).await.unwrap().unwrap().0;
    let update = UserUpdate { email: Some(Some("Zo\u{eb}@example.com".into())), ..UserUpdate::default() };
    t.store.update_user(&elodie.id, update, 1_700_000_100).await.unwrap();
    assert_eq!(with_email(&t, "ZO\u{cb}@EXAMPLE.COM").await, ["elodie"]);
    assert!(with_email(&t, "\u{e9}lodie@example.com").await.is_empty());
    // Only in letter case: still matched.
    let update = UserUpdate { email: Some(Some("zo\u{eb}@example.com".into())), ..UserUpdate::default() };
    t.store.update_user(&elodie.id, update, 1_700_000_200).await.unwrap();
    assert_eq!(with_email(&t, "ZO\u{cb}@EXAMPLE.COM").await, ["elodie"]);
    t.store
        .update_user(&elodie.id, UserUpdate { email: Some(None), ..UserUpdate::default() }, 1_700_000_300)
        .await
        .unwrap();
    assert!(with_email(&t, "zo\u{eb}@example.com").await.is_empty());
    assert_eq!(email_key_of(&t, &elodie.id).await, None);
}

async fn email_key_of(t: &TestDb, id: &UserId) -> Option<String> {
    let id = id.as_str().to_owned();
    t.db.run(move |c| Ok(super::users::table.find(id).select(super::users::email_key).first(c)?)).await.unwrap()
}

/// Sets user `id`'s address as a release before email keys did: the address alone.
async fn set_email_unkeyed(t: &TestDb, id: &UserId, email: &str) {
    let (id, set) = (id.as_str().to_owned(), super::users::email.eq(email.to_owned()));
    t.db.write(move |c| Ok(diesel::update(super::users::table.find(id)).set(set).execute(c)?)).await.unwrap();
}

// The upgrade keys stored addresses; an address an earlier release writes meanwhile (a rolling update) has no key,
// even where it replaced a keyed one, and is matched by lower() until the next start keys it.
async fn the_upgrade_keys_stored_email_addresses(backend: Backend) {
    let t = TestDb::new(backend).await;
    let reverted = t.revert_down_to("20261212100000").await;
    let (ana, ben, cy) =
        (insert_unkeyed(&t, "ana").await, insert_unkeyed(&t, "ben").await, insert_unkeyed(&t, "cy").await);
    set_email_unkeyed(&t, &ana, "\u{c1}na@example.com").await;
    set_email_unkeyed(&t, &ben, "Ben@example.com").await;
    assert_eq!(t.db.migrate().await.unwrap(), reverted);
    assert_eq!(email_key_of(&t, &ana).await.as_deref(), Some("\u{e1}na@example.com"));
    assert_eq!(email_key_of(&t, &cy).await, None, "no address, no key");
    assert_eq!(with_email(&t, "\u{e1}NA@EXAMPLE.COM").await, ["ana"]);

    set_email_unkeyed(&t, &ben, "Benno@example.com").await;
    set_email_unkeyed(&t, &cy, "CY@example.com").await;
    assert_eq!((email_key_of(&t, &ben).await, email_key_of(&t, &cy).await), (None, None));
    assert!(with_email(&t, "ben@example.com").await.is_empty(), "the old address's key went with it");
    assert_eq!(with_email(&t, "benno@EXAMPLE.com").await, ["ben"]);
    assert_eq!(with_email(&t, "cy@example.com").await, ["cy"]);
    let prefix = UserFilter { prefix: Some("BENN".into()), ..UserFilter::default() };
    assert_eq!(listed(&t, prefix).await, ["ben"]);
    assert_eq!(t.db.write(super::fill_email_keys).await.unwrap(), 2);
    assert_eq!(email_key_of(&t, &ben).await.as_deref(), Some("benno@example.com"));
    assert_eq!(t.db.write(super::fill_email_keys).await.unwrap(), 0);
}

both_backends!(email_addresses_match_in_any_letter_case_and_form, the_upgrade_keys_stored_email_addresses);
