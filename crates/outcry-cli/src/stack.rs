//! All four services in one process, started through their public `run` entry points: what
//! the demo runs, and what the end-to-end tests run against a broker.

use anyhow::Context as _;
use outcry_runtime::shutdown::ShutdownTrigger;
use outcry_runtime::{Config, Shutdown};
use std::net::SocketAddr;
use tokio::task::JoinHandle;

/// A running pipeline.
pub struct Stack {
    /// Where `POST /v1/mentions` is served.
    pub ingest_addr: SocketAddr,
    trigger: ShutdownTrigger,
    tasks: Vec<(&'static str, JoinHandle<Result<(), String>>)>,
}

fn chain<E: std::error::Error + 'static>(r: Result<(), E>) -> Result<(), String> {
    r.map_err(|e| outcry_runtime::cli::error_chain(&e))
}

impl Stack {
    /// Starts ingestor, scorer, router and notifier on `config`.
    pub async fn start(config: Config) -> anyhow::Result<Stack> {
        let (trigger, shutdown) = Shutdown::new();
        let ingestor = outcry_ingestor::Ingestor::bind(&config)
            .await
            .context("starting the ingestor")?;
        let ingest_addr = ingestor.local_addr()?;
        let mut tasks = Vec::new();
        let s = shutdown.clone();
        tasks.push((
            "ingestor",
            tokio::spawn(async move { chain(ingestor.serve(s).await) }),
        ));
        let (c, s) = (config.clone(), shutdown.clone());
        tasks.push((
            "scorer",
            tokio::spawn(async move { chain(outcry_scorer::run(c, s).await) }),
        ));
        let (c, s) = (config.clone(), shutdown.clone());
        tasks.push((
            "router",
            tokio::spawn(async move { chain(outcry_router::run(c, s).await) }),
        ));
        let (c, s) = (config, shutdown);
        tasks.push((
            "notifier",
            tokio::spawn(async move { chain(outcry_notifier::run(c, s).await) }),
        ));
        Ok(Stack {
            ingest_addr,
            trigger,
            tasks,
        })
    }

    /// The ingest endpoint's URL.
    pub fn ingest_url(&self) -> String {
        format!("http://{}/v1/mentions", self.ingest_addr)
    }

    /// Whether any service has stopped on its own (an error).
    pub fn failed(&self) -> Option<&'static str> {
        self.tasks
            .iter()
            .find(|(_, t)| t.is_finished())
            .map(|(n, _)| *n)
    }

    /// Signals shutdown and waits for every service to drain; returns each one's outcome.
    pub async fn stop(self) -> Vec<(&'static str, Result<(), String>)> {
        self.trigger.trigger();
        let mut out = Vec::new();
        for (name, task) in self.tasks {
            let result = match task.await {
                Ok(r) => r,
                Err(e) => Err(format!("task failed: {e}")),
            };
            out.push((name, result));
        }
        out
    }
}
