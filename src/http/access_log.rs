//! The access log (`log.access`, off by default): one `info` line per answered request with its method, path,
//! status, duration, request id and client IP (as the audit trail sees it). Never the query string, which
//! carries codes and tokens (`/authorize` answers, `id_token_hint`), nor headers, cookies or bodies.
use super::meta::client_ip;
use crate::config::{IpRange, Settings};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;
use tracing_actix_web::RequestId;

/// What the access log needs of the settings: the proxies whose `X-Forwarded-For` is believed.
#[derive(Clone)]
pub struct AccessLog {
    trusted_proxies: Arc<[IpRange]>,
}

impl AccessLog {
    /// The access log when `log.access` is on.
    pub fn of(settings: &Settings) -> Option<Self> {
        settings.log.access.then(|| Self { trusted_proxies: settings.http.trusted_proxies.clone().into() })
    }
}

/// The line of one request, begun when it arrives.
struct Line {
    method: String,
    path: String,
    request_id: String,
    ip: Option<IpAddr>,
    started: Instant,
}

impl Line {
    fn write(self, status: u16) {
        let duration_ms = self.started.elapsed().as_micros() as f64 / 1000.0;
        tracing::info!(
            method = %self.method,
            path = %self.path,
            status,
            duration_ms,
            request_id = %self.request_id,
            ip = self.ip.map(tracing::field::display),
            "request answered"
        );
    }
}

/// Middleware (`wrap_fn`, inside `TracingLogger`, which gives the request its id): writes the line of each
/// request once its answer is ready, when `log` is on.
pub fn record<S, B>(
    req: ServiceRequest,
    app: &S,
    log: Option<&AccessLog>,
) -> impl std::future::Future<Output = Result<ServiceResponse<B>, Error>>
where
    S: actix_web::dev::Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    let line = log.map(|log| Line {
        method: req.method().to_string(),
        // The path alone: `ServiceRequest::path` never holds the query.
        path: req.path().to_owned(),
        request_id: req.extensions().get::<RequestId>().map(|id| id.to_string()).unwrap_or_default(),
        ip: client_ip(req.request(), &log.trusted_proxies),
        started: Instant::now(),
    });
    let answer = app.call(req);
    async move {
        let answered = answer.await;
        if let Some(line) = line {
            let status = match &answered {
                Ok(res) => res.status(),
                Err(e) => e.as_response_error().status_code(),
            };
            line.write(status.as_u16());
        }
        answered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawSettings;
    use crate::http::request_span::{echo_request_id, PathOnlySpan};
    use crate::telemetry::CapturedLog;
    use actix_web::{test, web, App, HttpResponse};
    use tracing_subscriber::layer::SubscriberExt;

    /// The log of one request to an app that answers `/x`, with `log.access` as given and a trusted proxy at
    /// 192.0.2.1 (where the request comes from), and the request id the answer carried.
    async fn logged(access: bool, uri: &str) -> (String, String) {
        let mut raw = RawSettings::default();
        raw.log.access = access;
        raw.http.trusted_proxies = vec!["192.0.2.1".into()];
        let access_log = AccessLog::of(&raw.validate().unwrap());
        let log = CapturedLog::default();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(log.clone()).with_ansi(false));
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = test::init_service(
            App::new()
                .wrap_fn(echo_request_id)
                .wrap_fn(move |req, srv| record(req, srv, access_log.as_ref()))
                .wrap(tracing_actix_web::TracingLogger::<PathOnlySpan>::new())
                .route("/x", web::get().to(|| async { HttpResponse::Ok().body("BODY-TEXT") })),
        )
        .await;
        let req = test::TestRequest::get()
            .uri(uri)
            .peer_addr("192.0.2.1:40000".parse().unwrap())
            .insert_header(("x-forwarded-for", "198.51.100.7"))
            .insert_header(("cookie", "tessera=COOKIE-VALUE"))
            .insert_header(("authorization", "Bearer HEADER-TOKEN"))
            .insert_header(("user-agent", "AGENT-TEXT"));
        let res = test::call_service(&app, req.to_request()).await;
        let request_id = res.headers().get("x-request-id").unwrap().to_str().unwrap().to_owned();
        (log.text(), request_id)
    }

    #[actix_web::test]
    async fn one_line_per_request_when_on_without_the_query() {
        let (log, request_id) = logged(true, "/x?code=SECRET-CODE&state=s").await;
        let line = access_line(&log);
        for field in ["method=GET", "path=/x ", "status=200", "duration_ms=", "ip=198.51.100.7"] {
            assert!(line.contains(field), "{field}: {log}");
        }
        assert!(line.contains(&format!("request_id={request_id}")), "{log}");
        assert!(!line.contains('?'), "{log}");
        for absent in ["SECRET-CODE", "COOKIE-VALUE", "HEADER-TOKEN", "AGENT-TEXT", "BODY-TEXT"] {
            assert!(!log.contains(absent), "{absent:?} reached the log: {log}");
        }
        // An unknown path is answered, and logged, too.
        let (log, _) = logged(true, "/nowhere?token=SECRET-TOKEN").await;
        let line = access_line(&log);
        assert!(line.contains("status=404") && line.contains("path=/nowhere "), "{log}");
        assert!(!log.contains("SECRET-TOKEN") && !line.contains('?'), "{log}");
    }

    /// The fields of the one access line in `log` (after its message, so not the span's).
    fn access_line(log: &str) -> &str {
        let lines: Vec<&str> = log.lines().filter_map(|l| l.split_once("request answered").map(|(_, f)| f)).collect();
        assert_eq!(lines.len(), 1, "{log}");
        lines[0]
    }

    #[actix_web::test]
    async fn no_line_when_off() {
        let (log, _) = logged(false, "/x").await;
        assert!(!log.contains("request answered"), "{log}");
    }
}
