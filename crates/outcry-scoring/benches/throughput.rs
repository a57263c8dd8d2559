//! Single-thread scorer throughput on a fixed corpus (the complaints training tweets,
//! repeated). Run by `scripts/bench-scoring.sh`, pinned to one core next to the Python stack.
//!
//! Two measurements, each the median of `--runs`:
//! - `rust_texts_per_sec`: [`Scorer::score`], everything a `ScoredMention` carries (sentiment,
//!   complaint probability, signals, influence, priority, top terms, explanation);
//! - `rust_core_texts_per_sec`: only what the Python stack computes, VADER's four scores and
//!   the complaint probability with its verdict, through the same library calls the scorer
//!   makes (no signals, priority, top terms or explanation).
//!
//! Arguments: `--data <csv> --repeat <n> --runs <n>`.

use std::hint::black_box;
use std::time::Instant;

use outcry_scoring::features::{normalize_into, Normalized};
use outcry_scoring::model::PredictScratch;
use outcry_scoring::vader::SentimentAnalyzer;
use outcry_scoring::{ComplaintModel, MentionInput, Scorer, EMBEDDED_MODEL};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = arg("--data").unwrap_or_else(|| "../../../shared/data/complaints/train.csv".into());
    let repeat: usize = arg("--repeat").and_then(|s| s.parse().ok()).unwrap_or(10);
    let runs: usize = arg("--runs").and_then(|s| s.parse().ok()).unwrap_or(5);
    let examples = outcry_scoring::data::read_examples(std::path::Path::new(&data))?;
    let corpus: Vec<&str> = (0..repeat)
        .flat_map(|_| examples.iter().map(|e| e.text.as_str()))
        .collect();
    let scorer = Scorer::from_embedded()?;
    let full = median_rate("rust", runs, corpus.len(), || {
        let mut complaints = 0usize;
        for (i, t) in corpus.iter().enumerate() {
            let s = scorer.score(&MentionInput {
                text: t,
                author_followers: (i as u64 * 37) % 10_000,
                likes: i as u64 % 50,
                ..MentionInput::default()
            });
            complaints += usize::from(s.is_complaint);
            black_box(&s);
        }
        complaints
    });
    println!("rust_texts_per_sec {full:.0}");

    let analyzer = SentimentAnalyzer::embedded();
    let model = ComplaintModel::from_bytes(EMBEDDED_MODEL)?;
    let mut norm = Normalized::default();
    let mut scratch = PredictScratch::default();
    let core = median_rate("rust core", runs, corpus.len(), || {
        let mut complaints = 0usize;
        for t in &corpus {
            let sentiment = analyzer.polarity_scores(t);
            normalize_into(t, &mut norm);
            let p = model.predict_with(&norm, &sentiment, 0, &mut scratch);
            complaints += usize::from(p.probability >= model.threshold);
            black_box((&sentiment, &p));
        }
        complaints
    });
    println!("rust_core_texts_per_sec {core:.0}");
    Ok(())
}

/// Runs `pass` (one pass over the corpus, returning its complaint count) once to warm up, then
/// `runs` times; the median rate in texts per second.
fn median_rate(name: &str, runs: usize, texts: usize, mut pass: impl FnMut() -> usize) -> f64 {
    black_box(pass());
    let mut rates = Vec::with_capacity(runs);
    for run in 0..runs {
        let start = Instant::now();
        let complaints = pass();
        let rate = texts as f64 / start.elapsed().as_secs_f64();
        eprintln!(
            "{name} run {}: {rate:.0} texts/s ({complaints} complaints of {texts})",
            run + 1
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}
