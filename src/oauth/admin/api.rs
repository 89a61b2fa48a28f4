//! The admin API's operations: paging, the caller check, and one `Provider` method per endpoint.
use super::search::filter_param;
use super::*;
use crate::oauth::cache_keys;
use std::time::Duration;

// --- Paging and filters ---

/// The `limit` parameter: 1 to [`MAX_PAGE_SIZE`], [`DEFAULT_PAGE_SIZE`] when absent.
pub(super) fn page_limit(params: &Params) -> Result<i64, AdminError> {
    match params.get("limit") {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| AdminError::Invalid(format!("limit must be an integer from 1 to {MAX_PAGE_SIZE}"))),
    }
}

/// A page as JSON from up to `limit + 1` rows (one more than shown tells whether another page follows):
/// `next` is the cursor of the following page (`key` of the last item shown), `null` on the last page.
pub(super) fn page<T>(mut rows: Vec<T>, limit: i64, json: impl Fn(&T) -> Value, key: impl Fn(&T) -> String) -> Value {
    let shown = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > shown;
    rows.truncate(shown);
    let next = if more { rows.last().map(key) } else { None };
    json!({ "items": rows.iter().map(json).collect::<Vec<_>>(), "next": next })
}

// --- The admin API ---

/// Who is calling the admin API: an admin client, acting for itself.
#[derive(Debug, Clone)]
pub struct AdminCaller {
    /// The admin client (the actor in the audit trail).
    pub client_id: ClientId,
}

impl AdminCaller {
    pub(super) fn facts(&self, user_id: Option<&UserId>, client_id: Option<&ClientId>, details: Value) -> EventFacts {
        EventFacts {
            actor: Some(self.client_id.as_str().to_owned()),
            user_id: user_id.map(|u| u.as_str().to_owned()),
            client_id: client_id.map(|c| c.as_str().to_owned()),
            details,
        }
    }
}

fn insufficient_scope(description: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InsufficientScope, description)
}

fn client_details(c: &Client) -> Value {
    json!({
        "client_name": c.name,
        "token_endpoint_auth_method": c.auth_method.as_str(),
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "admin": c.admin,
    })
}

/// A client id from a path: one that cannot parse names no client.
fn path_client_id(id: &str) -> Result<ClientId, AdminError> {
    ClientId::parse(id).map_err(|_| no_client(id.chars().take(128).collect::<String>().as_str()))
}

/// A user id from a path: one that cannot parse names no user.
pub(super) fn path_user_id(id: &str) -> Result<UserId, AdminError> {
    UserId::parse(id).map_err(|_| no_user(id.chars().take(128).collect::<String>().as_str()))
}

impl Provider {
    /// Checks the bearer token of an admin API request: a live access token ([`Provider::live_access_token`])
    /// with [`ADMIN_SCOPE`], issued to a client that is still an admin client, for itself (`insufficient_scope`
    /// otherwise), and for this server rather than another resource (`invalid_token` otherwise). Such a refusal
    /// of a live token is recorded (`admin_refused`, naming its client and user), once per token: someone holding
    /// a real token tried, and trying again with it adds no row. Tokens that are not live get the RFC 6750 answer
    /// only.
    pub async fn admin_caller(
        &self,
        token: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<AdminCaller, OAuthError> {
        let (at, user) = self.live_access_token(token, now).await?;
        // The admin API takes bearer tokens only: a DPoP-bound one is not to be used without its proof.
        if at.bound_key().is_some() {
            return Err(OAuthError::invalid_token("a DPoP-bound access token is not accepted here"));
        }
        // A token for another resource (RFC 9068 §4) is refused even with the admin scope: that resource
        // could otherwise replay the tokens it is sent here.
        let (reason, refusal) = if !self.is_for_this_server(&at) {
            let reason = "the access token is for another resource";
            (reason, OAuthError::invalid_token(reason))
        } else {
            match self.admin_refusal(&at.scope, &at.client_id, user.is_some()).await? {
                Ok(caller) => return Ok(caller),
                Err(reason) => (reason, insufficient_scope(reason)),
            }
        };
        // Any holder of a token can repeat the request without end: one row per token keeps the trail readable
        // and its table bounded. Without the cache, each refusal is recorded.
        let marker = cache_keys::admin_refused(&at.jti);
        let ttl = Duration::from_secs((at.exp + self.leeway - now).max(1).unsigned_abs());
        if !self.cache.set_if_absent(&marker, b"1", ttl).await.unwrap_or(true) {
            return Err(refusal);
        }
        let facts = EventFacts {
            actor: Some(at.client_id.clone()),
            user_id: user.map(|u| u.id.as_str().to_owned()),
            client_id: Some(at.client_id),
            details: json!({ "reason": reason }),
        };
        self.audit("admin_refused", facts, meta, now).await;
        Err(refusal)
    }

    /// The caller a live token with `scope`, issued to `client_id` (for a user, or for itself) makes, or why it
    /// may not use the admin API.
    async fn admin_refusal(
        &self,
        scope: &Scope,
        client_id: &str,
        for_a_user: bool,
    ) -> Result<Result<AdminCaller, &'static str>, OAuthError> {
        if !scope.contains(ADMIN_SCOPE) {
            return Ok(Err("the access token lacks the tessera:admin scope"));
        }
        // Users hold no admin role: a token naming one (say, from a refresh token granted before
        // /authorize refused the scope) must not lend them the admin client's powers.
        if for_a_user {
            return Ok(Err("the tessera:admin scope is for the admin client itself, not its users"));
        }
        let client_id =
            ClientId::parse(client_id).map_err(|_| OAuthError::invalid_token("the access token has no client"))?;
        let client = self
            .clients
            .client(&client_id)
            .await?
            .ok_or_else(|| OAuthError::invalid_token("the client no longer exists"))?;
        if !client.admin {
            return Ok(Err("the client is no longer an admin client"));
        }
        Ok(Ok(AdminCaller { client_id }))
    }

