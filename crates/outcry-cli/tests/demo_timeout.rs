//! A demo that runs out of time fails: `make demo` exits non-zero, so a script or a CI job
//! that runs it cannot mistake a pipeline that did not finish for one that did. (Its own
//! process: the other demo test reads the metrics registry, which is per process.)

use outcry_cli::demo::{self, DemoOptions};
use std::net::SocketAddr;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_demo_that_does_not_settle_in_time_fails_and_says_what_it_owed() {
    outcry_runtime::telemetry::metrics_handle();
    // no time at all to wait: the first look finds mentions still unscored
    let err = demo::run(DemoOptions {
        brokers: None,
        config: None,
        summary_json: None,
        seed: 7,
        admin_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        verbose: false,
        timeout: Duration::ZERO,
    })
    .await
    .expect_err("a demo that timed out must not succeed");
    let message = format!("{err:#}");
    assert!(
        message.starts_with("the pipeline did not settle within 0s (scored "),
        "{message}"
    );
    assert!(message.contains(" notified "), "{message}");
}
