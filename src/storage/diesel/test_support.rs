//! Unit-test fixtures: a migrated database per test on either backend, and [`both_backends!`] to run each case
//! on both. SQLite lives in a temporary directory; Postgres gets its own `t_<uuid>` database, dropped at the end.
//! [`TestDb::add_user`] and [`TestDb::add_client`] create the rows that other tables reference;
//! [`refresh_token`] and [`audit_event`] build records to store.

use super::{testing, Backend, Db, DieselStore};
use crate::domain::{
    ApplicationType, Client, ClientAuthMethod, ClientId, ClientMetadata, NewUser, Scope, UnixTime, UserId, Username,
};
use crate::storage::{AuditEvent, ClientStore, RefreshTokenRecord, UserStore};
use std::time::Duration;
use tempfile::TempDir;

/// Every migration from 2026-12-05-100000 on, oldest first: the same on both backends (Postgres's own index is
/// older). Tests that take the schema back before one of them name them from here ([`TestDb::revert_down_to`]),
/// so that a new migration is listed here alone.
pub(crate) const LATER_MIGRATIONS: &[&str] = &[
    "20261205100000",
    "20261205200000",
    "20261205300000",
    "20261205400000",
    "20261205500000",
    "20261205600000",
    "20261205700000",
    "20261205800000",
    "20261206100000",
    "20261206310000",
    "20261206500000",
    "20261206600000",
    "20261206700000",
    "20261206800000",
    "20261207100000",
    "20261207200000",
    "20261208100000",
    "20261209100000",
    "20261209400000",
    "20261210100000",
    "20261211100000",
    "20261212100000",
    "20261212200000",
];

/// A database for one test; dropping it removes the SQLite directory or the Postgres database.
pub(crate) struct TestDb {
    pub db: Db,
    /// The database's URL, for a connection of another process.
    pub url: String,
    pub store: DieselStore,
    _dir: Option<TempDir>,
}

impl TestDb {
    /// A migrated database with a small pool.
    pub async fn new(backend: Backend) -> Self {
        Self::with_pool(backend, 4, Duration::from_secs(10)).await
    }

    /// A migrated database with the given pool size and acquire timeout.
    pub async fn with_pool(backend: Backend, max: u32, timeout: Duration) -> Self {
        let t = Self::open(backend, max, timeout, true).await;
        t.db.migrate().await.unwrap();
        t
    }

    /// An empty database, migrations not applied.
    pub async fn unmigrated(backend: Backend) -> Self {
        Self::open(backend, 4, Duration::from_secs(10), false).await
    }

