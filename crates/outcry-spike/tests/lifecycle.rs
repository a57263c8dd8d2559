mod common;

use common::{normal_count, Rng, BUCKET_MS, T0};
use outcry_spike::{Detector, DetectorConfig, ObserveError, SpikeEvent, SpikePhase};

fn config() -> DetectorConfig {
    DetectorConfig::default()
}

fn lateness_ms(d: &Detector) -> i64 {
    d.config().allowed_lateness_secs as i64 * 1000
}

/// One observe per bucket, then close it.
fn step(d: &mut Detector, bucket: i64, count: u64) -> Vec<SpikeEvent> {
    let start = T0 + bucket * BUCKET_MS;
    d.observe(start + 1000, count).unwrap();
    let wm = start + BUCKET_MS + lateness_ms(d);
    d.advance(wm)
}

#[test]
fn out_of_order_mentions_within_lateness_count_in_their_bucket() {
    let mut d = Detector::new(config());
    d.observe(T0 + 10_000, 3).unwrap();
    d.observe(T0 + BUCKET_MS + 5_000, 7).unwrap(); // next bucket first
    d.observe(T0 + 20_000, 2).unwrap(); // back in the first bucket: still within lateness
    d.advance(T0 + BUCKET_MS + lateness_ms(&d));
    let first = d.last_bucket().unwrap();
    assert_eq!((first.bucket_start_ms, first.observed), (T0, 5));
    d.advance(T0 + 2 * BUCKET_MS + lateness_ms(&d));
    assert_eq!(d.last_bucket().unwrap().observed, 7);
}

#[test]
fn mentions_older_than_the_allowed_lateness_are_rejected() {
    let mut d = Detector::new(config());
    d.observe(T0, 1).unwrap();
    d.advance(T0 + BUCKET_MS + lateness_ms(&d));
    let Err(ObserveError::Late(late)) = d.observe(T0 + 1, 1) else {
        panic!("a mention for a closed bucket must be late");
    };
    assert_eq!(late.closed_until_ms, T0 + BUCKET_MS);
    assert!(late.to_string().contains("late"));
    // event time moving forward closes old buckets too, without a watermark from the caller
    let mut d = Detector::new(config());
    d.observe(T0, 1).unwrap();
    d.observe(T0 + 10 * BUCKET_MS, 1).unwrap();
    assert!(d.observe(T0 + BUCKET_MS, 1).is_err());
    assert!(d.observe(T0 + 9 * BUCKET_MS, 1).is_ok());
}

#[test]
fn event_times_at_the_ends_of_the_i64_range_are_an_error_not_an_overflow() {
    let mut d = Detector::new(config());
    d.observe(T0, 1).unwrap();
    for ts in [i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1000] {
        assert_eq!(
            d.observe(ts, 1),
            Err(ObserveError::OutOfRange { ts_ms: ts })
        );
    }
    // nothing was counted and the detector goes on: the next bucket closes with the one mention
    d.advance(T0 + BUCKET_MS + lateness_ms(&d));
    let first = d.last_bucket().unwrap();
    assert_eq!((first.bucket_start_ms, first.observed), (T0, 1));
    // the same before any mention was seen
    let mut fresh = Detector::new(config());
    assert_eq!(
        fresh.observe(i64::MIN, 1),
        Err(ObserveError::OutOfRange { ts_ms: i64::MIN })
    );
}

#[test]
fn empty_buckets_count_as_zero() {
    let mut d = Detector::new(config());
    d.observe(T0, 4).unwrap();
    d.advance(T0 + 5 * BUCKET_MS + lateness_ms(&d));
    let last = d.last_bucket().unwrap();
    assert_eq!(
        (last.bucket_start_ms, last.observed),
        (T0 + 4 * BUCKET_MS, 0)
    );
}

fn warm(d: &mut Detector, rng: &mut Rng, buckets: i64) {
    for b in 0..buckets {
        assert!(step(d, b, normal_count(rng, b)).is_empty());
    }
}

