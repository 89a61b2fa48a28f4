//! Time-based one-time passwords (TOTP, RFC 6238, over HOTP, RFC 4226) as authenticator apps make them:
//! HMAC-SHA1, 6 digits, 30-second steps. A code is accepted for the step before and after the current one too
//! (the phone's clock may drift), and never for a step at or before the last one accepted (replay).
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use subtle::ConstantTimeEq;

/// Length of a secret in bytes (160 bits, as RFC 4226 §4 recommends for HMAC-SHA1).
pub const SECRET_LEN: usize = 20;
/// Digits in a code.
pub const DIGITS: u32 = 6;
/// Seconds in a time step.
pub const PERIOD: i64 = 30;
/// Steps accepted either side of the current one.
pub const DRIFT_STEPS: i64 = 1;

/// A user's TOTP secret. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; SECRET_LEN]);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpSecret").finish_non_exhaustive()
    }
}

impl TotpSecret {
    /// A new random secret.
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_LEN];
        super::secret::fill_random(&mut bytes);
        Self(bytes)
    }

    /// A secret from its stored bytes; `None` unless there are [`SECRET_LEN`] of them.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.try_into().ok()?))
    }

    /// The raw bytes, to store (encrypted).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret in base32 (RFC 4648, no padding), as authenticator apps take it typed in.
    pub fn base32(&self) -> String {
        base32(&self.0)
    }

    /// [`Self::base32`] in groups of four, easier to read and type.
    pub fn base32_grouped(&self) -> String {
        let plain = self.base32();
        let groups: Vec<&str> = plain.as_bytes().chunks(4).filter_map(|c| std::str::from_utf8(c).ok()).collect();
        groups.join(" ")
    }

    /// The `otpauth://totp/…` URI an app reads from a QR code: labelled `issuer:username`, with the parameters
    /// spelled out (the defaults, but some apps ignore a missing one differently).
    pub fn otpauth_uri(&self, issuer: &str, username: &str) -> Option<String> {
        let mut uri = url::Url::parse("otpauth://totp").ok()?;
        uri.path_segments_mut().ok()?.push(&format!("{issuer}:{username}"));
        uri.query_pairs_mut()
            .append_pair("secret", &self.base32())
            .append_pair("issuer", issuer)
            .append_pair("algorithm", "SHA1")
            .append_pair("digits", &DIGITS.to_string())
            .append_pair("period", &PERIOD.to_string());
        // Form encoding writes spaces as `+`, which the apps show as such: the URI form is `%20`.
        Some(uri.as_str().replace('+', "%20"))
    }
}

/// A code as typed: [`DIGITS`] ASCII digits, spaces ignored (apps show `123 456`).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCode(String);

impl std::fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpCode").finish_non_exhaustive()
    }
}

impl TotpCode {
    /// Parses a typed code; `None` when it is not [`DIGITS`] digits.
    pub fn parse(typed: &str) -> Option<Self> {
        let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
        (digits.len() == DIGITS as usize && digits.bytes().all(|b| b.is_ascii_digit())).then_some(Self(digits))
    }
}

/// The HOTP value (RFC 4226 §5.3) of `key` at `counter`, as `digits` decimal digits, zero-padded.
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> Option<String> {
    let pkey = PKey::hmac(key).ok()?;
    let mut signer = Signer::new(MessageDigest::sha1(), &pkey).ok()?;
    signer.update(&counter.to_be_bytes()).ok()?;
    let mac = signer.sign_to_vec().ok()?;
    // Dynamic truncation: the low nibble of the last byte picks four bytes.
    let offset = usize::from(*mac.last()? & 0x0f);
    let word: [u8; 4] = mac.get(offset..offset + 4)?.try_into().ok()?;
    let value = u32::from_be_bytes(word) & 0x7fff_ffff;
    let modulus = 10u32.checked_pow(digits)?;
    Some(format!("{:0width$}", value % modulus, width = digits as usize))
}

/// The time step of `now` (RFC 6238 §4.2, T0 = 0).
pub fn time_step(now: i64) -> i64 {
    now.div_euclid(PERIOD)
}

/// The code for `step`, as an app shows it.
pub fn code_at_step(secret: &TotpSecret, step: i64) -> Option<String> {
    hotp(&secret.0, u64::try_from(step).ok()?, DIGITS)
}

/// The step `code` is right for at `now`, within [`DRIFT_STEPS`] either side, and after `last_step` (the last
/// step accepted for this secret, if any): `None` for a wrong code or a replayed one. Every candidate is
/// computed and compared in constant time, so the time taken does not say which step matched.
pub fn verify(secret: &TotpSecret, code: &TotpCode, now: i64, last_step: Option<i64>) -> Option<i64> {
    let current = time_step(now);
    let mut matched = None;
    for step in current - DRIFT_STEPS..=current + DRIFT_STEPS {
        let Some(expected) = code_at_step(secret, step) else { continue };
        let same: bool = expected.as_bytes().ct_eq(code.0.as_bytes()).into();
        if same && last_step.is_none_or(|last| step > last) && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

/// How many recovery codes a user gets when turning TOTP on.
pub const RECOVERY_CODES: usize = 10;

/// A one-time recovery code, usable in place of a TOTP code: 80 random bits as 16 lowercase base32 characters,
/// shown as `xxxx-xxxx-xxxx-xxxx`. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoveryCode").finish_non_exhaustive()
    }
}

