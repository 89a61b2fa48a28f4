//! The one diesel schema for both backends. It mirrors `migrations/postgres` and `migrations/sqlite`, which use
//! portable column types so that these `table!` definitions fit both: every time is a `BigInt` of Unix seconds,
//! lists and metadata are `Text` holding JSON, scopes are space-separated `Text`.
//! Written by hand (not `diesel print-schema`) because it must hold for two databases at once.

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        password_hash -> Text,
        email -> Nullable<Text>,
        email_verified -> Bool,
        name -> Nullable<Text>,
        disabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        revoked_before -> Nullable<BigInt>,
        username_key -> Nullable<Text>,
        password_change_required -> Bool,
        email_key -> Nullable<Text>,
    }
}

diesel::table! {
    clients (id) {
        id -> Text,
        name -> Text,
        secret_hash -> Nullable<Text>,
        previous_secret_hash -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<BigInt>,
        auth_method -> Text,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        grant_types -> Text,
        scope -> Text,
        resources -> Text,
        first_party -> Bool,
        admin -> Bool,
        require_pkce -> Bool,
        access_token_ttl -> Nullable<BigInt>,
        metadata -> Text,
        registration_token_hash -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        revoked_before -> Nullable<BigInt>,
        application_type -> Text,
        revision -> BigInt,
    }
}

diesel::table! {
    consents (user_id, client_id) {
        user_id -> Text,
        client_id -> Text,
        scope -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        claims -> Text,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> Text,
        auth_time -> BigInt,
        amr -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked -> Bool,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        last_used_at -> BigInt,
        handed_over_to -> Nullable<Text>,
    }
}

diesel::table! {
    session_clients (session_id, client_id, sid) {
        session_id -> Text,
        client_id -> Text,
        sid -> Text,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        token_hash -> Text,
        family_id -> Text,
        parent_id -> Nullable<Text>,
        client_id -> Text,
        user_id -> Nullable<Text>,
        session_id -> Nullable<Text>,
        scope -> Text,
        resource -> Nullable<Text>,
        auth_time -> Nullable<BigInt>,
        offline -> Bool,
        created_at -> BigInt,
        expires_at -> BigInt,
        idle_expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        revoked -> Bool,
        access_jti -> Nullable<Text>,
        access_expires_at -> Nullable<BigInt>,
        dpop_jkt -> Nullable<Text>,
        userinfo_claims -> Nullable<Text>,
        amr -> Nullable<Text>,
        id_token_claims -> Nullable<Text>,
        grace_record -> Nullable<Binary>,
    }
}

diesel::table! {
    revocations (jti) {
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        private_key_sealed -> Binary,
        public_jwk -> Text,
        created_at -> BigInt,
        activates_at -> BigInt,
    }
}

diesel::table! {
    key_ring (id) {
        id -> Integer,
        version -> BigInt,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        at -> BigInt,
        kind -> Text,
        actor -> Nullable<Text>,
        user_id -> Nullable<Text>,
        client_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        request_id -> Nullable<Text>,
        details -> Text,
    }
}

diesel::table! {
    initial_access_tokens (token_hash) {
        token_hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    grant_cut_offs (user_id, client_id) {
        user_id -> Text,
        client_id -> Text,
        revoked_before -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    federated_identities (provider_id, subject) {
        provider_id -> Text,
        subject -> Text,
        user_id -> Text,
        created_at -> BigInt,
        last_used_at -> BigInt,
    }
}

diesel::table! {
    user_otp (user_id) {
        user_id -> Text,
        secret_sealed -> Binary,
        last_step -> BigInt,
        enabled_at -> BigInt,
    }
}

diesel::table! {
    otp_recovery_codes (user_id, code_hash) {
        user_id -> Text,
        code_hash -> Text,
    }
}

diesel::table! {
    passkeys (id) {
        id -> Text,
        user_id -> Text,
        credential_id -> Text,
        credential -> Text,
        name -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    groups (id) {
        id -> Text,
        name -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    group_members (user_id, group_id) {
        group_id -> Text,
        user_id -> Text,
    }
}

diesel::joinable!(consents -> users (user_id));
diesel::joinable!(user_otp -> users (user_id));
diesel::joinable!(otp_recovery_codes -> users (user_id));
diesel::table! {
    password_history (user_id, seq) {
        user_id -> Text,
        seq -> BigInt,
        password_hash -> Text,
        created_at -> BigInt,
    }
}

diesel::joinable!(passkeys -> users (user_id));
diesel::joinable!(password_history -> users (user_id));
diesel::joinable!(group_members -> users (user_id));
diesel::joinable!(group_members -> groups (group_id));
diesel::joinable!(federated_identities -> users (user_id));
diesel::joinable!(consents -> clients (client_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> clients (client_id));
diesel::joinable!(session_clients -> sessions (session_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    clients,
    consents,
    grant_cut_offs,
    sessions,
    session_clients,
    refresh_tokens,
    revocations,
    signing_keys,
    key_ring,
    audit_events,
    initial_access_tokens,
    federated_identities,
    user_otp,
    otp_recovery_codes,
    passkeys,
    password_history,
    groups,
    group_members,
);
