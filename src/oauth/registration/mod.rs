//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592).
//!
//! Who may register depends on `registration.mode`: anyone (`open`), holders of an initial access token
//! (`token`; tokens come from `tessera registration token` and stay valid until they expire), or nobody
//! (`off`; the HTTP layer then answers 404). A registered client gets a registration access token, stored
//! as a hash only, which reads, replaces and deletes its registration at `/register/{client_id}`. Every
//! failure to present the right token is the same `invalid_token`, whether the client exists or not.
pub mod metadata;
pub mod sector;

use super::audit::{EventFacts, RequestMeta};
use super::client_keys::Reach;
use super::discovery::paths;
use super::error::OAuthError;
use super::provider::Provider;
use crate::config::RegistrationMode;
use crate::domain::secret::{PlainSecret, SecretHash};
use crate::domain::{Client, ClientId, UnixTime};
use crate::storage::StoreError;
use metadata::{build_client, parse_request, ClientInformation};
use serde_json::{json, Value};

/// Permission to register a client: the registration mode and, in `token` mode, the initial access token
/// were checked (its hash is kept, to record which token let the client in). Only
/// [`Provider::permit_registration`] makes one.
#[derive(Debug)]
pub struct RegistrationPermit(Option<SecretHash>);

impl RegistrationPermit {
    /// The hash of the initial access token that was presented and found (`token` mode).
    pub fn initial_access_token(&self) -> Option<&SecretHash> {
        self.0.as_ref()
    }
}

/// How much of a refusal's description the audit trail keeps: descriptions may quote the request (a member's
/// name, a URI's scheme).
const MAX_REFUSAL_REASON_CHARS: usize = 256;

/// A client whose registration access token was presented and checked, with that token. Only
/// [`Provider::managed_registration`] makes one.
pub struct ManagedRegistration {
    client: Client,
    token: PlainSecret,
}

impl std::fmt::Debug for ManagedRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedRegistration").field("client_id", &self.client.id).finish_non_exhaustive()
    }
}

impl ManagedRegistration {
    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// What a request to a client configuration endpoint (RFC 7592 §2) asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagementOperation {
    /// `GET`: read the registration.
    Read,
    /// `PUT`: replace its metadata.
    Update,
    /// `DELETE`: delete the client.
    Delete,
}

impl ManagementOperation {
    /// A name for the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

/// The details every `client_registration_refused` event has: the error code and the description the requester
/// was given (cut short).
fn refusal_details(error: &OAuthError) -> Value {
    json!({
        "error": error.code.as_str(),
        "reason": error.description.chars().take(MAX_REFUSAL_REASON_CHARS).collect::<String>(),
    })
}

fn bad_registration_token() -> OAuthError {
    OAuthError::invalid_token("the registration access token is missing, invalid, or not this client's")
}

impl Provider {
    /// The client configuration endpoint of a client (RFC 7592 §1).
    pub fn registration_client_uri(&self, id: &ClientId) -> String {
        format!("{}{}/{}", self.issuer, paths::REGISTER, id.as_str())
    }

    /// Whether a registration request may proceed: always in `open` mode, with a valid unexpired initial access
    /// token in `token` mode (`invalid_token` otherwise), never in `off` mode.
    pub async fn permit_registration(
        &self,
        initial_access_token: Option<&str>,
        now: UnixTime,
    ) -> Result<RegistrationPermit, OAuthError> {
        match self.registration_mode {
            RegistrationMode::Open => Ok(RegistrationPermit(None)),
            RegistrationMode::Off => Err(OAuthError::invalid_request("dynamic client registration is turned off")),
            RegistrationMode::Token => {
                let token = initial_access_token
                    .ok_or_else(|| OAuthError::invalid_token("an initial access token is required"))?;
                let found = self.registrations.initial_access_token(&SecretHash::of(token), now).await?;
                // The lookup went by hash; compare once more in constant time all the same.
                match found {
                    Some(t) if t.hash.matches(token) => Ok(RegistrationPermit(Some(t.hash))),
                    _ => Err(OAuthError::invalid_token("the initial access token is invalid or has expired")),
                }
            }
        }
    }

