//! Where the scorer's time goes, stage by stage, for throughput work.
//!
//! ```text
//! stages time [--data CSV] [--same]    # ns per text of each stage, best of 7 passes
//! stages probe STAGE [--data CSV] [--passes N]
//!                                      # N passes (1) of one stage, to run under callgrind:
//!   valgrind --tool=callgrind --branch-sim=yes --toggle-collect='stages::run_*' \
//!     target/release/examples/stages probe vader
//! ```
//!
//! The stages are cumulative where a stage needs the one before (the model needs normalised
//! text), so differences between lines are what a stage adds. The corpus is the training
//! file repeated ten times (as in `benches/throughput.rs`); `--same` repeats one tweet
//! instead, which keeps the caches warm and the branches learnt: a lower bound.

use std::hint::black_box;
use std::time::Instant;

use outcry_scoring::features::{normalize_into, Normalized};
use outcry_scoring::model::PredictScratch;
use outcry_scoring::signals::SignalDetector;
use outcry_scoring::vader::SentimentAnalyzer;
use outcry_scoring::{ComplaintModel, MentionInput, Scorer, Sentiment, EMBEDDED_MODEL};

struct Stages {
    analyzer: &'static SentimentAnalyzer,
    model: ComplaintModel,
    detector: SignalDetector,
    scorer: Scorer,
    norm: Normalized,
    scratch: PredictScratch,
    neutral: Sentiment,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).map(|i| i + 1);
    let data = flag("--data")
        .and_then(|i| args.get(i).cloned())
        .unwrap_or_else(|| "../shared/data/complaints/train.csv".into());
    let examples = outcry_scoring::data::read_examples(std::path::Path::new(&data))?;
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let mut st = Stages {
        analyzer: SentimentAnalyzer::embedded(),
        model: ComplaintModel::from_bytes(EMBEDDED_MODEL)?,
        detector: SignalDetector::new(),
        scorer: Scorer::from_embedded()?,
        norm: Normalized::default(),
        scratch: PredictScratch::default(),
        neutral: Sentiment::default(),
    };
    match args.first().map(String::as_str) {
        Some("probe") => {
            let stage = args.get(1).map(String::as_str).unwrap_or("score");
            // `--passes N` for a sampling profiler, which needs a longer run
            let passes = flag("--passes")
                .and_then(|i| args.get(i))
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            for _ in 0..passes {
                for t in &texts {
                    st.stage(stage, t, 0);
                }
            }
        }
        _ => {
            let corpus: Vec<&str> = if flag("--same").is_some() {
                let t = texts.iter().find(|t| t.len() > 88 && t.is_ascii());
                vec![t.copied().unwrap_or_default(); 10 * texts.len()]
            } else {
                (0..10).flat_map(|_| texts.iter().copied()).collect()
            };
            for stage in STAGES {
                let ns = best_of(7, || {
                    for (i, t) in corpus.iter().enumerate() {
                        st.stage(stage, t, i);
                    }
                });
                println!("{stage:24} {:8.1} ns/text", ns * 1e9 / corpus.len() as f64);
            }
        }
    }
    Ok(())
}

const STAGES: [&str; 8] = [
    "vader",
    "normalize",
    "predict",
    "predict+attribute",
    "predict+top5",
    "signals",
    "signals+quote",
    "score",
];

impl Stages {
    fn stage(&mut self, stage: &str, text: &str, i: usize) {
        match stage {
            "vader" => {
                black_box(run_vader(self.analyzer, text));
            }
            "normalize" => run_normalize(text, &mut self.norm),
            "predict" => self.predict(text, 0),
            "predict+attribute" => self.predict(text, 1),
            "predict+top5" => self.predict(text, 5),
            "signals" => {
                normalize_into(text, &mut self.norm);
                black_box(run_signals(&self.detector, &self.norm));
            }
            "signals+quote" => {
                normalize_into(text, &mut self.norm);
                black_box(run_signals_quoted(&self.detector, text, &self.norm));
            }
            _ => {
                black_box(run_score(&self.scorer, text, i));
            }
        }
    }

    fn predict(&mut self, text: &str, k: usize) {
        normalize_into(text, &mut self.norm);
        let p = run_predict(&self.model, &self.norm, &self.neutral, k, &mut self.scratch);
        black_box(p);
    }
}

fn best_of(runs: usize, mut pass: impl FnMut()) -> f64 {
    pass();
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            pass();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

#[inline(never)]
fn run_vader(a: &SentimentAnalyzer, t: &str) -> Sentiment {
    a.polarity_scores(t)
}

#[inline(never)]
fn run_normalize(t: &str, n: &mut Normalized) {
    normalize_into(t, n);
    black_box(n);
}

#[inline(never)]
fn run_predict(
    m: &ComplaintModel,
    n: &Normalized,
    s: &Sentiment,
    k: usize,
    scratch: &mut PredictScratch,
) -> outcry_scoring::model::Prediction {
    m.predict_with(n, s, k, scratch)
}

#[inline(never)]
fn run_signals(d: &SignalDetector, n: &Normalized) -> Vec<outcry_scoring::Signal> {
    d.detect(n)
}

#[inline(never)]
fn run_signals_quoted(d: &SignalDetector, t: &str, n: &Normalized) -> Vec<outcry_scoring::Signal> {
    d.detect_in(t, n)
}

#[inline(never)]
fn run_score(s: &Scorer, t: &str, i: usize) -> outcry_scoring::Score {
    s.score(&MentionInput {
        text: t,
        author_followers: (i as u64 * 37) % 10_000,
        likes: i as u64 % 50,
        ..MentionInput::default()
    })
}
