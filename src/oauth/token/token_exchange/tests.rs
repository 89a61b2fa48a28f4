use super::*;
use crate::domain::{ApplicationType, ClientAuthMethod, ClientId, ClientMetadata, GrantType};

const API: &str = "https://api.example/";
const DOWNSTREAM: &str = "https://downstream.example/v1";

fn client() -> Client {
    Client {
        id: ClientId::parse("orders-api").unwrap(),
        name: "Orders API".into(),
        secret_hash: None,
        previous_secret: None,
        auth_method: ClientAuthMethod::ClientSecretBasic,
        application_type: ApplicationType::Web,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::TokenExchange],
        scope: Scope::parse("openid profile orders:read orders:write").unwrap(),
        resources: vec![API.into(), DOWNSTREAM.into()],
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

fn claims(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn params(pairs: &[(&str, &str)]) -> Params {
    Params::from_pairs(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()).unwrap()
}

#[test]
fn a_token_is_exchanged_only_by_the_client_it_was_issued_or_addressed_to() {
    let c = client();
    assert!(meant_for(&claims(json!({ "client_id": "web-app", "aud": API })), &c), "a registered resource");
    assert!(meant_for(&claims(json!({ "client_id": "web-app", "aud": ["x", "orders-api"] })), &c), "its id");
    assert!(meant_for(&claims(json!({ "client_id": "orders-api", "aud": "https://id.example" })), &c), "its own");
    for other in [
        json!({ "client_id": "web-app", "aud": "https://elsewhere.example/" }),
        json!({ "client_id": "web-app", "aud": ["https://elsewhere.example/", "web-app"] }),
        json!({ "client_id": "web-app" }),
        json!({ "client_id": "web-app", "aud": "https://api.example" }),
        json!({ "client_id": "web-app", "aud": { "orders-api": true } }),
    ] {
        assert!(!meant_for(&claims(other.clone()), &c), "{other}");
    }
}

#[test]
fn one_registered_target_through_resource_or_audience() {
    let c = client();
    let code = |p: &[(&str, &str)]| target(&params(p), &c).unwrap_err().code;
    assert_eq!(target(&params(&[]), &c).unwrap(), None, "no target: the default audience");
    assert_eq!(target(&params(&[("resource", DOWNSTREAM)]), &c).unwrap().as_deref(), Some(DOWNSTREAM));
    assert_eq!(target(&params(&[("audience", DOWNSTREAM)]), &c).unwrap().as_deref(), Some(DOWNSTREAM));
    let both = [("audience", DOWNSTREAM), ("resource", DOWNSTREAM)];
    assert_eq!(target(&params(&both), &c).unwrap().as_deref(), Some(DOWNSTREAM), "the same target twice");
    assert_eq!(code(&[("audience", "https://elsewhere.example/")]), ErrorCode::InvalidTarget);
    assert_eq!(code(&[("resource", "https://elsewhere.example/")]), ErrorCode::InvalidTarget);
    assert_eq!(code(&[("audience", API), ("resource", DOWNSTREAM)]), ErrorCode::InvalidTarget);
    assert_eq!(code(&[("audience", API), ("audience", DOWNSTREAM)]), ErrorCode::InvalidTarget);
    assert_eq!(code(&[("resource", API), ("resource", DOWNSTREAM)]), ErrorCode::InvalidTarget);
}

#[test]
fn the_scope_narrows_and_never_widens() {
    let subject = Scope::parse("openid profile email orders:read").unwrap();
    let client = client().scope;
    let scope = |asked: Option<&str>| exchanged_scope(asked, &subject, &client).map(|s| s.to_string());
    assert_eq!(scope(None), Ok("openid orders:read profile".into()), "both have them");
    assert_eq!(scope(Some("orders:read")), Ok("orders:read".into()));
    for wider in ["orders:read orders:write", "email", "orders:read admin", "bad\"scope"] {
        assert_eq!(scope(Some(wider)).unwrap_err().code, ErrorCode::InvalidScope, "{wider}");
    }
}

#[test]
fn act_names_the_current_actor_with_the_earlier_ones_nested() {
    assert_eq!(act_claim("orders-api", None), json!({ "sub": "orders-api" }));
    let prior = json!({ "sub": "gateway", "act": { "sub": "edge" } });
    assert_eq!(
        act_claim("orders-api", Some(&prior)),
        json!({ "sub": "orders-api", "act": { "sub": "gateway", "act": { "sub": "edge" } } })
    );
    assert_eq!(act_claim("svc", Some(&json!("not an object"))), json!({ "sub": "svc" }), "only a JSON object nests");
}

#[test]
fn token_types_are_access_tokens() {
    assert!(check_presented_type("subject_token_type", Some(ACCESS_TOKEN_TYPE)).is_ok());
    for bad in [
        Some("urn:ietf:params:oauth:token-type:id_token"),
        Some("urn:ietf:params:oauth:token-type:refresh_token"),
        Some(JWT_TOKEN_TYPE),
        None,
    ] {
        let e = check_presented_type("subject_token_type", bad).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{bad:?}");
        assert!(e.description.contains("subject_token_type"), "{}", e.description);
    }
    for ok in [None, Some(ACCESS_TOKEN_TYPE), Some(JWT_TOKEN_TYPE)] {
        assert!(check_requested_type(ok).is_ok(), "{ok:?}");
    }
    for bad in ["urn:ietf:params:oauth:token-type:refresh_token", "urn:ietf:params:oauth:token-type:id_token"] {
        assert_eq!(check_requested_type(Some(bad)).unwrap_err().code, ErrorCode::InvalidRequest);
    }
}
