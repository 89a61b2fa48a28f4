//! A pairwise client's `sector_identifier_uri` (OpenID Connect Dynamic Client Registration 1.0 §5, Core §8.1):
//! fetched when the client is registered or changed, it must be a JSON array of URIs that holds every redirect
//! URI of the client, so that a client cannot claim a sector whose owner did not list it. Fetched with the
//! `jwks_uri` fetcher, its size and time limits, and for strangers its public-addresses-only rule.
use super::metadata::metadata_error;
use crate::domain::client_rules::parse_sector_identifier_uri;
use crate::domain::{Client, RedirectUri, SubjectType};
use crate::oauth::client_keys::{JwksFetcher, Reach};
use crate::oauth::error::OAuthError;
use crate::oauth::provider::Provider;
use std::collections::HashSet;

/// Largest sector identifier document, in bytes.
pub const MAX_SECTOR_BYTES: usize = 64 * 1024;

/// Whether `body` is a JSON array of strings that holds every one of `redirect_uris`, compared as registered.
pub fn check_sector_document(body: &[u8], redirect_uris: &[RedirectUri]) -> Result<(), OAuthError> {
    let listed: Vec<String> = serde_json::from_slice(body)
        .map_err(|_| metadata_error("sector_identifier_uri must serve a JSON array of redirect URIs"))?;
    let listed: HashSet<&str> = listed.iter().map(String::as_str).collect();
    match redirect_uris.iter().find(|r| !listed.contains(r.as_str())) {
        Some(missing) => Err(metadata_error(format!(
            "the sector_identifier_uri document does not list the redirect URI {:?}",
            missing.as_str().chars().take(100).collect::<String>()
        ))),
        None => Ok(()),
    }
}

/// Fetches the `sector_identifier_uri` of `client` with `fetcher` when it is pairwise and has one, and checks
/// that the document lists its redirect URIs (`invalid_client_metadata` otherwise). `reach` is where the fetch
/// may connect: public addresses only for a stranger's registration, anywhere for an operator's client.
pub async fn check_sector_identifier(
    fetcher: &dyn JwksFetcher,
    client: &Client,
    reach: Reach,
) -> Result<(), OAuthError> {
    if client.subject_type() != SubjectType::Pairwise {
        return Ok(());
    }
    let Some(raw) = &client.metadata.sector_identifier_uri else { return Ok(()) };
    let url = parse_sector_identifier_uri(raw).map_err(|e| metadata_error(e.to_string()))?;
    let body = fetcher.fetch(&url, MAX_SECTOR_BYTES, reach).await.map_err(|e| {
        tracing::info!(client_id = %client.id, error = %e, "fetching a sector_identifier_uri failed");
        // What failed stays in the log: for a stranger, it would map the addresses the server can reach.
        metadata_error("the sector_identifier_uri could not be fetched")
    })?;
    check_sector_document(&body, &client.redirect_uris)
}

impl Provider {
    /// [`check_sector_identifier`] with the server's fetcher.
    pub async fn check_sector_identifier(&self, client: &Client, reach: Reach) -> Result<(), OAuthError> {
        check_sector_identifier(self.jwks_fetcher.as_ref(), client, reach).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uris(list: &[&str]) -> Vec<RedirectUri> {
        list.iter().map(|u| RedirectUri::parse(u).unwrap()).collect()
    }

    #[test]
    fn the_document_must_list_every_redirect_uri() {
        let registered = uris(&["https://a.example/cb", "https://b.example/cb"]);
        let doc = br#"["https://a.example/cb", "https://b.example/cb", "https://c.example/cb"]"#;
        assert!(check_sector_document(doc, &registered).is_ok());
        assert!(check_sector_document(br#"[]"#, &[]).is_ok());
        for (doc, why) in [
            (&br#"["https://a.example/cb"]"#[..], "https://b.example/cb"),
            (br#"["https://a.example/cb/", "https://b.example/cb"]"#, "https://a.example/cb"),
            (br#"{"redirect_uris": ["https://a.example/cb"]}"#, "JSON array"),
            (br#"["https://a.example/cb", 7]"#, "JSON array"),
            (b"not json", "JSON array"),
        ] {
            let e = check_sector_document(doc, &registered).unwrap_err();
            assert_eq!(e.code, crate::oauth::error::ErrorCode::InvalidClientMetadata);
            assert!(e.description.contains(why), "{}", e.description);
        }
    }
}
