//! The router's decisions, without Kafka: scored mentions in, escalation records out.
//!
//! Cases:
//! - a **mention case** opens when a scored mention matches one of its brand's rules; further
//!   matching mentions from the same author within `case_window_secs` update that case
//!   instead of opening another;
//! - a **spike case** opens when the brand's mention or complaint volume spikes; while it is
//!   open, matching mentions (except for rules of priority 1, such as legal threats) count into
//!   it instead of opening their own cases: one incident, one case. It resolves when every
//!   spiking series has calmed down, and re-opens (same case id, its sequence going on, a new
//!   SLA) if the other series spikes before the cooldown that follows has passed: each
//!   series' detector cools down on its own, the brand's incident as a whole.
//!
//! Case ids and escalation ids are derived from the input (brand, author, first mention,
//! spike start), so replaying the same input after a crash yields the same ids: a consumer
//! that upserts on `case_id` and deduplicates on `escalation_id` sees no duplicate.

use outcry_proto::v1::{
    CaseState, Escalation, EscalationKind, Explanation, Mention, Priority, ScoredMention,
    SpikeExplanation,
};
use outcry_proto::{millis_from_timestamp, timestamp_from_millis};
use outcry_runtime::config::{BrandConfig, Config, RuleConfig};
use outcry_runtime::dedup::DedupWindow;
use outcry_spike::{Detector, SpikeEvent, SpikePhase};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

mod case;

use case::{Case, SERIES_COMPLAINTS, SERIES_VOLUME};

mod names {
    pub const ESCALATIONS: &str = "outcry_router_escalations_total";
    pub const DUPLICATES: &str = "outcry_router_mentions_duplicate_total";
    pub const LATE: &str = "outcry_router_mentions_late_total";
    pub const ABSORBED: &str = "outcry_router_mentions_absorbed_total";
    pub const CLAMPED: &str = "outcry_router_mentions_clamped_total";
    pub const OPEN_CASES: &str = "outcry_router_open_cases";
}

pub fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!(names::ESCALATIONS, "escalation records written, by brand, kind (mention, spike), state (open, updated, resolved) and priority (P1-P4)");
    describe_counter!(
        names::DUPLICATES,
        "scored mentions seen again (replays) and not counted twice"
    );
    describe_counter!(names::LATE, "mentions older than the detector's allowed lateness, by brand; they still go through the rules");
    describe_counter!(
        names::ABSORBED,
        "matching mentions counted into an open spike case instead of opening their own, by brand"
    );
    describe_counter!(
        names::CLAMPED,
        "mentions stamped later than the router's clock plus the allowed lateness, by brand; the spike detectors and the case sweep saw them at that bound"
    );
    describe_gauge!(
        names::OPEN_CASES,
        "cases the router holds open, by brand and kind"
    );
}

/// Earliest event time routed: 2000-01-01T00:00:00Z. Nothing older is a live mention, and
/// the bound keeps bucket arithmetic and RFC 3339 formatting far from their limits.
pub const MIN_EVENT_MS: i64 = 946_684_800_000;
/// How far ahead of the router's clock an event time may be: the ingestor's
/// `outcry_ingestor::parse::MAX_FUTURE_SKEW_MS`, repeated by value so that the router does not
/// depend on the ingestor; keep the two equal.
pub const MAX_FUTURE_SKEW_MS: i64 = 3_600_000;

/// Where a scored mention cannot go.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("brand {0:?} is not configured")]
    UnknownBrand(String),
    #[error("scored mention has no {0}")]
    MissingField(&'static str),
    #[error("mention.event_time {event_ms} ms is outside {min_ms}..={max_ms} ms (2000-01-01 to one hour after the router's clock)")]
    InvalidEventTime {
        event_ms: i64,
        min_ms: i64,
        max_ms: i64,
    },
}

impl RouteError {
    /// The dead-letter reason: a stable label from a small set.
    pub fn reason(&self) -> &'static str {
        match self {
            RouteError::UnknownBrand(_) => "unknown_brand",
            RouteError::MissingField(_) => "missing_field",
            RouteError::InvalidEventTime { .. } => "invalid_event_time",
        }
    }
}

