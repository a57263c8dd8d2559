//! Event-time bucketing and the spike lifecycle (persistence gate, hysteresis, cooldown).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::baseline::{Baseline, Rates};
use crate::{
    score_from_z, secs_to_ms, DetectorConfig, LateEvent, ObserveError, Severity, SpikeEvent,
    SpikePhase,
};

/// A silent stretch longer than this many buckets is skipped rather than learned bucket by
/// bucket, which bounds the work one `advance` can do.
const MAX_GAP_BUCKETS: i64 = 4096;
/// Upper bound on the persistence gate, which bounds the state kept for it.
pub(crate) const MAX_PERSISTENCE: u32 = 12;

/// What the detector concluded about the last bucket it closed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BucketReport {
    pub bucket_start_ms: i64,
    pub observed: u64,
    pub expected: f64,
    /// Robust z-score of this bucket alone.
    pub deviation: f64,
    /// Anomaly score of the persistence gate: the weakest of the last `persistence_buckets`
    /// buckets, 0 while the baseline warms up or when a bucket is under `min_count`.
    pub anomaly_score: f64,
    /// `anomaly_score` when this bucket could open a spike, 0 while a spike is open or cooling
    /// down. At the configured threshold it is above the threshold exactly when a spike opens;
    /// it is what `outcry spikes --nab` writes.
    pub alert_score: f64,
    pub phase: Option<SpikePhase>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum State {
    Idle,
    Active {
        started_ms: i64,
        severity: Severity,
        peak_deviation: f64,
        calm_buckets: u32,
    },
    Cooldown {
        until_ms: i64,
    },
}

/// Spike detector for one count series. Memory is bounded: the baseline is 24 + 7 slots, the
/// open buckets are those within the allowed lateness, the gate keeps at most 12 z-scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Detector {
    config: DetectorConfig,
    baseline: Baseline,
    /// Start of the oldest open bucket; `None` before the first mention.
    open_start_ms: Option<i64>,
    open_counts: VecDeque<u64>,
    watermark_ms: i64,
    closed_until_ms: i64,
    /// Deviations of the last buckets, for the persistence gate (0 when a bucket cannot count).
    gate: VecDeque<f64>,
    state: State,
    /// Decisions made while `observe` moved event time forward, handed out by `advance`.
    outbox: Vec<SpikeEvent>,
    last: Option<BucketReport>,
}

