//! The learned baseline: what `ln(1 + count)` is expected to be for a bucket, and how much
//! it normally varies.
//!
//! expected = level + hour-of-day offset + day-of-week offset, in log space (so the daily and
//! weekly rhythms are multiplicative in counts). Every component is an exponentially weighted
//! average updated with the residual clipped at [`CLIP_SIGMAS`] robust deviations (a Huber
//! step), so the spikes the detector looks for barely move the baseline that judges them.
//! The scale is an exponentially weighted mean absolute residual, clipped the same way.

use serde::{Deserialize, Serialize};

use crate::time::{day_of_week, hour_of_day};

/// Residuals are clipped here before they update the baseline (Huber's usual 3 sigma).
pub const CLIP_SIGMAS: f64 = 3.0;
/// Normal-consistent scale from a median absolute deviation: sigma = 1.4826 * MAD.
const MAD_TO_SIGMA: f64 = 1.482_602_218_505_602;
/// Half-life, in days of updates of one hour-of-day slot, of the daily rhythm.
const HOUR_HALF_LIFE_DAYS: f64 = 7.0;
/// How long the noise scale takes to follow a doubling of the noise: a brand's noise is a slow
/// property, and a short memory would let a long spike inflate the scale that judges it.
const SCALE_HALF_LIFE_DAYS: f64 = 7.0;
/// Half-life, in weeks of updates of one weekday slot, of the weekly rhythm.
const WEEKDAY_HALF_LIFE_WEEKS: f64 = 4.0;

/// Per-bucket learning rates, derived from the bucket width and the configured level half-life.
#[derive(Clone, Copy, Debug)]
pub struct Rates {
    level: f64,
    hour: f64,
    weekday: f64,
    scale: f64,
    warmup_buckets: u64,
}

fn rate_for_half_life(updates: f64) -> f64 {
    1.0 - 0.5f64.powf(1.0 / updates.max(1.0))
}

/// Multiplicative step of the median tracker, sized so that after a doubling of the noise it
/// takes about one half-life of `updates` buckets for the tracker to follow (ln 2 / step).
fn scale_step(updates: f64) -> f64 {
    std::f64::consts::LN_2 / updates.max(1.0)
}

impl Rates {
    pub fn new(bucket_secs: u64, level_half_life_secs: u64, warmup_secs: u64) -> Rates {
        let b = bucket_secs.max(1) as f64;
        let buckets_per_hour = (3600.0 / b).max(1.0);
        let buckets_per_day = (86_400.0 / b).max(1.0);
        Rates {
            level: rate_for_half_life(level_half_life_secs as f64 / b),
            hour: rate_for_half_life(HOUR_HALF_LIFE_DAYS * buckets_per_hour),
            weekday: rate_for_half_life(WEEKDAY_HALF_LIFE_WEEKS * buckets_per_day),
            scale: scale_step(SCALE_HALF_LIFE_DAYS * buckets_per_day),
            warmup_buckets: (warmup_secs / bucket_secs.max(1)).max(2),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    level: f64,
    hour: [f64; 24],
    weekday: [f64; 7],
    mad: f64,
    seen: u64,
    hour_seen: [u64; 24],
    weekday_seen: [u64; 7],
}

/// How a bucket compares with the baseline.
#[derive(Clone, Copy, Debug)]
pub struct Assessment {
    pub expected: f64,
    pub z: f64,
}

impl Baseline {
    pub fn new() -> Baseline {
        Baseline {
            level: 0.0,
            hour: [0.0; 24],
            weekday: [0.0; 7],
            mad: 0.0,
            seen: 0,
            hour_seen: [0; 24],
            weekday_seen: [0; 7],
        }
    }

    pub fn seen(&self) -> u64 {
        self.seen
    }

    fn predict(&self, h: usize, d: usize) -> f64 {
        self.level + self.hour[h] + self.weekday[d]
    }

    fn sigma(&self, predicted: f64) -> f64 {
        // counts are never less noisy than Poisson: sd of ln(1 + X) is about 1 / sqrt(1 + lambda)
        let lambda = predicted.exp_m1().max(0.0);
        (MAD_TO_SIGMA * self.mad).max(1.0 / (1.0 + lambda).sqrt())
    }

    /// Compares a closed bucket with the baseline, then learns from it.
    pub fn assess_and_learn(
        &mut self,
        bucket_start_ms: i64,
        count: u64,
        rates: Rates,
    ) -> Assessment {
        let (h, d) = (hour_of_day(bucket_start_ms), day_of_week(bucket_start_ms));
        let x = (count as f64).ln_1p();
        let predicted = self.predict(h, d);
        let sigma = self.sigma(predicted);
        let residual = x - predicted;
        let assessment = Assessment {
            expected: predicted.exp_m1().max(0.0),
            z: residual / sigma,
        };

        // while a component has few samples it takes their running mean (rate 1/n)
        let n = self.seen as f64;
        if self.seen > 0 {
            if self.seen < rates.warmup_buckets {
                // running median-equivalent of the first residuals: 0.845 * mean absolute value
                self.mad += (0.845 * residual.abs() - self.mad) / n;
            } else if residual.abs() > self.mad {
                // stochastic median tracking: steps up and down balance where half the
                // residuals are larger, whatever the size of the outliers
                self.mad *= 1.0 + rates.scale;
            } else {
                self.mad /= 1.0 + rates.scale;
            }
        }
        let mut r = if self.seen == 0 {
            residual
        } else {
            residual.clamp(-CLIP_SIGMAS * sigma, CLIP_SIGMAS * sigma)
        };
        // Gauss-Seidel: each component takes its share of what the previous ones left
        let a = rates.level.max(1.0 / (n + 1.0));
        self.level += a * r;
        r *= 1.0 - a;
        let g = rates.hour.max(1.0 / (self.hour_seen[h] as f64 + 1.0));
        self.hour[h] += g * r;
        r *= 1.0 - g;
        let w = rates.weekday.max(1.0 / (self.weekday_seen[d] as f64 + 1.0));
        self.weekday[d] += w * r;

        self.seen += 1;
        self.hour_seen[h] += 1;
        self.weekday_seen[d] += 1;
        assessment
    }
}
