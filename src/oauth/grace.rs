//! The refresh grace window (DESIGN.md §4): a client that retries a refresh it already made (multi-tab
//! races, lost responses) within the window gets the very same response again, not new tokens. What is kept
//! is not the response but what it was signed from (a tenth of its size): RS256 signatures are
//! deterministic, so signing the same claims with the same key gives the same tokens. It is kept in the
//! rotated token's own row, written by the rotation's own statement (so a retry, or a request that lost the
//! rotation race, finds it as soon as it finds the token used, on any instance), sealed under a key derived
//! from the server's key and the token that was presented: only the server, given that token again, opens it.
use super::dpop::Jkt;
use super::error::OAuthError;
use super::provider::Provider;
use super::token::TokenResponse;
use super::tokens::{AccessGrant, IdTokenExtras};
use crate::domain::{ClaimNames, ClientId, GroupName, Scope, UnixTime, UserId};
use crate::jose::kek::hmac_sha256;
use crate::jose::Kek;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

/// What a rotation issued: its new refresh token and the inputs of its signed tokens.
pub struct IssuedRefresh {
    /// The successor refresh token.
    pub refresh_token: String,
    /// The access token's grant.
    pub grant: AccessGrant,
    /// Its `jti`.
    pub jti: String,
    /// `iat` of both tokens.
    pub issued_at: UnixTime,
    /// What the ID token carried beyond the grant, when one was issued. A refresh's has no nonce, which is not kept.
    pub id_token: Option<IdTokenExtras>,
    /// The key that signed them.
    pub kid: String,
}

impl IssuedRefresh {
    /// The kept form: the fields in a fixed order, without names, and base64url text as its bytes. Every
    /// rotated token keeps one until its row is purged, and the field names and the base64 were two fifths of
    /// the JSON form.
    fn encode(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(256);
        out.push(RECORD_FORMAT);
        put_text(&mut out, &self.refresh_token)?;
        put_text(&mut out, self.grant.client_id.as_str())?;
        put_optional(&mut out, self.grant.user_id.as_ref(), |out, u| put_text(out, u.as_str()))?;
        put_text(&mut out, &self.grant.scope.to_string())?;
        put_text(&mut out, &self.grant.audience)?;
        put_optional(&mut out, self.grant.auth_time.as_ref(), put_int)?;
        put_optional(&mut out, self.grant.sid.as_ref(), |out, s| put_text(out, s))?;
        put_int(&mut out, &self.grant.ttl)?;
        put_text(&mut out, &self.jti)?;
        put_int(&mut out, &self.issued_at)?;
        put_optional(&mut out, self.id_token.as_ref().map(|id| &id.ttl), put_int)?;
        put_text(&mut out, &self.kid)?;
        put_optional(&mut out, self.grant.jkt.as_ref(), |out, j| put_text(out, j.as_str()))?;
        put_optional(&mut out, self.grant.sector.as_ref(), |out, s| put_text(out, s))?;
        put_text(&mut out, &self.grant.userinfo_claims.to_string())?;
        // Format 4: the ID token's methods (space-separated) and its claims asked for by name, with their values,
        // as JSON; empty texts for none (and without an ID token); then the access token's groups.
        let (amr, claims) = match &self.id_token {
            Some(id) => (id.amr.join(" "), named_claims_text(&id.user_claims)?),
            None => (String::new(), String::new()),
        };
        put_text(&mut out, &amr)?;
        put_text(&mut out, &claims)?;
        put_optional(&mut out, self.grant.groups.as_ref(), |out, groups| {
            let names: Vec<&str> = groups.iter().map(GroupName::as_str).collect();
            put_text(out, &names.join(" "))
        })?;
        Ok(out)
    }

    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let mut r = Reader(bytes);
        let format = r.byte()?;
        if format != RECORD_FORMAT {
            return Err("the kept refresh record has an unknown format".into());
        }
        let refresh_token = r.text()?;
        let client_id = ClientId::parse(r.text()?).map_err(|e| e.to_string())?;
        let user_id = r.optional(|r| UserId::parse(r.text()?).map_err(|e| e.to_string()))?;
        let scope = Scope::parse(&r.text()?).map_err(|e| e.to_string())?;
        let audience = r.text()?;
        let auth_time = r.optional(Reader::int)?;
        let sid = r.optional(Reader::text)?;
        let ttl = r.int()?;
        let grant = AccessGrant {
            client_id,
            user_id,
            scope,
            audience,
            auth_time,
            sid,
            ttl,
            act: None,
            jkt: None,
            sector: None,
            userinfo_claims: ClaimNames::default(),
            groups: None,
        };
        let jti = r.text()?;
        let issued_at = r.int()?;
        let id_token = r.optional(Reader::int)?.map(|ttl| IdTokenExtras {
            nonce: None,
            amr: Vec::new(),
            ttl,
            user_claims: Map::new(),
        });
        let mut issued = Self { refresh_token, grant, jti, issued_at, id_token, kid: r.text()? };
        issued.grant.jkt = r.optional(|r| Jkt::parse(&r.text()?).ok_or_else(|| "a malformed thumbprint".to_owned()))?;
        issued.grant.sector = r.optional(Reader::text)?;
        issued.grant.userinfo_claims = ClaimNames::parse(&r.text()?)?;
        let (amr, claims) = (r.text()?, r.text()?);
        if let Some(id) = &mut issued.id_token {
            id.amr = amr.split_whitespace().map(str::to_owned).collect();
            if !claims.is_empty() {
                id.user_claims = serde_json::from_str(&claims).map_err(|e| e.to_string())?;
            }
        }
        issued.grant.groups = r.optional(|r| {
            let names = r.text()?;
            names.split(' ').filter(|n| !n.is_empty()).map(GroupName::parse).collect::<Result<Vec<_>, _>>()
        })?;
        if !r.0.is_empty() {
            return Err("the kept refresh record has bytes after its end".into());
        }
        Ok(issued)
    }
}

