//! Where a request came from: the client IP (taking `X-Forwarded-For` only from configured proxies), the
//! user agent and the request id, for the audit trail.
use super::render::request_id;
use super::AppState;
use crate::oauth::audit::RequestMeta;
use actix_web::http::header;
use actix_web::HttpRequest;
use std::net::IpAddr;

/// The client IP: the peer address, or, when the peer is a trusted proxy, the nearest untrusted address in
/// its `X-Forwarded-For` chain.
pub fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip())?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut chain: Vec<IpAddr> = forwarded.split(',').filter_map(|s| s.trim().parse().ok()).collect();
    // Walk from the nearest hop back, skipping our own proxies.
    while let Some(ip) = chain.pop() {
        if !trusted.contains(&ip) {
            return Some(ip);
        }
    }
    Some(peer)
}

/// The audit facts of a request.
pub fn request_meta(req: &HttpRequest, state: &AppState) -> RequestMeta {
    RequestMeta {
        ip: client_ip(req, &state.settings.http.trusted_proxies).map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect()),
        request_id: Some(request_id(req)),
    }
}
