//! Logs and metrics set-up, once per process.

use crate::config::{LogFormat, TelemetryConfig};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use tracing_subscriber::EnvFilter;

/// Buckets for every `_seconds` histogram: 100 µs to 10 min, dense where a pipeline should
/// live. Buckets above 60 s let `histogram_quantile` report a p99 over the 60 s alert
/// threshold; with 60 s as the top finite bucket it could never exceed it.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// Buckets for histograms of counts (batch sizes, records).
pub const COUNT_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the tracing subscriber. Later calls keep the first one (tests, the demo).
pub fn init_tracing(config: &TelemetryConfig) {
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The process-wide Prometheus recorder, installed on first use. Histograms are rendered as
/// histograms with explicit buckets, never as summaries.
pub fn metrics_handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| b.set_buckets(COUNT_BUCKETS))
                .map(PrometheusBuilder::build_recorder);
            match recorder {
                Ok(recorder) => {
                    let handle = recorder.handle();
                    // another recorder already installed (only in odd test set-ups): keep the
                    // handle anyway so rendering works
                    let _ = metrics::set_global_recorder(recorder);
                    handle
                }
                Err(error) => {
                    tracing::error!(%error, "cannot build the prometheus recorder");
                    PrometheusBuilder::new().build_recorder().handle()
                }
            }
        })
        .clone()
}

/// Sets `outcry_build_info{service,version} 1`.
pub fn build_info(service: &'static str) {
    metrics::describe_gauge!(
        "outcry_build_info",
        "build of the running service; the value is always 1"
    );
    metrics::gauge!("outcry_build_info", "service" => service, "version" => env!("CARGO_PKG_VERSION"))
        .set(1.0);
}

/// The value of one series in a Prometheus text exposition: `name`, or `name{...}` with the
/// labels as rendered. `None` when the series is absent; a series is matched whole, so
/// `outcry_x_total` does not find `outcry_x_total{reason="a"}`.
pub fn sample_value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?.strip_prefix(' ')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The sum of one metric over all its label sets in a Prometheus text exposition (0 when it
/// has none). Only samples named exactly `name`: a histogram's `_bucket`, `_sum` and
/// `_count` series are other names.
pub fn sample_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let rest = match rest.strip_prefix('{') {
                Some(labelled) => labelled.split_once("} ")?.1,
                None => rest.strip_prefix(' ')?,
            };
            rest.split_whitespace().next()?.parse::<f64>().ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPOSITION: &str = r#"# HELP outcry_x_total things
# TYPE outcry_x_total counter
outcry_x_total{reason="a"} 2
outcry_x_total{reason="b b"} 3.5
outcry_x_total_other 100
outcry_y 7 1700000000000
outcry_h_seconds_bucket{le="1"} 4
outcry_h_seconds_sum 9
outcry_h_seconds_count 4
"#;

    #[test]
    fn a_sample_is_found_by_its_whole_series() {
        assert_eq!(
            sample_value(EXPOSITION, r#"outcry_x_total{reason="b b"}"#),
            Some(3.5)
        );
        // a timestamp after the value is not part of it
        assert_eq!(sample_value(EXPOSITION, "outcry_y"), Some(7.0));
        assert_eq!(
            sample_value(EXPOSITION, "outcry_h_seconds_count"),
            Some(4.0)
        );
        // a prefix of another series is not that series
        assert_eq!(sample_value(EXPOSITION, "outcry_x_total"), None);
        assert_eq!(sample_value(EXPOSITION, "outcry_h_seconds"), None);
        assert_eq!(
            sample_value(EXPOSITION, r#"outcry_x_total{reason="c"}"#),
            None
        );
    }

    #[test]
    fn a_sum_covers_every_label_set_of_that_name_only() {
        assert_eq!(sample_sum(EXPOSITION, "outcry_x_total"), 5.5);
        assert_eq!(sample_sum(EXPOSITION, "outcry_y"), 7.0);
        assert_eq!(sample_sum(EXPOSITION, "outcry_h_seconds"), 0.0);
        assert_eq!(sample_sum(EXPOSITION, "outcry_missing"), 0.0);
    }

    #[test]
    fn latencies_over_a_minute_land_in_finite_buckets() {
        let metrics = metrics_handle();
        metrics::histogram!("outcry_unit_slow_seconds").record(90.0);
        let text = metrics.render();
        for line in [
            r#"outcry_unit_slow_seconds_bucket{le="60"} 0"#,
            r#"outcry_unit_slow_seconds_bucket{le="120"} 1"#,
            r#"outcry_unit_slow_seconds_bucket{le="300"} 1"#,
            r#"outcry_unit_slow_seconds_bucket{le="600"} 1"#,
        ] {
            assert!(text.contains(line), "no {line} in:\n{text}");
        }
    }
}
