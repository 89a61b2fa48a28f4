//! Where a request came from: the client IP (taking `X-Forwarded-For` only from configured proxies), the
//! user agent and the request id, for the audit trail and for the device a session is started on.
use super::render::request_id;
use super::AppState;
use crate::config::IpRange;
use crate::domain::{Device, UserAgent};
use crate::oauth::audit::RequestMeta;
use actix_web::http::header;
use actix_web::HttpRequest;
use std::net::IpAddr;

/// The client IP: the peer address, or, when the peer is a trusted proxy, what its `X-Forwarded-For`
/// chain says (see [`forwarded_client`]).
pub fn client_ip(req: &HttpRequest, trusted: &[IpRange]) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip())?;
    let lines = req.headers().get_all("x-forwarded-for").map(|v| v.to_str().ok());
    Some(forwarded_client(peer, lines, trusted))
}

/// The client behind `peer`, given the `X-Forwarded-For` header lines in the order received (`None` for a line
/// that is not text). A proxy that finds the header may append its own line instead of extending the last
/// one (HAProxy does), so the lines are one list in order (RFC 9110 §5.3). The list is walked from the right,
/// the end our own proxies wrote, while the hop is trusted; the first untrusted address is the client. An
/// entry that is not a bare address (`ip:port`, `unknown`, garbage) ends the walk at the last trusted hop:
/// stepping over it would reach addresses the client itself wrote. Addresses are compared canonically, so a
/// server bound to `[::]`, which sees IPv4 peers as `::ffff:a.b.c.d`, still recognises an IPv4 proxy.
pub fn forwarded_client<'a>(
    peer: IpAddr,
    lines: impl DoubleEndedIterator<Item = Option<&'a str>>,
    trusted: &[IpRange],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|range| range.contains(ip));
    let mut client = peer.to_canonical();
    if !is_trusted(client) {
        return client;
    }
    for line in lines.rev() {
        let Some(line) = line else { return client };
        // Empty list elements are allowed and carry nothing (RFC 9110 §5.6.1).
        for entry in line.rsplit(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Ok(ip) = entry.parse::<IpAddr>() else { return client };
            client = ip.to_canonical();
            if !is_trusted(client) {
                return client;
            }
        }
    }
    client
}

/// How much of a `User-Agent` the audit trail keeps.
const MAX_USER_AGENT_CHARS: usize = 256;

/// The audit facts of a request.
pub fn request_meta(req: &HttpRequest, state: &AppState) -> RequestMeta {
    RequestMeta {
        ip: client_ip(req, &state.settings.http.trusted_proxies).map(|ip| ip.to_string()),
        // Read as a session keeps it (lossily, without control characters), and shorter.
        user_agent: user_agent(req).map(|ua| ua.as_str().chars().take(MAX_USER_AGENT_CHARS).collect()),
        request_id: Some(request_id(req)),
    }
}

/// The device a sign-in comes from, kept with the session it starts: the same client IP as the audit trail's,
/// and the `User-Agent` in full (up to [`UserAgent::MAX_LEN`] bytes, even when it is not text).
pub fn device(req: &HttpRequest, state: &AppState) -> Device {
    Device { ip: client_ip(req, &state.settings.http.trusted_proxies), user_agent: user_agent(req) }
}