/// The version of [`IssuedRefresh::encode`]'s layout, its first byte, so that a later layout can tell itself
/// apart. Format 4 (with the DPoP key's thumbprint, a pairwise client's sector, the claims asked for by name, the
/// ID token's `amr` and the access token's groups) is the first kept in the token's row; a record of another
/// format is refused as a retry that finds none is.
const RECORD_FORMAT: u8 = 4;
/// Text kept as UTF-8: a 4-byte length, then the bytes.
const TEXT_UTF8: u8 = 0;
/// Text that is unpadded base64url (tokens, ids, key ids), kept as the bytes it encodes: a 1-byte length, then
/// the bytes. Only text that encoding them gives back, character for character.
const TEXT_BASE64URL: u8 = 1;

fn put_text(out: &mut Vec<u8>, text: &str) -> Result<(), String> {
    if let Ok(bytes) = URL_SAFE_NO_PAD.decode(text) {
        if let Ok(len) = u8::try_from(bytes.len()) {
            if URL_SAFE_NO_PAD.encode(&bytes) == text {
                out.extend_from_slice(&[TEXT_BASE64URL, len]);
                out.extend_from_slice(&bytes);
                return Ok(());
            }
        }
    }
    let len = u32::try_from(text.len()).map_err(|_| "a text of the refresh record is too long to keep")?;
    out.push(TEXT_UTF8);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// An ID token's claims asked for by name, as JSON; empty for none.
fn named_claims_text(claims: &Map<String, Value>) -> Result<String, String> {
    if claims.is_empty() {
        return Ok(String::new());
    }
    serde_json::to_string(claims).map_err(|e| e.to_string())
}

fn put_int(out: &mut Vec<u8>, value: &i64) -> Result<(), String> {
    out.extend_from_slice(&value.to_le_bytes());
    Ok(())
}

fn put_optional<T>(
    out: &mut Vec<u8>,
    value: Option<&T>,
    put: impl Fn(&mut Vec<u8>, &T) -> Result<(), String>,
) -> Result<(), String> {
    match value {
        None => {
            out.push(0);
            Ok(())
        }
        Some(v) => {
            out.push(1);
            put(out, v)
        }
    }
}

/// Reads what [`IssuedRefresh::encode`] wrote, refusing anything cut short.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.0.len() < n {
            return Err("the kept refresh record is cut short".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn int(&mut self) -> Result<i64, String> {
        let bytes: [u8; 8] = self.take(8)?.try_into().map_err(|_| "the kept refresh record is cut short")?;
        Ok(i64::from_le_bytes(bytes))
    }

    fn text(&mut self) -> Result<String, String> {
        match self.byte()? {
            TEXT_BASE64URL => {
                let len = usize::from(self.byte()?);
                Ok(URL_SAFE_NO_PAD.encode(self.take(len)?))
            }
            TEXT_UTF8 => {
                let len: [u8; 4] = self.take(4)?.try_into().map_err(|_| "the kept refresh record is cut short")?;
                let len = usize::try_from(u32::from_le_bytes(len)).map_err(|e| e.to_string())?;
                String::from_utf8(self.take(len)?.to_vec()).map_err(|e| e.to_string())
            }
            other => Err(format!("the kept refresh record has an unknown text tag {other}")),
        }
    }

    fn optional<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<Option<T>, String> {
        match self.byte()? {
            0 => Ok(None),
            1 => read(self).map(Some),
            other => Err(format!("the kept refresh record has an unknown presence mark {other}")),
        }
    }
}

/// Names the key, derived from the server's key, under which each token's record is sealed.
const SEALER_LABEL: &[u8] = b"tessera refresh grace record v4";

impl Provider {
    /// The key that seals the record of `refresh_token`'s rotation: an HMAC of the token under a key derived from
    /// the server's, so that neither a copy of the database nor an old token alone opens it.
    fn grace_sealer(&self, refresh_token: &str) -> Result<Kek, OAuthError> {
        let server = self.keys.kek().derive(SEALER_LABEL)?;
        let key = hmac_sha256(&server, refresh_token.as_bytes()).map_err(OAuthError::server)?;
        Ok(Kek::from_bytes(key))
    }

    /// What the rotation of `refresh_token` (stored as `token_hash`, which binds the record to its row) issued,
    /// sealed for the rotated row; `None` with the grace window off.
    pub fn seal_refresh(
        &self,
        refresh_token: &str,
        token_hash: &str,
        issued: &IssuedRefresh,
    ) -> Result<Option<Vec<u8>>, OAuthError> {
        if self.tokens.refresh_grace <= 0 {
            return Ok(None);
        }
        let plain = issued.encode().map_err(OAuthError::server)?;
        Ok(Some(self.grace_sealer(refresh_token)?.seal(&plain, token_hash.as_bytes())?))
    }

    /// The response the rotation of `refresh_token` (stored as `token_hash`) gave, from the record it `sealed`,
    /// with `expires_in` counted from `now` (the tokens are the same, so they expire when they did), to a retry
    /// proving the DPoP key `dpop` (if any).
    pub async fn remembered_refresh_response(
        &self,
        refresh_token: &str,
        token_hash: &str,
        sealed: &[u8],
        dpop: Option<&Jkt>,
        now: UnixTime,
    ) -> Result<TokenResponse, OAuthError> {
        let plain =
            self.grace_sealer(refresh_token)?.open(sealed, token_hash.as_bytes()).map_err(OAuthError::server)?;
        let mut issued = IssuedRefresh::decode(&plain).map_err(OAuthError::server)?;
        // A retry is the same request again. One that proves another key (or none, or one where there was none)
        // is not: its answer would hand the tokens bound to the first key, and the new refresh token, to it.
        if issued.grant.jkt.as_ref() != dpop {
            return Err(OAuthError::invalid_grant("the retry does not prove the DPoP key of the request it repeats"));
        }
        let minted = self
            .remint(&issued.kid, &issued.grant, issued.id_token.take(), issued.jti.clone(), issued.issued_at)
            .await?
            .ok_or_else(|| OAuthError::server("the key that signed the kept response has left the ring"))?;
        Ok(TokenResponse {
            access_token: minted.access_token,
            token_type: issued.grant.token_type().into(),
            expires_in: (issued.issued_at + issued.grant.ttl - now).max(0),
            scope: super::token::scope_string(&issued.grant.scope),
            id_token: minted.id_token,
            refresh_token: Some(issued.refresh_token),
            issued_token_type: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued(user: bool) -> IssuedRefresh {
        IssuedRefresh {
            refresh_token: "wY3Xc0N0xkqq2hV3a9m6U6cK1JpVf0zQ2kq8i8ZkQ8Q".into(),
            grant: AccessGrant {
                client_id: ClientId::parse("bench-client").expect("client id"),
                user_id: user.then(|| UserId::parse("c22799e1-2253-45e5-b006-efbd64f62164").expect("user id")),
                scope: Scope::parse(if user { "openid email offline_access" } else { "" }).expect("scope"),
                audience: "https://api.example.test/v1?x=é".into(),
                auth_time: user.then_some(1_796_513_988),
                sid: user.then(|| "VkCivT0ziHpRm6RcxCeH94M54gOJlyPLRjigYjmuTnM".into()),
                ttl: 600,
                act: None,
                jkt: user.then(|| Jkt::parse("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs").expect("jkt")),
                sector: user.then(|| "app.example".into()),
                userinfo_claims: if user {
                    ClaimNames::parse("email name").expect("claims")
                } else {
                    ClaimNames::default()
                },
                groups: user.then(|| {
                    vec![GroupName::parse("Admins").expect("group"), GroupName::parse("eng:a").expect("group")]
                }),
            },
            jti: "umLpZpAefV8DNEbYnqZAiQ".into(),
            issued_at: -5,
            id_token: user.then(|| IdTokenExtras {
                nonce: None,
                amr: vec!["pwd".into(), "otp".into()],
                ttl: 300,
                user_claims: serde_json::json!({ "email": "é@example.com", "email_verified": true, "updated_at": 7 })
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            }),
            kid: "su7n_YDum_HwsnZjHCYeylOB-9m-1yn4v3I82LFSTNQ".into(),
        }
    }

    fn fields(i: &IssuedRefresh) -> String {
        let g = &i.grant;
        format!(
            "{} {} {:?} [{}] {} {:?} {:?} {} {} {} {:?} {} {:?} [{}] {:?}",
            i.refresh_token,
            g.client_id,
            g.user_id,
            g.scope,
            g.audience,
            g.auth_time,
            g.sid,
            g.ttl,
            i.jti,
            i.issued_at,
            i.id_token.as_ref().map(|id| (id.ttl, &id.amr, &id.user_claims)),
            i.kid,
            g.jkt,
            g.userinfo_claims,
            g.groups
        )
    }

    #[test]
    fn a_record_reads_back_as_it_was_written() {
        for user in [true, false] {
            let written = issued(user);
            let read = IssuedRefresh::decode(&written.encode().expect("encode")).expect("decode");
            assert_eq!(fields(&read), fields(&written));
        }
        // A user in no group: the claim is there, empty.
        let mut none = issued(true);
        none.grant.groups = Some(Vec::new());
        let read = IssuedRefresh::decode(&none.encode().expect("encode")).expect("decode");
        assert_eq!(read.grant.groups, Some(Vec::new()));
    }

    #[test]
    fn a_refresh_token_of_either_form_is_kept_as_the_bytes_it_encodes() {
        use crate::domain::refresh_family::FamilySecret;
        use crate::domain::secret::PlainSecret;
        let earlier = PlainSecret::generate();
        let naming_its_family = FamilySecret::of_code("a code").issue_token();
        let mut sizes = Vec::new();
        for token in [&earlier, &naming_its_family] {
            let mut written = issued(true);
            written.refresh_token = token.expose().into();
            let bytes = written.encode().expect("encode");
            assert_eq!(fields(&IssuedRefresh::decode(&bytes).expect("decode")), fields(&written));
            sizes.push(bytes.len());
        }
        // 86 characters are 64 bytes, 43 are 32.
        assert_eq!(sizes[1] - sizes[0], 32, "{sizes:?}");
    }

    #[test]
    fn text_that_is_not_canonical_base64url_is_kept_as_it_is() {
        // Padding, a character outside the alphabet, an impossible length, trailing bits that are not zero.
        for text in ["YQ==", "my.app~1", "abcde", "YR", "", "a"] {
            let mut written = issued(true);
            written.refresh_token = text.into();
            written.kid = text.into();
            let read = IssuedRefresh::decode(&written.encode().expect("encode")).expect("decode");
            assert_eq!((read.refresh_token.as_str(), read.kid.as_str()), (text, text));
        }
    }

    #[test]
    fn a_record_is_smaller_than_the_json_it_replaces() {
        let i = issued(true);
        let json = serde_json::json!({
            "refresh_token": i.refresh_token, "grant": i.grant, "jti": i.jti, "issued_at": i.issued_at,
            "id_token": i.id_token.as_ref().map(|id| serde_json::json!({
                "ttl": id.ttl, "amr": id.amr, "user_claims": id.user_claims,
            })),
            "kid": i.kid,
        });
        let (compact, json) = (i.encode().expect("encode").len(), json.to_string().len());
        assert!(compact * 3 <= json * 2, "{compact} bytes against {json}");
    }

    #[test]
    fn a_damaged_record_is_refused() {
        let bytes = issued(true).encode().expect("encode");
        for end in 0..bytes.len() {
            assert!(IssuedRefresh::decode(&bytes[..end]).is_err(), "cut at {end}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(IssuedRefresh::decode(&longer).is_err(), "trailing bytes");
        let mut other_format = bytes.clone();
        other_format[0] = b'{';
        assert!(IssuedRefresh::decode(&other_format).is_err(), "an earlier release's JSON");
        let mut bad_tag = bytes;
        bad_tag[1] = 7;
        assert!(IssuedRefresh::decode(&bad_tag).is_err(), "unknown text tag");
    }
}
