//! Trains the shipped complaint model, as `outcry train complaints` does:
//! `cargo run --release -p outcry-scoring --example train_complaints -- \
//!     ../shared/data/complaints/train.csv crates/outcry-scoring/models/complaint-lr.bin`

use outcry_scoring::cli::{train_complaints, TrainOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let data = args
        .next()
        .unwrap_or_else(|| "../shared/data/complaints/train.csv".into());
    let out = args
        .next()
        .unwrap_or_else(|| "crates/outcry-scoring/models/complaint-lr.bin".into());
    let report = train_complaints(&TrainOptions::new(data, out))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
