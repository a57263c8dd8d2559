//! `cargo bench -p outcry-spike`: cost per mention of the detector, with std::time only.
//! One mention per observe (the router's case), bucket closes included.

use std::hint::black_box;
use std::time::Instant;

use outcry_spike::{Detector, DetectorConfig};

fn main() {
    let mentions: u64 = 5_000_000;
    let per_bucket: u64 = 200; // mentions per 5-minute bucket: a busy brand
    let bucket_ms: i64 = 300_000;
    let gap = bucket_ms / per_bucket as i64;
    let t0: i64 = 1_704_067_200_000;
    let mut detector = Detector::new(DetectorConfig::default());
    let lateness = detector.config().allowed_lateness_secs as i64 * 1000;
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut events = 0usize;
    let start = Instant::now();
    for i in 0..mentions {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        // mostly in order, some up to a minute late
        let jitter = (state % 60_000) as i64;
        let ts = t0 + i as i64 * gap - jitter;
        if detector.observe(black_box(ts), 1).is_err() {
            events += 1;
        }
        if i % per_bucket == 0 {
            events += detector.advance(ts + lateness).len();
        }
    }
    let elapsed = start.elapsed();
    let ns = elapsed.as_nanos() as f64 / mentions as f64;
    println!(
        "spike detector: {mentions} mentions in {:.1} ms, {ns:.1} ns per mention ({} buckets, {events} events or late)",
        elapsed.as_secs_f64() * 1000.0,
        mentions / per_bucket
    );
    let json = serde_json::to_string(&detector).unwrap_or_default();
    println!("checkpoint size: {} bytes", json.len());
}
