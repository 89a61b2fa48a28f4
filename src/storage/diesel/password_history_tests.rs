//! Tests of `password_history` on both backends: every write of a password records it, the newest N stay.
use super::super::test_support::{both_backends, TestDb};
use super::super::Backend;
use crate::domain::password::NO_PASSWORD;
use crate::domain::{NewUser, UserId, Username};
use crate::storage::{UserStore, UserUpdate};

fn new_user(name: &str, hash: &str) -> NewUser {
    NewUser {
        id: UserId::generate(),
        username: Username::parse(name).unwrap(),
        password_hash: hash.into(),
        email: None,
        email_verified: false,
        name: None,
        password_change_required: false,
        created_at: 1_700_000_000,
    }
}

/// Every row of `password_history`, of any user.
async fn rows(t: &TestDb) -> i64 {
    use super::super::schema::password_history;
    use diesel::prelude::*;
    t.db.run(|c| Ok(password_history::table.count().get_result::<i64>(c)?)).await.unwrap()
}

async fn every_way_of_setting_a_password_records_it_and_the_newest_stay(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store.clone().with_password_history(3);
    let alice = new_user("alice", "$h1");
    store.create_user(alice.clone()).await.unwrap();
    assert_eq!(store.password_history(&alice.id, 3).await.unwrap(), ["$h1"], "the first password");
    store.set_password_hash(&alice.username, "$h2".into(), true, 10).await.unwrap();
    // A compare-and-set that finds another hash writes nothing, and records nothing.
    assert!(!store.change_password_hash(&alice.id, "$h1", "$nope".into(), 11).await.unwrap());
    assert!(store.change_password_hash(&alice.id, "$h2", "$h3".into(), 12).await.unwrap());
    assert_eq!(store.password_history(&alice.id, 3).await.unwrap(), ["$h3", "$h2", "$h1"]);
    let update = UserUpdate { password_hash: Some("$h4".into()), ..Default::default() };
    store.update_user(&alice.id, update, 13).await.unwrap();
    // Pruned to three: the first is gone from the table, not only from the answer.
    assert_eq!(store.password_history(&alice.id, 10).await.unwrap(), ["$h4", "$h3", "$h2"]);
    assert_eq!(rows(&t).await, 3);
    assert_eq!(store.password_history(&alice.id, 2).await.unwrap(), ["$h4", "$h3"]);
    // An update without a password records nothing.
    let update = UserUpdate { name: Some(Some("Alice".into())), ..Default::default() };
    store.update_user(&alice.id, update, 14).await.unwrap();
    assert_eq!(rows(&t).await, 3);
}

async fn a_rehash_replaces_its_entry_and_adds_none(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store.clone().with_password_history(3);
    let bob = new_user("bob", "$old-cost");
    store.create_user(bob.clone()).await.unwrap();
    store.set_password_hash(&bob.username, "$second".into(), false, 10).await.unwrap();
    assert!(store.upgrade_password_hash(&bob.id, "$second", "$second-rehashed".into()).await.unwrap());
    assert_eq!(store.password_history(&bob.id, 3).await.unwrap(), ["$second-rehashed", "$old-cost"]);
}

async fn fewer_kept_prunes_at_the_next_write_and_none_keeps_nothing(backend: Backend) {
    let t = TestDb::new(backend).await;
    let five = t.store.clone().with_password_history(5);
    let carol = new_user("carol", "$1");
    five.create_user(carol.clone()).await.unwrap();
    for (n, hash) in ["$2", "$3", "$4"].into_iter().enumerate() {
        five.set_password_hash(&carol.username, hash.into(), false, n as i64).await.unwrap();
    }
    let two = t.store.clone().with_password_history(2);
    two.set_password_hash(&carol.username, "$5".into(), false, 9).await.unwrap();
    assert_eq!(two.password_history(&carol.id, 5).await.unwrap(), ["$5", "$4"]);
    // Off: nothing is recorded, and what was is forgotten.
    t.store.set_password_hash(&carol.username, "$6".into(), false, 10).await.unwrap();
    assert!(t.store.password_history(&carol.id, 5).await.unwrap().is_empty());
    let dave = new_user("dave", "$d");
    t.store.create_user(dave.clone()).await.unwrap();
    assert_eq!(rows(&t).await, 0);
    // A user without a password has nothing to record.
    let erin = new_user("erin", NO_PASSWORD);
    five.create_user(erin.clone()).await.unwrap();
    assert!(five.password_history(&erin.id, 5).await.unwrap().is_empty());
}

async fn the_history_goes_with_its_user(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store.clone().with_password_history(3);
    let (gone, kept) = (new_user("frank", "$f"), new_user("grace", "$g"));
    store.create_user(gone.clone()).await.unwrap();
    store.create_user(kept.clone()).await.unwrap();
    store.set_password_hash(&gone.username, "$f2".into(), false, 10).await.unwrap();
    assert_eq!(rows(&t).await, 3);
    store.delete_user(&gone.id).await.unwrap();
    assert_eq!(rows(&t).await, 1);
    assert_eq!(store.password_history(&kept.id, 3).await.unwrap(), ["$g"]);
}

both_backends!(
    every_way_of_setting_a_password_records_it_and_the_newest_stay,
    a_rehash_replaces_its_entry_and_adds_none,
    fewer_kept_prunes_at_the_next_write_and_none_keeps_nothing,
    the_history_goes_with_its_user,
);
