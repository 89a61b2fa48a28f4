//! Dynamic client registration storage: the `initial_access_tokens` table and the `registration_token_hash`
//! column of `clients`, and [`RegistrationStore`] for [`DieselStore`].
//!
//! Only hashes are stored. An initial access token is found only while it has not expired; expired rows stay
//! until [`RegistrationStore::purge_expired_initial_access_tokens`] removes them.

use super::clients::fields_from_client;
use super::schema::{clients, initial_access_tokens};
use super::DieselStore;
use crate::domain::secret::SecretHash;
use crate::domain::{Client, ClientId, UnixTime};
use crate::storage::{InitialAccessToken, RegistrationStore, StoreError, StoreResult};
use async_trait::async_trait;
use diesel::prelude::*;

/// An `initial_access_tokens` row as stored.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = initial_access_tokens)]
struct InitialAccessTokenRow {
    token_hash: String,
    created_at: i64,
    expires_at: i64,
}

impl From<InitialAccessTokenRow> for InitialAccessToken {
    fn from(row: InitialAccessTokenRow) -> Self {
        Self { hash: SecretHash::from_stored(row.token_hash), created_at: row.created_at, expires_at: row.expires_at }
    }
}

#[async_trait]
impl RegistrationStore for DieselStore {
    async fn create_initial_access_token(&self, token: &InitialAccessToken) -> StoreResult<()> {
        let row = InitialAccessTokenRow {
            token_hash: token.hash.as_str().to_owned(),
            created_at: token.created_at,
            expires_at: token.expires_at,
        };
        self.db()
            .write(move |c| {
                diesel::insert_into(initial_access_tokens::table).values(&row).execute(c).map_err(|e| {
                    match StoreError::from(e) {
                        // The hash is not echoed: it identifies a credential.
                        StoreError::Conflict(_) => StoreError::Conflict("initial access token".into()),
                        other => other,
                    }
                })?;
                Ok(())
            })
            .await
    }

    async fn initial_access_token(&self, hash: &SecretHash, now: UnixTime) -> StoreResult<Option<InitialAccessToken>> {
        let hash = hash.as_str().to_owned();
        self.db()
            .run(move |c| {
                let row = initial_access_tokens::table
                    .find(hash)
                    .filter(initial_access_tokens::expires_at.gt(now))
                    .select(InitialAccessTokenRow::as_select())
                    .first(c)
                    .optional()?;
                Ok(row.map(InitialAccessToken::from))
            })
            .await
    }

