//! Cases: how a matching mention opens or updates its author's case, how spike events open,
//! update, resolve and re-open the brand's spike case, and the escalation record each change
//! writes.

use super::*;

pub(super) const SERIES_VOLUME: u8 = 1;
pub(super) const SERIES_COMPLAINTS: u8 = 2;

fn series_name(series: u8) -> &'static str {
    if series == SERIES_COMPLAINTS {
        "complaints"
    } else {
        "mentions"
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Case {
    pub(super) case_id: String,
    #[serde(with = "kind_number")]
    pub(super) kind: EscalationKind,
    pub(super) sequence: u64,
    pub(super) team: String,
    #[serde(with = "priority_number")]
    pub(super) priority: Priority,
    pub(super) sla_due_ms: i64,
    pub(super) rule: String,
    pub(super) mention_count: u64,
    pub(super) authors: HashSet<String>,
    pub(super) reach: u64,
    pub(super) samples: VecDeque<String>,
    pub(super) first_seen_ms: i64,
    pub(super) last_seen_ms: i64,
    /// spiking series, as a bit set (spike cases only)
    pub(super) active_series: u8,
}

/// The protobuf enums of a saved case, as their numbers (the wire contract), so that a
/// renamed variant does not change what a snapshot means.
mod kind_number {
    use outcry_proto::v1::EscalationKind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(kind: &EscalationKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(*kind as i32)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<EscalationKind, D::Error> {
        let n = i32::deserialize(d)?;
        EscalationKind::try_from(n)
            .map_err(|_| serde::de::Error::custom(format!("no escalation kind {n}")))
    }
}

mod priority_number {
    use outcry_proto::v1::Priority;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(priority: &Priority, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(*priority as i32)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Priority, D::Error> {
        let n = i32::deserialize(d)?;
        Priority::try_from(n).map_err(|_| serde::de::Error::custom(format!("no priority {n}")))
    }
}

/// The author's stable id, or the handle when the source gave no id (empty when neither).
fn author_key(m: &Mention) -> &str {
    match m.author.as_ref() {
        Some(a) if !a.id.is_empty() => &a.id,
        Some(a) => &a.handle,
        None => "",
    }
}

impl Case {
    pub(super) fn count(&mut self, sm: &ScoredMention, max_samples: usize) {
        let Some(m) = sm.mention.as_ref() else { return };
        let event_ms = millis_from_timestamp(m.event_time.as_ref());
        self.mention_count += 1;
        let followers = m.author.as_ref().map_or(0, |a| a.followers);
        // bounded: past 100k distinct authors the count stops growing rather than memory
        if self.authors.len() < 100_000 && self.authors.insert(author_key(m).to_string()) {
            self.reach = self.reach.saturating_add(followers);
        }
        self.samples.push_back(m.id.clone());
        while self.samples.len() > max_samples {
            self.samples.pop_front();
        }
        self.first_seen_ms = if self.first_seen_ms == 0 {
            event_ms
        } else {
            self.first_seen_ms.min(event_ms)
        };
        self.last_seen_ms = self.last_seen_ms.max(event_ms);
    }
}

impl BrandState {
    fn team_for(&self, rule_team: Option<&String>, route_hint: &str) -> String {
        if !route_hint.is_empty() {
            return route_hint.to_string();
        }
        rule_team
            .cloned()
            .unwrap_or_else(|| self.config.team.clone())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_match(
        &mut self,
        rule: &RuleConfig,
        priority: Priority,
        sm: &ScoredMention,
        now_ms: i64,
        received_ms: i64,
        case_window_ms: i64,
        max_samples: usize,
    ) -> Escalation {
        let no_mention = Mention::default();
        let mention = sm.mention.as_ref().unwrap_or(&no_mention);
        let author = mention.author.clone().unwrap_or_default();
        // an anonymous mention is a case of its own
        let author_key = match author_key(mention) {
            "" => mention.id.clone(),
            key => key.to_string(),
        };
        let event_ms = millis_from_timestamp(mention.event_time.as_ref());
        let team = self.team_for(rule.team.as_ref(), &sm.route_hint);
        let brand_id = self.config.id.clone();
        let brand_name = if self.config.name.is_empty() {
            brand_id.clone()
        } else {
            self.config.name.clone()
        };
        let existing = self
            .learned
            .author_cases
            .get_mut(&author_key)
            .filter(|c| c.last_seen_ms.saturating_add(case_window_ms) >= event_ms);
        let (case, state) = match existing {
            Some(case) => {
                // a more urgent mention raises the case, it never lowers it
                if priority_level(priority as i32) < priority_level(case.priority as i32) {
                    case.priority = priority;
                    case.team = team;
                    case.sla_due_ms = case
                        .sla_due_ms
                        .min(now_ms + i64::from(rule.sla_minutes) * 60_000);
                    case.rule = rule.name.clone();
                }
                (case, CaseState::Updated)
            }
            None => {
                let case = Case {
                    case_id: format!(
                        "{brand_id}-m-{:016x}",
                        fnv1a(&[&brand_id, "mention", &author_key, &mention.id])
                    ),
                    kind: EscalationKind::Mention,
                    sequence: 0,
                    team,
                    priority,
                    sla_due_ms: now_ms + i64::from(rule.sla_minutes) * 60_000,
                    rule: rule.name.clone(),
                    mention_count: 0,
                    authors: HashSet::new(),
                    reach: 0,
                    samples: VecDeque::new(),
                    first_seen_ms: 0,
                    last_seen_ms: 0,
                    active_series: 0,
                };
                self.learned.author_cases.insert(author_key.clone(), case);
                let case = self
                    .learned
                    .author_cases
                    .get_mut(&author_key)
                    .expect("inserted above");
                (case, CaseState::Open)
            }
        };
        case.count(sm, max_samples);
        let handle = if author.handle.is_empty() {
            "an author".to_string()
        } else {
            format!("@{}", author.handle)
        };
        let signals: Vec<&str> = sm.signals.iter().map(|s| s.name.as_str()).collect();
        let summary = format!(
            "{brand_name}: {} from {handle} ({} followers){}",
            if sm.is_complaint {
                "complaint"
            } else {
                "mention"
            },
            author.followers,
            if signals.is_empty() {
                String::new()
            } else {
                format!(", {}", signals.join(", "))
            },
        );
        let text = format!(
            "rule {:?} matched: complaint probability {:.2}, sentiment {:.2}, influence {:.2}. {}",
            rule.name,
            sm.complaint_probability,
            sm.sentiment.as_ref().map_or(0.0, |s| s.compound),
            sm.author_influence,
            sm.explanation
        );
        let explanation = Explanation {
            rule: rule.name.clone(),
            sentiment: sm.sentiment,
            complaint_probability: sm.complaint_probability,
            author_influence: sm.author_influence,
            signals: sm.signals.clone(),
            top_terms: sm.top_terms.clone(),
            spike: None,
            text,
        };
        emit(
            case,
            &brand_id,
            state,
            summary,
            explanation,
            now_ms,
            received_ms,
        )
    }

    pub(super) fn on_spike(
        &mut self,
        series: u8,
        event: &SpikeEvent,
        now_ms: i64,
        received_ms: i64,
    ) -> Option<Escalation> {
        let brand_id = self.config.id.clone();
        let brand_name = if self.config.name.is_empty() {
            brand_id.clone()
        } else {
            self.config.name.clone()
        };
        let rule = &self.config.spike;
        let state = match (event.phase, self.learned.spike.as_mut()) {
            (SpikePhase::Opened, None) => {
                let priority = if event.severity == outcry_spike::Severity::Critical {
                    1
                } else {
                    rule.priority
                };
                let case_id = format!(
                    "{brand_id}-s-{:016x}",
                    fnv1a(&[&brand_id, "spike", &event.started_ms.to_string()])
                );
                // Each series' detector cools down on its own, so the other series can spike
                // after this brand's case resolved: from the same first bucket (its spike
                // confirmed only later), or from a later one within the cooldown. Either is
                // the same incident, and the case re-opens with its sequence going on. A new
                // case from the same first bucket would even have the same case id and start
                // its sequence again, repeating the escalation ids `:1`, `:2` with other
                // contents, which a CRM deduplicating on them would drop.
                let reopened =
                    self.learned
                        .resolved_spike
                        .take()
                        .filter(|(c, cooling_until_ms)| {
                            c.case_id == case_id || event.started_ms < *cooling_until_ms
                        });
                if let Some((mut case, _)) = reopened {
                    case.active_series = series;
                    // the more urgent of the two
                    case.priority =
                        Priority::from_level(priority_level(case.priority as i32).min(priority));
                    // someone has to look again: the SLA runs from the re-opening
                    case.sla_due_ms = now_ms + i64::from(rule.sla_minutes) * 60_000;
                    case.last_seen_ms = case.last_seen_ms.max(event.bucket_start_ms);
                    self.learned.spike = Some(case);
                } else {
                    self.learned.spike = Some(Case {
                        case_id,
                        kind: EscalationKind::Spike,
                        sequence: 0,
                        team: rule
                            .team
                            .clone()
                            .unwrap_or_else(|| self.config.team.clone()),
                        priority: Priority::from_level(priority),
                        sla_due_ms: now_ms + i64::from(rule.sla_minutes) * 60_000,
                        rule: format!("spike.{}", series_name(series)),
                        // the buckets that opened it; mentions after this count one by one
                        mention_count: event.observed,
                        authors: HashSet::new(),
                        reach: 0,
                        samples: VecDeque::new(),
                        first_seen_ms: event.started_ms,
                        last_seen_ms: event.bucket_start_ms,
                        active_series: series,
                    });
                }
                CaseState::Open
            }
            (SpikePhase::Opened | SpikePhase::Updated, Some(case)) => {
                case.active_series |= series;
                if event.severity == outcry_spike::Severity::Critical {
                    case.priority = Priority::P1;
                }
                case.last_seen_ms = case.last_seen_ms.max(event.bucket_start_ms);
                CaseState::Updated
            }
            (SpikePhase::Resolved, Some(case)) => {
                case.active_series &= !series;
                if case.active_series == 0 {
                    CaseState::Resolved
                } else {
                    CaseState::Updated
                }
            }
            // an update or resolution for a series whose case is already closed
            (_, None) => return None,
        };
        let case = self.learned.spike.as_mut()?;
        let minutes = event.bucket_secs / 60;
        let summary = format!(
            "{brand_name}: {} spike {}, {} in {minutes} min vs {:.0} expected (z {:.1}, {})",
            series_name(series),
            match state {
                CaseState::Open => "started",
                CaseState::Resolved => "over",
                _ => "continues",
            },
            event.observed,
            event.expected,
            event.deviation,
            event.severity.as_str(),
        );
        let explanation = Explanation {
            rule: case.rule.clone(),
            spike: Some(SpikeExplanation {
                observed: event.observed,
                expected: event.expected,
                deviation: event.deviation,
                anomaly_score: event.anomaly_score,
                severity: event.severity.as_str().to_string(),
                bucket_start: Some(timestamp_from_millis(event.bucket_start_ms)),
                bucket_seconds: u32::try_from(event.bucket_secs).unwrap_or(u32::MAX),
                duration_buckets: event.duration_buckets,
                series: series_name(series).to_string(),
            }),
            text: format!(
                "{} {} in the bucket starting {}, against a baseline of {:.1} for that hour and weekday; robust z-score {:.1}, lasting {} buckets",
                event.observed,
                series_name(series),
                outcry_runtime::time::format_rfc3339_millis(event.bucket_start_ms),
                event.expected,
                event.deviation,
                event.duration_buckets
            ),
            ..Default::default()
        };
        let record = emit(
            case,
            &brand_id,
            state,
            summary,
            explanation,
            now_ms,
            received_ms,
        );
        if state == CaseState::Resolved {
            // the detector's own cooldown, from the end of the bucket that resolved the case
            let cooling_until_ms = event
                .bucket_start_ms
                .saturating_add(secs_to_ms(event.bucket_secs))
                .saturating_add(secs_to_ms(self.config.spike.detector.cooldown_secs));
            self.learned.resolved_spike = self
                .learned
                .spike
                .take()
                .map(|case| (case, cooling_until_ms));
        }
        Some(record)
    }
}

fn emit(
    case: &mut Case,
    brand_id: &str,
    state: CaseState,
    summary: String,
    explanation: Explanation,
    now_ms: i64,
    received_ms: i64,
) -> Escalation {
    case.sequence += 1;
    Escalation {
        escalation_id: format!("{}:{}", case.case_id, case.sequence),
        case_id: case.case_id.clone(),
        kind: case.kind as i32,
        state: state as i32,
        sequence: case.sequence,
        brand_id: brand_id.to_string(),
        team: case.team.clone(),
        priority: case.priority as i32,
        sla_due: Some(timestamp_from_millis(case.sla_due_ms)),
        summary,
        explanation: Some(explanation),
        sample_mention_ids: case.samples.iter().cloned().collect(),
        mention_count: case.mention_count,
        unique_authors: case.authors.len() as u64,
        reach: case.reach,
        first_seen: Some(timestamp_from_millis(case.first_seen_ms)),
        last_seen: Some(timestamp_from_millis(case.last_seen_ms)),
        emitted_at: Some(timestamp_from_millis(now_ms)),
        trigger_received_at: (received_ms > 0).then(|| timestamp_from_millis(received_ms)),
    }
}
