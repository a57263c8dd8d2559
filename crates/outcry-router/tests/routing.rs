//! Routing behaviour on plain structs, no broker.

mod common;

use common::{config, route_all, scored, T0};
use outcry_proto::v1::{CaseState, Escalation, EscalationKind, Priority, Signal};
use outcry_router::core::RouterCore;

#[test]
fn a_matching_complaint_opens_a_case_and_the_same_author_updates_it() {
    let mut core = RouterCore::new(&config());
    let out = route_all(
        &mut core,
        &[
            scored("x:1", "ann", T0, 0.9, -0.6),
            scored("x:2", "ann", T0 + 60_000, 0.8, -0.5),
            scored("x:3", "bob", T0 + 60_000, 0.1, 0.7),
        ],
    );
    assert_eq!(out.len(), 2, "praise from bob matches no rule");
    assert_eq!(out[0].state, CaseState::Open as i32);
    assert_eq!(out[1].state, CaseState::Updated as i32);
    assert_eq!(out[0].case_id, out[1].case_id);
    assert_eq!((out[0].sequence, out[1].sequence), (1, 2));
    assert_ne!(out[0].escalation_id, out[1].escalation_id);
    assert_eq!(out[1].mention_count, 2);
    assert_eq!(out[1].team, "acme-care");
    assert_eq!(out[1].sample_mention_ids, vec!["x:1", "x:2"]);
}

#[test]
fn an_author_outside_the_case_window_opens_a_new_case() {
    let mut core = RouterCore::new(&config());
    let out = route_all(
        &mut core,
        &[
            scored("x:1", "ann", T0, 0.9, -0.6),
            scored("x:2", "ann", T0 + 2 * 3_600_000, 0.9, -0.6),
        ],
    );
    assert_eq!(out.len(), 2);
    assert_ne!(out[0].case_id, out[1].case_id);
    assert!(out.iter().all(|e| e.state == CaseState::Open as i32));
}

#[test]
fn duplicate_mentions_do_not_double_count() {
    let mut core = RouterCore::new(&config());
    let m = scored("x:1", "ann", T0, 0.9, -0.6);
    let out = route_all(&mut core, &[m.clone(), m]);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].mention_count, 1);
}

#[test]
fn replaying_the_same_input_yields_the_same_ids() {
    let input: Vec<_> = (0..20)
        .map(|i| {
            scored(
                &format!("x:{i}"),
                &format!("a{}", i % 3),
                T0 + i * 1000,
                0.9,
                -0.5,
            )
        })
        .collect();
    let first = route_all(&mut RouterCore::new(&config()), &input);
    let second = route_all(&mut RouterCore::new(&config()), &input);
    let ids = |v: &[Escalation]| {
        v.iter()
            .map(|e| (e.case_id.clone(), e.escalation_id.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), ids(&second));
    assert_eq!(
        first
            .iter()
            .filter(|e| e.state == CaseState::Open as i32)
            .count(),
        3
    );
}

#[test]
fn a_legal_threat_goes_to_legal_at_p1() {
    let mut core = RouterCore::new(&config());
    let mut m = scored("x:1", "ann", T0, 0.9, -0.6);
    m.signals.push(Signal {
        name: "legal_threat".into(),
        evidence: "my lawyer".into(),
    });
    let out = route_all(&mut core, &[m]);
    assert_eq!(out[0].team, "acme-legal");
    assert_eq!(out[0].priority, Priority::P1 as i32);
    assert_eq!(out[0].explanation.as_ref().unwrap().rule, "legal");
}

#[test]
fn abuse_at_staff_follows_the_scorer_route_hint() {
    let mut core = RouterCore::new(&config());
    let mut m = scored("x:1", "ann", T0, 0.9, -0.6);
    m.route_hint = "trust_and_safety".into();
    let out = route_all(&mut core, &[m]);
    assert_eq!(out[0].team, "trust_and_safety");
}

#[test]
fn unknown_brands_are_an_error_not_a_panic() {
    let mut core = RouterCore::new(&config());
    let mut m = scored("x:1", "ann", T0, 0.9, -0.6);
    m.brand_id = "initech".into();
    assert!(core.route(&m, T0).is_err());
}

/// Two days of calm traffic (a few mentions per 5 minutes), then a burst of complaints.
#[test]
fn a_viral_spike_opens_one_case_that_absorbs_the_pile_on_and_resolves() {
    let mut core = RouterCore::new(&config());
    let mut out = Vec::new();
    let mut n = 0;
    let bucket = 300_000;
    let day_buckets = 288;
    let mut mention = |core: &mut RouterCore,
                       at: i64,
                       complaint: f64,
                       compound: f64,
                       out: &mut Vec<Escalation>| {
        n += 1;
        let sm = scored(
            &format!("x:{n}"),
            &format!("user{n}"),
            at,
            complaint,
            compound,
        );
        out.extend(core.route(&sm, at).unwrap());
    };
    for b in 0..(2 * day_buckets) {
        for k in 0..(4 + (b % 3)) {
            mention(&mut core, T0 + b * bucket + k * 1000, 0.1, 0.4, &mut out);
        }
    }
    let calm = out.len();
    assert_eq!(calm, 0, "calm praise opens nothing");
    let spike_start = T0 + 2 * day_buckets * bucket;
    for b in 0..6 {
        for k in 0..150 {
            mention(
                &mut core,
                spike_start + b * bucket + k * 1000,
                0.95,
                -0.8,
                &mut out,
            );
        }
    }
    for b in 6..60 {
        for k in 0..5 {
            mention(
                &mut core,
                spike_start + b * bucket + k * 1000,
                0.1,
                0.4,
                &mut out,
            );
        }
    }
    let spikes: Vec<_> = out
        .iter()
        .filter(|e| e.kind == EscalationKind::Spike as i32)
        .collect();
    let opened: Vec<_> = spikes
        .iter()
        .filter(|e| e.state == CaseState::Open as i32)
        .collect();
    assert_eq!(
        opened.len(),
        1,
        "one spike, one case: {:#?}",
        spikes.iter().map(|e| &e.summary).collect::<Vec<_>>()
    );
    assert!(spikes.iter().all(|e| e.case_id == opened[0].case_id));
    assert_eq!(spikes.last().unwrap().state, CaseState::Resolved as i32);
    let spike = opened[0]
        .explanation
        .as_ref()
        .unwrap()
        .spike
        .as_ref()
        .unwrap();
    assert!(
        spike.observed >= 100 && (spike.observed as f64) > 3.0 * spike.expected,
        "{spike:?}"
    );
    // once the spike case is open, the pile-on is counted into it instead of opening
    // hundreds of mention cases
    let open_at = out
        .iter()
        .position(|e| e.case_id == opened[0].case_id)
        .unwrap();
    let resolved_at = out
        .iter()
        .rposition(|e| e.case_id == opened[0].case_id)
        .unwrap();
    let mention_cases_during = out[open_at..resolved_at]
        .iter()
        .filter(|e| e.kind == EscalationKind::Mention as i32)
        .count();
    assert_eq!(mention_cases_during, 0);
    assert!(
        spikes.last().unwrap().mention_count > 500,
        "{}",
        spikes.last().unwrap().mention_count
    );
}