    async fn delete_initial_access_token(&self, hash: &SecretHash) -> StoreResult<()> {
        let hash = hash.as_str().to_owned();
        self.db()
            .write(move |c| {
                let deleted = diesel::delete(initial_access_tokens::table.find(hash)).execute(c)?;
                if deleted == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn purge_expired_initial_access_tokens(&self, now: UnixTime) -> StoreResult<u64> {
        self.db()
            .write(move |c| {
                let deleted =
                    diesel::delete(initial_access_tokens::table.filter(initial_access_tokens::expires_at.le(now)))
                        .execute(c)?;
                Ok(deleted as u64)
            })
            .await
    }

    async fn create_registered_client(&self, client: &Client, registration_token: &SecretHash) -> StoreResult<()> {
        let fields = fields_from_client(client)?;
        let id = client.id.as_str().to_owned();
        let created_at = client.created_at;
        let token_hash = registration_token.as_str().to_owned();
        self.db()
            .write(move |c| {
                diesel::insert_into(clients::table)
                    .values((
                        clients::id.eq(&id),
                        clients::created_at.eq(created_at),
                        clients::registration_token_hash.eq(token_hash),
                        fields,
                    ))
                    .execute(c)
                    .map_err(|e| match StoreError::from(e) {
                        StoreError::Conflict(_) => StoreError::Conflict(format!("client_id {id}")),
                        other => other,
                    })?;
                Ok(())
            })
            .await
    }

    async fn set_registration_token_hash(&self, client_id: &ClientId, hash: Option<&SecretHash>) -> StoreResult<()> {
        let id = client_id.as_str().to_owned();
        let hash = hash.map(|h| h.as_str().to_owned());
        self.db()
            .write(move |c| {
                let changed = diesel::update(clients::table.find(&id))
                    .set(clients::registration_token_hash.eq(hash))
                    .execute(c)?;
                if changed == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn registration_token_hash(&self, client_id: &ClientId) -> StoreResult<Option<SecretHash>> {
        let id = client_id.as_str().to_owned();
        self.db()
            .run(move |c| {
                let hash: Option<Option<String>> =
                    clients::table.find(id).select(clients::registration_token_hash).first(c).optional()?;
                Ok(hash.flatten().map(SecretHash::from_stored))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{both_backends, TestDb};
    use super::super::Backend;
    use super::*;
    use crate::domain::secret::PlainSecret;
    use crate::domain::{ApplicationType, ClientAuthMethod, ClientMetadata, GrantType, RedirectUri, Scope};
    use crate::storage::ClientStore;

    fn iat(secret: &PlainSecret, created_at: i64, expires_at: i64) -> InitialAccessToken {
        InitialAccessToken { hash: secret.hash(), created_at, expires_at }
    }

    fn registered(id: &str) -> Client {
        Client {
            id: ClientId::parse(id).unwrap(),
            name: "Registered app".into(),
            secret_hash: Some(PlainSecret::new("s").hash()),
            previous_secret: None,
            auth_method: ClientAuthMethod::ClientSecretBasic,
            application_type: ApplicationType::Web,
            redirect_uris: vec![RedirectUri::parse("https://app.example/cb").unwrap()],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode],
            scope: Scope::parse("openid profile").unwrap(),
            resources: vec![],
            first_party: false,
            admin: false,
            require_pkce: true,
            access_token_ttl: None,
            metadata: ClientMetadata { logo_uri: Some("https://app.example/logo.png".into()), ..Default::default() },
            created_at: 1_700_000_000,
            updated_at: 1_700_000_000,
            revoked_before: None,
            revision: 0,
        }
    }

    async fn initial_access_tokens_expire(backend: Backend) {
        let t = TestDb::new(backend).await;
        let a = PlainSecret::generate();
        let b = PlainSecret::generate();
        t.store.create_initial_access_token(&iat(&a, 100, 200)).await.unwrap();
        t.store.create_initial_access_token(&iat(&b, 100, 300)).await.unwrap();

        let found = t.store.initial_access_token(&a.hash(), 199).await.unwrap().unwrap();
        assert!(found.hash.matches(a.expose()));
        assert_eq!((found.created_at, found.expires_at), (100, 200));
        // Expired exactly at expires_at.
        assert!(t.store.initial_access_token(&a.hash(), 200).await.unwrap().is_none());
        assert!(t.store.initial_access_token(&PlainSecret::generate().hash(), 0).await.unwrap().is_none());

        let err = t.store.create_initial_access_token(&iat(&a, 1, 2)).await.unwrap_err();
        assert!(matches!(&err, StoreError::Conflict(what) if !what.contains(a.hash().as_str())), "{err:?}");

        assert_eq!(t.store.purge_expired_initial_access_tokens(199).await.unwrap(), 0);
        assert_eq!(t.store.purge_expired_initial_access_tokens(200).await.unwrap(), 1);
        assert!(t.store.initial_access_token(&b.hash(), 200).await.unwrap().is_some());

        t.store.delete_initial_access_token(&b.hash()).await.unwrap();
        assert!(t.store.initial_access_token(&b.hash(), 200).await.unwrap().is_none());
        let err = t.store.delete_initial_access_token(&b.hash()).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
    }

    async fn registered_clients_carry_their_token_hash(backend: Backend) {
        let t = TestDb::new(backend).await;
        let rat = PlainSecret::generate();
        let client = registered("dyn");
        t.store.create_registered_client(&client, &rat.hash()).await.unwrap();
        assert_eq!(t.store.client(&client.id).await.unwrap().unwrap(), client);
        assert!(t.store.registration_token_hash(&client.id).await.unwrap().unwrap().matches(rat.expose()));

        // An update of the client keeps the token.
        let mut changed = client.clone();
        changed.name = "Renamed".into();
        t.store.update_client(&changed).await.unwrap();
        assert!(t.store.registration_token_hash(&client.id).await.unwrap().unwrap().matches(rat.expose()));

        let err = t.store.create_registered_client(&client, &PlainSecret::generate().hash()).await.unwrap_err();
        assert!(matches!(&err, StoreError::Conflict(what) if what.contains("dyn")), "{err:?}");
        assert!(t.store.registration_token_hash(&client.id).await.unwrap().unwrap().matches(rat.expose()));

        // Rotation and removal.
        let new = PlainSecret::generate();
        t.store.set_registration_token_hash(&client.id, Some(&new.hash())).await.unwrap();
        let stored = t.store.registration_token_hash(&client.id).await.unwrap().unwrap();
        assert!(stored.matches(new.expose()) && !stored.matches(rat.expose()));
        t.store.set_registration_token_hash(&client.id, None).await.unwrap();
        assert!(t.store.registration_token_hash(&client.id).await.unwrap().is_none());

        let ghost = ClientId::parse("ghost").unwrap();
        let err = t.store.set_registration_token_hash(&ghost, Some(&new.hash())).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        assert!(t.store.registration_token_hash(&ghost).await.unwrap().is_none());

        // Clients made otherwise (the CLI) have none; deleting a client forgets its token.
        let cli = t.add_client("cli").await;
        assert!(t.store.registration_token_hash(&cli).await.unwrap().is_none());
        t.store.set_registration_token_hash(&client.id, Some(&new.hash())).await.unwrap();
        t.store.delete_client(&client.id).await.unwrap();
        assert!(t.store.registration_token_hash(&client.id).await.unwrap().is_none());
    }

    both_backends!(initial_access_tokens_expire, registered_clients_carry_their_token_hash);
}
