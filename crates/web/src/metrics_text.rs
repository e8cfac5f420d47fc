//! The process's metrics recorder, rendered in Prometheus' text format
//! (metrics-exporter-prometheus).

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Renders what the process recorded.
#[derive(Clone)]
pub struct MetricsHandle(PrometheusHandle);

impl MetricsHandle {
    pub fn render(&self) -> String {
        self.0.render()
    }
}

/// Seconds: delivery delays go from milliseconds (local) to days (retries).
const DELAY_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0,
    86400.0,
];

/// Seconds: a store or DNS answer.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Installs the process-wide recorder (once: `havre serve`); the metrics
/// recorded before it are lost, those after are rendered by the handle.
pub fn install_recorder() -> Result<MetricsHandle, String> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("havre_delivery_delay_seconds".into()),
            DELAY_BUCKETS,
        )
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Suffix("_latency_seconds".into()), LATENCY_BUCKETS)
        })
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    Ok(MetricsHandle(handle))
}
