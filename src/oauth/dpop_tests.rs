use super::*;
use josekit::jws::JwsHeader;
use josekit::jwt::JwtPayload;
use serde_json::json;

const NOW: UnixTime = 1_700_000_000;
const URL: &str = "https://id.example/token";
const TOKEN: &str = "an-access-token";

fn rules() -> ProofRules<'static> {
    ProofRules { method: "POST", url: URL, access_token: None, now: NOW, max_age: 60, leeway: 30, nonces: None }
}

fn claims() -> Value {
    json!({ "jti": "j1", "htm": "POST", "htu": URL, "iat": NOW })
}

fn check(v: Value, rules: &ProofRules<'_>) -> Result<String, OAuthError> {
    let Value::Object(claims) = v else { panic!("claims are an object") };
    check_claims(&claims, rules)
}

fn with(key: &str, value: Value) -> Value {
    let mut c = claims();
    c[key] = value;
    c
}

fn without(key: &str) -> Value {
    let mut c = claims();
    c.as_object_mut().unwrap().remove(key);
    c
}

/// A proof signed with a fresh key of `alg`, whose header is `header` plus `typ`, `alg` and `jwk` unless they
/// are given in `header`.
fn proof(alg: &str, header: Value, claims: &Value) -> String {
    let (signer, public): (Box<dyn josekit::jws::JwsSigner>, josekit::jwk::Jwk) = match alg {
        "ES256" => {
            let pair = josekit::jws::ES256.generate_key_pair().unwrap();
            (
                Box::new(josekit::jws::ES256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap()),
                pair.to_jwk_public_key(),
            )
        }
        "PS256" => {
            let pair = josekit::jws::PS256.generate_key_pair(2048).unwrap();
            (
                Box::new(josekit::jws::PS256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap()),
                pair.to_jwk_public_key(),
            )
        }
        _ => {
            let pair = josekit::jws::RS256.generate_key_pair(2048).unwrap();
            (
                Box::new(josekit::jws::RS256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap()),
                pair.to_jwk_public_key(),
            )
        }
    };
    let mut h = JwsHeader::new();
    h.set_token_type(DPOP_TYP);
    h.set_claim("jwk", Some(Value::Object(public.as_ref().clone()))).unwrap();
    let Value::Object(extra) = header else { panic!("header is an object") };
    // null removes a member.
    for (k, v) in extra {
        h.set_claim(&k, Some(v).filter(|v| !v.is_null())).unwrap_or_else(|e| panic!("{k}: {e}"));
    }
    let Value::Object(map) = claims.clone() else { panic!("claims are an object") };
    josekit::jwt::encode_with_signer(&JwtPayload::from_map(map).unwrap(), &h, signer.as_ref()).unwrap()
}

#[test]
fn valid_claims_pass() {
    assert_eq!(check(claims(), &rules()).unwrap(), "j1");
    assert!(check(with("iat", json!(NOW - 60)), &rules()).is_ok(), "as old as allowed");
    assert!(check(with("iat", json!(NOW + 30)), &rules()).is_ok(), "ahead within the leeway");
    // RFC 9449 §4.3: without query and fragment, after normalisation.
    for htu in ["https://ID.example/token", "https://id.example:443/token", "https://id.example/token?x=1#f"] {
        assert!(check(with("htu", json!(htu)), &rules()).is_ok(), "{htu}");
    }
    let with_token = ProofRules { access_token: Some(TOKEN), ..rules() };
    assert!(check(with("ath", json!(access_token_hash(TOKEN))), &with_token).is_ok());
}