/// The mention and its event time, when the record has what routing needs: a mention with an
/// id, and an event time within `MIN_EVENT_MS ..= now_ms + MAX_FUTURE_SKEW_MS`.
fn checked_mention(sm: &ScoredMention, now_ms: i64) -> Result<(&Mention, i64), RouteError> {
    let mention = sm
        .mention
        .as_ref()
        .ok_or(RouteError::MissingField("mention"))?;
    if mention.id.is_empty() {
        return Err(RouteError::MissingField("mention.id"));
    }
    let event_time = mention
        .event_time
        .as_ref()
        .ok_or(RouteError::MissingField("mention.event_time"))?;
    let event_ms = millis_from_timestamp(Some(event_time));
    let max_ms = now_ms.saturating_add(MAX_FUTURE_SKEW_MS);
    if !(MIN_EVENT_MS..=max_ms).contains(&event_ms) {
        return Err(RouteError::InvalidEventTime {
            event_ms,
            min_ms: MIN_EVENT_MS,
            max_ms,
        });
    }
    Ok((mention, event_ms))
}

struct BrandState {
    config: BrandConfig,
    learned: Learned,
}

/// What a brand's state has learned from its mentions: everything but its config, and what a
/// snapshot saves.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Learned {
    volume: Detector,
    complaints: Detector,
    spike: Option<Case>,
    /// the last spike case that resolved, and the end of its cooldown (event time): a spike
    /// of the other series that begins before then is the same incident, and re-opens it
    /// (see `on_spike`)
    resolved_spike: Option<(Case, i64)>,
    author_cases: HashMap<String, Case>,
    seen: DedupWindow,
    /// event time of the last sweep of expired author cases
    swept_ms: i64,
}

impl Learned {
    fn new(config: &BrandConfig) -> Learned {
        Learned {
            volume: Detector::new(config.spike.detector.clone()),
            complaints: Detector::new(config.spike.detector.clone()),
            spike: None,
            resolved_spike: None,
            author_cases: HashMap::new(),
            seen: DedupWindow::new(100_000),
            swept_ms: i64::MIN,
        }
    }
}

/// A snapshot of some brands' state, as [`RouterCore::save`] writes it.
#[derive(Deserialize)]
struct Saved {
    /// the format; a snapshot of another version is not read
    version: u32,
    brands: BTreeMap<String, Learned>,
}

/// [`Saved`] as it is written, without copying the state first.
#[derive(Serialize)]
struct SavedRef<'a> {
    version: u32,
    brands: BTreeMap<&'a str, &'a Learned>,
}

const SAVED_VERSION: u32 = 1;

impl Saved {
    /// A snapshot's bytes, if they are one of the version this router writes.
    fn read(bytes: &[u8]) -> Result<Saved, LoadError> {
        let saved: Saved = serde_json::from_slice(bytes)?;
        if saved.version != SAVED_VERSION {
            return Err(LoadError::Version(saved.version));
        }
        Ok(saved)
    }
}

/// One brand of a snapshot, as [`RouterCore::summarize`] tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrandSummary {
    pub brand: String,
    /// author cases held open
    pub mention_cases: usize,
    /// the open spike case's id
    pub spike_case: Option<String>,
    /// whether either detector is in a spike
    pub spiking: bool,
    /// mention ids remembered as counted
    pub seen_mentions: usize,
}

/// Why a snapshot could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("not a router snapshot")]
    Format(#[from] serde_json::Error),
    #[error("snapshot format {0} (this router reads {SAVED_VERSION})")]
    Version(u32),
}

/// Per-brand routing state and logic.
pub struct RouterCore {
    brands: BTreeMap<String, BrandState>,
    case_window_ms: i64,
    max_samples: usize,
    /// rebuilding state from mentions routed before: no metric counts them again
    replaying: bool,
}

/// Seconds as milliseconds, saturating at `i64::MAX`.
fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// Stable 64-bit FNV-1a: case ids must not change between builds or runs.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

impl RouterCore {
    pub fn new(config: &Config) -> RouterCore {
        describe_metrics();
        let brands = config
            .brands
            .iter()
            .map(|b| {
                let state = BrandState {
                    config: b.clone(),
                    learned: Learned::new(b),
                };
                (b.id.clone(), state)
            })
            .collect();
        RouterCore {
            brands,
            case_window_ms: secs_to_ms(config.router.case_window_secs),
            max_samples: config.router.max_samples,
            replaying: false,
        }
    }

