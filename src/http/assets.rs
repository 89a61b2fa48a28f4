//! Static files, compiled into the binary so a fresh clone serves pages with no extra files to deploy.
use actix_web::http::header;
use actix_web::{web, HttpResponse};

const CSS: &str = include_str!("../../static/tessera.css");
const FORM_POST_JS: &str = include_str!("../../static/form_post.js");

/// `GET /static/{name}`.
pub async fn get(name: web::Path<String>) -> HttpResponse {
    let (body, content_type) = match name.as_str() {
        "tessera.css" => (CSS, "text/css; charset=utf-8"),
        "form_post.js" => (FORM_POST_JS, "text/javascript; charset=utf-8"),
        _ => return HttpResponse::NotFound().finish(),
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}
