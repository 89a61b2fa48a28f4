//! Authorization-request parsing: any query string goes through the whole check pipeline without a panic,
//! and whatever it accepts satisfies the invariants the rest of the flow relies on.
#![no_main]
use async_trait::async_trait;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use tessera::domain::{
    ApplicationType, Client, ClientAuthMethod, ClientId, ClientMetadata, ClientState, GrantType, RedirectUri, Scope,
};
use tessera::oauth::authorize::{validate, AuthorizeError};
use tessera::oauth::params::Params;
use tessera::storage::{ClientStore, StoreResult};

struct OneClient(Client);

#[async_trait]
impl ClientStore for OneClient {
    async fn create_client(&self, _: &Client) -> StoreResult<()> {
        Ok(())
    }
    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>> {
        Ok((id == &self.0.id).then(|| self.0.clone()))
    }
    async fn list_clients(&self, _: Option<&ClientId>, _: i64) -> StoreResult<Vec<Client>> {
        Ok(vec![self.0.clone()])
    }
    async fn update_client(&self, _: &Client) -> StoreResult<()> {
        Ok(())
    }
    async fn set_client_revoked_before(&self, _: &ClientId, _: i64) -> StoreResult<()> {
        Ok(())
    }
    async fn delete_client(&self, _: &ClientId) -> StoreResult<()> {
        Ok(())
    }
}

static STORE: LazyLock<OneClient> = LazyLock::new(|| {
    OneClient(Client {
        id: ClientId::parse("app").expect("id"),
        name: "App".into(),
        secret_hash: None,
        previous_secret: None,
        auth_method: ClientAuthMethod::None,
        application_type: ApplicationType::Web,
        redirect_uris: vec![
            RedirectUri::parse("https://app.example/cb").expect("uri"),
            RedirectUri::parse("http://127.0.0.1/cb").expect("uri"),
        ],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode],
        scope: Scope::parse("openid profile email").expect("scope"),
        resources: vec!["https://api.example/".into()],
        first_party: false,
        admin: false,
        require_pkce: true,
        access_token_ttl: None,
        metadata: ClientMetadata::default(),
        created_at: 0,
        updated_at: 0,
        revoked_before: None,
        revision: 0,
    })
});

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().build().expect("a runtime"));

/// RFC 6749 Appendix A.5: `state = 1*VSCHAR`.
fn is_vschar(state: &str) -> bool {
    state.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

fuzz_target!(|data: &[u8]| {
    let pairs = url::form_urlencoded::parse(data).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let Ok(params) = Params::from_authorization_pairs(pairs) else { return };
    // With sign-up on, so that `prompt=create` is parsed too.
    match RUNTIME.block_on(validate(params, &*STORE, true)) {
        Ok((req, client)) => {
            assert!(client.redirect_uris.iter().any(|r| r.accepts(&req.redirect_uri)));
            assert!(req.scope.is_subset_of(&client.scope));
            assert!(req.code_challenge.is_some(), "PKCE is required for this client");
            assert!(
                req.state.as_ref().map(ClientState::as_str).is_none_or(is_vschar),
                "a state outside VSCHAR was accepted"
            );
        }
        Err(AuthorizeError::Redirect(r)) => {
            assert!(
                STORE.0.redirect_uris.iter().any(|u| u.accepts(&r.redirect_uri)),
                "redirected to an unverified URI"
            );
            assert!(
                r.state.as_ref().map(ClientState::as_str).is_none_or(is_vschar),
                "a state outside VSCHAR is sent back"
            );
        }
        Err(AuthorizeError::Page(_)) => {}
        // Refusals of a new pending sign-in come from storing it, which validation does not.
        Err(other) => panic!("validation refused as only storing may: {other:?}"),
    }
});
