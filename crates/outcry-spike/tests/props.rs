use outcry_spike::{Detector, DetectorConfig, Sensitivity};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Observe(i64, u64),
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (-2_000_000i64..20_000_000, 0u64..100_000).prop_map(|(t, w)| Op::Observe(t, w)),
        (-2_000_000i64..40_000_000).prop_map(Op::Advance),
        (any::<i64>(), any::<u64>()).prop_map(|(t, w)| Op::Observe(t / 4, w)),
    ]
}

proptest! {
    #[test]
    fn scores_stay_in_unit_interval_and_nothing_panics(
        ops in prop::collection::vec(op(), 1..400),
        bucket_secs in 1u64..900,
        persistence in 0u32..20,
        high in any::<bool>(),
    ) {
        let config = DetectorConfig {
            bucket_secs,
            persistence_buckets: persistence,
            warmup_secs: 0,
            min_count: 0,
            sensitivity: if high { Sensitivity::High } else { Sensitivity::Low },
            ..DetectorConfig::default()
        };
        let mut d = Detector::new(config);
        let base = 1_700_000_000_000i64;
        for op in ops {
            let events = match op {
                Op::Observe(t, w) => d.observe(base.saturating_add(t), w).ok().flatten().into_iter().collect(),
                Op::Advance(t) => d.advance(base + t),
            };
            for e in events {
                prop_assert!((0.0..=1.0).contains(&e.anomaly_score));
                prop_assert!(e.expected.is_finite() && e.deviation.is_finite());
            }
            if let Some(b) = d.last_bucket() {
                prop_assert!((0.0..=1.0).contains(&b.anomaly_score));
                prop_assert!((0.0..=1.0).contains(&b.alert_score));
            }
        }
        let json = serde_json::to_string(&d).unwrap();
        let back: Detector = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, d);
    }
}
