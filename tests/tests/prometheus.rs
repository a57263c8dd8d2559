//! A real Prometheus scrapes the services' real metrics, loads the shipped alerting rules and
//! answers every query of the shipped Grafana dashboard.

use outcry_cli::stack::Stack;
use outcry_cli::webhook::Receiver;
use outcry_e2e::{unique, Backend, TestBroker};
use outcry_runtime::config::WebhookConfig;
use outcry_runtime::kafka::default_topics;
use outcry_runtime::{admin, Config, Shutdown};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn query(prometheus: &str, promql: &str) -> Value {
    let url = format!("http://{prometheus}/api/v1/query");
    reqwest::Client::new()
        .get(url)
        .query(&[("query", promql)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or(Value::Null)
}

/// Waits up to a minute for Prometheus at `web` to answer its readiness endpoint; fails if
/// the process exits first or the minute passes, with its `log`.
async fn wait_ready(web: &str, prometheus: &mut Killed, bin: &str, log: &std::path::Path) {
    let log = || std::fs::read_to_string(log).unwrap_or_default();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = prometheus.0.try_wait() {
            panic!("{bin} exited before it was ready: {status}\n{}", log());
        }
        let ready = client
            .get(format!("http://{web}/-/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{bin} was not ready at {web} within a minute\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prometheus_scrapes_every_service_and_loads_the_alert_rules() {
    let prometheus_bin =
        std::env::var("OUTCRY_PROMETHEUS_BIN").unwrap_or_else(|_| "prometheus".into());
    let broker = TestBroker::start(Backend::Mock).unwrap();
    let receiver = Receiver::start().await.unwrap();
    let mut config = Config::from_yaml(outcry_cli::demo::DEMO_CONFIG).unwrap();
    config.kafka.brokers = broker.bootstrap_servers();
    config.kafka.group_prefix = unique("prom");
    config.kafka.topics.add_suffix(&format!("-{}", unique("t")));
    config.ingestor.listen = "127.0.0.1:0".parse().unwrap();
    config.notifier.webhooks = vec![WebhookConfig {
        name: "crm".into(),
        url: receiver.url(),
        ..Default::default()
    }];
    broker
        .create_topics(&config.kafka, &default_topics(&config.kafka, 1))
        .await
        .unwrap();

    outcry_runtime::telemetry::metrics_handle();
    let (admin_stop, admin_shutdown) = Shutdown::new();
    let (listener, admin_addr) = admin::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    tokio::spawn(admin::serve(listener, admin_shutdown));
    let stack = Stack::start(config.clone()).await.unwrap();

    // a few mentions, one of which escalates, so every service has something to count
    let body = [
        r#"{"source":"x","external_id":"p1","text":"@acmeair my lawyer will hear about this lost bag","brands":["acme-air"]}"#,
        r#"{"source":"x","external_id":"p2","text":"@acmeair lovely crew today","brands":["acme-air"]}"#,
    ]
    .join("\n");
    let status = reqwest::Client::new()
        .post(stack.ingest_url())
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 202);

    let dir = std::env::temp_dir().join(unique("outcry-prometheus"));
    std::fs::create_dir_all(&dir).unwrap();
    // the shipped scrape config, with the one process standing in for a notifier pod: the
    // Kubernetes discovery is swapped for a static target carrying the labels it would give
    let deploy = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/prometheus");
    let shipped = std::fs::read_to_string(format!("{deploy}/outcry-scrape.yaml")).unwrap();
    let discovery = "    kubernetes_sd_configs:\n      - role: pod\n";
    let rule_files = "rule_files: [outcry-rules.yaml]\n";
    assert!(shipped.contains(discovery) && shipped.contains(rule_files));
    let pod = |port: &str, name: &str| {
        format!(
            "      - targets: [\"{admin_addr}\"]\n        labels:\n          \
             __meta_kubernetes_pod_label_app_kubernetes_io_part_of: outcry\n          \
             __meta_kubernetes_pod_label_app_kubernetes_io_name: {name}\n          \
             __meta_kubernetes_pod_container_port_name: {port}\n"
        )
    };
    let targets = format!(
        "    scrape_interval: 1s\n    static_configs:\n{}{}",
        pod("admin", "outcry-notifier"),
        pod("http", "outcry-ingestor"),
    );
    let config = shipped.replace(discovery, &targets).replace(
        rule_files,
        &format!("rule_files: [\"{deploy}/outcry-rules.yaml\"]\n"),
    );
    std::fs::write(
        dir.join("prometheus.yml"),
        format!("global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n{config}"),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let web = format!("127.0.0.1:{port}");
    let log = dir.join("prometheus.log");
    let mut prometheus = Killed(
        Command::new(&prometheus_bin)
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {prometheus_bin} (apt-get install prometheus, or set OUTCRY_PROMETHEUS_BIN): {e}")),
    );

    // a loaded machine can take seconds to start it: queries wait until it says it is ready
    wait_ready(&web, &mut prometheus, &prometheus_bin, &log).await;

    let wanted = [
        "outcry_ingestor_mentions_accepted_total",
        "outcry_scorer_records_consumed_total",
        "outcry_scorer_model_info",
        "outcry_router_records_consumed_total",
        "outcry_notifier_deliveries_total",
        // the bucket OutcryEndToEndLatencyHigh reads
        "outcry_notifier_end_to_end_seconds_bucket{le=~\"60|60\\\\.0\"}",
    ];
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut missing: Vec<&str> = wanted.to_vec();
    while !missing.is_empty() {
        assert!(
            Instant::now() < deadline,
            "prometheus never saw {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut still = Vec::new();
        for metric in missing {
            let v = query(&web, &format!("sum({metric})")).await;
            let value = v["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|s| s.parse::<f64>().ok())
                .unwrap_or(0.0);
            if value < 1.0 {
                still.push(metric);
            }
        }
        missing = still;
    }
    // one target, the admin port, with the job OutcryServiceDown matches
    let up = query(&web, "up{job=~\"outcry.*\"}").await;
    assert_eq!(
        up["data"]["result"].as_array().map(Vec::len),
        Some(1),
        "{up}"
    );
    assert_eq!(
        up["data"]["result"][0]["metric"]["job"], "outcry-notifier",
        "{up}"
    );
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");
    // histograms arrive as histograms, with buckets
    let buckets = query(&web, "count(outcry_ingestor_request_seconds_bucket)").await;
    let n: f64 = buckets["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0.0);
    assert!(n >= 10.0, "{buckets}");
    // the shipped rules load without errors
    let rules: Value = reqwest::get(format!("http://{web}/api/v1/rules"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let group = &rules["data"]["groups"][0];
    assert_eq!(group["name"], "outcry", "{rules}");
    // every alert of the file, none dropped by a parse Prometheus tolerates
    let shipped_alerts = std::fs::read_to_string(format!("{deploy}/outcry-rules.yaml"))
        .unwrap()
        .lines()
        .filter(|l| l.trim_start().starts_with("- alert:"))
        .count();
    assert_eq!(shipped_alerts, 9);
    assert_eq!(
        group["rules"].as_array().map(Vec::len),
        Some(shipped_alerts),
        "{rules}"
    );
    assert!(
        group["rules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["health"] != "err"),
        "{rules}"
    );

    // every query of the shipped Grafana dashboard runs, on the metrics as they are
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../deploy/grafana/outcry-dashboard.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap_or("").to_string();
            exprs.push((title, target["expr"].as_str().unwrap().to_string()));
        }
    }
    assert!(exprs.len() >= 40, "{}", exprs.len());
    let panels = dashboard["panels"].as_array().unwrap();
    let ids: std::collections::HashSet<_> = panels.iter().map(|p| p["id"].as_u64()).collect();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    let mut series_of = std::collections::HashMap::new();
    for (title, expr) in &exprs {
        let promql = expr
            .replace("$__rate_interval", "1m")
            .replace("$brand", ".*");
        let answer = query(&web, &promql).await;
        assert_eq!(answer["status"], "success", "{title}: {promql}: {answer}");
        series_of.insert(expr.clone(), answer["data"]["result"].clone());
    }
    // the panels on what this run did show it, with the labels their legends name, once
    // Prometheus has two samples of each series for rate() (bounded wait)
    let promql_of = |needle: &str| -> String {
        exprs
            .iter()
            .find(|(_, e)| e.contains(needle))
            .unwrap_or_else(|| panic!("no dashboard query with {needle}"))
            .1
            .replace("$__rate_interval", "1m")
            .replace("$brand", ".*")
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    for needle in [
        "sum by (priority) (rate(outcry_router_escalations_total",
        "sum(rate(outcry_ingestor_mentions_accepted_total",
        "sum(rate(outcry_scorer_records_consumed_total",
        "sum by (webhook, outcome) (rate(outcry_notifier_deliveries_total",
        "sum by (brand, kind) (outcry_router_open_cases",
        "sum by (signal) (rate(outcry_scorer_signals_total",
        "sum by (result) (increase(outcry_router_state_restores_total",
    ] {
        let promql = promql_of(needle);
        loop {
            let result = query(&web, &promql).await["data"]["result"].clone();
            let series = result.as_array().cloned().unwrap_or_default();
            let shown = if needle.contains("by (priority)") {
                series.iter().any(|s| s["metric"]["priority"] == "P1")
            } else {
                !series.is_empty()
            };
            if shown {
                break;
            }
            assert!(Instant::now() < deadline, "{promql}: {result}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    stack.stop().await;
    admin_stop.trigger();
    let _ = std::fs::remove_dir_all(&dir);
}
