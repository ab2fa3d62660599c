//! The status page at `/`: one HTML file, a script and a stylesheet, all
//! compiled into the binary (it must work offline, behind any proxy). The
//! page arrives with the board already in it, so it renders without a
//! round trip, then follows `/events`.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::Web;
use super::events::PoolUpdate;

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/app.js");
const STYLE: &str = include_str!("page/app.css");

/// Only this origin's scripts, styles and connections; nothing inline can
/// run, and nothing is fetched from elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `GET /`.
pub async fn index(State(w): State<Web>) -> Response {
    let board = w.board.borrow().clone();
    let pools: Vec<PoolUpdate> = board.iter().map(|b| PoolUpdate::full(b)).collect();
    let data = serde_json::json!({ "dry_run": w.app.dry_run, "pools": pools });
    // `<` only occurs inside JSON strings, where `\u003c` means the same:
    // no `</script>` in a pool or agent name can end the data block.
    let data = data.to_string().replace('<', "\\u003c");
    let html = INDEX
        .replace("__BOARD__", &data)
        .replace("__VERSION__", env!("CARGO_PKG_VERSION"));
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, CSP),
        ],
        html,
    )
        .into_response()
}

/// `GET /ui/app.js`.
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /ui/app.css`.
pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    // Short caching: a new jetpool version serves new files at the same
    // path.
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "max-age=60"),
        ],
        body,
    )
        .into_response()
}