#[test]
fn cooldown_keeps_a_flapping_series_to_one_case() {
    let mut rng = Rng(7);
    let mut d = Detector::new(config());
    let week = 7 * 288;
    warm(&mut d, &mut rng, week);
    let mut opened = Vec::new();
    // three bursts of 30 minutes, an hour apart: one incident
    let mut b = week;
    for _ in 0..3 {
        for i in 0..18 {
            let n = normal_count(&mut rng, b);
            let count = if i < 6 { n * 8 } else { n };
            opened.extend(
                step(&mut d, b, count)
                    .into_iter()
                    .filter(|e| e.phase == SpikePhase::Opened),
            );
            b += 1;
        }
    }
    assert_eq!(opened.len(), 1, "{opened:?}");
    // once the cooldown has passed, a new burst opens a new case
    let cooldown_buckets = d.config().cooldown_secs as i64 * 1000 / BUCKET_MS;
    for _ in 0..cooldown_buckets {
        step(&mut d, b, normal_count(&mut rng, b));
        b += 1;
    }
    let mut again = Vec::new();
    for _ in 0..6 {
        let n = normal_count(&mut rng, b);
        again.extend(
            step(&mut d, b, n * 8)
                .into_iter()
                .filter(|e| e.phase == SpikePhase::Opened),
        );
        b += 1;
    }
    assert_eq!(again.len(), 1, "{again:?}");
}

#[test]
fn restored_detector_continues_identically() {
    let mut rng = Rng(42);
    let mut d = Detector::new(config());
    let week = 7 * 288;
    warm(&mut d, &mut rng, week);
    // stop mid-spike, with a bucket still open
    for b in week..week + 3 {
        let n = normal_count(&mut rng, b);
        step(&mut d, b, n * 10);
    }
    d.observe(T0 + (week + 3) * BUCKET_MS + 7, 500).unwrap();
    let json = serde_json::to_string(&d).unwrap();
    let mut restored: Detector = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, d);
    let mut rng2 = Rng(99);
    let mut rng1 = Rng(99);
    for b in week + 3..week + 600 {
        let c = normal_count(&mut rng1, b) * if b < week + 20 { 10 } else { 1 };
        assert_eq!(
            c,
            normal_count(&mut rng2, b) * if b < week + 20 { 10 } else { 1 }
        );
        let (e1, e2) = (step(&mut d, b, c), step(&mut restored, b, c));
        assert_eq!(e1, e2);
        assert_eq!(d.last_bucket(), restored.last_bucket());
    }
    assert!(
        !d.is_spiking(),
        "the spike resolved in the continued stream"
    );
}

#[test]
fn config_rejects_unknown_keys_by_name() {
    let err = serde_json::from_str::<DetectorConfig>(r#"{"bucket_sec": 60}"#).unwrap_err();
    assert!(
        err.to_string().contains("unknown field `bucket_sec`"),
        "{err}"
    );
}

#[test]
fn config_ranges_are_checked_by_key() {
    assert_eq!(DetectorConfig::default().validate(), Ok(()));
    let cases = [
        (
            DetectorConfig {
                bucket_secs: 0,
                ..config()
            },
            "bucket_secs: 0 must be within 1..=86400",
        ),
        (
            DetectorConfig {
                persistence_buckets: 0,
                ..config()
            },
            "persistence_buckets: 0 must be within 1..=12",
        ),
        (
            DetectorConfig {
                persistence_buckets: 13,
                ..config()
            },
            "persistence_buckets: 13 must be within 1..=12",
        ),
        (
            DetectorConfig {
                allowed_lateness_secs: u64::MAX,
                ..config()
            },
            "allowed_lateness_secs: 18446744073709551615 must be within 0..=86400",
        ),
        (
            DetectorConfig {
                cooldown_secs: 1 << 62,
                ..config()
            },
            "cooldown_secs: 4611686018427387904 must be within 0..=2592000",
        ),
        (
            DetectorConfig {
                level_half_life_secs: u64::MAX,
                ..config()
            },
            "level_half_life_secs: 18446744073709551615 must be within 0..=31536000",
        ),
        (
            DetectorConfig {
                warmup_secs: u64::MAX,
                ..config()
            },
            "warmup_secs: 18446744073709551615 must be within 0..=31536000",
        ),
    ];
    for (c, expected) in cases {
        assert_eq!(c.validate(), Err(expected.to_string()));
    }
}

#[test]
fn config_uses_lowercase_sensitivity() {
    let c: DetectorConfig =
        serde_json::from_str(r#"{"sensitivity":"high","cooldown_secs":60}"#).unwrap();
    assert_eq!(c.sensitivity, outcry_spike::Sensitivity::High);
    assert_eq!(c.bucket_secs, 300);
    assert_eq!(
        serde_json::to_string(&outcry_spike::Severity::Major).unwrap(),
        "\"major\""
    );
}
