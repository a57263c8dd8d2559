//! Shutdown: one signal starts a bounded drain, a second one exits at once.

use std::future::Future;
use tokio::sync::watch;
use tokio::time::Instant;

/// A cloneable handle that says when to stop, and since when. Cheap to clone and to poll.
#[derive(Clone, Debug)]
pub struct Shutdown {
    rx: watch::Receiver<Option<Instant>>,
}

/// The side that triggers a [`Shutdown`]. Dropping it triggers it too.
#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: watch::Sender<Option<Instant>>,
}

impl Shutdown {
    /// A new pair: trigger it to stop everything holding a clone.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(None);
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
        self.rx.borrow().is_some()
    }

    /// When shutdown started (the first trigger): the drain's bound counts from here.
    pub fn triggered_at(&self) -> Option<Instant> {
        *self.rx.borrow()
    }

    /// Completes once shutdown has started.
    pub async fn cancelled(&self) {
        let mut rx = self.rx.clone();
        // an error means the trigger is gone, which also means stop (its drop triggered)
        let _ = rx.wait_for(Option::is_some).await;
    }
}

impl ShutdownTrigger {
    /// Starts shutdown for every clone of the handle. Later calls keep the first time.
    pub fn trigger(&self) {
        self.tx.send_if_modified(|at| {
            let first = at.is_none();
            if first {
                *at = Some(Instant::now());
            }
            first
        });
    }
}

impl Drop for ShutdownTrigger {
    fn drop(&mut self) {
        self.trigger();
    }
}

/// Completes on the first SIGTERM or SIGINT. A second signal exits the process at once
/// with code 130, skipping the drain.
///
/// The handlers are installed when this is called, not when the future is first polled
/// (which [`Shutdown::from_future`] does on another task): a signal that arrives while the
/// service is still starting drains it rather than killing it with the default action.
pub fn signal() -> impl Future<Output = ()> + Send + 'static {
    let mut signals = Signals::install();
    async move {
        signals.next().await;
        tracing::info!("shutdown signal received, draining (a second signal exits at once)");
        tokio::spawn(async move {
            signals.next().await;
            tracing::warn!("second shutdown signal, exiting without drain");
            std::process::exit(130);
        });
    }
}

/// The streams of both shutdown signals, installed together; a signal that arrives while
/// nothing awaits [`Signals::next`] is kept for its next call.
#[cfg(unix)]
struct Signals(Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>);

#[cfg(unix)]
impl Signals {
    fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(term), Ok(int)) => Signals(Some((term, int))),
            (Err(error), _) | (_, Err(error)) => {
                tracing::error!(%error, "cannot install signal handlers");
                Signals(None)
            }
        }
    }

    /// The next SIGTERM or SIGINT; never, if the handlers could not be installed.
    async fn next(&mut self) {
        let Some((term, int)) = &mut self.0 else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> Signals {
        Signals
    }

    async fn next(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
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
        assert!(shutdown.triggered_at().is_some());
    }

    #[tokio::test]
    async fn the_first_trigger_sets_the_time() {
        let (trigger, shutdown) = Shutdown::new();
        assert_eq!(shutdown.triggered_at(), None);
        let before = Instant::now();
        trigger.trigger();
        let at = shutdown.triggered_at().unwrap();
        assert!(at >= before);
        trigger.trigger();
        assert_eq!(shutdown.triggered_at(), Some(at));
    }
}
