//! The span of each request. tracing-actix-web's default records the whole target, query string included,
//! and query strings here can carry tokens (`id_token_hint` on `/logout`): this one records the path only.
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage};
use tracing::field::Empty;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

/// Method, path (never the query), request id, and the proxy's `X-Request-Id` to find the same request in its
/// logs; status and errors filled in at the end.
pub struct PathOnlySpan;

/// Longest `X-Request-Id` recorded.
const MAX_UPSTREAM_ID: usize = 64;

/// The `X-Request-Id` a proxy in front set (nginx's `$request_id`, a UUID...), when it looks like an id: any
/// client can send the header, so only short runs of id characters are written to the log, never other text.
fn upstream_request_id(request: &ServiceRequest) -> &str {
    request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            id.len() <= MAX_UPSTREAM_ID
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .unwrap_or_default()
}

impl RootSpanBuilder for PathOnlySpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request.extensions().get::<RequestId>().map(|id| id.to_string()).unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.path = %request.path(),
            request_id = %request_id,
            upstream_request_id = %upstream_request_id(request),
            http.status_code = Empty,
            otel.status_code = Empty,
            exception.message = Empty,
            exception.details = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Sends the request's id back in `X-Request-Id`, so that a client's report of one answer finds its lines in
/// the log (error pages show it too). Runs inside `TracingLogger`, which gives the request its id.
pub fn echo_request_id<S, B>(
    req: ServiceRequest,
    app: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse<B>, Error>>
where
    S: actix_web::dev::Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    let id = req.extensions().get::<RequestId>().and_then(|id| HeaderValue::from_str(&id.to_string()).ok());
    let answer = app.call(req);
    async move {
        let mut res = answer.await?;
        if let Some(id) = id {
            res.headers_mut().insert(HeaderName::from_static("x-request-id"), id);
        }
        Ok(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::CapturedLog;
    use actix_web::{test, web, App, HttpResponse};
    use tracing_subscriber::layer::SubscriberExt;

    /// What the log holds after `requests` went to an app that answers `path` under [`PathOnlySpan`].
    async fn logged(path: &str, requests: Vec<test::TestRequest>) -> String {
        let log = CapturedLog::default();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(log.clone()).with_ansi(false));
        let _guard = tracing::subscriber::set_default(subscriber);
        let handler = web::get().to(|| async {
            tracing::info!("handled");
            HttpResponse::Ok().finish()
        });
        let app = test::init_service(
            App::new().wrap(tracing_actix_web::TracingLogger::<PathOnlySpan>::new()).route(path, handler),
        )
        .await;
        for req in requests {
            let _ = test::call_service(&app, req.to_request()).await;
        }
        log.text()
    }

    #[actix_web::test]
    async fn query_strings_never_reach_the_logs() {
        let logged = logged("/logout", vec![test::TestRequest::get().uri("/logout?id_token_hint=SECRET-TOKEN")]).await;
        assert!(logged.contains("handled") && logged.contains("/logout"), "{logged}");
        assert!(!logged.contains("SECRET-TOKEN"), "{logged}");
    }

    #[actix_web::test]
    async fn a_proxys_request_id_is_recorded_when_it_looks_like_one() {
        let requests = ["0b6a2f5c9d4e4f1a8b7c6d5e4f3a2b1c", "not an id; password=hunter2"]
            .map(|id| test::TestRequest::get().uri("/x").insert_header(("x-request-id", id)));
        let logged = logged("/x", requests.into()).await;
        assert!(logged.contains("upstream_request_id=0b6a2f5c9d4e4f1a8b7c6d5e4f3a2b1c"), "{logged}");
        assert!(!logged.contains("hunter2"), "{logged}");
    }
}
