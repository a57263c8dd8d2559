//! The Numenta Anomaly Benchmark: the `outcry spikes --nab` scorer and NAB's standard-profile
//! evaluation (`outcry eval nab`), written from NAB's published rules (see `docs/spikes.md`).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;

use serde::Serialize;

use crate::time::parse_timestamp;
use crate::{Detector, DetectorConfig, SpikeError};

/// NAB's standard application profile.
pub const A_TP: f64 = 1.0;
pub const A_FP: f64 = 0.11;
pub const A_FN: f64 = 1.0;
/// Share of each file that is a probationary period, capped at `PROBATION_SHARE * 5000` rows.
pub const PROBATION_SHARE: f64 = 0.15;

/// One NAB data row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub timestamp: String,
    pub ts_ms: i64,
    pub value: String,
    pub count: u64,
}

/// Reads a NAB series: a `timestamp,value` header, then one row per bucket.
pub fn read_series(input: impl BufRead, name: &str) -> Result<Vec<Row>, SpikeError> {
    let parse_err = |line: usize, reason: String| SpikeError::Parse {
        path: name.to_string(),
        line,
        reason,
    };
    let mut rows = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if i == 0 {
            if line.replace(' ', "") != "timestamp,value" {
                return Err(parse_err(
                    1,
                    format!("expected header timestamp,value, got {line:?}"),
                ));
            }
            continue;
        }
        let (ts, value) = line
            .split_once(',')
            .ok_or_else(|| parse_err(i + 1, "expected timestamp,value".into()))?;
        let ts_ms =
            parse_timestamp(ts).ok_or_else(|| parse_err(i + 1, format!("bad timestamp {ts:?}")))?;
        let v: f64 = value
            .trim()
            .parse()
            .map_err(|_| parse_err(i + 1, format!("bad value {value:?}")))?;
        if !v.is_finite() || v < 0.0 {
            return Err(parse_err(i + 1, format!("value {value:?} is not a count")));
        }
        rows.push(Row {
            timestamp: ts.trim().to_string(),
            ts_ms,
            value: value.trim().to_string(),
            count: v.round() as u64,
        });
    }
    Ok(rows)
}

/// Runs the detector over a series in order, one row at a time, and returns each row's
/// anomaly score (the detector's alert score: see [`crate::BucketReport::alert_score`]).
/// Each score depends only on the rows up to and including its own.
pub fn anomaly_scores(rows: &[Row], config: &DetectorConfig) -> Vec<f64> {
    let mut detector = Detector::new(config.clone());
    let bucket_ms = config.bucket_secs.max(1) as i64 * 1000;
    let lateness_ms = config.allowed_lateness_secs as i64 * 1000;
    let mut scores = Vec::with_capacity(rows.len());
    for row in rows {
        // a row whose bucket is already closed (a duplicate timestamp) keeps the last score
        let _ = detector.observe(row.ts_ms, row.count);
        let bucket_start = row.ts_ms.div_euclid(bucket_ms) * bucket_ms;
        detector.advance(bucket_start + bucket_ms + lateness_ms);
        scores.push(detector.last_bucket().map_or(0.0, |b| b.alert_score));
    }
    scores
}

/// `outcry spikes --nab FILE`: reads a NAB series, writes `timestamp,value,anomaly_score`.
pub fn score_series(
    input: impl BufRead,
    mut output: impl Write,
    config: &DetectorConfig,
) -> Result<(), SpikeError> {
    let rows = read_series(input, "input")?;
    let scores = anomaly_scores(&rows, config);
    writeln!(output, "timestamp,value,anomaly_score")?;
    for (row, score) in rows.iter().zip(&scores) {
        writeln!(output, "{},{},{}", row.timestamp, row.value, score)?;
    }
    output.flush()?;
    Ok(())
}

/// NAB's scaled sigmoid: about 1 at y = -1 (a window's start), 0 at its end, -1 far after it.
pub fn scaled_sigmoid(y: f64) -> f64 {
    if y > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * y).exp()) - 1.0
    }
}

/// Rows of a file's probationary period: min(floor(15% of the rows), 750).
pub fn probation_rows(rows: usize) -> usize {
    ((PROBATION_SHARE * rows as f64).floor() as usize).min((PROBATION_SHARE * 5000.0) as usize)
}

/// What one row is worth if detected: inside window `w` (first detection counts) or a false
/// positive (`window == None`). Rows in the probationary period are not scorable.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScorePoint {
    pub window: Option<usize>,
    pub weight: f64,
}

