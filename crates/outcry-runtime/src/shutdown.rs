//! Shutdown: one signal starts a bounded drain, a second one exits at once.

use std::future::Future;
use tokio::sync::watch;

/// A cloneable handle that says when to stop. Cheap to clone and to poll.
#[derive(Clone, Debug)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// The side that triggers a [`Shutdown`].
#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

impl Shutdown {
    /// A new pair: trigger it to stop everything holding a clone.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger { tx }, Shutdown { rx })
    }

    /// A handle that stops when `fut` completes (for example a signal).
    pub fn from_future(fut: impl Future<Output = ()> + Send + 'static) -> Shutdown {
        let (trigger, shutdown) = Shutdown::new();
        tokio::spawn(async move {
            fut.await;
            trigger.trigger();
        });
        shutdown
    }

    /// Whether shutdown has started.
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Completes once shutdown has started.
    pub async fn cancelled(&self) {
        let mut rx = self.rx.clone();
        // an error means the trigger is gone, which also means stop
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

impl ShutdownTrigger {
    /// Starts shutdown for every clone of the handle.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }
}

/// Completes on the first SIGTERM or SIGINT. A second signal exits the process at once
/// with code 130, skipping the drain.
pub async fn signal() {
    wait_for_signal().await;
    tracing::info!("shutdown signal received, draining (a second signal exits at once)");
    tokio::spawn(async {
        wait_for_signal().await;
        tracing::warn!("second shutdown signal, exiting without drain");
        std::process::exit(130);
    });
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_sees_the_trigger() {
        let (trigger, shutdown) = Shutdown::new();
        let other = shutdown.clone();
        assert!(!other.is_triggered());
        let waiter = tokio::spawn(async move { other.cancelled().await });
        trigger.trigger();
        waiter.await.unwrap();
        assert!(shutdown.is_triggered());
    }

    #[tokio::test]
    async fn dropping_the_trigger_also_stops() {
        let (trigger, shutdown) = Shutdown::new();
        drop(trigger);
        tokio::time::timeout(std::time::Duration::from_secs(1), shutdown.cancelled())
            .await
            .unwrap();
    }
}
