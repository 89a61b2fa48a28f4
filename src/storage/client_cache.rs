//! A short-lived in-process cache in front of a [`ClientStore`], for client authentication at the token
//! endpoint, where the same few clients are looked up thousands of times a second (DESIGN.md §3).
//! Changes made through this cache invalidate their entry at once; changes made elsewhere (another instance,
//! the CLI) are seen within the TTL. Revocation checks do not read through it: they must be exact.
use super::{ClientStore, StoreResult};
use crate::domain::{Client, ClientId, UnixTime};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most clients kept; beyond that the cache starts over (a cheap bound, the hot set is small).
const MAX_ENTRIES: usize = 10_000;

struct Cache {
    inner: Arc<dyn ClientStore>,
    ttl: Duration,
    entries: Mutex<HashMap<ClientId, (Option<Client>, Instant)>>,
}

/// A view of a client store whose lookups may be up to a TTL old. Writes through it, or through the
/// [`ExactClients`] view of the same cache, invalidate at once.
#[derive(Clone)]
pub struct CachedClients(Arc<Cache>);

/// The exact view of the same store: lookups always read the store; writes invalidate the cache.
#[derive(Clone)]
pub struct ExactClients(Arc<Cache>);

/// Both views over `inner`, caching lookups for `ttl` (zero: no caching).
pub fn client_views(inner: Arc<dyn ClientStore>, ttl: Duration) -> (CachedClients, ExactClients) {
    let cache = Arc::new(Cache { inner, ttl, entries: Mutex::new(HashMap::new()) });
    (CachedClients(Arc::clone(&cache)), ExactClients(cache))
}

impl Cache {
    fn forget(&self, id: &ClientId) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    async fn create_client(&self, client: &Client) -> StoreResult<()> {
        let r = self.inner.create_client(client).await;
        self.forget(&client.id);
        r
    }

    async fn update_client(&self, client: &Client) -> StoreResult<()> {
        let r = self.inner.update_client(client).await;
        self.forget(&client.id);
        r
    }

    async fn set_client_revoked_before(&self, id: &ClientId, at: UnixTime) -> StoreResult<()> {
        let r = self.inner.set_client_revoked_before(id, at).await;
        self.forget(id);
        r
    }

    async fn delete_client(&self, id: &ClientId) -> StoreResult<()> {
        let r = self.inner.delete_client(id).await;
        self.forget(id);
        r
    }
}

#[async_trait]
impl ClientStore for ExactClients {
    async fn create_client(&self, client: &Client) -> StoreResult<()> {
        self.0.create_client(client).await
    }

    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>> {
        self.0.inner.client(id).await
    }

    async fn list_clients(&self, after: Option<&ClientId>, limit: i64) -> StoreResult<Vec<Client>> {
        self.0.inner.list_clients(after, limit).await
    }

    async fn update_client(&self, client: &Client) -> StoreResult<()> {
        self.0.update_client(client).await
    }

    async fn set_client_revoked_before(&self, id: &ClientId, at: UnixTime) -> StoreResult<()> {
        self.0.set_client_revoked_before(id, at).await
    }

    async fn delete_client(&self, id: &ClientId) -> StoreResult<()> {
        self.0.delete_client(id).await
    }
}

#[async_trait]
impl ClientStore for CachedClients {
    async fn create_client(&self, client: &Client) -> StoreResult<()> {
        self.0.create_client(client).await
    }

    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>> {
        let cache = &self.0;
        if !cache.ttl.is_zero() {
            let entries = cache.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((client, at)) = entries.get(id) {
                if at.elapsed() < cache.ttl {
                    return Ok(client.clone());
                }
            }
        }
        let client = cache.inner.client(id).await?;
        if !cache.ttl.is_zero() {
            let mut entries = cache.entries.lock().unwrap_or_else(|e| e.into_inner());
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(id.clone(), (client.clone(), Instant::now()));
        }
        Ok(client)
    }

    async fn list_clients(&self, after: Option<&ClientId>, limit: i64) -> StoreResult<Vec<Client>> {
        self.0.inner.list_clients(after, limit).await
    }

    async fn update_client(&self, client: &Client) -> StoreResult<()> {
        self.0.update_client(client).await
    }

    async fn set_client_revoked_before(&self, id: &ClientId, at: UnixTime) -> StoreResult<()> {
        self.0.set_client_revoked_before(id, at).await
    }

    async fn delete_client(&self, id: &ClientId) -> StoreResult<()> {
        self.0.delete_client(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ApplicationType, ClientAuthMethod, ClientMetadata, Scope};

    #[derive(Default)]
    struct Counting {
        clients: Mutex<HashMap<ClientId, Client>>,
        reads: Mutex<u32>,
    }

    #[async_trait]
    impl ClientStore for Counting {
        async fn create_client(&self, c: &Client) -> StoreResult<()> {
            self.clients.lock().unwrap().insert(c.id.clone(), c.clone());
            Ok(())
        }
        async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>> {
            *self.reads.lock().unwrap() += 1;
            Ok(self.clients.lock().unwrap().get(id).cloned())
        }
        async fn list_clients(&self, _: Option<&ClientId>, _: i64) -> StoreResult<Vec<Client>> {
            Ok(vec![])
        }
        async fn update_client(&self, c: &Client) -> StoreResult<()> {
            self.create_client(c).await
        }
        async fn set_client_revoked_before(&self, id: &ClientId, at: UnixTime) -> StoreResult<()> {
            if let Some(c) = self.clients.lock().unwrap().get_mut(id) {
                c.revoked_before = Some(at);
            }
            Ok(())
        }
        async fn delete_client(&self, id: &ClientId) -> StoreResult<()> {
            self.clients.lock().unwrap().remove(id);
            Ok(())
        }
    }

    fn client(name: &str) -> Client {
        Client {
            id: ClientId::parse("c").unwrap(),
            name: name.into(),
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
            created_at: 0,
            updated_at: 0,
            revoked_before: None,
            revision: 0,
        }
    }

    #[tokio::test]
    async fn cached_view_reuses_lookups_and_writes_through_either_view_invalidate() {
        let store = Arc::new(Counting::default());
        let (cached, exact) = client_views(store.clone(), Duration::from_secs(60));
        let id = ClientId::parse("c").unwrap();
        exact.create_client(&client("one")).await.unwrap();
        assert_eq!(cached.client(&id).await.unwrap().unwrap().name, "one");
        assert_eq!(cached.client(&id).await.unwrap().unwrap().name, "one");
        assert_eq!(*store.reads.lock().unwrap(), 1, "the second lookup came from the cache");
        exact.update_client(&client("two")).await.unwrap();
        assert_eq!(cached.client(&id).await.unwrap().unwrap().name, "two", "an update invalidates");
        // A change behind the cache's back is seen by the exact view at once.
        store.clients.lock().unwrap().insert(id.clone(), client("three"));
        assert_eq!(exact.client(&id).await.unwrap().unwrap().name, "three");
        assert_eq!(cached.client(&id).await.unwrap().unwrap().name, "two");
        exact.delete_client(&id).await.unwrap();
        assert!(cached.client(&id).await.unwrap().is_none());
    }
}
