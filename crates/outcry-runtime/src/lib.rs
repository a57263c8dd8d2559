//! What every Outcry service shares: configuration, telemetry, the admin server
//! (metrics, health, readiness), shutdown handling and the one Kafka
//! consume-process-produce loop.
//!
//! A service is a library with `run(config, shutdown)`; its `main` only calls
//! [`cli::service_main`], which fixes the start-up order for all of them.

pub mod admin;
pub mod cli;
pub mod config;
pub mod dedup;
pub mod kafka;
pub mod pipeline;
pub mod shutdown;
pub mod telemetry;
pub mod time;

pub use config::{Config, ConfigError};
pub use shutdown::Shutdown;
