//! Per-brand viral spike detection: pure, online, event-time, serialisable.
//!
//! One [`Detector`] watches one count series (a brand's mention volume, or its complaint
//! volume). Mentions go in with [`Detector::observe`]; [`Detector::advance`] closes the
//! buckets the watermark has passed and returns what that decided: a spike [`SpikePhase::Opened`],
//! [`SpikePhase::Updated`] or [`SpikePhase::Resolved`]. The method and its parameters are
//! described in `docs/spikes.md`.

mod baseline;
mod detector;
pub mod nab;
mod time;

use serde::{Deserialize, Serialize};

pub use detector::{BucketReport, Detector};

/// Milliseconds in `secs` seconds, saturating instead of wrapping for absurd values.
pub(crate) fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000)
}

/// How easily a spike opens: the robust z-score (of `ln(1 + count)` against the seasonal
/// baseline) that every bucket of the persistence gate must reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sensitivity {
    Low,
    Medium,
    High,
}

impl Sensitivity {
    /// Robust z-score a bucket must reach to count towards opening a spike.
    pub fn z_threshold(self) -> f64 {
        match self {
            Sensitivity::Low => 5.0,
            Sensitivity::Medium => 4.0,
            Sensitivity::High => 3.0,
        }
    }

    /// The anomaly score a bucket must reach to count towards opening a spike: the
    /// threshold NAB applies to the `anomaly_score` column.
    pub fn score_threshold(self) -> f64 {
        score_from_z(self.z_threshold())
    }
}

/// Robust z-score at which the anomaly score is 0.5.
pub const Z_HALF: f64 = 5.0;

/// Maps a robust z-score to an anomaly score in [0, 1): 0 at or below the baseline,
/// 0.5 at [`Z_HALF`] robust deviations, approaching 1 for ever larger ones.
pub fn score_from_z(z: f64) -> f64 {
    if z.is_nan() || z <= 0.0 {
        return 0.0;
    }
    if z.is_infinite() {
        return 1.0;
    }
    z / (z + Z_HALF)
}

/// Detector settings. `Default` is what Outcry ships, for 5-minute buckets. Unknown keys are
/// errors, so that a misspelt setting is reported instead of silently left at its default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    /// Width of an event-time bucket.
    pub bucket_secs: u64,
    /// How long after its end a bucket stays open for late, out-of-order mentions.
    pub allowed_lateness_secs: u64,
    pub sensitivity: Sensitivity,
    /// Consecutive buckets above the threshold needed to open a spike, and consecutive
    /// calm buckets needed to resolve it.
    pub persistence_buckets: u32,
    /// After a spike resolves, no new spike opens for this long.
    pub cooldown_secs: u64,
    /// A bucket with fewer mentions than this never counts towards a spike.
    pub min_count: u64,
    /// Half-life of the level (the slow trend under the daily and weekly rhythm).
    pub level_half_life_secs: u64,
    /// No spike is reported before the baseline has seen this much time.
    pub warmup_secs: u64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            bucket_secs: 300,
            allowed_lateness_secs: 120,
            sensitivity: Sensitivity::Medium,
            persistence_buckets: 2,
            cooldown_secs: 24 * 3600,
            min_count: 10,
            level_half_life_secs: 24 * 3600,
            warmup_secs: 24 * 3600,
        }
    }
}

const DAY_SECS: u64 = 24 * 3600;

impl DetectorConfig {
    /// Checks the ranges serde cannot. The error names the key at fault, for the caller to
    /// prefix with where the detector config sits (`brands[0].spike.detector`).
    pub fn validate(&self) -> Result<(), String> {
        // the baseline learns hour-of-day and weekday rhythms, which a bucket wider than a
        // day cannot show; the other bounds keep every duration far from i64 milliseconds
        let ranges: [(&str, u64, u64, u64); 6] = [
            ("bucket_secs", self.bucket_secs, 1, DAY_SECS),
            (
                "allowed_lateness_secs",
                self.allowed_lateness_secs,
                0,
                DAY_SECS,
            ),
            (
                "persistence_buckets",
                u64::from(self.persistence_buckets),
                1,
                u64::from(detector::MAX_PERSISTENCE),
            ),
            ("cooldown_secs", self.cooldown_secs, 0, 30 * DAY_SECS),
            (
                "level_half_life_secs",
                self.level_half_life_secs,
                0,
                365 * DAY_SECS,
            ),
            ("warmup_secs", self.warmup_secs, 0, 365 * DAY_SECS),
        ];
        for (key, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(format!("{key}: {value} must be within {min}..={max}"));
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpikePhase {
    Opened,
    Updated,
    Resolved,
}

impl SpikePhase {
    pub fn as_str(self) -> &'static str {
        match self {
            SpikePhase::Opened => "opened",
            SpikePhase::Updated => "updated",
            SpikePhase::Resolved => "resolved",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Minor,
    Major,
    Critical,
}

impl Severity {
    /// Severity of a bucket from its robust z-score, relative to the opening threshold:
    /// major from twice, critical from three times the threshold deviation.
    pub fn from_deviation(z: f64, z_threshold: f64) -> Severity {
        if z >= 3.0 * z_threshold {
            Severity::Critical
        } else if z >= 2.0 * z_threshold {
            Severity::Major
        } else {
            Severity::Minor
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Minor => "minor",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }
}

/// What the detector decided about a spike, with its explanation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpikeEvent {
    pub phase: SpikePhase,
    /// Start of the bucket that made this decision.
    pub bucket_start_ms: i64,
    pub bucket_secs: u64,
    /// Mentions counted in that bucket.
    pub observed: u64,
    /// Baseline count expected for that bucket (brand, hour of day, day of week).
    pub expected: f64,
    /// Robust z-score of `ln(1 + observed)` against the baseline.
    pub deviation: f64,
    pub anomaly_score: f64,
    /// Worst severity seen since the spike opened.
    pub severity: Severity,
    /// Start of the first bucket of the spike.
    pub started_ms: i64,
    /// Buckets from the spike's first bucket to this one, both included.
    pub duration_buckets: u32,
}

/// Why [`Detector::observe`] did not count a mention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ObserveError {
    #[error(transparent)]
    Late(#[from] LateEvent),
    /// So close to the ends of the i64 millisecond range that its bucket has no start or end.
    #[error("mention at {ts_ms} ms is outside the event times a bucket can hold")]
    OutOfRange { ts_ms: i64 },
}

/// A mention older than the allowed lateness: its bucket is already closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("mention at {ts_ms} ms is late: buckets before {closed_until_ms} ms are closed")]
pub struct LateEvent {
    pub ts_ms: i64,
    pub closed_until_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum SpikeError {
    #[error("i/o error")]
    Io(#[from] std::io::Error),
    #[error("{path}: line {line}: {reason}")]
    Parse {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("invalid config: {0}")]
    Config(String),
    #[error("{0}")]
    Data(String),
}
