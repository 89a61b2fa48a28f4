//! The `clients` table: rows <-> [`Client`], and [`ClientStore`] for [`DieselStore`].
//!
//! Lists are stored as JSON arrays of strings, the scope space-separated, the metadata as a JSON object.
//! `registration_token_hash` is not part of [`Client`]: creation leaves it empty and updates leave it alone.

use super::schema::clients;
use super::{AnyConnection, DieselStore};
use crate::domain::secret::SecretHash;
use crate::domain::{
    ApplicationType, Client, ClientAuthMethod, ClientId, ClientMetadata, GrantType, RedirectUri, Scope, UnixTime,
};
use crate::storage::{ClientStore, StoreError, StoreResult};
use async_trait::async_trait;
use diesel::prelude::*;

/// A `clients` row as read.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = clients)]
struct ClientRow {
    id: String,
    name: String,
    secret_hash: Option<String>,
    previous_secret_hash: Option<String>,
    previous_secret_expires_at: Option<i64>,
    auth_method: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    grant_types: String,
    scope: String,
    resources: String,
    first_party: bool,
    admin: bool,
    require_pkce: bool,
    access_token_ttl: Option<i64>,
    metadata: String,
    created_at: i64,
    updated_at: i64,
    revoked_before: Option<i64>,
    application_type: String,
    revision: i64,
}

/// Every column a [`Client`] determines; `None` writes NULL, so an update clears what the client no longer has.
/// An update leaves `revoked_before` alone: only [`ClientStore::set_client_revoked_before`] moves it.
#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = clients, treat_none_as_null = true)]
pub(super) struct ClientFields {
    name: String,
    secret_hash: Option<String>,
    previous_secret_hash: Option<String>,
    previous_secret_expires_at: Option<i64>,
    auth_method: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    grant_types: String,
    scope: String,
    resources: String,
    first_party: bool,
    admin: bool,
    require_pkce: bool,
    access_token_ttl: Option<i64>,
    metadata: String,
    updated_at: i64,
    #[diesel(skip_update)]
    revoked_before: Option<i64>,
    application_type: String,
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T, what: &str) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("cannot serialize client {what}: {e}")))
}

fn uris(list: &[RedirectUri]) -> Vec<&str> {
    list.iter().map(RedirectUri::as_str).collect()
}

pub(super) fn fields_from_client(client: &Client) -> StoreResult<ClientFields> {
    let grants: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
    let (previous_secret_hash, previous_secret_expires_at) = match &client.previous_secret {
        Some((hash, until)) => (Some(hash.as_str().to_owned()), Some(*until)),
        None => (None, None),
    };
    Ok(ClientFields {
        name: client.name.clone(),
        secret_hash: client.secret_hash.as_ref().map(|h| h.as_str().to_owned()),
        previous_secret_hash,
        previous_secret_expires_at,
        auth_method: client.auth_method.as_str().to_owned(),
        redirect_uris: to_json(&uris(&client.redirect_uris), "redirect_uris")?,
        post_logout_redirect_uris: to_json(&uris(&client.post_logout_redirect_uris), "post_logout_redirect_uris")?,
        grant_types: to_json(&grants, "grant_types")?,
        scope: client.scope.to_string(),
        resources: to_json(&client.resources, "resources")?,
        first_party: client.first_party,
        admin: client.admin,
        require_pkce: client.require_pkce,
        access_token_ttl: client.access_token_ttl,
        metadata: to_json(&client.metadata, "metadata")?,
        updated_at: client.updated_at,
        revoked_before: client.revoked_before,
        application_type: client.application_type.as_str().to_owned(),
    })
}

