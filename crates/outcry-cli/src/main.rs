//! `outcry`: the demo, and the scoring and spike-detection code paths on files and pipes.

use clap::{Parser, Subcommand};
use outcry_cli::demo::{self, DemoOptions};
use outcry_runtime::config::TelemetryConfig;
use std::io::{BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "outcry",
    version,
    about = "hear customers before a complaint goes viral"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole pipeline on an embedded broker with a bundled sample stream.
    Demo {
        /// Use this Kafka instead of the embedded one (`host:port[,host:port]`).
        #[arg(long)]
        brokers: Option<String>,
        /// A config file instead of the demo's built-in one.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Also write the summary as JSON here.
        #[arg(long)]
        summary_json: Option<PathBuf>,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Where the demo serves /metrics, /healthz and /readyz.
        #[arg(long, default_value = "127.0.0.1:9464")]
        admin_addr: SocketAddr,
        /// Print every escalation record, updates included.
        #[arg(long)]
        verbose: bool,
        /// Seconds to wait for the pipeline before giving up.
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
    },
    /// Score NDJSON mentions from stdin (`{"id": ..., "text": ...}` per line, optionally with
    /// the other fields of the ingestor's mention JSON) to stdout. Exits 65 if any line had an
    /// error; errors and unknown keys are summarised on stderr.
    Score {
        /// A complaint model file instead of the shipped one.
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Send a file of mentions (NDJSON: the ingest API's mention JSON per line; `-` for
    /// stdin) to a running ingestor, in batches. Prints a JSON summary with every refused line;
    /// exits 65 if any line was refused.
    Ingest {
        file: PathBuf,
        /// The ingestor's mentions endpoint.
        #[arg(long, default_value = "http://127.0.0.1:8080/v1/mentions")]
        url: String,
        /// A bearer token of `ingestor.auth_tokens`.
        #[arg(long, env = "OUTCRY_INGEST_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Lines per request (at most the ingestor's `max_batch`, 5000 by default).
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Attempts per request while the ingestor answers 503 or cannot be reached.
        #[arg(long, default_value_t = 10)]
        max_attempts: u32,
    },
    /// List the dead-letter topic's records as JSON lines (stage, reason, error, where the
    /// original came from, the original); with `--replay`, write each original back to its
    /// source topic. The summary goes to stderr.
    DeadLetters {
        #[command(flatten)]
        service: outcry_runtime::cli::ServiceArgs,
        /// Only dead letters of this stage (`scorer`, `router`, `notifier`).
        #[arg(long)]
        stage: Option<String>,
        /// Only dead letters with this reason (`unknown_brand`, `delivery_failed`, ...).
        #[arg(long)]
        reason: Option<String>,
        /// Write each listed original back to its source topic (not one cut to fit, nor one
        /// that came over HTTP).
        #[arg(long)]
        replay: bool,
    },
    /// List the router's state snapshots (`kafka.topics.router_state`), a JSON line per slot
    /// of each partition: the offset it was taken after, its size, whether it reads back
    /// whole, and per brand its open cases, spike and remembered mention ids.
    RouterState {
        #[command(flatten)]
        service: outcry_runtime::cli::ServiceArgs,
        /// Only this partition (that of the scored topic whose brands it holds).
        #[arg(long)]
        partition: Option<i32>,
    },
    /// Train a model.
    Train {
        #[command(subcommand)]
        what: TrainCommand,
    },
    /// Score a Numenta Anomaly Benchmark series (`timestamp,value`) online, to stdout as CSV.
    Spikes {
        #[arg(long)]
        nab: PathBuf,
    },
    /// Evaluate a detector.
    Eval {
        #[command(subcommand)]
        what: EvalCommand,
    },
}

#[derive(Subcommand)]
enum TrainCommand {
    /// The complaint classifier, with k-fold cross-validation.
    Complaints {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value_t = 10)]
        folds: usize,
    },
}

