//! Server-provided DPoP nonces (RFC 9449 §8, §9), asked for under `dpop.require_nonce`: a proof must then carry
//! one we sent in a `DPoP-Nonce` header, so its freshness rests on our clock rather than on the `iat` the client
//! chose.
//!
//! Nonces keep no state: a nonce is the base64url HMAC-SHA256 of a time window's number, under a key derived from
//! the key-encryption key, so every instance of a deployment makes the same nonce in the same window and accepts
//! the others'. It is unguessable without the key, tells nothing of the KEK (the KEK only keys the derivation),
//! and is the same for every client in a window, which RFC 9449 allows: a nonce is not a secret, it bounds how
//! long a proof made with it is good for.
use super::error::{ErrorCode, OAuthError};
use super::provider::Provider;
use crate::domain::UnixTime;
use crate::jose::kek::{hmac_sha256, Kek};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

/// Names the derived key; a new label would make every nonce in use stale at once.
const KEY_LABEL: &[u8] = b"tessera dpop nonce v1";
/// Length of a nonce: base64url, unpadded, of the 32 bytes of an HMAC-SHA256.
const NONCE_CHARS: usize = 43;

/// A nonce to send in a `DPoP-Nonce` header (base64url, within RFC 9449 §8.1's `NQCHAR`s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopNonce(String);

impl DpopNonce {
    /// The header value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Makes and checks nonces: the derived key and the window length.
pub struct DpopNonces {
    key: [u8; 32],
    window: i64,
    leeway: i64,
}

impl std::fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopNonces").field("window", &self.window).finish_non_exhaustive()
    }
}

impl DpopNonces {
    /// Nonces under `kek`'s derived key, one per `window` seconds; `leeway` is how far ahead of ours another
    /// instance's clock may be (its nonce for a window we have not reached yet is accepted within it).
    pub fn new(kek: &Kek, window: i64, leeway: i64) -> Result<Self, OAuthError> {
        let key = kek.derive(KEY_LABEL).map_err(OAuthError::server)?;
        Ok(Self { key, window: window.max(1), leeway: leeway.max(0) })
    }

    fn window_of(&self, t: UnixTime) -> i64 {
        t.div_euclid(self.window)
    }

    fn mac(&self, window: i64) -> Result<[u8; 32], OAuthError> {
        hmac_sha256(&self.key, &window.to_be_bytes()).map_err(OAuthError::server)
    }

    /// The nonce of the window `now` is in.
    pub fn issue(&self, now: UnixTime) -> Result<DpopNonce, OAuthError> {
        Ok(DpopNonce(URL_SAFE_NO_PAD.encode(self.mac(self.window_of(now))?)))
    }

    /// Whether `nonce` is one we made for the window of `now` or the one before (so a nonce sent just before a
    /// window ends still works for the next request), or, for a peer whose clock is ahead, the window of
    /// `now` plus the leeway. Compared in constant time.
    pub fn accepts(&self, nonce: &str, now: UnixTime) -> bool {
        if nonce.len() != NONCE_CHARS {
            return false;
        }
        let Ok(sent) = URL_SAFE_NO_PAD.decode(nonce) else { return false };
        let current = self.window_of(now);
        let mut matched = subtle::Choice::from(0);
        for window in current.saturating_sub(1)..=self.window_of(now.saturating_add(self.leeway)) {
            if let Ok(mac) = self.mac(window) {
                matched |= mac.as_slice().ct_eq(&sent);
            }
        }
        matched.into()
    }
}

/// The refusal of a proof without a nonce we accept (RFC 9449 §8 and §9): the client is to retry with the one in
/// the answer's `DPoP-Nonce` header.
pub fn use_nonce(description: &str) -> OAuthError {
    OAuthError::new(ErrorCode::UseDpopNonce, description)
}

impl Provider {
    /// How nonces are made and checked, when `dpop.require_nonce` asks for them.
    pub fn dpop_nonces(&self) -> Result<Option<DpopNonces>, OAuthError> {
        if !self.dpop.require_nonce {
            return Ok(None);
        }
        DpopNonces::new(self.keys.kek(), self.dpop.nonce_window, self.leeway).map(Some)
    }

    /// The nonce for a `DPoP-Nonce` header of an answer to a request with a DPoP proof at `now`; none unless
    /// nonces are required. Every such answer carries one (RFC 9449 §8.2), so a client always holds a fresh one.
    pub fn fresh_dpop_nonce(&self, now: UnixTime) -> Result<Option<DpopNonce>, OAuthError> {
        self.dpop_nonces()?.map(|n| n.issue(now)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: i64 = 300;
    const NOW: UnixTime = 1_700_000_100;

    fn nonces(kek: u8) -> DpopNonces {
        DpopNonces::new(&Kek::from_bytes([kek; 32]), WINDOW, 30).unwrap()
    }

    #[test]
    fn a_nonce_is_good_in_its_window_and_the_next_only() {
        let n = nonces(1);
        let start = NOW - NOW.rem_euclid(WINDOW);
        let nonce = n.issue(NOW).unwrap();
        assert_eq!(nonce.as_str().len(), NONCE_CHARS);
        assert!(nonce.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(n.issue(start).unwrap(), nonce, "one nonce per window, on every instance");
        assert_ne!(n.issue(start - 1).unwrap(), nonce);
        for t in [start, NOW, start + WINDOW - 1, start + WINDOW, start + 2 * WINDOW - 1] {
            assert!(n.accepts(nonce.as_str(), t), "at {}", t - start);
        }
        assert!(!n.accepts(nonce.as_str(), start + 2 * WINDOW), "stale after the next window");
        assert!(!n.accepts(nonce.as_str(), start + 5 * WINDOW));
    }

    #[test]
    fn a_nonce_of_a_window_a_peer_is_already_in_is_accepted_within_the_leeway() {
        let n = nonces(1);
        let start = NOW - NOW.rem_euclid(WINDOW);
        let next = n.issue(start + WINDOW).unwrap();
        assert!(n.accepts(next.as_str(), start + WINDOW - 30));
        assert!(!n.accepts(next.as_str(), start + WINDOW - 31));
    }

    #[test]
    fn forged_or_other_deployments_nonces_are_refused() {
        let (ours, theirs) = (nonces(1), nonces(2));
        assert!(!ours.accepts(theirs.issue(NOW).unwrap().as_str(), NOW));
        let nonce = ours.issue(NOW).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(nonce.as_str()).unwrap();
        bytes[0] ^= 1;
        assert!(!ours.accepts(&URL_SAFE_NO_PAD.encode(&bytes), NOW));
        // The KEK itself never keys the MAC.
        let with_kek = hmac_sha256(&[1u8; 32], &(NOW / WINDOW).to_be_bytes()).unwrap();
        assert!(!ours.accepts(&URL_SAFE_NO_PAD.encode(with_kek), NOW));
    }

    #[test]
    fn malformed_nonces_are_refused() {
        let n = nonces(1);
        let good = n.issue(NOW).unwrap();
        let good = good.as_str();
        for bad in
            ["", "abc", &good[..42], &format!("{good}A"), &format!("{}=", &good[..42]), &format!("+{}", &good[1..])]
        {
            assert!(!n.accepts(bad, NOW), "{bad:?}");
        }
        assert!(!n.accepts(&"*".repeat(NONCE_CHARS), NOW));
    }
}
