//! Prints the NAB evaluation for the shipped config, or one overridden by environment variables.
use outcry_spike::{nab, DetectorConfig, Sensitivity};

fn main() {
    let dir = std::env::var("OUTCRY_DATA_DIR").unwrap_or("../shared/data".into());
    let mut c = DetectorConfig::default();
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    if let Some(v) = env("P") {
        c.persistence_buckets = v as u32;
    }
    if let Some(v) = env("COOL") {
        c.cooldown_secs = v;
    }
    if let Some(v) = env("MIN") {
        c.min_count = v;
    }
    if let Some(v) = env("LEVEL") {
        c.level_half_life_secs = v;
    }
    if let Ok(s) = std::env::var("SENS") {
        c.sensitivity = match s.as_str() {
            "low" => Sensitivity::Low,
            "high" => Sensitivity::High,
            _ => Sensitivity::Medium,
        };
    }
    let r = nab::evaluate_dir(&std::path::Path::new(&dir).join("nab-realtweets"), &c).unwrap();
    for f in &r.files {
        println!(
            "{:28} norm {:6.1} raw {:6.2} det {}/{} fp {}",
            f.name,
            f.normalized,
            f.counts.score,
            f.counts.detected,
            f.counts.windows,
            f.counts.false_positives
        );
    }
    let files = nab::load_dir(&std::path::Path::new(&dir).join("nab-realtweets"), &c).unwrap();
    let (_, counts) = nab::corpus_score(&files, r.swept_threshold);
    for (f, k) in files.iter().zip(&counts) {
        println!(
            "  swept {:28} norm {:6.1} det {}/{} fp {}",
            f.name,
            k.normalized(),
            k.detected,
            k.windows,
            k.false_positives
        );
    }
    println!(
        "total {:.1} at {:.4}; swept {:.1} at {:.4}",
        r.total, r.threshold, r.swept_total, r.swept_threshold
    );
}

#[allow(dead_code)]
pub fn diag() {}