#[test]
fn each_bad_claim_is_invalid_dpop_proof() {
    let with_token = ProofRules { access_token: Some(TOKEN), ..rules() };
    let cases = [
        ("no jti", without("jti"), rules()),
        ("empty jti", with("jti", json!("")), rules()),
        ("long jti", with("jti", json!("j".repeat(MAX_JTI_BYTES + 1))), rules()),
        ("no htm", without("htm"), rules()),
        ("other htm", with("htm", json!("GET")), rules()),
        ("htm in lower case", with("htm", json!("post")), rules()),
        ("no htu", without("htu"), rules()),
        ("other path", with("htu", json!("https://id.example/userinfo")), rules()),
        ("other host", with("htu", json!("https://evil.example/token")), rules()),
        ("other scheme", with("htu", json!("http://id.example/token")), rules()),
        ("not a URL", with("htu", json!("/token")), rules()),
        ("no iat", without("iat"), rules()),
        ("iat not a number", with("iat", json!("now")), rules()),
        ("too old", with("iat", json!(NOW - 61)), rules()),
        ("in the future", with("iat", json!(NOW + 31)), rules()),
        ("no ath with a token", claims(), with_token),
        ("ath of another token", with("ath", json!(access_token_hash("other"))), with_token),
    ];
    for (what, c, r) in cases {
        let e = check(c, &r).expect_err(what);
        assert_eq!(e.code, ErrorCode::InvalidDpopProof, "{what}: {e:?}");
    }
}

#[test]
fn the_jti_is_kept_as_long_as_a_proof_could_be_accepted() {
    assert_eq!(rules().jti_kept(), Duration::from_secs(91));
}

#[test]
fn es256_ps256_and_rs256_proofs_verify() {
    for alg in ["ES256", "PS256", "RS256"] {
        let p = DpopProof::parse(&proof(alg, json!({}), &claims())).unwrap_or_else(|e| panic!("{alg}: {e:?}"));
        p.verify().unwrap_or_else(|e| panic!("{alg}: {e:?}"));
        let Value::Object(jwk) = serde_json::to_value(p.jwk.as_ref()).unwrap() else { panic!("an object") };
        assert_eq!(Some(p.jkt()), Jkt::of_jwk(&jwk).as_ref(), "{alg}");
        assert_eq!(check_claims(p.claims(), &rules()).unwrap(), "j1");
    }
}

#[test]
fn a_tampered_or_resigned_proof_fails_its_signature() {
    let good = proof("ES256", json!({}), &claims());
    let other = proof("ES256", json!({}), &claims());
    let forged_claims = URL_SAFE_NO_PAD.encode(with("htm", json!("GET")).to_string());
    let mut parts: Vec<&str> = good.split('.').collect();
    parts[1] = &forged_claims;
    let forged = DpopProof::parse(&parts.join(".")).unwrap();
    assert_eq!(forged.verify().unwrap_err().code, ErrorCode::InvalidDpopProof);
    // Another key's signature under this header's key.
    let mut parts: Vec<&str> = good.split('.').collect();
    parts[2] = other.split('.').nth(2).unwrap();
    let swapped = DpopProof::parse(&parts.join(".")).unwrap();
    assert_eq!(swapped.verify().unwrap_err().code, ErrorCode::InvalidDpopProof);
}

