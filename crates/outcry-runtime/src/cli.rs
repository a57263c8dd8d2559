//! The start-up every service binary shares, so each `main` is one line.
//!
//! Order: arguments -> config (invalid: one message on stderr, exit 64) -> tracing, in the
//! format the config asks for -> Prometheus recorder and `outcry_build_info` -> admin server ->
//! the service's `run` until SIGTERM/SIGINT -> bounded drain -> exit.

use crate::config::{Config, ConfigError};
use crate::shutdown::{self, Shutdown};
use crate::{admin, telemetry};
use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code for an unusable configuration (`EX_CONFIG` in sysexits.h is 78; 64 is
/// `EX_USAGE`, which is what the project's contract names).
pub const EXIT_CONFIG: u8 = 64;

/// Arguments every service accepts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServiceArgs {
    /// YAML configuration file; defaults apply when absent.
    #[arg(long, env = "OUTCRY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Kafka bootstrap servers, overriding `kafka.brokers`.
    #[arg(long)]
    pub brokers: Option<String>,
}

impl ServiceArgs {
    /// Loads the file, the `OUTCRY__*` environment, then the flags, and validates.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let mut env: Vec<(String, String)> = std::env::vars().collect();
        if let Some(brokers) = &self.brokers {
            env.push(("OUTCRY__KAFKA__BROKERS".into(), brokers.clone()));
        }
        Config::load(self.config.as_deref(), env)
    }
}

#[derive(clap::Parser)]
struct ServiceCli {
    #[command(flatten)]
    args: ServiceArgs,
}

/// A full error chain on one line: `outer: inner: root`.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Runs a service binary: parses its flags, loads config and calls `run` with a shutdown
/// that fires on the first SIGTERM or SIGINT.
pub fn service_main<F, Fut, E>(service: &'static str, run: F) -> ExitCode
where
    F: FnOnce(Config, Shutdown) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error + 'static,
{
    use clap::Parser as _;
    let cli = ServiceCli::parse();
    let config = match cli.args.load() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("outcry-{service}: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    telemetry::init_tracing(&config.telemetry);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("outcry-{service}: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        telemetry::metrics_handle();
        telemetry::build_info(service);
        let shutdown = Shutdown::from_future(shutdown::signal());
        let (listener, addr) = match admin::bind(config.telemetry.admin_addr).await {
            Ok(bound) => bound,
            Err(error) => {
                tracing::error!(addr = %config.telemetry.admin_addr, %error, "cannot bind the admin server");
                return ExitCode::FAILURE;
            }
        };
        tokio::spawn(admin::serve(listener, shutdown.clone()));
        tracing::info!(service, %addr, "admin server listening (/metrics, /healthz, /readyz)");
        match run(config, shutdown).await {
            Ok(()) => {
                tracing::info!(service, "stopped");
                ExitCode::SUCCESS
            }
            Err(error) => {
                tracing::error!(service, error = %error_chain(&error), "service failed");
                ExitCode::FAILURE
            }
        }
    })
}