    /// `GET /admin/api/clients?after=&limit=`: clients ordered by id.
    pub async fn admin_list_clients(&self, params: &Params) -> Result<Value, AdminError> {
        let limit = page_limit(params)?;
        let after = params
            .get("after")
            .map(ClientId::parse)
            .transpose()
            .map_err(|e| AdminError::Invalid(format!("after: invalid client id: {e}")))?;
        let clients = self.clients.list_clients(after.as_ref(), limit + 1).await?;
        Ok(page(clients, limit, client_json, |c| c.id.as_str().to_owned()))
    }

    /// `GET /admin/api/clients/{id}`.
    pub async fn admin_client(&self, id: &str) -> Result<Value, AdminError> {
        let id = path_client_id(id)?;
        let client = self.clients.client(&id).await?.ok_or_else(|| no_client(id.as_str()))?;
        Ok(client_json(&client))
    }

    /// `POST /admin/api/clients`: the new client, with its secret this once.
    pub async fn admin_create_client(
        &self,
        caller: &AdminCaller,
        body: &[u8],
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<Value, AdminError> {
        let spec = ClientSpec::from_json(body)?;
        if spec.client_id.is_some() {
            return Err(AdminError::Invalid("client_id is chosen by the server".into()));
        }
        let (client, secret) =
            create_client(&*self.clients, self.jwks_fetcher.as_ref(), &spec, self.tokens.max_access_token_ttl, now)
                .await?;
        let facts = caller.facts(None, Some(&client.id), client_details(&client));
        self.audit("admin_client_created", facts, meta, now).await;
        let mut value = client_json(&client);
        if let Some(s) = &secret {
            value["client_secret"] = json!(s.expose());
        }
        Ok(value)
    }

    /// `PUT /admin/api/clients/{id}`: replaces the editable fields, checked as at creation. A client that moves
    /// to a secret method without having a secret is issued one, shown this once.
    pub async fn admin_update_client(
        &self,
        caller: &AdminCaller,
        id: &str,
        body: &[u8],
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<Value, AdminError> {
        let id = path_client_id(id)?;
        let current = self.clients.client(&id).await?.ok_or_else(|| no_client(id.as_str()))?;
        let spec = ClientSpec::from_json(body)?;
        if spec.client_id.as_deref().is_some_and(|given| given != id.as_str()) {
            return Err(AdminError::Invalid("client_id does not match the client in the path".into()));
        }
        let (client, secret) = build_client(&spec, id.clone(), Some(&current), self.tokens.max_access_token_ttl, now)?;
        check_client_sector(self.jwks_fetcher.as_ref(), &client).await?;
        self.clients.update_client(&client).await.map_err(|e| changed_meanwhile(e, &id))?;
        let facts = caller.facts(None, Some(&client.id), client_details(&client));
        self.audit("admin_client_updated", facts, meta, now).await;
        let mut value = client_json(&client);
        if let Some(s) = &secret {
            value["client_secret"] = json!(s.expose());
        }
        Ok(value)
    }

    /// `DELETE /admin/api/clients/{id}`: revokes what the client was issued, then deletes it (its refresh
    /// tokens and consents go with it; its access tokens fail the live check once it is gone).
    pub async fn admin_delete_client(
        &self,
        caller: &AdminCaller,
        id: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(), AdminError> {
        let id = path_client_id(id)?;
        let client = self.clients.client(&id).await?.ok_or_else(|| no_client(id.as_str()))?;
        let issued = self.refresh_tokens.revoke_client_refresh_tokens(&id, now).await?;
        self.revoke_access_tokens(&issued, now).await;
        self.clients.delete_client(&id).await.map_err(|e| match e {
            StoreError::NotFound => no_client(id.as_str()),
            other => other.into(),
        })?;
        let facts = caller.facts(None, Some(&id), json!({ "client_name": client.name }));
        self.audit("admin_client_deleted", facts, meta, now).await;
        Ok(())
    }

    /// `POST /admin/api/clients/{id}/rotate-secret`: a new secret, shown this once; the previous one keeps
    /// working for `overlap` seconds.
    pub async fn admin_rotate_client_secret(
        &self,
        caller: &AdminCaller,
        id: &str,
        overlap: i64,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<Value, AdminError> {
        let id = path_client_id(id)?;
        let (secret, until) = rotate_client_secret(&*self.clients, &id, overlap, now).await?;
        let facts = caller.facts(None, Some(&id), json!({ "previous_secret_expires_at": until }));
        self.audit("admin_client_secret_rotated", facts, meta, now).await;
        Ok(json!({ "client_id": id.as_str(), "client_secret": secret.expose(), "previous_secret_expires_at": until }))
    }

    /// `POST /admin/api/clients/{id}/revoke-tokens`: everything issued to the client so far stops working.
    pub async fn admin_revoke_client_tokens(
        &self,
        caller: &AdminCaller,
        id: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<Value, AdminError> {
        let id = path_client_id(id)?;
        if self.clients.client(&id).await?.is_none() {
            return Err(no_client(id.as_str()));
        }
        self.revoke_client_by(caller.client_id.as_str(), &id, meta, now).await?;
        Ok(json!({ "client_id": id.as_str(), "revoked": true }))
    }

    /// `GET /admin/api/users?username=&email=&search=&after=&limit=`: users ordered by username, those the filters
    /// given find ([`user_filter`]).
    pub async fn admin_list_users(&self, params: &Params) -> Result<Value, AdminError> {
        let limit = page_limit(params)?;
        let filter = user_filter(
            filter_param(params, "username"),
            filter_param(params, "email"),
            filter_param(params, "search"),
        )?;
        let after = params.get("after").map(parse_username).transpose()?;
        let users = self.users.list_users(&filter, after.as_ref(), limit + 1).await?;
        let ids: Vec<UserId> = users.iter().map(|u| u.id.clone()).collect();
        let with_otp = self.otps.users_with_otp(&ids).await?;
        Ok(page(users, limit, |u| user_json(u, with_otp.contains(&u.id)), |u| u.username.as_str().to_owned()))
    }

    /// `GET /admin/api/users/{id}`.
    pub async fn admin_user(&self, id: &str) -> Result<Value, AdminError> {
        let id = path_user_id(id)?;
        let user = self.users.user_by_id(&id).await?.ok_or_else(|| no_user(id.as_str()))?;
        Ok(user_json(&user, self.otp_enabled(&user.id).await?))
    }

    async fn hash_new_password(&self, password: Password) -> Result<String, AdminError> {
        let cost = self.password_cost;
        let hashed =
            self.password_pool.run(move || hash_password(&password, cost)).await.map_err(OAuthError::server)?;
        Ok(hashed.map_err(OAuthError::server)?)
    }

    /// `POST /admin/api/users`: `Conflict` when the username is taken.
    pub async fn admin_create_user(
        &self,
        caller: &AdminCaller,
        body: &[u8],
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<Value, AdminError> {
        let req: UserRequest =
            serde_json::from_slice(body).map_err(|e| body_error("the body is not a user description", &e))?;
        let username = parse_new_username(&req.username)?;
        if let Some(e) = &req.email {
            check_email(e)?;
        }
        if req.email_verified && req.email.is_none() {
            return Err(verified_without_address());
        }
        if let Some(n) = &req.name {
            check_user_name(n)?;
        }
        let password = parse_password(req.password)?;
        if self.users.user_by_username(&username).await?.is_some() {
            // Spare the argon2 work; the store refuses a duplicate that races past this anyway.
            return Err(username_taken(&username));
        }
        let password_hash = self.hash_new_password(password).await?;
        let new = NewUser {
            id: UserId::generate(),
            username,
            password_hash,
            email: req.email,
            email_verified: req.email_verified,
            name: req.name,
            password_change_required: req.temporary,
            created_at: now,
        };
        let user = create_user(&*self.users, new).await?;
        let details = json!({
            "username": user.username.as_str(),
            "temporary": req.temporary,
            "email_verified": user.email_verified,
        });
        let facts = caller.facts(Some(&user.id), None, details);
        self.audit("admin_user_created", facts, meta, now).await;
        Ok(user_json(&user, false))
    }

    /// `PATCH /admin/api/users/{id}`: `email`, `name` (`null` removes them), `email_verified` (absent, a changed
    /// address is unverified), `disabled`, `password` (with `temporary`: a password set without it is not).
    pub async fn admin_update_user(
        &self,
        caller: &AdminCaller,
        id: &str,
        body: &[u8],
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<Value, AdminError> {
        let id = path_user_id(id)?;
        let Some(current) = self.users.user_by_id(&id).await? else {
            return Err(no_user(id.as_str()));
        };
        let patch: UserPatch =
            serde_json::from_slice(body).map_err(|e| body_error("the body is not a user change", &e))?;
        if let Some(Some(e)) = &patch.email {
            check_email(e)?;
        }
        let email_after = patch.email.as_ref().unwrap_or(&current.email);
        if patch.email_verified == Some(true) && email_after.is_none() {
            return Err(verified_without_address());
        }
        if let Some(Some(n)) = &patch.name {
            check_user_name(n)?;
        }
        let password = patch.password.map(parse_password).transpose()?;
        if password.is_none() && patch.temporary.is_some() {
            return Err(AdminError::Invalid("temporary is said of a password: give it with password".into()));
        }
        let mut changed: Vec<&str> = Vec::new();
        for (field, given) in [
            ("email", patch.email.is_some()),
            ("email_verified", patch.email_verified.is_some()),
            ("name", patch.name.is_some()),
            ("disabled", patch.disabled.is_some()),
            ("password", password.is_some()),
        ] {
            if given {
                changed.push(field);
            }
        }
        let password_hash = match password {
            Some(p) => Some(self.hash_new_password(p).await?),
            None => None,
        };
        // An operator's password is temporary only when they say so: one set without it clears the flag.
        let temporary = password_hash.is_some().then(|| patch.temporary.unwrap_or(false));
        let update = UserUpdate {
            email: patch.email,
            email_verified: patch.email_verified,
            name: patch.name,
            disabled: patch.disabled,
            password_hash,
            password_change_required: temporary,
        };
        let user = self.users.update_user(&id, update, now).await.map_err(|e| match e {
            StoreError::NotFound => no_user(id.as_str()),
            other => other.into(),
        })?;
        if !changed.is_empty() {
            let mut details = json!({ "changed": changed });
            // Which way: a disable and an enable are otherwise the same record.
            if let Some(disabled) = patch.disabled {
                details["disabled"] = json!(disabled);
            }
            if let Some(temporary) = temporary {
                details["temporary"] = json!(temporary);
            }
            if patch.email_verified.is_some() {
                details["email_verified"] = json!(user.email_verified);
            }
            let facts = caller.facts(Some(&user.id), None, details);
            self.audit("admin_user_updated", facts, meta, now).await;
        }
        if patch.disabled == Some(true) {
            // Signed out everywhere, as by `POST …/revoke`, so enabling the user later starts them afresh.
            self.revoke_user_by(caller.client_id.as_str(), &id, meta, now).await?;
        }
        Ok(user_json(&user, self.otp_enabled(&user.id).await?))
    }

    /// `DELETE /admin/api/users/{id}`: [`Provider::delete_user`].
    pub async fn admin_delete_user(
        &self,
        caller: &AdminCaller,
        id: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(), AdminError> {
        let id = path_user_id(id)?;
        let user = self.users.user_by_id(&id).await?.ok_or_else(|| no_user(id.as_str()))?;
        let sessions = self.delete_user(&id, now).await.map_err(|e| match e {
            StoreError::NotFound => no_user(id.as_str()),
            other => other.into(),
        })?;
        let details = json!({ "username": user.username.as_str(), "sessions": sessions });
        self.audit("admin_user_deleted", caller.facts(Some(&id), None, details), meta, now).await;
        Ok(())
    }

    /// `POST /admin/api/users/{id}/revoke`: signs the user out everywhere ([`Provider::revoke_user`]).
    pub async fn admin_revoke_user(
        &self,
        caller: &AdminCaller,
        id: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<Value, AdminError> {
        let id = path_user_id(id)?;
        let user = self.users.user_by_id(&id).await?.ok_or_else(|| no_user(id.as_str()))?;
        let sessions = self.revoke_user_by(caller.client_id.as_str(), &id, meta, now).await?;
        Ok(json!({
            "id": user.id.as_str(), "username": user.username.as_str(), "revoked": true, "sessions_ended": sessions,
        }))
    }

    /// `GET /admin/api/users/{id}/identities`: the upstream identities linked to the user.
    pub async fn admin_user_identities(&self, id: &str) -> Result<Value, AdminError> {
        let id = path_user_id(id)?;
        self.users.user_by_id(&id).await?.ok_or_else(|| no_user(id.as_str()))?;
        let links = self.linked_identities(&id).await?;
        Ok(json!({ "items": links.iter().map(identity_json).collect::<Vec<_>>() }))
    }

    /// `DELETE /admin/api/users/{id}/identities/{provider}`: removes the user's links at that provider, even the
    /// last way the user had to sign in (an operator's decision: set a password or link again).
    pub async fn admin_unlink_identity(
        &self,
        caller: &AdminCaller,
        id: &str,
        provider: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(), AdminError> {
        let id = path_user_id(id)?;
        match self.unlink_identity(&id, provider, caller.client_id.as_str(), None, meta, now).await? {
            Unlinked::Removed => Ok(()),
            // Without `keep_a_way_in` the store never answers `LastWayIn`.
            Unlinked::NotLinked | Unlinked::LastWayIn => {
                let provider: String = provider.chars().take(64).collect();
                Err(AdminError::NotFound(format!("user {} has no identity at provider {provider}", id.as_str())))
            }
        }
    }

    /// `DELETE /admin/api/users/{id}/otp`: turns the user's two-step verification off (a lost phone), audited as
    /// `otp_disabled` when it was on; the user signs in with their password alone until they set it up again.
    pub async fn admin_reset_otp(
        &self,
        caller: &AdminCaller,
        id: &str,
        meta: &RequestMeta,
        now: UnixTime,
    ) -> Result<(), AdminError> {
        let id = path_user_id(id)?;
        let user = self.users.user_by_id(&id).await?.ok_or_else(|| no_user(id.as_str()))?;
        let actor = Some(caller.client_id.as_str().to_owned());
        self.turn_otp_off(&user, actor, json!({ "reason": "admin_reset" }), meta, now).await?;
        Ok(())
    }

    /// `GET /admin/api/audit?user=&client=&since=&type=&after=&limit=`: events, newest first, in pages; `type` names
    /// one or more kinds, comma-separated ([`event_types`]).
    pub async fn admin_audit(&self, params: &Params) -> Result<Value, AdminError> {
        let limit = page_limit(params)?;
        let user_id = params
            .get("user")
            .map(|u| UserId::parse(u).map(|id| id.as_str().to_owned()))
            .transpose()
            .map_err(|e| AdminError::Invalid(format!("user: invalid user id: {e}")))?;
        let client_id = params
            .get("client")
            .map(|c| ClientId::parse(c).map(|id| id.as_str().to_owned()))
            .transpose()
            .map_err(|e| AdminError::Invalid(format!("client: invalid client id: {e}")))?;
        let since = params
            .get("since")
            .map(|s| s.parse::<UnixTime>())
            .transpose()
            .map_err(|_| AdminError::Invalid("since must be a Unix time in seconds".into()))?;
        let after = params
            .get("after")
            .map(|a| AuditCursor::parse(a).ok_or_else(|| AdminError::Invalid("after: not a cursor from `next`".into())))
            .transpose()?;
        let kinds = event_types(filter_param(params, "type"))?;
        let filter = AuditFilter { user_id, client_id, since, kinds, after, limit: limit + 1 };
        let events = self.audit.list_events(&filter).await?;
        Ok(page(events, limit, audit_event_json, |e| AuditCursor::of(e).to_string()))
    }
}
