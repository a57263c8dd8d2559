//! Development tool: 10-fold cross-validated macro F1 for a few hyper-parameter settings.
//! `cargo run --release -p outcry-scoring --example cv_sweep -- ../shared/data/complaints/train.csv`

use outcry_scoring::features::FeatureConfig;
use outcry_scoring::model::{
    best_threshold, cross_val_probs, macro_f1, stratified_folds, Corpus, TrainConfig,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/data/complaints/train.csv".into());
    let examples = outcry_scoring::data::read_examples(std::path::Path::new(&path))?;
    let analyzer = outcry_scoring::vader::SentimentAnalyzer::embedded();
    let cs: Vec<f64> = std::env::var("CS")
        .unwrap_or_else(|_| "0.3,1,3".into())
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    // CFGS="word_bits,char_bits,char_min,char_max;..." (default: the shipped configuration)
    let cfgs: Vec<FeatureConfig> = std::env::var("CFGS")
        .unwrap_or_else(|_| "14,15,3,3".into())
        .split(';')
        .filter_map(|c| {
            let v: Vec<u8> = c.split(',').filter_map(|x| x.trim().parse().ok()).collect();
            (v.len() == 4).then(|| FeatureConfig {
                word_bits: v[0],
                char_bits: v[1],
                char_min: v[2],
                char_max: v[3],
            })
        })
        .collect();
    for cfg in cfgs {
        let t0 = std::time::Instant::now();
        let corpus = Corpus::new(&examples, analyzer, cfg);
        let seed: u64 = std::env::var("SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(42);
        let folds = stratified_folds(corpus.labels(), 10, seed);
        for &c in &cs {
            let tc = TrainConfig {
                features: cfg,
                c,
                ..TrainConfig::default()
            };
            let probs = cross_val_probs(&corpus, &folds, 10, &tc);
            let at = |t: f64| {
                macro_f1(
                    corpus.labels(),
                    &probs.iter().map(|&p| p >= t).collect::<Vec<_>>(),
                )
            };
            let bt = best_threshold(corpus.labels(), &probs);
            println!(
                "{cfg:?} C={c} f1@0.5={:.4} best t={bt:.3} f1={:.4} ({:.1?})",
                at(0.5),
                at(bt),
                t0.elapsed()
            );
        }
    }
    Ok(())
}
