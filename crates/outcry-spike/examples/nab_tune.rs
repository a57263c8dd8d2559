//! Sensitivity check around the shipped settings: NAB totals when one parameter moves.
//! `cargo run --release -p outcry-spike --example nab_tune` (reads `OUTCRY_DATA_DIR`).
use outcry_spike::{nab, DetectorConfig, Sensitivity};

fn main() {
    let dir = std::env::var("OUTCRY_DATA_DIR").unwrap_or_else(|_| "../shared/data".into());
    let dir = std::path::Path::new(&dir).join("nab-realtweets");
    let base = DetectorConfig::default();
    let mut variants: Vec<(String, DetectorConfig)> = vec![("shipped".into(), base.clone())];
    for s in [Sensitivity::Low, Sensitivity::High] {
        variants.push((
            format!("sensitivity {s:?}"),
            DetectorConfig {
                sensitivity: s,
                ..base.clone()
            },
        ));
    }
    for p in [1, 3] {
        variants.push((
            format!("persistence {p}"),
            DetectorConfig {
                persistence_buckets: p,
                ..base.clone()
            },
        ));
    }
    for h in [6, 12, 36] {
        variants.push((
            format!("cooldown {h}h"),
            DetectorConfig {
                cooldown_secs: h * 3600,
                ..base.clone()
            },
        ));
    }
    for h in [12, 48] {
        variants.push((
            format!("level half-life {h}h"),
            DetectorConfig {
                level_half_life_secs: h * 3600,
                ..base.clone()
            },
        ));
    }
    for (name, c) in variants {
        let r = nab::evaluate_dir(&dir, &c).expect("nab data");
        let per: Vec<String> = r
            .files
            .iter()
            .map(|f| format!("{:.1}", f.normalized))
            .collect();
        println!(
            "{name:22} total {:5.1} ({}) threshold {:.4}; sweep best {:.1} at {:.4}",
            r.total,
            per.join(" "),
            r.threshold,
            r.swept_total,
            r.swept_threshold
        );
    }
}