    /// `POST /register` (RFC 7591 §3): checks the metadata in `body` (a JSON object) and stores the client
    /// with the hash of a new registration access token. The response carries the token and, for clients
    /// authenticating with a secret, the secret: both are shown this once.
    pub async fn register_client(
        &self,
        permit: RegistrationPermit,
        body: &[u8],
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<ClientInformation, OAuthError> {
        let requested = parse_request(body)?;
        let (client, secret) = build_client(&requested, ClientId::generate(), None, now)?;
        self.check_sector_identifier(&client, Reach::PublicOnly).await?;
        let registration_token = PlainSecret::generate();
        self.registrations.create_registered_client(&client, &registration_token.hash()).await?;
        // Which initial access token let it in (its hash, as `tessera registration token` shows it), so that the
        // clients a leaked token registered can be found.
        let extra = permit.0.map(|hash| json!({ "initial_access_token": hash.as_str() }));
        self.audit_registration("client_registered", &client, extra, meta, now).await;
        let uri = self.registration_client_uri(&client.id);
        Ok(ClientInformation::new(client, secret, registration_token, uri))
    }

    /// Records a refused `POST /register`: the error code and the description the requester was given, and,
    /// when an initial access token was presented and found, its hash (as `client_registered` names it). Never
    /// the body nor the token: the requester may be anyone, and the body may hold a secret.
    pub async fn audit_registration_refused(
        &self,
        error: &OAuthError,
        initial_access_token: Option<&SecretHash>,
        meta: &RequestMeta,
        now: UnixTime,
    ) {
        let mut details = refusal_details(error);
        if let (Some(details), Some(hash)) = (details.as_object_mut(), initial_access_token) {
            details.insert("initial_access_token".into(), Value::from(hash.as_str()));
        }
        let facts = EventFacts { details, ..EventFacts::default() };
        self.audit("client_registration_refused", facts, meta, now).await;
    }

    /// Records a refused request to `/register/{client_id}` as `client_registration_refused`, with the
    /// `operation`, the error code and the description the requester was given. The client is the one the path
    /// names (when it is a well-formed client id, whether or not such a client exists: a wrong token is refused
    /// alike either way); the actor is that client only when its registration access token was right
    /// (`authenticated`), for a refused update or delete. Never the token nor the body.
    pub async fn audit_registration_management_refused(
        &self,
        operation: ManagementOperation,
        client_id: &str,
        authenticated: Option<&ClientId>,
        error: &OAuthError,
        meta: &RequestMeta,
        now: UnixTime,
    ) {
        let mut details = refusal_details(error);
        if let Some(details) = details.as_object_mut() {
            details.insert("operation".into(), Value::from(operation.as_str()));
        }
        let facts = EventFacts {
            actor: authenticated.map(|id| id.as_str().to_owned()),
            client_id: ClientId::parse(client_id).ok().map(String::from),
            details,
            ..EventFacts::default()
        };
        self.audit("client_registration_refused", facts, meta, now).await;
    }

    /// The client whose registration `token` manages, or `invalid_token`. Unknown clients, clients without a
    /// registration (made by an operator) and wrong tokens fail alike and cost the same comparison.
    pub async fn managed_registration(
        &self,
        client_id: &str,
        token: Option<&str>,
    ) -> Result<ManagedRegistration, OAuthError> {
        let token = token.ok_or_else(bad_registration_token)?;
        let stored = match ClientId::parse(client_id) {
            Ok(id) => self.registrations.registration_token_hash(&id).await?.map(|hash| (id, hash)),
            Err(_) => None,
        };
        let Some((id, hash)) = stored else {
            // Spend the comparison an existing client would cost.
            let _ = SecretHash::of("").matches(token);
            return Err(bad_registration_token());
        };
        if !hash.matches(token) {
            return Err(bad_registration_token());
        }
        let client = self.clients.client(&id).await?.ok_or_else(bad_registration_token)?;
        Ok(ManagedRegistration { client, token: PlainSecret::new(token) })
    }

    /// `GET /register/{client_id}` (RFC 7592 §2.1): the registration as it stands. The client secret is not
    /// shown again; the registration access token is the one presented.
    pub fn read_client_registration(&self, managed: ManagedRegistration) -> ClientInformation {
        let uri = self.registration_client_uri(&managed.client.id);
        ClientInformation::new(managed.client, None, managed.token, uri)
    }

    /// `PUT /register/{client_id}` (RFC 7592 §2.2): replaces the client's metadata with `body`, checked as at
    /// registration. The body names the client (`client_id`) and may repeat its current secret, never choose
    /// a new one. A client that moves to a secret method without having a secret is issued one, shown once.
    pub async fn update_client_registration(
        &self,
        managed: ManagedRegistration,
        body: &[u8],
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<ClientInformation, OAuthError> {
        let current = &managed.client;
        let requested = parse_request(body)?;
        match requested.client_id.as_deref() {
            Some(id) if id == current.id.as_str() => {}
            Some(_) => return Err(metadata::metadata_error("client_id does not match this client")),
            None => return Err(metadata::metadata_error("client_id is required in an update")),
        }
        if let Some(secret) = requested.client_secret.as_deref() {
            if !current.secret_matches(secret, now) {
                return Err(metadata::metadata_error("client_secret is not the client's current secret"));
            }
        }
        let (client, secret) = build_client(&requested, current.id.clone(), Some(current), now)?;
        metadata::sector_kept(current, &client)?;
        self.check_sector_identifier(&client, Reach::PublicOnly).await?;
        self.clients.update_client(&client).await.map_err(|e| match e {
            // Deleted since the token was checked.
            StoreError::NotFound => bad_registration_token(),
            StoreError::Conflict(_) => {
                metadata::metadata_error("the client was changed while this update was made; try again")
            }
            other => other.into(),
        })?;
        self.audit_registration("client_registration_updated", &client, None, meta, now).await;
        let uri = self.registration_client_uri(&client.id);
        Ok(ClientInformation::new(client, secret, managed.token, uri))
    }

    /// `DELETE /register/{client_id}` (RFC 7592 §2.3): revokes what the client was issued, then deletes it (its
    /// refresh tokens, consents and registration access token go with it).
    pub async fn delete_client_registration(
        &self,
        managed: ManagedRegistration,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(), OAuthError> {
        let client = managed.client;
        let issued = self.refresh_tokens.revoke_client_refresh_tokens(&client.id, now).await?;
        self.revoke_access_tokens(&issued, now).await;
        self.clients.delete_client(&client.id).await.map_err(|e| match e {
            // A concurrent delete got there first: this request's token opens nothing any more (RFC 7592 §2.3),
            // and only the delete that removed the client answers for it.
            StoreError::NotFound => bad_registration_token(),
            other => other.into(),
        })?;
        self.audit_registration("client_registration_deleted", &client, None, meta, now).await;
        Ok(())
    }

    /// Records `kind` for `client`, with its metadata and the members of `extra` (an object) in the details.
    async fn audit_registration(
        &self,
        kind: &str,
        client: &Client,
        extra: Option<Value>,
        meta: &RequestMeta,
        now: UnixTime,
    ) {
        let mut details = json!({
            "client_name": client.name,
            "application_type": client.application_type.as_str(),
            "token_endpoint_auth_method": client.auth_method.as_str(),
            "grant_types": client.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
            "redirect_uris": client.redirect_uris.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
        });
        if let (Some(details), Some(Value::Object(extra))) = (details.as_object_mut(), extra) {
            details.extend(extra);
        }
        let facts = EventFacts {
            actor: Some(client.id.as_str().to_owned()),
            client_id: Some(client.id.as_str().to_owned()),
            details,
            ..EventFacts::default()
        };
        self.audit(kind, facts, meta, now).await;
    }
}
