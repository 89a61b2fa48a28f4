//! What every handler can reach.
use super::cookies::CookiePolicy;
use crate::config::Settings;
use crate::jose::KeyRing;
use crate::oauth::provider::Provider;
use crate::storage::cache::EphemeralStore;
use crate::storage::diesel::DieselStore;
use std::sync::Arc;

/// Shared application state, built once at startup and shared by all workers.
pub struct AppState {
    /// Validated settings.
    pub settings: Settings,
    /// SQL storage.
    pub store: DieselStore,
    /// Hot state.
    pub cache: Arc<dyn EphemeralStore>,
    /// Signing keys.
    pub keys: Arc<KeyRing>,
    /// The protocol engine.
    pub provider: Arc<Provider>,
    /// The upstream providers of `[federation]`, as a relying party.
    pub upstreams: Arc<crate::upstream::Upstreams>,
    /// Cookie names and attributes.
    pub cookies: CookiePolicy,
    /// `scheme://host[:port]` of the issuer, for Origin checks.
    pub issuer_origin: String,
    /// The discovery document, serialized once.
    pub discovery_json: Vec<u8>,
    /// Its ETag.
    pub discovery_etag: String,
}