#[test]
fn each_bad_header_is_invalid_dpop_proof() {
    let unsigned = {
        let mut h = JwsHeader::new();
        h.set_token_type(DPOP_TYP);
        let Value::Object(map) = claims() else { panic!("an object") };
        josekit::jwt::encode_unsecured(&JwtPayload::from_map(map).unwrap(), &h).unwrap()
    };
    let private_jwk = {
        let pair = josekit::jws::ES256.generate_key_pair().unwrap();
        Value::Object(pair.to_jwk_private_key().as_ref().clone())
    };
    let rsa = {
        let pair = josekit::jws::RS256.generate_key_pair(2048).unwrap();
        Value::Object(pair.to_jwk_public_key().as_ref().clone())
    };
    // 1024 bits: the size alone refuses it.
    let small_rsa = json!({ "kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xc5u8; 128]), "e": "AQAB" });
    let hmac = {
        let mut h = JwsHeader::new();
        h.set_token_type(DPOP_TYP);
        let signer = josekit::jws::HS256.signer_from_bytes(b"0123456789abcdef0123456789abcdef").unwrap();
        let Value::Object(map) = claims() else { panic!("an object") };
        josekit::jwt::encode_with_signer(&JwtPayload::from_map(map).unwrap(), &h, &signer).unwrap()
    };
    let cases = [
        ("typ JWT", proof("ES256", json!({ "typ": "JWT" }), &claims())),
        ("typ at+jwt", proof("ES256", json!({ "typ": "at+jwt" }), &claims())),
        ("alg none", unsigned),
        ("HS256", hmac),
        ("no jwk", proof("ES256", json!({ "jwk": null }), &claims())),
        ("a private jwk", proof("ES256", json!({ "jwk": private_jwk }), &claims())),
        ("a 1024-bit RSA key", proof("RS256", json!({ "jwk": small_rsa }), &claims())),
        ("an RSA key for ES256", proof("ES256", json!({ "jwk": rsa }), &claims())),
        ("crit", proof("ES256", json!({ "crit": ["x"], "x": 1 }), &claims())),
        ("garbage", "a.b.c".to_owned()),
        ("two parts", "a.b".to_owned()),
        ("too large", "a".repeat(MAX_PROOF_BYTES + 1)),
    ];
    for (what, token) in cases {
        let e = DpopProof::parse(&token).expect_err(what);
        assert_eq!(e.code, ErrorCode::InvalidDpopProof, "{what}: {e:?}");
    }
}

#[test]
fn debug_hides_the_proof() {
    let token = proof("ES256", json!({}), &claims());
    let shown = format!("{:?}", DpopProof::parse(&token).unwrap());
    assert!(!shown.contains(token.split('.').nth(2).unwrap()), "{shown}");
}

#[test]
fn ath_is_the_base64url_sha256_of_the_token() {
    // RFC 9449 §7.1's example: the access token and its ath.
    assert_eq!(
        access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
}

#[test]
fn a_nonce_is_checked_only_when_asked_for_and_after_the_other_claims() {
    use crate::oauth::dpop_nonce::DpopNonces;
    let nonces = DpopNonces::new(&crate::jose::Kek::from_bytes([3; 32]), 300, 30).unwrap();
    let good = nonces.issue(NOW).unwrap();
    // Not asked for: any nonce claim is ignored (RFC 9449 §4.3 check 9 is for a server that provided nonces).
    assert_eq!(check(with("nonce", json!("made-up")), &rules()).unwrap(), "j1");
    let asking = ProofRules { nonces: Some(&nonces), ..rules() };
    let code = |v: Value| check(v, &asking).unwrap_err().code;
    assert_eq!(code(claims()), ErrorCode::UseDpopNonce);
    assert_eq!(code(with("nonce", json!("made-up"))), ErrorCode::UseDpopNonce);
    assert_eq!(code(with("nonce", json!(12))), ErrorCode::UseDpopNonce);
    let other = DpopNonces::new(&crate::jose::Kek::from_bytes([4; 32]), 300, 30).unwrap();
    assert_eq!(code(with("nonce", json!(other.issue(NOW).unwrap().as_str()))), ErrorCode::UseDpopNonce);
    let stale = nonces.issue(NOW - 600).unwrap();
    assert_eq!(code(with("nonce", json!(stale.as_str()))), ErrorCode::UseDpopNonce);
    assert_eq!(check(with("nonce", json!(good.as_str())), &asking).unwrap(), "j1");
    // A proof wrong otherwise is refused for that, nonce or not.
    let mut wrong = with("htm", json!("GET"));
    assert_eq!(check(wrong.clone(), &asking).unwrap_err().code, ErrorCode::InvalidDpopProof);
    wrong["nonce"] = json!(good.as_str());
    assert_eq!(check(wrong, &asking).unwrap_err().code, ErrorCode::InvalidDpopProof);
}