fn client_from_row(row: ClientRow) -> StoreResult<Client> {
    let id = row.id;
    let bad = |what: &str, e: &dyn std::fmt::Display| StoreError::Backend(format!("clients row {id:?}: {what}: {e}"));
    let strings = |column: &str, json: &str| -> StoreResult<Vec<String>> {
        serde_json::from_str(json).map_err(|e| bad(&format!("{column} is not a JSON array of strings"), &e))
    };
    let uris = |column: &str, json: &str| -> StoreResult<Vec<RedirectUri>> {
        strings(column, json)?
            .iter()
            .map(|s| RedirectUri::parse(s).map_err(|e| bad(&format!("invalid {column} entry {s:?}"), &e)))
            .collect()
    };
    let grant_types = strings("grant_types", &row.grant_types)?
        .iter()
        .map(|g| g.parse::<GrantType>().map_err(|e| bad("grant_types", &e)))
        .collect::<StoreResult<Vec<_>>>()?;
    let previous_secret = match (row.previous_secret_hash, row.previous_secret_expires_at) {
        (Some(hash), Some(until)) => Some((SecretHash::from_stored(hash), until)),
        (None, _) => None,
        (Some(_), None) => return Err(bad("previous_secret_hash", &"set without previous_secret_expires_at")),
    };
    let metadata: ClientMetadata =
        serde_json::from_str(&row.metadata).map_err(|e| bad("metadata is not valid client metadata JSON", &e))?;
    Ok(Client {
        id: ClientId::parse(id.as_str()).map_err(|e| bad("invalid id", &e))?,
        name: row.name,
        secret_hash: row.secret_hash.map(SecretHash::from_stored),
        previous_secret,
        auth_method: row.auth_method.parse::<ClientAuthMethod>().map_err(|e| bad("auth_method", &e))?,
        application_type: row.application_type.parse::<ApplicationType>().map_err(|e| bad("application_type", &e))?,
        redirect_uris: uris("redirect_uris", &row.redirect_uris)?,
        post_logout_redirect_uris: uris("post_logout_redirect_uris", &row.post_logout_redirect_uris)?,
        grant_types,
        scope: Scope::parse(&row.scope).map_err(|e| bad("scope", &e))?,
        resources: strings("resources", &row.resources)?,
        first_party: row.first_party,
        admin: row.admin,
        require_pkce: row.require_pkce,
        access_token_ttl: row.access_token_ttl,
        metadata,
        created_at: row.created_at,
        updated_at: row.updated_at,
        revoked_before: row.revoked_before,
        revision: row.revision,
    })
}

