//! The scorer service: consumes `Mention`s, scores each one with `outcry-scoring` (the same
//! code `outcry score` runs) and writes one `ScoredMention` per mentioned brand, keyed by
//! brand id so that one router instance owns a brand's state.

use outcry_proto::v1::{Mention, Priority, ScoredMention, Sentiment, Signal, TermContribution};
use outcry_proto::Message as _;
use outcry_runtime::pipeline::{self, Output, PipelineSpec, Processor, Record, Reject};
use outcry_runtime::{Config, Shutdown};
use outcry_scoring::{MentionInput, Scorer, ScoringError};
use std::sync::Arc;

const SCORED: &str = "outcry_scorer_mentions_scored_total";
const COMPLAINTS: &str = "outcry_scorer_complaints_total";
const SIGNALS: &str = "outcry_scorer_signals_total";
const MODEL_INFO: &str = "outcry_scorer_model_info";

#[derive(Debug, thiserror::Error)]
pub enum ScorerError {
    #[error("cannot load the complaint model")]
    Model(#[source] ScoringError),
    #[error("scorer pipeline failed")]
    Pipeline(#[from] pipeline::PipelineError),
}

/// Scores encoded mentions into encoded scored mentions.
pub struct ScoreProcessor {
    scorer: Scorer,
    topic: Arc<str>,
}

impl ScoreProcessor {
    pub fn new(config: &Config) -> Result<ScoreProcessor, ScorerError> {
        metrics::describe_counter!(SCORED, "scored mentions written, by priority");
        metrics::describe_counter!(
            COMPLAINTS,
            "scored mentions written that the model classified as complaints"
        );
        metrics::describe_counter!(SIGNALS, "mentions on which a signal fired, by signal");
        metrics::describe_gauge!(MODEL_INFO, "the complaint model scoring, always 1");
        let scorer = match &config.scorer.model_path {
            Some(path) => Scorer::from_model_file(path),
            None => Scorer::from_embedded(),
        }
        .map_err(ScorerError::Model)?;
        tracing::info!(
            model_version = scorer.model_version(),
            "complaint model loaded"
        );
        // which model a fleet runs, for dashboards and for checking a rollout
        metrics::gauge!(MODEL_INFO, "model_version" => scorer.model_version().to_string()).set(1.0);
        Ok(ScoreProcessor {
            scorer,
            topic: config.kafka.topics.scored.as_str().into(),
        })
    }

    /// Scores one mention; one output per brand it names.
    pub fn score(&self, mention: Mention) -> Result<Vec<ScoredMention>, Reject> {
        if mention.brand_ids.is_empty() {
            return Err(Reject::new(
                "no_brand",
                format!("mention {} names no brand", mention.id),
            ));
        }
        let author = mention.author.clone().unwrap_or_default();
        let engagement = mention.engagement.unwrap_or_default();
        let score = self.scorer.score(&MentionInput {
            text: &mention.text,
            author_followers: author.followers,
            author_verified: author.verified,
            likes: engagement.likes,
            reposts: engagement.reposts,
            replies: engagement.replies,
            quotes: engagement.quotes,
        });
        let priority = Priority::from_level(score.priority.as_u8());
        // one record is written per brand; complaints are counted per record too, so that
        // their ratio to the scored counter is the complaint rate
        let records = mention.brand_ids.len() as u64;
        metrics::counter!(SCORED, "priority" => score.priority.as_str()).increment(records);
        if score.is_complaint {
            metrics::counter!(COMPLAINTS).increment(records);
        }
        for signal in &score.signals {
            metrics::counter!(SIGNALS, "signal" => signal.kind.as_str()).increment(1);
        }
        let template = ScoredMention {
            mention: None,
            brand_id: String::new(),
            sentiment: Some(Sentiment {
                compound: score.sentiment.compound,
                pos: score.sentiment.pos,
                neu: score.sentiment.neu,
                neg: score.sentiment.neg,
            }),
            complaint_probability: score.complaint_probability,
            is_complaint: score.is_complaint,
            urgency: score.urgency,
            priority: priority as i32,
            author_influence: score.influence,
            // the score is ours: its strings move into the message instead of being copied
            signals: score
                .signals
                .into_iter()
                .map(|s| Signal {
                    name: s.kind.as_str().to_string(),
                    evidence: s.evidence,
                })
                .collect(),
            top_terms: score
                .top_terms
                .into_iter()
                .map(|(term, weight)| TermContribution { term, weight })
                .collect(),
            explanation: score.explanation,
            model_version: self.scorer.model_version().to_string(),
            route_hint: score.route.unwrap_or_default().to_string(),
        };
        let brands = mention.brand_ids.clone();
        let mention = Some(mention);
        Ok(brands
            .into_iter()
            .map(|brand_id| ScoredMention {
                mention: mention.clone(),
                brand_id,
                ..template.clone()
            })
            .collect())
    }
}

/// Every reason the scorer dead-letters a record for, so that each reason's counter exists
/// at 0 from the start (see `Processor::dead_letter_reasons`).
pub const DEAD_LETTER_REASONS: &[&str] = &["decode_error", "no_brand"];

impl Processor for ScoreProcessor {
    fn dead_letter_reasons(&self) -> &'static [&'static str] {
        DEAD_LETTER_REASONS
    }

    async fn process(&mut self, record: &Record<'_>) -> Result<Vec<Output>, Reject> {
        let mention = Mention::decode(record.payload)
            .map_err(|e| Reject::new("decode_error", format!("not an outcry.v1.Mention: {e}")))?;
        Ok(self
            .score(mention)?
            .into_iter()
            .map(|scored| Output {
                topic: self.topic.clone(),
                partition: None,
                key: scored.brand_id.clone().into_bytes(),
                payload: scored.encode_to_vec(),
            })
            .collect())
    }
}

/// Consumes mentions and writes scored mentions until shutdown.
pub async fn run(config: Config, shutdown: Shutdown) -> Result<(), ScorerError> {
    let processor = ScoreProcessor::new(&config)?;
    let spec = PipelineSpec::new(&config, "scorer", &config.kafka.topics.mentions);
    pipeline::run(&config.kafka, spec, processor, shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use outcry_proto::v1::Author;

    fn processor() -> ScoreProcessor {
        ScoreProcessor::new(&Config::default()).unwrap()
    }

    #[test]
    fn a_mention_of_two_brands_is_scored_once_per_brand_with_the_model_version() {
        let p = processor();
        let out = p
            .score(Mention {
                id: "x:1".into(),
                text:
                    "@acme @globex my flight was cancelled and nobody answers, third time asking!"
                        .into(),
                author: Some(Author {
                    followers: 50_000,
                    ..Default::default()
                }),
                brand_ids: vec!["acme".into(), "globex".into()],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].brand_id, "acme");
        assert_eq!(out[1].brand_id, "globex");
        assert!(
            out[0].model_version.starts_with("complaint-"),
            "{}",
            out[0].model_version
        );
        assert!(
            out[0].complaint_probability > 0.5,
            "{}",
            out[0].complaint_probability
        );
        assert!(out[0].sentiment.unwrap().compound < 0.0);
        assert!(
            out[0].signals.iter().any(|s| s.name == "repeated_contact"),
            "{:?}",
            out[0].signals
        );
    }

    #[tokio::test]
    async fn every_dead_letter_reason_is_declared_to_the_pipeline() {
        let mut p = processor();
        let record = |payload: &'static [u8]| Record {
            topic: "t",
            payload,
            ..Record::default()
        };
        let undecodable = p.process(&record(b"\xff\xff\xff")).await.unwrap_err();
        let no_brand = Mention {
            id: "x:1".into(),
            text: "hello".into(),
            ..Default::default()
        }
        .encode_to_vec();
        let unbranded = p
            .process(&Record {
                payload: &no_brand,
                ..record(b"")
            })
            .await
            .unwrap_err();
        assert_eq!(
            p.dead_letter_reasons(),
            &[undecodable.reason, unbranded.reason]
        );
    }

    #[test]
    fn the_model_version_signals_and_complaints_reach_the_metrics() {
        // a recorder of this test's own, so that other tests' scores do not count
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let version = metrics::with_local_recorder(&recorder, || {
            let p = processor();
            for (text, brands) in [
                ("@acme lost my bag and no refund, calling my lawyer", 2),
                ("my lawyer will hear about this, worst service ever", 1),
                ("great flight, thank you", 1),
            ] {
                p.score(Mention {
                    id: "x:1".into(),
                    text: text.into(),
                    brand_ids: (0..brands).map(|b| format!("brand-{b}")).collect(),
                    ..Default::default()
                })
                .unwrap();
            }
            p.scorer.model_version().to_string()
        });
        let text = handle.render();
        let value = |series: &str| -> f64 {
            outcry_runtime::telemetry::sample_value(&text, series)
                .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
        };
        assert_eq!(
            value(&format!(
                r#"outcry_scorer_model_info{{model_version="{version}"}}"#
            )),
            1.0
        );
        // per mention, once however many brands it names
        assert_eq!(
            value(r#"outcry_scorer_signals_total{signal="legal_threat"}"#),
            2.0
        );
        // per record written, as the scored counter: the two complaints name three brands
        assert_eq!(value("outcry_scorer_complaints_total"), 3.0);
        let scored =
            outcry_runtime::telemetry::sample_sum(&text, "outcry_scorer_mentions_scored_total");
        assert_eq!(scored, 4.0, "{text}");
    }

    #[test]
    fn a_mention_without_brands_is_rejected_with_a_reason() {
        let err = processor()
            .score(Mention {
                id: "x:1".into(),
                text: "hello".into(),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.reason, "no_brand");
    }

    #[tokio::test]
    async fn undecodable_bytes_become_a_dead_letter_reason() {
        let mut p = processor();
        let record = Record {
            topic: "t",
            payload: b"\x0a\xff\xff\xff\xff",
            ..Record::default()
        };
        assert_eq!(p.process(&record).await.unwrap_err().reason, "decode_error");
    }
}
