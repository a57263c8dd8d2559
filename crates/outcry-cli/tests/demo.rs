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

/// The sample ends when the demo starts, so its spike falls at a different hour of the day
/// each time: routed in event order (as one mentions partition delivers it), the demo's
/// router finds it as one case at every hour, and raises nothing on the other brands.
#[test]
fn the_sample_spike_is_one_case_at_every_hour_of_the_day() {
    use outcry_cli::sample::{generate, SampleOptions, BRANDS};
    use outcry_proto::timestamp_from_millis;
    use outcry_proto::v1::{Author, EscalationKind, Mention, ScoredMention};
    use outcry_router::core::RouterCore;
    use std::collections::HashSet;

    let config = outcry_runtime::Config::from_yaml(demo::DEMO_CONFIG).unwrap();
    let scorer = outcry_scoring::Scorer::from_embedded().unwrap();
    let monday = 1_767_571_200_000; // 2026-01-05T00:00:00Z
    let mut verdicts = std::collections::HashMap::new();
    for hour in 0..24 {
        let end_ms = monday + hour * 3_600_000;
        let mut router = RouterCore::new(&config);
        let mut spike_cases = HashSet::new();
        for (i, m) in generate(&SampleOptions::new(7, end_ms)).iter().enumerate() {
            // the volumes alone: no rule matches a mention with no complaint probability
            let sm = ScoredMention {
                mention: Some(Mention {
                    id: format!("x:{i}"),
                    author: Some(Author {
                        id: m.json["author"]["id"].as_str().unwrap_or_default().into(),
                        ..Default::default()
                    }),
                    event_time: Some(timestamp_from_millis(m.event_ms)),
                    receive_time: Some(timestamp_from_millis(m.event_ms)),
                    brand_ids: vec![m.brand.into()],
                    ..Default::default()
                }),
                brand_id: m.brand.into(),
                is_complaint: {
                    let text = m.json["text"].as_str().unwrap_or_default().to_string();
                    *verdicts.entry(text).or_insert_with_key(|text| {
                        scorer
                            .score(&outcry_scoring::MentionInput {
                                text,
                                ..Default::default()
                            })
                            .is_complaint
                    })
                },
                ..Default::default()
            };
            for e in router.route(&sm, m.event_ms).unwrap() {
                if e.kind == EscalationKind::Spike as i32 {
                    spike_cases.insert((e.brand_id, e.case_id));
                }
            }
        }
        let brands: Vec<&str> = spike_cases.iter().map(|(b, _)| b.as_str()).collect();
        assert_eq!(
            brands,
            [BRANDS[1].id],
            "ending at hour {hour}: {spike_cases:?}"
        );
    }
}
