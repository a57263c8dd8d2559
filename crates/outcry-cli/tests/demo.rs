//! `make demo` end to end, in process, on the embedded mock cluster: the README's main job
//! must show what it promises, a viral complaint spike found as one case, and nothing lost,
//! late or repeated on the way.

use outcry_cli::demo::{self, DemoOptions};
use std::net::SocketAddr;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_demo_finds_its_spike_as_one_case_and_loses_nothing() {
    outcry_runtime::telemetry::metrics_handle();
    let summary = demo::run(DemoOptions {
        brokers: None,
        config: None,
        summary_json: None,
        seed: 7,
        admin_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        verbose: false,
        timeout: Duration::from_secs(120),
    })
    .await
    .unwrap();
    let n = |key: &str| {
        summary[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key}: {summary}"))
    };
    assert!(n("ingested") > 10_000, "{summary}");
    assert_eq!(n("scored"), n("ingested"), "{summary}");
    assert_eq!(n("late_mentions"), 0, "{summary}");
    assert_eq!(n("spike_cases"), 1, "{summary}");
    assert!(
        n("spike_escalations") >= 2,
        "opened and resolved: {summary}"
    );
    assert!(n("cases") > 100, "{summary}");
    assert_eq!(n("notified"), n("escalations"), "{summary}");
    assert_eq!(n("repeated_escalation_records"), 0, "{summary}");
    assert_eq!(n("dead_letters"), 0, "{summary}");
    assert_eq!(
        summary["metrics_services"].as_array().map(Vec::len),
        Some(4),
        "{summary}"
    );
}