/// NAB's per-row weights for one file. `windows` are (first, last) row indices, sorted.
pub fn score_points(rows: usize, windows: &[(usize, usize)]) -> Vec<Option<ScorePoint>> {
    let max_tp = scaled_sigmoid(-1.0);
    let probation = probation_rows(rows);
    let mut out = Vec::with_capacity(rows);
    let mut prev: Option<(usize, f64)> = None; // (right index, width) of the preceding window
    let mut next = 0;
    for i in 0..rows {
        while next < windows.len() && windows[next].1 < i {
            let (l, r) = windows[next];
            prev = Some((r, (r - l + 1) as f64));
            next += 1;
        }
        let point = match windows.get(next) {
            Some(&(l, r)) if l <= i => {
                let width = (r - l + 1) as f64;
                let y = -((r - i + 1) as f64) / width;
                ScorePoint {
                    window: Some(next),
                    weight: A_TP * scaled_sigmoid(y) / max_tp,
                }
            }
            _ => {
                let unweighted = match prev {
                    None => -1.0,
                    Some((r, width)) => scaled_sigmoid((i - r) as f64 / (width - 1.0).max(1.0)),
                };
                ScorePoint {
                    window: None,
                    weight: A_FP * unweighted,
                }
            }
        };
        out.push((i >= probation).then_some(point));
    }
    out
}

/// One scored file: its rows' weights and the detector's anomaly scores.
#[derive(Clone, Debug)]
pub struct ScoredFile {
    pub name: String,
    pub points: Vec<Option<ScorePoint>>,
    pub scores: Vec<f64>,
    pub windows: usize,
}

impl ScoredFile {
    /// Windows that count (those with at least one row after the probationary period).
    fn live_windows(&self) -> Vec<usize> {
        let mut live: Vec<usize> = self
            .points
            .iter()
            .flatten()
            .filter_map(|p| p.window)
            .collect();
        live.dedup();
        live
    }

    /// Raw NAB score when every row with anomaly score >= `threshold` is a detection.
    pub fn raw_score(&self, threshold: f64) -> FileCounts {
        let live = self.live_windows();
        let mut best: BTreeMap<usize, f64> = BTreeMap::new();
        let mut c = FileCounts::default();
        for (p, &s) in self.points.iter().zip(&self.scores) {
            let Some(p) = p else { continue };
            if s < threshold {
                continue;
            }
            match p.window {
                Some(w) => {
                    let b = best.entry(w).or_insert(f64::NEG_INFINITY);
                    *b = b.max(p.weight);
                }
                None => {
                    c.false_positives += 1;
                    c.score += p.weight;
                }
            }
        }
        for w in &live {
            match best.get(w) {
                Some(v) => {
                    c.detected += 1;
                    c.score += v;
                }
                None => c.score -= A_FN,
            }
        }
        c.windows = live.len();
        c.null = -A_FN * live.len() as f64;
        c.perfect = self.perfect_score();
        c
    }

    /// Score of a detector that fires exactly at the first scorable row of every window.
    fn perfect_score(&self) -> f64 {
        let mut seen = Vec::new();
        let mut s = 0.0;
        for p in self.points.iter().flatten() {
            if let Some(w) = p.window {
                if !seen.contains(&w) {
                    seen.push(w);
                    s += p.weight;
                }
            }
        }
        s
    }
}

/// Raw counts and scores of one file at one threshold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct FileCounts {
    pub score: f64,
    pub null: f64,
    pub perfect: f64,
    pub windows: usize,
    pub detected: usize,
    pub false_positives: usize,
}

impl FileCounts {
    pub fn normalized(&self) -> f64 {
        normalize(self.score, self.null, self.perfect)
    }
}

/// 100 * (S - S_null) / (S_perfect - S_null).
pub fn normalize(score: f64, null: f64, perfect: f64) -> f64 {
    if perfect == null {
        return 0.0;
    }
    100.0 * (score - null) / (perfect - null)
}

/// Total normalized score of a corpus at one threshold (raw scores summed before normalising).
pub fn corpus_score(files: &[ScoredFile], threshold: f64) -> (f64, Vec<FileCounts>) {
    let per_file: Vec<FileCounts> = files.iter().map(|f| f.raw_score(threshold)).collect();
    let sum = |f: fn(&FileCounts) -> f64| per_file.iter().map(f).sum::<f64>();
    let total = normalize(sum(|c| c.score), sum(|c| c.null), sum(|c| c.perfect));
    (total, per_file)
}