    /// Postgres's database comes `migrated` (a copy of the template) or empty.
    async fn open(backend: Backend, max: u32, timeout: Duration, migrated: bool) -> Self {
        let (url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                // A subdirectory that does not exist yet, to check that connect creates it.
                let url = testing::sqlite_url(&dir.path().join("data").join("tessera.db"));
                (url, Some(dir))
            }
            Backend::Postgres => {
                let url =
                    if migrated { testing::migrated_postgres_url().await } else { testing::fresh_postgres_url().await };
                (url, None)
            }
        };
        let db = Db::connect(&url, max, timeout).await.unwrap();
        assert_eq!(db.backend(), backend);
        Self { store: DieselStore::new(db.clone()), db, url, _dir: dir }
    }

    /// Creates a user named `username` and returns its id, for rows that reference `users`.
    pub async fn add_user(&self, username: &str) -> UserId {
        let user = NewUser {
            id: UserId::generate(),
            username: Username::parse(username).unwrap(),
            password_hash: format!("$argon2id$fake${username}"),
            email: None,
            email_verified: false,
            name: None,
            password_change_required: false,
            created_at: 1_700_000_000,
        };
        self.store.create_user(user).await.unwrap().id
    }

    /// Reverts the latest migration applied; returns its version.
    pub async fn revert_last_migration(&self) -> String {
        use super::{AnyConnection, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
        use diesel_migrations::MigrationHarness;
        self.db
            .run(|c| {
                let version = match c {
                    AnyConnection::Postgresql(pg) => pg.revert_last_migration(POSTGRES_MIGRATIONS),
                    AnyConnection::Sqlite(lite) => lite.revert_last_migration(SQLITE_MIGRATIONS),
                }
                .map_err(|e| crate::storage::StoreError::Backend(format!("revert failed: {e}")))?;
                Ok(version.to_string())
            })
            .await
            .unwrap()
    }

    /// Reverts the migrations of [`LATER_MIGRATIONS`] from the newest down to `version`, which must be one of
    /// them, checking each as it goes; returns those reverted, oldest first: what `migrate` applies again.
    pub async fn revert_down_to(&self, version: &str) -> Vec<&'static str> {
        let reverted: Vec<&'static str> = LATER_MIGRATIONS.iter().copied().filter(|v| *v >= version).collect();
        assert_eq!(reverted.first(), Some(&version), "{version} is not among the later migrations");
        for expected in reverted.iter().rev() {
            assert_eq!(self.revert_last_migration().await, *expected);
        }
        reverted
    }

    /// Creates a public client `id` with every optional field empty, for rows that reference `clients`.
    pub async fn add_client(&self, id: &str) -> ClientId {
        let client = Client {
            id: ClientId::parse(id).unwrap(),
            name: id.into(),
            secret_hash: None,
            previous_secret: None,
            auth_method: ClientAuthMethod::None,
            application_type: ApplicationType::Web,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: vec![],
            scope: Scope::default(),
            resources: vec![],
            first_party: false,
            admin: false,
            require_pkce: true,
            access_token_ttl: None,
            metadata: ClientMetadata::default(),
            created_at: 1_700_000_000,
            updated_at: 1_700_000_000,
            revoked_before: None,
            revision: 0,
        };
        self.store.create_client(&client).await.unwrap();
        client.id
    }
}

/// An unused, unrevoked refresh token `id` (hash `hash-<id>`) of family `family_id` for `client_id`, with every
/// optional field empty, created at 1_700_000_000 and expiring a day later. Tests set the rest with `..`.
pub(crate) fn refresh_token(id: &str, family_id: &str, client_id: &ClientId) -> RefreshTokenRecord {
    RefreshTokenRecord {
        id: id.into(),
        token_hash: format!("hash-{id}"),
        family_id: family_id.into(),
        parent_id: None,
        client_id: client_id.clone(),
        user_id: None,
        session_id: None,
        scope: Scope::default(),
        resource: None,
        auth_time: None,
        offline: false,
        created_at: 1_700_000_000,
        expires_at: 1_700_086_400,
        idle_expires_at: 1_700_043_200,
        used_at: None,
        revoked: false,
        access_jti: None,
        access_expires_at: None,
        dpop_jkt: None,
        userinfo_claims: Default::default(),
        amr: Vec::new(),
        id_token_claims: Default::default(),
        grace_record: None,
    }
}

/// An audit event `id` of `kind` at `at` naming nobody, with empty details. Tests set the rest with `..`.
pub(crate) fn audit_event(id: &str, at: UnixTime, kind: &str) -> AuditEvent {
    AuditEvent {
        id: id.into(),
        at,
        kind: kind.into(),
        actor: None,
        user_id: None,
        client_id: None,
        ip: None,
        user_agent: None,
        request_id: None,
        details: serde_json::json!({}),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.db.backend() == Backend::Postgres {
            // Best effort: a leftover t_<uuid> database only costs disk space.
            let _ = testing::drop_postgres_database_blocking(&self.url);
        }
    }
}

/// Turns `async fn case(backend: Backend)` functions into `sqlite::case` and `postgres::case` tokio tests.
macro_rules! both_backends {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case($crate::storage::diesel::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case($crate::storage::diesel::Backend::Postgres).await;
                }
            )+
        }
    };
}
pub(crate) use both_backends;
