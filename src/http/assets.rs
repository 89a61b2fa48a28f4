//! Static files, compiled into the binary so a fresh clone serves pages with no extra files to deploy.
use actix_web::http::header;
use actix_web::{web, HttpResponse};

const CSS: &str = include_str!("../../static/tessera.css");
const FORM_POST_JS: &str = include_str!("../../static/form_post.js");
const RELOAD_RESTORED_JS: &str = include_str!("../../static/reload_restored.js");
const FRONTCHANNEL_LOGOUT_JS: &str = include_str!("../../static/frontchannel_logout.js");
const PASSKEYS_JS: &str = include_str!("../../static/passkeys.js");

/// `GET /static/{name}`.
pub async fn get(name: web::Path<String>) -> HttpResponse {
    let (body, content_type) = match name.as_str() {
        "tessera.css" => (CSS, "text/css; charset=utf-8"),
        "form_post.js" => (FORM_POST_JS, "text/javascript; charset=utf-8"),
        "reload_restored.js" => (RELOAD_RESTORED_JS, "text/javascript; charset=utf-8"),
        "frontchannel_logout.js" => (FRONTCHANNEL_LOGOUT_JS, "text/javascript; charset=utf-8"),
        "passkeys.js" => (PASSKEYS_JS, "text/javascript; charset=utf-8"),
        _ => return HttpResponse::NotFound().finish(),
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::CSS;

    /// The value of the custom property `--name: #rrggbb` in `block`.
    fn color(block: &str, name: &str) -> [f64; 3] {
        let at = block.find(&format!("--{name}: #")).unwrap_or_else(|| panic!("no --{name}")) + name.len() + 5;
        let hex = &block[at..at + 6];
        [0, 2, 4].map(|i| f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0)
    }

    /// WCAG 2.x contrast ratio of two sRGB colours.
    fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
        let luminance = |c: [f64; 3]| {
            let [r, g, b] = c.map(|v| if v <= 0.04045 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) });
            0.2126 * r + 0.7152 * g + 0.0722 * b
        };
        let (x, y) = (luminance(a), luminance(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    #[test]
    fn primary_button_text_has_aa_contrast_in_both_themes() {
        assert!(CSS.contains(
            "button.primary { background: var(--accent); border-color: var(--accent); color: var(--on-accent); }"
        ));
        let (light, dark) = CSS.split_once("@media (prefers-color-scheme: dark)").expect("a dark theme");
        for (theme, block) in [("light", light), ("dark", dark)] {
            let ratio = contrast(color(block, "accent"), color(block, "on-accent"));
            assert!(ratio >= 4.5, "{theme}: button text on the accent is {ratio:.2}:1, WCAG 1.4.3 wants 4.5:1");
        }
    }
}