impl Detector {
    pub fn new(mut config: DetectorConfig) -> Detector {
        config.bucket_secs = config.bucket_secs.max(1);
        config.persistence_buckets = config.persistence_buckets.clamp(1, MAX_PERSISTENCE);
        Detector {
            config,
            baseline: Baseline::new(),
            open_start_ms: None,
            open_counts: VecDeque::new(),
            watermark_ms: i64::MIN,
            closed_until_ms: i64::MIN,
            gate: VecDeque::new(),
            state: State::Idle,
            outbox: Vec::new(),
            last: None,
        }
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// The last closed bucket and what was decided about it.
    pub fn last_bucket(&self) -> Option<&BucketReport> {
        self.last.as_ref()
    }

    /// Whether a spike is open now.
    pub fn is_spiking(&self) -> bool {
        matches!(self.state, State::Active { .. })
    }

    fn bucket_ms(&self) -> i64 {
        secs_to_ms(self.config.bucket_secs)
    }

    fn lateness_ms(&self) -> i64 {
        secs_to_ms(self.config.allowed_lateness_secs)
    }

    /// Counts `weight` mentions at event time `ts_ms` (unix ms). Event time only moves forward
    /// through the newest mention, so buckets that mention makes final are closed here and
    /// their decisions come out of the next [`Detector::advance`]. Never fires inside an open
    /// bucket: returns `Ok(None)`, `Err(ObserveError::Late)` when the mention's bucket is
    /// closed, or `Err(ObserveError::OutOfRange)` for an event time so near the ends of the
    /// i64 range that its bucket cannot be computed.
    pub fn observe(&mut self, ts_ms: i64, weight: u64) -> Result<Option<SpikeEvent>, ObserveError> {
        let b = self.bucket_ms();
        // checked: the bucket's start, and its end plus the lateness, must all be i64 ms
        let start = ts_ms
            .div_euclid(b)
            .checked_mul(b)
            .filter(|s| {
                s.checked_add(b)
                    .and_then(|end| end.checked_add(self.lateness_ms()))
                    .is_some()
            })
            .ok_or(ObserveError::OutOfRange { ts_ms })?;
        let too_late = start < self.closed_until_ms
            || start.saturating_add(b).saturating_add(self.lateness_ms()) <= self.watermark_ms;
        if too_late {
            return Err(ObserveError::Late(LateEvent {
                ts_ms,
                closed_until_ms: self.closed_until_ms.max(
                    self.watermark_ms
                        .saturating_sub(self.lateness_ms())
                        .div_euclid(b)
                        .saturating_mul(b),
                ),
            }));
        }
        // move event time first: the ring then never holds more than the lateness allows
        self.open_start_ms.get_or_insert(start);
        if ts_ms > self.watermark_ms {
            self.watermark_ms = ts_ms;
            self.close_ready();
        }
        let open_start = self.open_start_ms.unwrap_or(start);
        if start < open_start {
            // an earlier, still open bucket than any seen so far (only possible before the first close)
            for _ in 0..(open_start - start) / b {
                self.open_counts.push_front(0);
            }
            self.open_start_ms = Some(start);
        }
        let idx = ((start - self.open_start_ms.unwrap_or(start)) / b) as usize;
        if idx >= self.open_counts.len() {
            self.open_counts.resize(idx + 1, 0);
        }
        self.open_counts[idx] = self.open_counts[idx].saturating_add(weight);
        Ok(None)
    }

    /// Closes every bucket whose end + allowed lateness <= `watermark_ms` (empty buckets count
    /// as zero) and returns what that decided, oldest first.
    pub fn advance(&mut self, watermark_ms: i64) -> Vec<SpikeEvent> {
        if watermark_ms > self.watermark_ms {
            self.watermark_ms = watermark_ms;
            self.close_ready();
        }
        std::mem::take(&mut self.outbox)
    }

    fn close_ready(&mut self) {
        let Some(mut start) = self.open_start_ms else {
            return;
        };
        let b = self.bucket_ms();
        let ready = self
            .watermark_ms
            .saturating_sub(self.lateness_ms())
            .saturating_sub(start)
            .div_euclid(b);
        let mut remaining = ready.max(0);
        while remaining > 0 {
            if self.open_counts.is_empty() && remaining > MAX_GAP_BUCKETS {
                // a long silence: skip its start, learn only from its last stretch
                let skip = remaining - MAX_GAP_BUCKETS;
                start += skip * b;
                remaining -= skip;
                self.gate.clear();
                continue;
            }
            let count = self.open_counts.pop_front().unwrap_or(0);
            self.close_bucket(start, count);
            start += b;
            remaining -= 1;
        }
        self.open_start_ms = Some(start);
        self.closed_until_ms = start;
    }

    fn close_bucket(&mut self, start_ms: i64, observed: u64) {
        let cfg = &self.config;
        let rates = Rates::new(cfg.bucket_secs, cfg.level_half_life_secs, cfg.warmup_secs);
        let warm = self.baseline.seen().saturating_mul(cfg.bucket_secs) >= cfg.warmup_secs;
        let a = self.baseline.assess_and_learn(start_ms, observed, rates);
        let z = if a.z.is_finite() { a.z } else { 0.0 };
        let z_threshold = cfg.sensitivity.z_threshold();
        let k = cfg.persistence_buckets as usize;

        let counts = warm && observed >= cfg.min_count;
        self.gate.push_back(if counts { z.max(0.0) } else { 0.0 });
        while self.gate.len() > k {
            self.gate.pop_front();
        }
        let gate_z = if self.gate.len() == k {
            self.gate.iter().copied().fold(f64::INFINITY, f64::min)
        } else {
            0.0
        };
        let anomaly_score = score_from_z(gate_z);

        let b = self.bucket_ms();
        if let State::Cooldown { until_ms } = self.state {
            if start_ms >= until_ms {
                self.state = State::Idle;
            }
        }
        let alert_score = if self.state == State::Idle {
            anomaly_score
        } else {
            0.0
        };
        let event = |phase, started_ms: i64, severity, score| SpikeEvent {
            phase,
            bucket_start_ms: start_ms,
            bucket_secs: cfg.bucket_secs,
            observed,
            expected: a.expected,
            deviation: z,
            anomaly_score: score,
            severity,
            started_ms,
            duration_buckets: ((start_ms - started_ms) / b + 1) as u32,
        };
        let mut decided = None;
        match &mut self.state {
            State::Idle => {
                if anomaly_score >= cfg.sensitivity.score_threshold() {
                    let started_ms = start_ms - (k as i64 - 1) * b;
                    let severity = Severity::from_deviation(z, z_threshold);
                    decided = Some(event(
                        SpikePhase::Opened,
                        started_ms,
                        severity,
                        anomaly_score,
                    ));
                    self.state = State::Active {
                        started_ms,
                        severity,
                        peak_deviation: z,
                        calm_buckets: 0,
                    };
                }
            }
            State::Active {
                started_ms,
                severity,
                peak_deviation,
                calm_buckets,
            } => {
                let score = score_from_z(z);
                // hysteresis: the spike goes on while buckets stay above half the threshold
                if z >= z_threshold / 2.0 {
                    *calm_buckets = 0;
                    if z > *peak_deviation {
                        *peak_deviation = z;
                        *severity = (*severity).max(Severity::from_deviation(z, z_threshold));
                        decided = Some(event(SpikePhase::Updated, *started_ms, *severity, score));
                    }
                } else {
                    *calm_buckets += 1;
                    if *calm_buckets as usize >= k {
                        decided = Some(event(SpikePhase::Resolved, *started_ms, *severity, score));
                        self.state = State::Cooldown {
                            until_ms: start_ms
                                .saturating_add(b)
                                .saturating_add(secs_to_ms(cfg.cooldown_secs)),
                        };
                    }
                }
            }
            State::Cooldown { .. } => {}
        }
        self.last = Some(BucketReport {
            bucket_start_ms: start_ms,
            observed,
            expected: a.expected,
            deviation: z,
            anomaly_score,
            alert_score,
            phase: decided.as_ref().map(|e| e.phase),
        });
        if let Some(e) = decided {
            self.push_event(e);
        }
    }

    fn push_event(&mut self, e: SpikeEvent) {
        // keep the outbox bounded when nobody calls `advance`: an update supersedes the last one
        if e.phase == SpikePhase::Updated {
            if let Some(last) = self.outbox.last_mut() {
                if last.phase == SpikePhase::Updated {
                    *last = e;
                    return;
                }
            }
        }
        self.outbox.push(e);
    }
}