impl RecoveryCode {
    /// A new random code.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 10];
        super::secret::fill_random(&mut bytes);
        Self(base32(&bytes).to_ascii_lowercase())
    }

    /// A code as typed: hyphens, spaces and letter case aside; `None` unless it has the form of one.
    pub fn parse(typed: &str) -> Option<Self> {
        let plain: String =
            typed.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_lowercase()).collect();
        let form = plain.len() == 16 && plain.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
        form.then_some(Self(plain))
    }

    /// The normal form (what is hashed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// As shown to the user: four groups of four.
    pub fn grouped(&self) -> String {
        let groups: Vec<&str> = self.0.as_bytes().chunks(4).filter_map(|c| std::str::from_utf8(c).ok()).collect();
        groups.join("-")
    }
}

/// Base32 (RFC 4648 §6) without padding.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key of RFC 4226 Appendix D and RFC 6238 Appendix B (SHA-1).
    const RFC_KEY: &[u8] = b"12345678901234567890";

    #[test]
    fn hotp_matches_rfc_4226_appendix_d() {
        let expected =
            ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(hotp(RFC_KEY, counter as u64, 6).as_deref(), Some(*code), "counter {counter}");
        }
    }

    #[test]
    fn totp_matches_rfc_6238_appendix_b_sha1() {
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (time, code) in vectors {
            assert_eq!(hotp(RFC_KEY, time_step(time) as u64, 8).as_deref(), Some(code), "T = {time}");
        }
        // The 6-digit code apps show is the last six of the same value.
        let secret = TotpSecret::from_bytes(RFC_KEY).unwrap();
        assert_eq!(code_at_step(&secret, time_step(59)).as_deref(), Some("287082"));
    }

    #[test]
    fn base32_matches_rfc_4648_without_padding() {
        for (plain, encoded) in
            [("", ""), ("f", "MY"), ("fo", "MZXQ"), ("foo", "MZXW6"), ("foob", "MZXW6YQ"), ("fooba", "MZXW6YTB")]
        {
            assert_eq!(base32(plain.as_bytes()), encoded);
        }
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        let secret = TotpSecret::from_bytes(RFC_KEY).unwrap();
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(secret.base32_grouped(), "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ");
    }

    #[test]
    fn codes_of_the_steps_either_side_are_accepted_and_no_further() {
        let secret = TotpSecret::from_bytes(RFC_KEY).unwrap();
        let now = 1_234_567_890;
        let step = time_step(now);
        for (offset, accepted) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let code = TotpCode::parse(&code_at_step(&secret, step + offset).unwrap()).unwrap();
            assert_eq!(verify(&secret, &code, now, None), accepted.then_some(step + offset), "offset {offset}");
        }
        assert_eq!(verify(&secret, &TotpCode::parse("000000").unwrap(), now, None), None);
    }

    #[test]
    fn a_step_at_or_before_the_last_accepted_is_a_replay() {
        let secret = TotpSecret::from_bytes(RFC_KEY).unwrap();
        let now = 1_234_567_890;
        let step = time_step(now);
        let code = TotpCode::parse(&code_at_step(&secret, step).unwrap()).unwrap();
        assert_eq!(verify(&secret, &code, now, Some(step - 1)), Some(step));
        assert_eq!(verify(&secret, &code, now, Some(step)), None, "the same code twice");
        assert_eq!(verify(&secret, &code, now, Some(step + 1)), None, "a later code was used already");
        let previous = TotpCode::parse(&code_at_step(&secret, step - 1).unwrap()).unwrap();
        assert_eq!(verify(&secret, &previous, now, Some(step)), None, "an older code after a newer one");
    }

    #[test]
    fn codes_are_six_digits_spaces_aside() {
        assert!(TotpCode::parse("123 456").is_some());
        assert!(TotpCode::parse(" 123456 ").is_some());
        for bad in ["12345", "1234567", "12345a", "", "١٢٣٤٥٦"] {
            assert!(TotpCode::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn recovery_codes_are_read_back_as_shown_in_any_case() {
        let code = RecoveryCode::generate();
        let shown = code.grouped();
        assert_eq!(shown.len(), 19);
        assert_eq!(RecoveryCode::parse(&shown), Some(code.clone()));
        assert_eq!(RecoveryCode::parse(&format!(" {} ", shown.to_uppercase())), Some(code.clone()));
        assert_ne!(RecoveryCode::generate(), code);
        for bad in ["123456", "abcd-efgh-ijkl-mno", "abcd-efgh-ijkl-mn01", ""] {
            assert!(RecoveryCode::parse(bad).is_none(), "{bad}");
        }
        assert!(!format!("{code:?}").contains(code.as_str()));
    }

    #[test]
    fn the_uri_is_what_authenticator_apps_read() {
        let secret = TotpSecret::from_bytes(RFC_KEY).unwrap();
        assert_eq!(
            secret.otpauth_uri("id.example.com", "alice smith").unwrap(),
            "otpauth://totp/id.example.com:alice%20smith?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=id.example.com&algorithm=SHA1&digits=6&period=30"
        );
        assert_ne!(TotpSecret::generate(), TotpSecret::generate());
        assert!(!format!("{secret:?}").contains("GEZD"));
    }
}
