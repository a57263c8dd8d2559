//! `outcry-spike spikes --nab FILE.csv` and `outcry-spike eval nab --data DIR`: the same code
//! the `outcry` CLI calls, runnable on its own.

use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use outcry_spike::{nab, DetectorConfig, Sensitivity};

const USAGE: &str = "usage: outcry-spike spikes --nab FILE.csv [--sensitivity low|medium|high]
       outcry-spike eval nab [--data DIR] [--sensitivity low|medium|high] [--json]";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(64)
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let mut config = DetectorConfig::default();
    let (mut nab_file, mut data, mut json) = (None, None, false);
    let mut words = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--nab" => nab_file = Some(PathBuf::from(it.next().ok_or(USAGE)?)),
            "--data" => data = Some(PathBuf::from(it.next().ok_or(USAGE)?)),
            "--json" => json = true,
            "--sensitivity" => {
                config.sensitivity = match it.next().as_deref() {
                    Some("low") => Sensitivity::Low,
                    Some("medium") => Sensitivity::Medium,
                    Some("high") => Sensitivity::High,
                    _ => return Err(USAGE.into()),
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ => words.push(a),
        }
    }
    match words
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["spikes"] => {
            let path = nab_file.ok_or(USAGE)?;
            let file = std::fs::File::open(&path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            let out = std::io::stdout().lock();
            nab::score_series(BufReader::new(file), std::io::BufWriter::new(out), &config)
                .map_err(|e| e.to_string())
        }
        ["eval", "nab"] => {
            let dir = data.unwrap_or_else(|| PathBuf::from("../shared/data/nab-realtweets"));
            let report = nab::evaluate_dir(&dir, &config).map_err(|e| e.to_string())?;
            let mut out = std::io::stdout().lock();
            if json {
                let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
                writeln!(out, "{text}").map_err(|e| e.to_string())?;
                return Ok(());
            }
            writeln!(
                out,
                "NAB standard profile, shipped threshold {:.4}",
                report.threshold
            )
            .map_err(|e| e.to_string())?;
            for f in &report.files {
                writeln!(
                    out,
                    "{:28} {:6.1}  (raw {:6.3}, windows {}/{} detected, {} false positives)",
                    f.name,
                    f.normalized,
                    f.counts.score,
                    f.counts.detected,
                    f.counts.windows,
                    f.counts.false_positives
                )
                .map_err(|e| e.to_string())?;
            }
            writeln!(out, "{:28} {:6.1}", "total", report.total).map_err(|e| e.to_string())?;
            writeln!(
                out,
                "(sweep: best threshold {:.4} scores {:.1})",
                report.swept_threshold, report.swept_total
            )
            .map_err(|e| e.to_string())
        }
        _ => Err(USAGE.into()),
    }
}
