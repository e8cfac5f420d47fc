//! The web role on `http.listen`: Prometheus metrics at `/metrics`, the
//! probes a monitoring system or an orchestrator asks, `/health/live`
//! (the process answers) and `/health/ready` (every role of the node
//! listens, and its store and queue answer), and Mailgraph's graphs at
//! `/stats`.
//!
//! Counters and histograms are fed from anywhere in the process through the
//! `metrics` facade (the events recorder counts messages, connections and
//! logins as it records them); gauges that describe the node now (the
//! queue, sessions, memory) are set by the [`Node`] just before each
//! scrape. Only addresses of `http.metrics_networks` are answered.

mod metrics_text;
mod stats;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use havre_events::series::{Range, Series};
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use metrics_text::{MetricsHandle, install_recorder};

/// What the web role asks of the node it runs in.
#[async_trait::async_trait]
pub trait Node: Send + Sync + 'static {
    /// `Ok` when the node can serve: its store and queue answer. The roles'
    /// listeners are up once the node is handed to [`Web::set_node`].
    async fn ready(&self) -> Result<(), String>;
    /// Sets the gauges that describe the node now (queue, sessions,
    /// memory), just before they are read.
    async fn refresh_gauges(&self);
    /// The node's name, as its pages title it.
    fn name(&self) -> String;
    /// The graph series of `range` up to now, or why it cannot be read.
    async fn series(&self, range: Range) -> Result<Series, String>;
}

/// How long a readiness check may take before it counts as a failure: a
/// probe that hangs is worse than one that says no.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The web role's state, shared by its connections.
pub struct Web {
    node: OnceLock<Arc<dyn Node>>,
    metrics: MetricsHandle,
    networks: RwLock<Vec<IpNet>>,
}

impl Web {
    pub fn new(metrics: MetricsHandle, networks: Vec<IpNet>) -> Arc<Web> {
        Arc::new(Web {
            node: OnceLock::new(),
            metrics,
            networks: RwLock::new(networks),
        })
    }

    /// The node is serving: every role listens. Until then `/health/ready`
    /// answers 503.
    pub fn set_node(&self, node: Arc<dyn Node>) {
        let _ = self.node.set(node);
    }

    /// `http.metrics_networks` after a reload.
    pub fn set_networks(&self, networks: Vec<IpNet>) {
        *self.networks.write().unwrap_or_else(|e| e.into_inner()) = networks;
    }

    fn admits(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.networks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|n| n.contains(&ip))
    }
}

/// The routes of the web role.
pub fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/stats", get(stats))
        .with_state(web)
}

/// Serves `listener` until `shutdown` turns true.
pub async fn serve(listener: TcpListener, web: Arc<Web>, mut shutdown: watch::Receiver<bool>) {
    let local = listener
        .local_addr()
        .map_or_else(|_| "?".into(), |a| a.to_string());
    tracing::info!(target: "web", "listening on {local} (http: /metrics, /health/live, /health/ready, /stats)");
    let app = router(web).into_make_service_with_connect_info::<SocketAddr>();
    let stopped = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    if let Err(err) = axum::serve(listener, app)
        .with_graceful_shutdown(stopped)
        .await
    {
        tracing::error!(target: "web", "http listener {local} failed: {err}");
    }
}

fn refused(peer: SocketAddr) -> Response {
    tracing::info!(target: "web", "refused {}: not in http.metrics_networks", peer.ip());
    (
        StatusCode::FORBIDDEN,
        "forbidden: this address is not in http.metrics_networks\n",
    )
        .into_response()
}

async fn metrics(
    State(web): State<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if !web.admits(peer.ip()) {
        return refused(peer);
    }
    if let Some(node) = web.node.get() {
        node.refresh_gauges().await;
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        web.metrics.render(),
    )
        .into_response()
}

async fn stats(
    State(web): State<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    let node = match serving(&web, peer) {
        Ok(node) => node,
        Err(answer) => return answer,
    };
    let mut ranges = Vec::with_capacity(Range::ALL.len());
    for range in Range::ALL {
        let series = node.series(range).await;
        if let Err(why) = &series {
            tracing::warn!(target: "web", "/stats: {why}");
        }
        ranges.push((range, series));
    }
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        stats::page(&node.name(), &ranges),
    )
        .into_response()
}

/// The node, for an address of `http.metrics_networks` once it serves;
/// otherwise the 403 or the 503 (still starting) the client gets.
fn serving(web: &Web, peer: SocketAddr) -> Result<&Arc<dyn Node>, Response> {
    if !web.admits(peer.ip()) {
        return Err(refused(peer));
    }
    web.node.get().ok_or_else(|| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: starting, the roles are not listening yet\n",
        )
            .into_response()
    })
}

async fn live(State(web): State<Arc<Web>>, ConnectInfo(peer): ConnectInfo<SocketAddr>) -> Response {
    if !web.admits(peer.ip()) {
        return refused(peer);
    }
    (StatusCode::OK, "alive\n").into_response()
}

async fn ready(
    State(web): State<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    let node = match serving(&web, peer) {
        Ok(node) => node,
        Err(answer) => return answer,
    };
    match tokio::time::timeout(READY_TIMEOUT, node.ready()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(why)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: no answer within {READY_TIMEOUT:?}\n"),
        )
            .into_response(),
    }
}
