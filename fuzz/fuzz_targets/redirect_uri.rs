//! Redirect-URI parsing and matching: never panics, and matching is exact except for loopback ports.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tessera::domain::RedirectUri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (a, b) = text.split_once('\n').unwrap_or((text, text));
    let (Ok(registered), Ok(requested)) = (RedirectUri::parse(a), RedirectUri::parse(b)) else { return };
    if registered.accepts(&requested) {
        let (r, q) = (registered.url(), requested.url());
        assert_eq!(r.scheme(), q.scheme());
        assert_eq!(r.host(), q.host());
        assert_eq!(r.path(), q.path());
        assert_eq!(r.query(), q.query());
        if r.scheme() != "http" {
            assert_eq!(registered.as_str(), requested.as_str());
        }
    }
});
