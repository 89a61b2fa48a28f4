//! `GET /metrics` (Prometheus text), and the timing of every route for it. The counters and the text format
//! are [`crate::metrics`]; this file attaches them to the route table.
//!
//! The endpoint has no authentication, like `/healthz`: it shows operational figures only (counts by route,
//! grant type and error code; never a client, user, token or address), and is meant for scrapers inside the
//! deployment: with `http.management_bind` it is served on the management listener only, and the reverse proxies
//! in `deploy/` answer 404 for it from outside.
use super::AppState;
use crate::metrics::{Metrics, CONTENT_TYPE, UNMATCHED};
use actix_web::dev::{fn_service, HttpServiceFactory, Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::{web, Error, HttpResponse, Resource};
use std::rc::Rc;
use std::time::Instant;

/// `GET /metrics`.
pub async fn get(state: web::Data<AppState>) -> HttpResponse {
    let provider = &state.provider;
    let pools = [
        ("database", state.store.db().load()),
        ("signing", provider.signing_pool.load()),
        ("password", provider.password_pool.load()),
    ];
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(provider.metrics.render(&pools))
}

/// `resource`, the routes at `path`, with each answer counted and timed under the label `path`. The label is
/// fixed when the table is built: a request costs two clock reads and three atomic adds, with no lookup and no
/// allocation.
pub fn metered<T>(metrics: &Metrics, path: &str, resource: Resource<T>) -> impl HttpServiceFactory
where
    T: ServiceFactory<ServiceRequest, Config = (), Response = ServiceResponse, Error = Error, InitError = ()> + 'static,
{
    // The table is built on each worker's thread, so the handle is per worker: cloning it per request is not
    // an atomic operation.
    let stats = Rc::new(metrics.route(path));
    resource.wrap_fn(move |req, srv| {
        let started = Instant::now();
        let stats = Rc::clone(&stats);
        let answer = srv.call(req);
        async move {
            let res = answer.await;
            let status = match &res {
                Ok(r) => r.status(),
                Err(e) => e.as_response_error().status_code(),
            };
            stats.observe(status.as_u16(), started.elapsed());
            res
        }
    })
}

/// Registers the answer to requests that match no route: a bare 404 as actix-web's own, counted under
/// [`UNMATCHED`] (one label for every unknown path, so a scanner cannot grow the series).
pub fn unmatched(cfg: &mut web::ServiceConfig, metrics: &Metrics) {
    let stats = metrics.route(UNMATCHED);
    cfg.default_service(fn_service(move |req: ServiceRequest| {
        let started = Instant::now();
        let res = req.into_response(HttpResponse::NotFound().finish());
        stats.observe(StatusCode::NOT_FOUND.as_u16(), started.elapsed());
        std::future::ready(Ok(res))
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::Method;
    use actix_web::{test, App};

    #[actix_web::test]
    async fn requests_are_counted_under_their_pattern_never_their_path() {
        let metrics = std::sync::Arc::new(Metrics::new(std::time::SystemTime::now()));
        let m = std::sync::Arc::clone(&metrics);
        let app = test::init_service(App::new().configure(move |cfg| {
            let resource = web::resource("/register/{client_id}")
                .route(web::get().to(|| async { HttpResponse::Ok().finish() }))
                .route(web::delete().to(|| async { HttpResponse::BadRequest().finish() }));
            cfg.service(metered(&m, "/register/{client_id}", resource));
            unmatched(cfg, &m);
        }))
        .await;
        for (method, uri, status) in [
            (Method::GET, "/register/secret-client-1", 200),
            (Method::DELETE, "/register/secret-client-2", 400),
            // A method the path does not take is its 405, counted under the path.
            (Method::PUT, "/register/secret-client-3", 405),
            (Method::GET, "/no/such/path", 404),
        ] {
            let resp =
                test::call_service(&app, test::TestRequest::default().method(method).uri(uri).to_request()).await;
            assert_eq!(resp.status(), status, "{uri}");
        }
        let text = metrics.render(&[]);
        assert!(
            text.contains("tessera_http_requests_total{route=\"/register/{client_id}\",status=\"2xx\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("tessera_http_requests_total{route=\"/register/{client_id}\",status=\"4xx\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("tessera_http_requests_total{route=\"unmatched\",status=\"4xx\"} 1\n"), "{text}");
        assert!(
            text.contains("tessera_http_request_duration_seconds_count{route=\"/register/{client_id}\"} 3\n"),
            "{text}"
        );
        assert!(!text.contains("secret-client") && !text.contains("/no/such"), "{text}");
    }
}
