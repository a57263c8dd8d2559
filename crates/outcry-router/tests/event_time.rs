//! Event time as the detectors and the case sweep see it: bounded by the router's clock, and
//! moving expired cases out as it passes.

mod common;

use common::{calm, config, route_all, scored, BUCKET, DAY_BUCKETS, T0};
use outcry_proto::v1::{CaseState, Escalation, EscalationKind};
use outcry_router::core::RouterCore;
use outcry_runtime::telemetry::sample_value as metric;

/// Runs `f` with a metrics recorder of its own and returns the rendered metrics, so that
/// other tests' mentions do not count.
fn with_metrics(f: impl FnOnce()) -> String {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, f);
    handle.render()
}

#[test]
fn a_mention_stamped_an_hour_ahead_does_not_blind_spike_detection() {
    let mut out: Vec<Escalation> = Vec::new();
    let spike_start = T0 + 2 * DAY_BUCKETS * BUCKET;
    let metrics = with_metrics(|| {
        let mut core = RouterCore::new(&config());
        calm(&mut core, T0, 2 * DAY_BUCKETS, &mut out);
        assert!(out.is_empty(), "calm praise opens nothing");
        // a source whose clock runs 59 minutes ahead, which the ingestor accepts
        let ahead = scored("x:ahead", "skewed", spike_start + 59 * 60_000, 0.1, 0.4);
        assert_eq!(core.route(&ahead, spike_start).unwrap(), []);
        // then a burst of complaints, each routed the moment it happened
        for b in 0..6 {
            for k in 0..150 {
                let at = spike_start + b * BUCKET + k * 1000;
                let sm = scored(&format!("x:{b}:{k}"), &format!("u{b}:{k}"), at, 0.95, -0.8);
                out.extend(core.route(&sm, at).unwrap());
            }
        }
    });
    assert_eq!(
        metric(
            &metrics,
            r#"outcry_router_mentions_late_total{brand="acme"}"#
        ),
        None,
        "no on-time mention is late:\n{metrics}"
    );
    let opened: Vec<_> = out
        .iter()
        .filter(|e| e.kind == EscalationKind::Spike as i32 && e.state == CaseState::Open as i32)
        .collect();
    assert_eq!(opened.len(), 1, "{out:#?}");
    let spike = opened[0]
        .explanation
        .as_ref()
        .unwrap()
        .spike
        .as_ref()
        .unwrap();
    assert!(spike.observed >= 150, "{spike:?}");
    assert_eq!(
        metric(
            &metrics,
            r#"outcry_router_mentions_clamped_total{brand="acme"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
}

#[test]
fn a_mention_stamped_ahead_does_not_expire_live_author_cases() {
    let mut core = RouterCore::new(&config());
    let opened = route_all(
        &mut core,
        &[scored("x:1", "ann", T0 - 30 * 60_000, 0.9, -0.6)],
    );
    // routed at T0, stamped 59 minutes ahead: past the end of ann's case window (T0 + 30 min)
    let ahead = scored("x:2", "bob", T0 + 59 * 60_000, 0.1, 0.4);
    assert_eq!(core.route(&ahead, T0).unwrap(), []);
    assert_eq!(core.open_cases("acme"), 1);
    let again = route_all(&mut core, &[scored("x:3", "ann", T0 + 60_000, 0.9, -0.6)]);
    assert_eq!(again[0].state, CaseState::Updated as i32);
    assert_eq!(again[0].case_id, opened[0].case_id);
    assert_eq!(again[0].mention_count, 2);
}

#[test]
fn expired_author_cases_leave_the_open_cases_gauge() {
    let window_ms = 3_600_000; // router.case_window_secs of the test config
    let gauge = r#"outcry_router_open_cases{brand="acme",kind="mention"}"#;
    let mut core = RouterCore::new(&config());
    let mut step = |sm| {
        with_metrics(|| {
            route_all(&mut core, &[sm]);
        })
    };
    let after_open = step(scored("x:1", "ann", T0, 0.9, -0.6));
    assert_eq!(metric(&after_open, gauge), Some(1.0), "{after_open}");
    // praise (no case) inside the window: ann's case stays
    let inside = step(scored("x:2", "bob", T0 + window_ms / 2, 0.1, 0.4));
    assert_eq!(metric(&inside, gauge), Some(1.0), "{inside}");
    // a quarter of the window after it ended, the case is gone
    let after = step(scored(
        "x:3",
        "bob",
        T0 + window_ms + window_ms / 4 + 1,
        0.1,
        0.4,
    ));
    assert_eq!(metric(&after, gauge), Some(0.0), "{after}");
    assert_eq!(core.open_cases("acme"), 0);
}

#[test]
fn escalations_are_counted_by_brand_kind_state_and_priority() {
    let metrics = with_metrics(|| {
        let mut core = RouterCore::new(&config());
        let mut legal = scored("x:1", "ann", T0, 0.9, -0.5);
        legal.signals.push(outcry_proto::v1::Signal {
            name: "legal_threat".into(),
            evidence: "my lawyer".into(),
        });
        let complaint = scored("x:2", "bob", T0 + 1000, 0.9, -0.5);
        let update = scored("x:3", "bob", T0 + 2000, 0.9, -0.5);
        let out = route_all(&mut core, &[legal, complaint, update]);
        assert_eq!(out.len(), 3, "{out:#?}");
    });
    let count = |priority: &str, state: &str| {
        metric(
            &metrics,
            &format!(
                r#"outcry_router_escalations_total{{brand="acme",kind="mention",state="{state}",priority="{priority}"}}"#
            ),
        )
    };
    assert_eq!(count("P1", "open"), Some(1.0), "{metrics}");
    assert_eq!(count("P3", "open"), Some(1.0), "{metrics}");
    assert_eq!(count("P3", "updated"), Some(1.0), "{metrics}");
    assert_eq!(count("P2", "open"), None, "{metrics}");
}