/// The threshold that maximises the corpus score, swept over every score the detector produced
/// (and one above them all, the null detector), as NAB's optimiser does.
pub fn sweep(files: &[ScoredFile]) -> (f64, f64) {
    let mut candidates: Vec<f64> = files
        .iter()
        .flat_map(|f| {
            f.points
                .iter()
                .zip(&f.scores)
                .filter(|(p, _)| p.is_some())
                .map(|(_, &s)| s)
        })
        .collect();
    candidates.push(f64::INFINITY);
    candidates.sort_by(|a, b| b.total_cmp(a));
    candidates.dedup();
    // incremental: walk rows from the highest score down, keeping each window's best detection
    let mut rows: Vec<(f64, usize, ScorePoint)> = files
        .iter()
        .enumerate()
        .flat_map(|(fi, f)| {
            f.points
                .iter()
                .zip(&f.scores)
                .filter_map(move |(p, &s)| p.map(|p| (s, fi, p)))
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut best: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    let (null, perfect): (f64, f64) = files
        .iter()
        .map(|f| f.raw_score(f64::INFINITY))
        .fold((0.0, 0.0), |acc, c| (acc.0 + c.null, acc.1 + c.perfect));
    let mut raw = null;
    let (mut best_threshold, mut best_score) = (f64::INFINITY, normalize(raw, null, perfect));
    let mut i = 0;
    for &t in &candidates {
        while i < rows.len() && rows[i].0 >= t {
            let (_, fi, p) = rows[i];
            match p.window {
                None => raw += p.weight,
                Some(w) => {
                    let b = best.entry((fi, w)).or_insert(-A_FN);
                    if p.weight > *b {
                        raw += p.weight - *b;
                        *b = p.weight;
                    }
                }
            }
            i += 1;
        }
        let s = normalize(raw, null, perfect);
        if s > best_score {
            (best_threshold, best_score) = (t, s);
        }
    }
    (best_threshold, best_score)
}

/// Per-file result in a [`NabReport`].
#[derive(Clone, Debug, Serialize)]
pub struct FileReport {
    pub name: String,
    pub rows: usize,
    #[serde(flatten)]
    pub counts: FileCounts,
    pub normalized: f64,
}

/// `outcry eval nab`: scores at the shipped threshold, and the best threshold of a sweep.
#[derive(Clone, Debug, Serialize)]
pub struct NabReport {
    /// The threshold the product ships (the config's sensitivity), used for `files` and `total`.
    pub threshold: f64,
    pub files: Vec<FileReport>,
    pub total: f64,
    /// The best threshold found by sweeping, and the total score it reaches (for comparison).
    pub swept_threshold: f64,
    pub swept_total: f64,
}

/// Maps a window's timestamps to (first, last) row indices: the first row at or after its
/// start and the last row at or before its end.
pub fn window_rows(ts: &[i64], windows: &[(i64, i64)]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = windows
        .iter()
        .filter_map(|&(a, b)| {
            let l = ts.partition_point(|&t| t < a);
            let r = ts.partition_point(|&t| t <= b);
            (r > l).then(|| (l, r - 1))
        })
        .collect();
    out.sort_unstable();
    out
}

/// Scores a file's rows with the detector and prepares NAB's weights.
pub fn score_file(
    name: &str,
    rows: &[Row],
    windows: &[(i64, i64)],
    config: &DetectorConfig,
) -> ScoredFile {
    let ts: Vec<i64> = rows.iter().map(|r| r.ts_ms).collect();
    let win = window_rows(&ts, windows);
    ScoredFile {
        name: name.to_string(),
        points: score_points(rows.len(), &win),
        scores: anomaly_scores(rows, config),
        windows: win.len(),
    }
}

/// Loads every series named in `DIR/windows.json` (NAB's combined labels: file -> windows) and
/// scores it.
pub fn load_dir(dir: &Path, config: &DetectorConfig) -> Result<Vec<ScoredFile>, SpikeError> {
    let labels_path = dir.join("windows.json");
    let labels = std::fs::read_to_string(&labels_path)
        .map_err(|e| SpikeError::Data(format!("cannot read {}: {e}", labels_path.display())))?;
    let labels: BTreeMap<String, Vec<[String; 2]>> = serde_json::from_str(&labels)
        .map_err(|e| SpikeError::Data(format!("bad {}: {e}", labels_path.display())))?;
    let mut files = Vec::new();
    for (key, windows) in &labels {
        let name = key.rsplit('/').next().unwrap_or(key);
        let path = dir.join(name);
        let file = std::fs::File::open(&path)
            .map_err(|e| SpikeError::Data(format!("cannot open {}: {e}", path.display())))?;
        let rows = read_series(std::io::BufReader::new(file), &path.display().to_string())?;
        let mut win = Vec::new();
        for [a, b] in windows {
            let bad = |s: &str| SpikeError::Data(format!("{key}: bad window timestamp {s:?}"));
            win.push((
                parse_timestamp(a).ok_or_else(|| bad(a))?,
                parse_timestamp(b).ok_or_else(|| bad(b))?,
            ));
        }
        files.push(score_file(name, &rows, &win, config));
    }
    if files.is_empty() {
        return Err(SpikeError::Data(format!(
            "no series in {}",
            labels_path.display()
        )));
    }
    Ok(files)
}

/// `outcry eval nab --data DIR`: NAB standard-profile scores per file and in total at the
/// configured (shipped) threshold, plus the sweep's best threshold for comparison.
pub fn evaluate_dir(dir: &Path, config: &DetectorConfig) -> Result<NabReport, SpikeError> {
    let files = load_dir(dir, config)?;
    let threshold = config.sensitivity.score_threshold();
    let (total, counts) = corpus_score(&files, threshold);
    let (swept_threshold, swept_total) = sweep(&files);
    Ok(NabReport {
        threshold,
        files: files
            .iter()
            .zip(counts)
            .map(|(f, c)| FileReport {
                name: f.name.clone(),
                rows: f.points.len(),
                normalized: c.normalized(),
                counts: c,
            })
            .collect(),
        total,
        swept_threshold,
        swept_total,
    })
}