/// A client by id.
pub(super) fn load_client(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<Client>> {
    clients::table.find(id).select(ClientRow::as_select()).first(conn).optional()?.map(client_from_row).transpose()
}

#[async_trait]
impl ClientStore for DieselStore {
    async fn create_client(&self, client: &Client) -> StoreResult<()> {
        let fields = fields_from_client(client)?;
        let id = client.id.as_str().to_owned();
        let created_at = client.created_at;
        self.db()
            .write(move |c| {
                diesel::insert_into(clients::table)
                    .values((clients::id.eq(&id), clients::created_at.eq(created_at), fields))
                    .execute(c)
                    .map_err(|e| match StoreError::from(e) {
                        StoreError::Conflict(_) => StoreError::Conflict(format!("client_id {id}")),
                        other => other,
                    })?;
                Ok(())
            })
            .await
    }

    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>> {
        let id = id.as_str().to_owned();
        self.db().run(move |c| load_client(c, &id)).await
    }

    async fn list_clients(&self, after: Option<&ClientId>, limit: i64) -> StoreResult<Vec<Client>> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let after = after.map(|id| id.as_str().to_owned());
        self.db()
            .run(move |c| {
                let mut query =
                    clients::table.select(ClientRow::as_select()).order(clients::id.asc()).limit(limit).into_boxed();
                if let Some(after) = after {
                    query = query.filter(clients::id.gt(after));
                }
                query.load(c)?.into_iter().map(client_from_row).collect()
            })
            .await
    }

    async fn update_client(&self, client: &Client) -> StoreResult<()> {
        let fields = fields_from_client(client)?;
        let (id, read) = (client.id.as_str().to_owned(), client.revision);
        self.db()
            .write(move |c| {
                // created_at and registration_token_hash are kept: neither is the caller's to change here.
                let row = clients::table.find(&id).filter(clients::revision.eq(read));
                let changed = diesel::update(row).set((fields, clients::revision.eq(read + 1))).execute(c)?;
                if changed == 0 {
                    let exists: bool = diesel::select(diesel::dsl::exists(clients::table.find(&id))).get_result(c)?;
                    return Err(if exists {
                        StoreError::Conflict("the client changed since it was read".into())
                    } else {
                        StoreError::NotFound
                    });
                }
                Ok(())
            })
            .await
    }

    async fn set_client_revoked_before(&self, id: &ClientId, at: UnixTime) -> StoreResult<()> {
        let id = id.as_str().to_owned();
        self.db()
            .write(move |c| {
                // updated_at is left alone, as for users: `at` is a cut-off, not a change to the client.
                let earlier = clients::revoked_before.is_null().or(clients::revoked_before.lt(at));
                let moved = diesel::update(clients::table.find(&id).filter(earlier))
                    .set(clients::revoked_before.eq(at))
                    .execute(c)?;
                if moved == 0 && !diesel::select(diesel::dsl::exists(clients::table.find(&id))).get_result(c)? {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            })
            .await
    }

    async fn delete_client(&self, id: &ClientId) -> StoreResult<()> {
        let id = id.as_str().to_owned();
        self.db()
            .write(move |c| {
                let deleted = diesel::delete(clients::table.find(&id)).execute(c)?;
                if deleted == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
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

    // Regression: releases before 2026-12-05 stored `https://spa.example` as `https://spa.example/`, and an app
    // still sending the former was refused once redirect URIs were compared as text. The migration registers an
    // origin's form without the slash beside it, and nothing else.
    async fn the_upgrade_registers_origins_without_the_slash_the_url_parser_added(backend: Backend) {
        let t = TestDb::new(backend).await;
        let uris = |list: &[&str]| list.iter().map(|u| RedirectUri::parse(u).unwrap()).collect::<Vec<_>>();
        let mut old = full_client("old");
        old.redirect_uris = uris(&["https://spa.example/", "http://localhost:3000/cb", "http://localhost:3000/"]);
        old.post_logout_redirect_uris = uris(&["https://spa.example/"]);
        let mut untouched = full_client("untouched");
        untouched.redirect_uris =
            uris(&["https://a.example/cb", "https://b.example/?x=1", "com.example.app:/", "https://c.example"]);
        untouched.post_logout_redirect_uris = uris(&["https://d.example/", "https://d.example"]);
        // What the later migration gives a client with a private-use scheme.
        untouched.application_type = ApplicationType::Native;
        // Stored first: the reverted migrations keep the rows (the later one drops a column the store writes).
        for client in [&old, &untouched] {
            t.store.create_client(client).await.unwrap();
        }
        let reverted = t.revert_down_to("20261205200000").await;
        assert_eq!(t.db.migrate().await.unwrap(), reverted);
        let texts = |list: &[RedirectUri]| list.iter().map(|u| u.as_str().to_owned()).collect::<Vec<_>>();
        let read = t.store.client(&old.id).await.unwrap().unwrap();
        assert_eq!(
            texts(&read.redirect_uris),
            [
                "https://spa.example/",
                "https://spa.example",
                "http://localhost:3000/cb",
                "http://localhost:3000/",
                "http://localhost:3000"
            ]
        );
        assert_eq!(texts(&read.post_logout_redirect_uris), ["https://spa.example/", "https://spa.example"]);
        assert_eq!(t.store.client(&untouched.id).await.unwrap().unwrap(), untouched);
    }

    /// Clients stored before `application_type` get the type their redirect URIs do not contradict: native when
    /// one of them, or of the post-logout ones, has a private-use scheme (or is not plainly http(s)), else web.
    async fn the_upgrade_types_clients_by_their_redirect_uris(backend: Backend) {
        let t = TestDb::new(backend).await;
        let uris = |list: &[&str]| list.iter().map(|u| RedirectUri::parse(u).unwrap()).collect::<Vec<_>>();
        let cases: [(&str, &[&str], &[&str], ApplicationType); 6] = [
            (
                "web",
                &["https://app.example/cb", "http://127.0.0.1:8080/cb"],
                &["https://app.example/bye"],
                ApplicationType::Web,
            ),
            ("none", &[], &[], ApplicationType::Web),
            ("scheme", &["https://app.example/cb", "com.example.app:/cb"], &[], ApplicationType::Native),
            ("logout", &["http://[::1]/cb"], &["com.example.app:/bye"], ApplicationType::Native),
            ("upper", &["HTTPS://app.example/cb"], &[], ApplicationType::Native),
            ("slashless", &["myapp:cb"], &[], ApplicationType::Native),
        ];
        for (id, redirect, logout, _) in cases {
            let mut client = bare_client(id);
            client.redirect_uris = uris(redirect);
            client.post_logout_redirect_uris = uris(logout);
            // Typed wrongly on purpose: only the migration may set the column here.
            client.application_type = ApplicationType::Native;
            t.store.create_client(&client).await.unwrap();
        }
        let reverted = t.revert_down_to("20261205600000").await;
        assert_eq!(t.db.migrate().await.unwrap(), reverted);
        for (id, _, _, expected) in cases {
            let read = t.store.client(&ClientId::parse(id).unwrap()).await.unwrap().unwrap();
            assert_eq!(read.application_type, expected, "{id}");
        }
    }

    /// A client with every field set, optional ones included.
    fn full_client(id: &str) -> Client {
        Client {
            id: ClientId::parse(id).unwrap(),
            name: format!("App «{id}» with \"quotes\""),
            secret_hash: Some(PlainSecret::new("current").hash()),
            previous_secret: Some((PlainSecret::new("previous").hash(), 1_700_000_900)),
            auth_method: ClientAuthMethod::ClientSecretBasic,
            application_type: ApplicationType::Native,
            redirect_uris: vec![
                RedirectUri::parse("https://app.example/cb").unwrap(),
                RedirectUri::parse("http://127.0.0.1/native").unwrap(),
            ],
            post_logout_redirect_uris: vec![RedirectUri::parse("https://app.example/bye?x=1").unwrap()],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken, GrantType::ClientCredentials],
            scope: Scope::parse("openid profile email offline_access").unwrap(),
            resources: vec!["https://api.example".into(), "urn:example:other".into()],
            first_party: true,
            admin: true,
            require_pkce: false,
            access_token_ttl: Some(300),
            metadata: ClientMetadata {
                client_uri: Some("https://app.example".into()),
                logo_uri: Some("https://app.example/logo.png".into()),
                policy_uri: Some("https://app.example/privacy".into()),
                tos_uri: Some("https://app.example/tos".into()),
                contacts: vec!["ops@app.example".into(), "dev@app.example".into()],
                jwks: Some(serde_json::json!({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "k1"}]})),
                jwks_uri: Some("https://app.example/jwks.json".into()),
                token_endpoint_auth_signing_alg: Some("ES256".into()),
                default_max_age: Some(900),
                default_acr_values: vec!["2".into(), "1".into()],
                require_auth_time: Some(true),
                require_pushed_authorization_requests: Some(true),
                require_signed_request_object: Some(true),
                request_object_signing_alg: Some("RS256".into()),
                dpop_bound_access_tokens: Some(true),
                backchannel_logout_uri: Some("https://app.example/bc".into()),
                backchannel_logout_session_required: Some(true),
                frontchannel_logout_uri: Some("https://app.example/fc".into()),
                frontchannel_logout_session_required: Some(true),
                subject_type: Some(crate::domain::SubjectType::Pairwise),
                sector_identifier_uri: Some("https://app.example/sector.json".into()),
            },
            created_at: 1_700_000_000,
            updated_at: 1_700_000_001,
            revoked_before: Some(1_700_000_002),
            revision: 0,
        }
    }

    /// A public client with every optional field empty.
    fn bare_client(id: &str) -> Client {
        Client {
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
            created_at: 5,
            updated_at: 5,
            revoked_before: None,
            revision: 0,
        }
    }

    async fn round_trips_every_field(backend: Backend) {
        let t = TestDb::new(backend).await;
        for client in [full_client("full"), bare_client("bare")] {
            t.store.create_client(&client).await.unwrap();
            let back = t.store.client(&client.id).await.unwrap().unwrap();
            assert_eq!(back, client);
            assert!(back.secret_hash.is_none() || back.secret_matches("current", 0));
        }
        let full = t.store.client(&ClientId::parse("full").unwrap()).await.unwrap().unwrap();
        assert!(full.secret_matches("previous", 1_700_000_899));
        assert!(t.store.client(&ClientId::parse("nope").unwrap()).await.unwrap().is_none());
    }

    async fn duplicate_id_conflicts(backend: Backend) {
        let t = TestDb::new(backend).await;
        t.store.create_client(&full_client("dup")).await.unwrap();
        let err = t.store.create_client(&bare_client("dup")).await.unwrap_err();
        assert!(matches!(&err, StoreError::Conflict(what) if what.contains("dup")), "{err:?}");
        // The first one is untouched.
        assert_eq!(t.store.client(&ClientId::parse("dup").unwrap()).await.unwrap().unwrap(), full_client("dup"));
    }

    async fn update_replaces_every_field(backend: Backend) {
        let t = TestDb::new(backend).await;
        let id = ClientId::parse("app").unwrap();
        t.store.create_client(&full_client("app")).await.unwrap();

        // Full -> bare clears every optional column; created_at and revoked_before stay.
        let mut bare = bare_client("app");
        bare.updated_at = 1_700_001_000;
        t.store.update_client(&bare).await.unwrap();
        let back = t.store.client(&id).await.unwrap().unwrap();
        let expected = Client { created_at: 1_700_000_000, revoked_before: Some(1_700_000_002), revision: 1, ..bare };
        assert_eq!(back, expected);

        // Bare -> full sets them again.
        let mut full = full_client("app");
        full.name = "Renamed".into();
        full.updated_at = 1_700_002_000;
        full.revision = 1;
        t.store.update_client(&full).await.unwrap();
        assert_eq!(t.store.client(&id).await.unwrap().unwrap(), Client { revision: 2, ..full });

        let err = t.store.update_client(&bare_client("ghost")).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
    }

    async fn update_keeps_the_registration_token(backend: Backend) {
        let t = TestDb::new(backend).await;
        t.store.create_client(&bare_client("dyn")).await.unwrap();
        t.db.run(|c| {
            diesel::update(clients::table.find("dyn")).set(clients::registration_token_hash.eq("rat")).execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
        t.store.update_client(&full_client("dyn")).await.unwrap();
        let rat: Option<String> =
            t.db.run(|c| Ok(clients::table.find("dyn").select(clients::registration_token_hash).first(c)?))
                .await
                .unwrap();
        assert_eq!(rat.as_deref(), Some("rat"));
    }

    /// `revoke-tokens` racing an edit (admin PUT, registration PUT, rotate-secret) that read the client before
    /// it: the edit's stale copy does not put the old cut-off back, and a later cut-off is never moved back.
    async fn revocation_survives_a_stale_full_row_update(backend: Backend) {
        let t = TestDb::new(backend).await;
        let id = ClientId::parse("app").unwrap();
        t.store.create_client(&bare_client("app")).await.unwrap();
        let mut stale = t.store.client(&id).await.unwrap().unwrap();
        t.store.set_client_revoked_before(&id, 1_700_000_500).await.unwrap();
        stale.name = "Renamed".into();
        stale.updated_at = 1_700_000_600;
        t.store.update_client(&stale).await.unwrap();
        let back = t.store.client(&id).await.unwrap().unwrap();
        assert_eq!((back.name.as_str(), back.revoked_before), ("Renamed", Some(1_700_000_500)));
        assert_eq!(back.updated_at, 1_700_000_600, "a cut-off is not a change to the client");

        t.store.set_client_revoked_before(&id, 1_700_000_400).await.unwrap();
        assert_eq!(t.store.client(&id).await.unwrap().unwrap().revoked_before, Some(1_700_000_500));
        t.store.set_client_revoked_before(&id, 1_700_000_900).await.unwrap();
        assert_eq!(t.store.client(&id).await.unwrap().unwrap().revoked_before, Some(1_700_000_900));
        let err = t.store.set_client_revoked_before(&ClientId::parse("ghost").unwrap(), 1).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
    }

    /// A secret rotation racing an edit that read the client before it: the edit's copy, with the old secret,
    /// is refused rather than written over the new one.
    async fn a_stale_update_cannot_undo_a_secret_rotation(backend: Backend) {
        let t = TestDb::new(backend).await;
        let id = ClientId::parse("app").unwrap();
        t.store.create_client(&full_client("app")).await.unwrap();
        let stale = t.store.client(&id).await.unwrap().unwrap();
        let mut rotated = stale.clone();
        rotated.secret_hash = Some(PlainSecret::new("rotated").hash());
        t.store.update_client(&rotated).await.unwrap();
        let mut edit = stale.clone();
        edit.name = "Renamed".into();
        let err = t.store.update_client(&edit).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(t.store.client(&id).await.unwrap().unwrap(), Client { revision: 1, ..rotated });
    }

    // Regression: an update was written over any change but a new secret, so of two edits of a client without a
    // secret (an operator's PUT and the client's own PUT /register, say) that read it before either wrote, the
    // second undid the first.
    async fn a_stale_update_cannot_undo_another_update(backend: Backend) {
        let t = TestDb::new(backend).await;
        let id = ClientId::parse("app").unwrap();
        t.store.create_client(&bare_client("app")).await.unwrap();
        let read = t.store.client(&id).await.unwrap().unwrap();
        let (mut renamed, mut retimed) = (read.clone(), read);
        renamed.name = "Renamed".into();
        retimed.access_token_ttl = Some(60);
        t.store.update_client(&renamed).await.unwrap();
        let err = t.store.update_client(&retimed).await.unwrap_err();
        assert!(matches!(&err, StoreError::Conflict(what) if what.contains("changed since it was read")), "{err:?}");
        let stored = t.store.client(&id).await.unwrap().unwrap();
        assert_eq!((stored.name.as_str(), stored.access_token_ttl, stored.revision), ("Renamed", None, 1));
        // Made again from what is stored now, it is written.
        t.store.update_client(&Client { access_token_ttl: Some(60), ..stored }).await.unwrap();
        let stored = t.store.client(&id).await.unwrap().unwrap();
        assert_eq!((stored.name.as_str(), stored.access_token_ttl, stored.revision), ("Renamed", Some(60), 2));
    }

    async fn list_pages_and_delete(backend: Backend) {
        let t = TestDb::new(backend).await;
        for id in ["c3", "c1", "c4", "c2", "c0"] {
            t.store.create_client(&bare_client(id)).await.unwrap();
        }
        let ids = |list: &[Client]| list.iter().map(|c| c.id.to_string()).collect::<Vec<_>>();
        let page1 = t.store.list_clients(None, 3).await.unwrap();
        assert_eq!(ids(&page1), ["c0", "c1", "c2"]);
        let page2 = t.store.list_clients(Some(&page1[2].id), 3).await.unwrap();
        assert_eq!(ids(&page2), ["c3", "c4"]);
        assert!(t.store.list_clients(Some(&page2[1].id), 3).await.unwrap().is_empty());
        assert!(t.store.list_clients(None, 0).await.unwrap().is_empty());

        let c2 = ClientId::parse("c2").unwrap();
        t.store.delete_client(&c2).await.unwrap();
        assert!(t.store.client(&c2).await.unwrap().is_none());
        assert_eq!(ids(&t.store.list_clients(None, 10).await.unwrap()), ["c0", "c1", "c3", "c4"]);
        let err = t.store.delete_client(&c2).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
    }

    async fn delete_cascades_to_consents(backend: Backend) {
        let t = TestDb::new(backend).await;
        t.store.create_client(&bare_client("gone")).await.unwrap();
        t.db.run(|c| {
            diesel::sql_query(
                "INSERT INTO users (id, username, password_hash, email_verified, disabled, created_at, updated_at) \
                 VALUES ('u1', 'u1', 'h', FALSE, FALSE, 0, 0)",
            )
            .execute(c)?;
            diesel::sql_query(
                "INSERT INTO consents (user_id, client_id, scope, created_at, updated_at) \
                 VALUES ('u1', 'gone', 'openid', 0, 0)",
            )
            .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
        t.store.delete_client(&ClientId::parse("gone").unwrap()).await.unwrap();
        let left: i64 = t.db.run(|c| Ok(super::super::schema::consents::table.count().get_result(c)?)).await.unwrap();
        assert_eq!(left, 0);
    }

    async fn corrupt_rows_are_errors_not_panics(backend: Backend) {
        let t = TestDb::new(backend).await;
        t.store.create_client(&full_client("bad")).await.unwrap();
        let bad = ClientId::parse("bad").unwrap();
        for (revision, (column, value)) in (0..).zip([
            ("redirect_uris", r#"["https://evil.example/cb#frag"]"#),
            ("redirect_uris", "not json"),
            ("grant_types", r#"["implicit"]"#),
            ("auth_method", "magic"),
            ("application_type", "desktop"),
            ("metadata", r#"{"contacts": "not a list"}"#),
            ("scope", "caf\u{e9}"),
        ]) {
            t.store.update_client(&Client { revision, ..full_client("bad") }).await.unwrap();
            let sql = format!("UPDATE clients SET {column} = '{value}' WHERE id = 'bad'");
            t.db.run(move |c| Ok(diesel::sql_query(sql).execute(c)?)).await.unwrap();
            let err = t.store.client(&bad).await.unwrap_err();
            assert!(
                matches!(&err, StoreError::Backend(msg) if msg.contains("\"bad\"") && msg.contains(column)),
                "{column}: {err:?}"
            );
            assert!(t.store.list_clients(None, 10).await.is_err());
        }
    }

    both_backends!(
        the_upgrade_registers_origins_without_the_slash_the_url_parser_added,
        the_upgrade_types_clients_by_their_redirect_uris,
        round_trips_every_field,
        duplicate_id_conflicts,
        update_replaces_every_field,
        update_keeps_the_registration_token,
        revocation_survives_a_stale_full_row_update,
        a_stale_update_cannot_undo_a_secret_rotation,
        a_stale_update_cannot_undo_another_update,
        list_pages_and_delete,
        delete_cascades_to_consents,
        corrupt_rows_are_errors_not_panics,
    );
}