    /// The state of `brands` (those configured), as bytes for [`RouterCore::load`].
    pub fn save<'a>(
        &self,
        brands: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<u8>, serde_json::Error> {
        let saved = SavedRef {
            version: SAVED_VERSION,
            brands: brands
                .into_iter()
                .filter_map(|b| Some((b, &self.brands.get(b)?.learned)))
                .collect(),
        };
        serde_json::to_vec(&saved)
    }

    /// Puts back the brands of a [`RouterCore::save`] that are `wanted`; returns their ids. A
    /// brand no longer configured is left out; one whose detector settings changed since keeps its cases and
    /// seen mentions and starts its detectors afresh (a baseline learnt under other settings
    /// does not fit them).
    pub fn load(
        &mut self,
        saved: &[u8],
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, LoadError> {
        let saved = Saved::read(saved)?;
        let mut loaded = Vec::new();
        for (id, mut learned) in saved.brands {
            if !wanted(&id) {
                continue;
            }
            let Some(state) = self.brands.get_mut(&id) else {
                continue;
            };
            let fresh = Learned::new(&state.config);
            if learned.volume.config() != fresh.volume.config() {
                learned.volume = fresh.volume;
                learned.complaints = fresh.complaints;
            }
            state.learned = learned;
            loaded.push(id);
        }
        Ok(loaded)
    }

    /// What a [`RouterCore::save`] holds, brand by brand, without loading it: for
    /// `outcry router-state`.
    pub fn summarize(saved: &[u8]) -> Result<Vec<BrandSummary>, LoadError> {
        let saved = Saved::read(saved)?;
        Ok(saved
            .brands
            .into_iter()
            .map(|(brand, l)| BrandSummary {
                brand,
                mention_cases: l.author_cases.len(),
                spike_case: l.spike.map(|c| c.case_id),
                spiking: l.volume.is_spiking() || l.complaints.is_spiking(),
                seen_mentions: l.seen.len(),
            })
            .collect())
    }

    /// Starts `brand` afresh, as at the router's start.
    pub fn reset(&mut self, brand: &str) {
        if let Some(state) = self.brands.get_mut(brand) {
            state.learned = Learned::new(&state.config);
        }
    }

    /// While on, routing changes state as always but counts nothing in the metrics: for
    /// rebuilding state from mentions routed before.
    pub fn set_replaying(&mut self, on: bool) {
        self.replaying = on;
    }

    /// Routes one scored mention on the routing clock `now_ms`; returns the escalation
    /// records to write, in order. A record without a mention, a mention id or a sane event
    /// time is an error (a dead letter), and changes no state.
    pub fn route(
        &mut self,
        sm: &ScoredMention,
        now_ms: i64,
    ) -> Result<Vec<Escalation>, RouteError> {
        let case_window_ms = self.case_window_ms;
        let max_samples = self.max_samples;
        let counting = !self.replaying;
        let state = self
            .brands
            .get_mut(&sm.brand_id)
            .ok_or_else(|| RouteError::UnknownBrand(sm.brand_id.clone()))?;
        let (mention, event_ms) = checked_mention(sm, now_ms)?;
        let brand = state.config.id.clone();
        if state.learned.seen.contains(&mention.id) {
            if counting {
                metrics::counter!(names::DUPLICATES).increment(1);
            }
            return Ok(Vec::new());
        }
        state.learned.seen.insert(&mention.id);
        let received_ms = millis_from_timestamp(mention.receive_time.as_ref());
        // Event time, as far as the detectors and the sweep are concerned, never runs ahead
        // of the clock by more than the allowed lateness: one mention stamped an hour ahead
        // (which the ingestor accepts) would otherwise close the buckets still filling and
        // make every correctly timed mention of the next hour late.
        let lateness_ms = secs_to_ms(state.config.spike.detector.allowed_lateness_secs);
        let clock_ms = event_ms.min(now_ms.saturating_add(lateness_ms));
        if clock_ms < event_ms && counting {
            metrics::counter!(names::CLAMPED, "brand" => brand.clone()).increment(1);
        }
        let mut out = Vec::new();

        if state.config.spike.enabled {
            let mut events: Vec<(u8, SpikeEvent)> = Vec::new();
            // the event time was checked above, so an error here is a late mention; it still
            // goes through the rules
            if state.learned.volume.observe(clock_ms, 1).is_err() && counting {
                metrics::counter!(names::LATE, "brand" => brand.clone()).increment(1);
            }
            events.extend(
                state
                    .learned
                    .volume
                    .advance(clock_ms)
                    .into_iter()
                    .map(|e| (SERIES_VOLUME, e)),
            );
            if sm.is_complaint {
                let _ = state.learned.complaints.observe(clock_ms, 1);
            }
            events.extend(
                state
                    .learned
                    .complaints
                    .advance(clock_ms)
                    .into_iter()
                    .map(|e| (SERIES_COMPLAINTS, e)),
            );
            for (series, event) in events {
                if let Some(record) = state.on_spike(series, &event, now_ms, received_ms) {
                    out.push(record);
                }
            }
        }

        // every mention during a spike counts towards the spike case
        let in_spike = match state.learned.spike.as_mut() {
            Some(spike) => {
                spike.count(sm, max_samples);
                true
            }
            None => false,
        };
        if let Some(rule) = matching_rule(&state.config.rules, sm).cloned() {
            let priority = Priority::from_level(rule.priority.min(priority_level(sm.priority)));
            // only a rule that is itself priority 1 (legal, safety) opens its own case during a
            // spike; a pile-on the scorer rates urgent is still the same incident
            if in_spike && rule.priority != 1 {
                if counting {
                    metrics::counter!(names::ABSORBED, "brand" => brand.clone()).increment(1);
                }
            } else {
                out.push(state.on_match(
                    &rule,
                    priority,
                    sm,
                    now_ms,
                    received_ms,
                    case_window_ms,
                    max_samples,
                ));
            }
        }

        // expired author cases go once event time has moved on by a quarter of the window,
        // so the open-cases gauge follows time, not traffic
        if clock_ms
            >= state
                .learned
                .swept_ms
                .saturating_add((case_window_ms / 4).max(1))
        {
            state
                .learned
                .author_cases
                .retain(|_, c| c.last_seen_ms.saturating_add(case_window_ms) >= clock_ms);
            state.learned.swept_ms = clock_ms;
        }
        metrics::gauge!(names::OPEN_CASES, "brand" => brand.clone(), "kind" => "mention")
            .set(state.learned.author_cases.len() as f64);
        metrics::gauge!(names::OPEN_CASES, "brand" => brand.clone(), "kind" => "spike")
            .set(f64::from(u8::from(state.learned.spike.is_some())));
        for e in out.iter().filter(|_| counting) {
            let kind = if e.kind == EscalationKind::Spike as i32 {
                "spike"
            } else {
                "mention"
            };
            let st = match CaseState::try_from(e.state) {
                Ok(CaseState::Open) => "open",
                Ok(CaseState::Updated) => "updated",
                _ => "resolved",
            };
            let priority = Priority::try_from(e.priority).map_or("unspecified", Priority::label);
            metrics::counter!(names::ESCALATIONS, "brand" => brand.clone(), "kind" => kind, "state" => st, "priority" => priority).increment(1);
        }
        Ok(out)
    }

    /// Open cases, for tests and introspection.
    pub fn open_cases(&self, brand: &str) -> usize {
        self.brands.get(brand).map_or(0, |s| {
            s.learned.author_cases.len() + usize::from(s.learned.spike.is_some())
        })
    }
}

fn priority_level(p: i32) -> u8 {
    match Priority::try_from(p) {
        Ok(Priority::P1) => 1,
        Ok(Priority::P2) => 2,
        Ok(Priority::P3) => 3,
        _ => 4,
    }
}

/// The first rule whose every set condition holds.
pub fn matching_rule<'a>(rules: &'a [RuleConfig], sm: &ScoredMention) -> Option<&'a RuleConfig> {
    let compound = sm.sentiment.as_ref().map_or(0.0, |s| s.compound);
    let followers = sm
        .mention
        .as_ref()
        .and_then(|m| m.author.as_ref())
        .map_or(0, |a| a.followers);
    rules.iter().find(|r| {
        r.min_complaint_probability
            .is_none_or(|p| sm.complaint_probability >= p)
            && r.max_compound.is_none_or(|c| compound <= c)
            && r.min_followers.is_none_or(|f| followers >= f)
            && (r.signals_any.is_empty()
                || sm.signals.iter().any(|s| r.signals_any.contains(&s.name)))
    })
}

#[cfg(test)]
mod tests;
