//! Per-window and outside-window peaks of the gate deviation, for understanding the data.
use outcry_spike::{nab, Detector, DetectorConfig};

fn main() {
    let dir = std::path::PathBuf::from(
        std::env::var("OUTCRY_DATA_DIR").unwrap_or("../shared/data".into()),
    )
    .join("nab-realtweets");
    let mut c = DetectorConfig::default();
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    if let Some(v) = env("P") {
        c.persistence_buckets = v as u32;
    }
    if let Some(v) = env("MIN") {
        c.min_count = v;
    }
    if let Some(v) = env("LEVEL") {
        c.level_half_life_secs = v;
    }
    let labels: std::collections::BTreeMap<String, Vec<[String; 2]>> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("windows.json")).unwrap()).unwrap();
    for (key, wins) in &labels {
        let name = key.rsplit('/').next().unwrap();
        let rows = nab::read_series(
            std::io::BufReader::new(std::fs::File::open(dir.join(name)).unwrap()),
            name,
        )
        .unwrap();
        let mut d = Detector::new(c.clone());
        let mut z = Vec::new();
        for r in &rows {
            let _ = d.observe(r.ts_ms, r.count);
            d.advance(r.ts_ms - r.ts_ms.rem_euclid(300_000) + 300_000 + 120_000);
            let b = d.last_bucket().unwrap();
            let s = b.anomaly_score;
            z.push((
                if s >= 1.0 { 1e9 } else { 5.0 * s / (1.0 - s) },
                b.observed,
                b.expected,
                b.deviation,
            ));
        }
        let ts: Vec<i64> = rows.iter().map(|r| r.ts_ms).collect();
        let w: Vec<(i64, i64)> = wins
            .iter()
            .map(|[a, b]| (outcry_spike_ts(a), outcry_spike_ts(b)))
            .collect();
        let wr = nab::window_rows(&ts, &w);
        let prob = nab::probation_rows(rows.len());
        println!("{name} probation {prob}");
        for &(l, r) in &wr {
            let (i, m) = (l..=r)
                .map(|i| (i, z[i]))
                .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0))
                .unwrap();
            // first row above 4 and 5
            let f4 = (l..=r).find(|&i| z[i].0 >= 4.0).map(|i| i - l);
            let f5 = (l..=r).find(|&i| z[i].0 >= 5.0).map(|i| i - l);
            println!("  window {l}..{r} ({}) max gz {:.2} at +{} obs {} exp {:.1}; first>=4 {:?} >=5 {:?}", r - l + 1, m.0, i - l, m.1, m.2, f4, f5);
        }
        // outside peaks: local episodes with gz >= 3, report max per episode
        let inside = |i: usize| wr.iter().any(|&(l, r)| i >= l && i <= r);
        let mut i = prob;
        while i < rows.len() {
            if !inside(i) && z[i].0 >= 3.0 {
                let st = i;
                let mut best = (z[i].0, i);
                while i < rows.len() && !inside(i) && (z[i].0 >= 1.0 || i - best.1 < 12) {
                    if z[i].0 > best.0 {
                        best = (z[i].0, i);
                    }
                    i += 1;
                }
                println!(
                    "  outside ep at {} {} len {} max gz {:.2} obs {} exp {:.1}",
                    st,
                    rows[st].timestamp,
                    i - st,
                    best.0,
                    z[best.1].1,
                    z[best.1].2
                );
            }
            i += 1;
        }
    }
}

fn outcry_spike_ts(s: &str) -> i64 {
    let rows = nab::read_series(
        std::io::Cursor::new(format!("timestamp,value\n{},0\n", s)),
        "x",
    )
    .unwrap();
    rows[0].ts_ms
}
