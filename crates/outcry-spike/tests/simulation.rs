mod common;

use common::{normal_count, Rng, BUCKET_MS, T0};
use outcry_spike::{Detector, DetectorConfig, SpikeEvent, SpikePhase};

/// Feeds one bucket as a few mentions at random, out-of-order times inside it, then moves the
/// watermark past the bucket's end and allowed lateness.
fn feed(d: &mut Detector, rng: &mut Rng, bucket: i64, count: u64) -> Vec<SpikeEvent> {
    let start = T0 + bucket * BUCKET_MS;
    let parts = [count / 2, count / 3, count - count / 2 - count / 3];
    for part in parts {
        let ts = start + (rng.uniform() * BUCKET_MS as f64) as i64;
        d.observe(ts, part)
            .expect("in-order buckets are never late");
    }
    let lateness = d.config().allowed_lateness_secs as i64 * 1000;
    d.advance(start + BUCKET_MS + lateness)
}

#[test]
fn viral_spike_fires_within_two_buckets_once_and_never_in_a_normal_week() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut d = Detector::new(DetectorConfig::default());
    let week = 7 * 288;

    // two weeks of normal traffic: one to learn, one that must stay silent (as must the first)
    for b in 0..2 * week {
        let count = normal_count(&mut rng, b);
        let events = feed(&mut d, &mut rng, b, count);
        assert!(
            events.is_empty(),
            "false alarm in normal traffic at bucket {b}: {events:?}"
        );
    }

    // a viral spike on Tuesday afternoon: 6x normal for 3 hours, then back to normal for a day
    let spike_start = 2 * week + 288 + 14 * 12;
    let spike_len = 36;
    let mut events = Vec::new();
    for b in spike_start..spike_start + spike_len + 288 {
        let normal = normal_count(&mut rng, b);
        let count = if b < spike_start + spike_len {
            normal * 6
        } else {
            normal
        };
        for e in feed(&mut d, &mut rng, b, count) {
            events.push((b, e));
        }
    }
    let opened: Vec<_> = events
        .iter()
        .filter(|(_, e)| e.phase == SpikePhase::Opened)
        .collect();
    assert_eq!(opened.len(), 1, "one spike must open one case: {events:?}");
    let (b, e) = opened[0];
    assert!(
        *b < spike_start + 2,
        "opened at bucket {} of the spike",
        b - spike_start + 1
    );
    assert_eq!(e.started_ms, T0 + spike_start * BUCKET_MS);
    assert!(e.observed as f64 > 3.0 * e.expected, "explanation: {e:?}");
    assert!(e.deviation >= 4.0 && e.anomaly_score > 0.0 && e.anomaly_score <= 1.0);

    let resolved: Vec<_> = events
        .iter()
        .filter(|(_, e)| e.phase == SpikePhase::Resolved)
        .collect();
    assert_eq!(resolved.len(), 1, "the spike resolves once: {events:?}");
    let (rb, r) = resolved[0];
    assert!(
        *rb >= spike_start + spike_len,
        "resolved while still spiking"
    );
    assert!(r.duration_buckets as i64 >= spike_len);
    // every event after the opening belongs to the same spike
    assert!(events.iter().all(|(_, ev)| ev.started_ms == e.started_ms));
}
