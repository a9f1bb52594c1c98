//! The routes, the secret check, and the plain HTTP handlers (`/overlay`, `/metrics`, `/healthz`).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{Request as HttpRequest, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::App;
use crate::bot::ConnectionState;

const OVERLAY_HTML: &str = include_str!("assets/overlay.html");
const OVERLAY_CSS: &str = include_str!("assets/overlay.css");
const OVERLAY_JS: &str = include_str!("assets/overlay.js");

/// The router with every route, behind the secret check.
pub(super) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/overlay", get(overlay))
        .route("/ws", get(super::ws::upgrade))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .layer(middleware::from_fn_with_state(app.clone(), require_secret))
        .with_state(app)
}

/// Equal in constant time (for the same length; the length itself is not secret).
pub(super) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The secret a request presents: `Authorization: Bearer <s>`, or `secret=<s>` in the query.
fn presented_secret(req: &HttpRequest) -> Option<String> {
    if let Some(v) = req.headers().get(header::AUTHORIZATION)
        && let Ok(v) = v.to_str()
        && let Some(s) = v.strip_prefix("Bearer ")
    {
        return Some(s.trim().to_owned());
    }
    let query = req.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "secret")
        .map(|(_, v)| v.into_owned())
}

async fn require_secret(State(app): State<Arc<App>>, req: HttpRequest, next: Next) -> Response {
    if let Some(secret) = &app.secret {
        let ok =
            presented_secret(&req).is_some_and(|p| same_secret(p.as_bytes(), secret.as_bytes()));
        if !ok {
            return (
                StatusCode::UNAUTHORIZED,
                "this server needs its secret: `Authorization: Bearer <secret>` or `?secret=<secret>`\n",
            )
                .into_response();
        }
    }
    next.run(req).await
}

async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "twitch_bot: /overlay (OBS Browser Source), /ws (WebSocket API), /metrics, /healthz\n",
    )
}

/// The overlay page with its CSS and JS inlined: one request, so a `?secret=` in the OBS URL covers it.
fn overlay_page() -> &'static str {
    static PAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PAGE.get_or_init(|| {
        OVERLAY_HTML
            .replace("/*OVERLAY_CSS*/", OVERLAY_CSS)
            .replace("/*OVERLAY_JS*/", OVERLAY_JS)
    })
}

async fn overlay() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        overlay_page(),
    )
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let c = &app.hub.counters;
    let snap = app.snapshot().await;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP twitch_bot_{name} {help}\n# TYPE twitch_bot_{name} {kind}\ntwitch_bot_{name} {value}"
        );
    };
    metric(
        "events_total",
        "counter",
        "Events the program printed on stdout.",
        c.events.load(Ordering::Relaxed),
    );
    metric(
        "events_dropped_total",
        "counter",
        "Events dropped because the reader fell behind.",
        c.events_dropped.load(Ordering::Relaxed),
    );
    metric(
        "reconnects_total",
        "counter",
        "Reconnect attempts.",
        c.reconnects.load(Ordering::Relaxed),
    );
    metric(
        "ws_clients",
        "gauge",
        "WebSocket clients connected.",
        c.clients.load(Ordering::Relaxed),
    );
    metric(
        "ws_slow_closed_total",
        "counter",
        "WebSocket clients closed with 1008 because they read too slowly.",
        c.slow_closed.load(Ordering::Relaxed),
    );
    if let Some(s) = &snap {
        metric(
            "chat_held",
            "gauge",
            "Chat messages held by the rate limiter.",
            s.chat_queued,
        );
        metric(
            "connected",
            "gauge",
            "1 when logged in.",
            u64::from(s.state == ConnectionState::Connected),
        );
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    let Some(s) = app.snapshot().await else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            json(serde_json::json!({"ok": false, "why": "the bot does not answer (stopped or busy)"})),
        )
            .into_response();
    };
    let missing: Vec<&String> = app
        .channels
        .iter()
        .filter(|c| !s.channels.contains(c))
        .collect();
    let state = super::snapshot::state_name(s.state);
    let (code, why) = if s.state != ConnectionState::Connected {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not logged in ({state})"),
        )
    } else if !missing.is_empty() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "channels not joined: {}",
                missing
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    } else {
        (StatusCode::OK, "logged in and joined".into())
    };
    (
        code,
        json(serde_json::json!({
            "ok": code == StatusCode::OK,
            "why": why,
            "state": state,
            "channels": s.channels,
        })),
    )
        .into_response()
}

fn json(v: serde_json::Value) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], v.to_string())
}

/// Whether an upgrade's `Origin` may open `/ws`: absent (not a browser), or one of `allowed`.
pub(super) fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    match headers.get(header::ORIGIN) {
        None => true,
        Some(o) => o.to_str().is_ok_and(|o| {
            let o = o.trim_end_matches('/').to_ascii_lowercase();
            allowed.contains(&o)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abcdef", b"abcdef"));
        assert!(!same_secret(b"abcdef", b"abcdeg"));
        assert!(!same_secret(b"abcdef", b"abcde"));
    }

    #[test]
    fn origins() {
        let allowed = vec!["http://127.0.0.1:7370".to_owned()];
        let mut h = HeaderMap::new();
        assert!(origin_allowed(&h, &allowed));
        h.insert(header::ORIGIN, "http://127.0.0.1:7370".parse().unwrap());
        assert!(origin_allowed(&h, &allowed));
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!origin_allowed(&h, &allowed));
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!origin_allowed(&h, &allowed));
    }
}