#[derive(Subcommand)]
enum EvalCommand {
    /// NAB standard-profile score of the shipped spike detector on a directory of series.
    Nab {
        #[arg(long, default_value = "../shared/data/nab-realtweets")]
        data: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        // a reader that stopped early (`outcry spikes ... | head`) is not an error
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let chain: Vec<String> = error.chain().map(ToString::to_string).collect();
            eprintln!("outcry: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Demo {
            brokers,
            config,
            summary_json,
            seed,
            admin_addr,
            verbose,
            timeout_secs,
        } => {
            outcry_runtime::telemetry::init_tracing(&TelemetryConfig {
                log_level: "warn".into(),
                ..Default::default()
            });
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                outcry_runtime::telemetry::metrics_handle();
                demo::run(DemoOptions {
                    brokers,
                    config,
                    summary_json,
                    seed,
                    admin_addr,
                    verbose,
                    timeout: Duration::from_secs(timeout_secs),
                })
                .await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest {
            file,
            url,
            token,
            batch,
            max_attempts,
        } => {
            outcry_runtime::telemetry::init_tracing(&TelemetryConfig {
                log_level: "warn".into(),
                ..Default::default()
            });
            let options = outcry_cli::ingest::IngestOptions {
                url,
                token,
                batch,
                max_attempts,
                retry_wait: Duration::from_secs(5),
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let summary = runtime.block_on(async {
                if file.as_os_str() == "-" {
                    outcry_cli::ingest::ingest(std::io::stdin().lock(), &options).await
                } else {
                    let opened = std::fs::File::open(&file)
                        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", file.display()))?;
                    outcry_cli::ingest::ingest(BufReader::new(opened), &options).await
                }
            })?;
            println!("{}", serde_json::to_string_pretty(&summary.to_json())?);
            Ok(if summary.refused.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(65)
            })
        }
        Command::DeadLetters {
            service,
            stage,
            reason,
            replay,
        } => {
            outcry_runtime::telemetry::init_tracing(&TelemetryConfig {
                log_level: "warn".into(),
                ..Default::default()
            });
            let config = service.load()?;
            let filter = outcry_cli::dead_letters::Filter { stage, reason };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            let report = runtime.block_on(outcry_cli::dead_letters::run(
                &config.kafka,
                &config.kafka.topics.dead_letters,
                &filter,
                replay,
                &mut stdout,
            ))?;
            stdout.flush()?;
            eprintln!(
                "{} dead letters listed, {} replayed, {} records not dead letters",
                report.listed, report.replayed, report.undecodable
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::RouterState { service, partition } => {
            outcry_runtime::telemetry::init_tracing(&TelemetryConfig {
                log_level: "warn".into(),
                ..Default::default()
            });
            let config = service.load()?;
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            let group = config.group_id("router");
            let router = outcry_cli::router_state::Router {
                group: &group,
                scored_topic: &config.kafka.topics.scored,
            };
            let report = outcry_cli::router_state::run(
                &config.kafka,
                &config.kafka.topics.router_state,
                &router,
                partition,
                &mut stdout,
            )?;
            stdout.flush()?;
            eprintln!(
                "{} snapshots listed, {} not whole",
                report.snapshots, report.broken
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Score { model } => {
            let scorer = match model {
                Some(path) => outcry_scoring::Scorer::from_model_file(&path)?,
                None => outcry_scoring::Scorer::from_embedded()?,
            };
            let stdin = std::io::stdin().lock();
            let stdout = std::io::BufWriter::new(std::io::stdout().lock());
            let stats = outcry_scoring::cli::score_ndjson(&scorer, stdin, stdout)?;
            if stats.errors > 0 || !stats.unknown_keys.is_empty() {
                eprintln!("{}", stats.summary());
            }
            Ok(if stats.errors > 0 {
                ExitCode::from(65)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Train {
            what:
                TrainCommand::Complaints {
                    data,
                    out,
                    seed,
                    folds,
                },
        } => {
            let mut opts = outcry_scoring::cli::TrainOptions::new(data, out);
            opts.seed = seed;
            opts.folds = folds;
            let report = outcry_scoring::cli::train_complaints(&opts)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Spikes { nab } => {
            let file = std::fs::File::open(&nab)
                .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", nab.display()))?;
            let stdout = std::io::BufWriter::new(std::io::stdout().lock());
            outcry_spike::nab::score_series(
                BufReader::new(file),
                stdout,
                &outcry_spike::DetectorConfig::default(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval {
            what: EvalCommand::Nab { data, json },
        } => {
            let report =
                outcry_spike::nab::evaluate_dir(&data, &outcry_spike::DetectorConfig::default())?;
            let mut out = std::io::stdout().lock();
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
            } else {
                writeln!(
                    out,
                    "NAB standard profile, shipped threshold {:.4}",
                    report.threshold
                )?;
                for f in &report.files {
                    writeln!(out, "  {:<28} {:6.1}", f.name, f.normalized)?;
                }
                writeln!(
                    out,
                    "  {:<28} {:6.1}",
                    "total (normalised corpus)", report.total
                )?;
                writeln!(
                    out,
                    "  best swept threshold {:.4} would reach {:.1}",
                    report.swept_threshold, report.swept_total
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
