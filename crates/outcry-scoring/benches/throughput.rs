//! Single-thread scorer throughput on a fixed corpus (the complaints training tweets,
//! repeated). Run by `scripts/bench-scoring.sh`, pinned to one core next to the Python stack.
//!
//! Arguments: `--data <csv> --repeat <n> --runs <n>`; prints `rust_texts_per_sec <median>`.

use std::hint::black_box;
use std::time::Instant;

use outcry_scoring::{MentionInput, Scorer};

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
    // warm-up
    for t in corpus.iter().take(2000) {
        black_box(scorer.score(&MentionInput {
            text: t,
            ..MentionInput::default()
        }));
    }
    let mut rates = Vec::with_capacity(runs);
    for run in 0..runs {
        let start = Instant::now();
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
        let rate = corpus.len() as f64 / start.elapsed().as_secs_f64();
        eprintln!(
            "rust run {}: {:.0} texts/s ({complaints} complaints of {})",
            run + 1,
            rate,
            corpus.len()
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    println!("rust_texts_per_sec {:.0}", rates[rates.len() / 2]);
    Ok(())
}
