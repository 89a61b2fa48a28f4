//! Liveness and readiness probes.
use super::AppState;
use crate::storage::Health;
use actix_web::{web, HttpResponse};
use serde_json::json;
use std::time::Duration;

/// How long readiness waits for each backend before calling it down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: the process is up and serving.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when the database and the cache answer, 503 otherwise, naming which is down.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db = tokio::time::timeout(PROBE_TIMEOUT, state.store.ping()).await;
    let cache = tokio::time::timeout(PROBE_TIMEOUT, state.cache.ping()).await;
    let db_ok = matches!(db, Ok(Ok(())));
    let cache_ok = matches!(cache, Ok(Ok(())));
    if let Ok(Err(e)) = &db {
        tracing::warn!(error = %e, "readiness: database check failed");
    }
    if let Ok(Err(e)) = &cache {
        tracing::warn!(error = %e, "readiness: cache check failed");
    }
    let body = json!({
        "status": if db_ok && cache_ok { "ready" } else { "unavailable" },
        "database": if db_ok { "up" } else { "down" },
        "cache": if cache_ok { "up" } else { "down" },
    });
    let mut resp = if db_ok && cache_ok { HttpResponse::Ok() } else { HttpResponse::ServiceUnavailable() };
    resp.insert_header(("Cache-Control", "no-store")).json(body)
}