/// The request's `User-Agent`, even when it is not text.
fn user_agent(req: &HttpRequest) -> Option<UserAgent> {
    req.headers().get(header::USER_AGENT).and_then(|v| UserAgent::from_header(v.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn ranges(entries: &[&str]) -> Vec<IpRange> {
        entries.iter().map(|e| IpRange::parse(e).unwrap()).collect()
    }

    /// The client seen from `peer` with `lines` of `X-Forwarded-For`, behind the proxies 10.0.0.1 and 10.0.0.2.
    fn client(peer: &str, lines: &[&str]) -> IpAddr {
        forwarded_client(ip(peer), lines.iter().map(|l| Some(*l)), &ranges(&["10.0.0.1", "10.0.0.2"]))
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        assert_eq!(client("198.51.100.7", &["203.0.113.9"]), ip("198.51.100.7"));
    }

    #[test]
    fn the_walk_goes_from_the_right_over_trusted_hops() {
        assert_eq!(client("10.0.0.1", &["203.0.113.9, 198.51.100.7, 10.0.0.2"]), ip("198.51.100.7"));
        assert_eq!(client("10.0.0.1", &[]), ip("10.0.0.1"));
        assert_eq!(client("10.0.0.1", &["10.0.0.2"]), ip("10.0.0.2"));
        assert_eq!(client("10.0.0.1", &["198.51.100.7, , 10.0.0.2,"]), ip("198.51.100.7"));
    }

    #[test]
    fn every_header_line_counts_in_order() {
        // The client wrote the first line; our proxy appended the second.
        assert_eq!(client("10.0.0.1", &["203.0.113.9", "198.51.100.7"]), ip("198.51.100.7"));
        assert_eq!(client("10.0.0.1", &["203.0.113.9", "198.51.100.7, 10.0.0.2"]), ip("198.51.100.7"));
        assert_eq!(client("10.0.0.1", &["203.0.113.9, 198.51.100.7", "10.0.0.2"]), ip("198.51.100.7"));
    }

    #[test]
    fn an_entry_that_is_not_an_address_stops_at_the_last_trusted_hop() {
        for bad in ["198.51.100.7:4711", "unknown", "_hidden", "[2001:db8::1]:443", "1.2.3"] {
            assert_eq!(client("10.0.0.1", &[&format!("203.0.113.9, {bad}")]), ip("10.0.0.1"), "{bad}");
            assert_eq!(client("10.0.0.1", &["203.0.113.9", &format!("{bad}, 10.0.0.2")]), ip("10.0.0.2"), "{bad}");
        }
        let lines = [Some("203.0.113.9"), None, Some("10.0.0.2")];
        let trusted = ranges(&["10.0.0.1", "10.0.0.2"]);
        assert_eq!(forwarded_client(ip("10.0.0.1"), lines.into_iter(), &trusted), ip("10.0.0.2"));
    }

    #[test]
    fn ipv4_mapped_addresses_match_their_ipv4_form() {
        assert_eq!(client("::ffff:10.0.0.1", &["198.51.100.7"]), ip("198.51.100.7"));
        assert_eq!(client("10.0.0.1", &["::ffff:10.0.0.2, ::ffff:198.51.100.7"]), ip("198.51.100.7"));
        let mapped = ranges(&["::ffff:10.0.0.1"]);
        assert_eq!(forwarded_client(ip("10.0.0.1"), [Some("198.51.100.7")].into_iter(), &mapped), ip("198.51.100.7"));
        // An untrusted IPv4 peer on a `[::]` socket is reported in its IPv4 form.
        assert_eq!(client("::ffff:198.51.100.7", &[]), ip("198.51.100.7"));
    }

    #[test]
    fn every_hop_inside_a_trusted_range_is_stepped_over() {
        let pods = ranges(&["10.0.0.0/8", "fd00::/8"]);
        let walk = |peer: &str, line: &str| forwarded_client(ip(peer), [Some(line)].into_iter(), &pods);
        assert_eq!(walk("10.244.1.7", "203.0.113.9, 10.244.3.2"), ip("203.0.113.9"));
        assert_eq!(walk("::ffff:10.244.1.7", "203.0.113.9"), ip("203.0.113.9"));
        assert_eq!(walk("fd00:1::7", "2001:db8::1, fd00:2::3"), ip("2001:db8::1"));
        // The nearest address outside the ranges is the client, whatever is further left.
        assert_eq!(walk("10.244.1.7", "10.1.1.1, 11.0.0.1, 10.244.3.2"), ip("11.0.0.1"));
        assert_eq!(walk("11.0.0.1", "203.0.113.9"), ip("11.0.0.1"));
    }
}
