//! The real binary: start-up contract and graceful shutdown.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_outcry-scorer");

fn wait_with_timeout(
    child: &mut std::process::Child,
    timeout: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}

#[test]
fn invalid_config_exits_64_with_one_message_naming_the_field() {
    let dir = std::env::temp_dir().join(format!("outcry-scorer-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.yaml");
    std::fs::write(&path, "brands:\n  - id: Acme Air\n    team: care\n").unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("brands[0].id"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn drains_and_exits_cleanly_on_sigterm() {
    // no broker listens on this port: the service must still start, serve its admin
    // endpoints and stop within the drain bound when told to
    let mut child = Command::new(BIN)
        .env("OUTCRY__KAFKA__BROKERS", "127.0.0.1:1")
        .env("OUTCRY__TELEMETRY__ADMIN_ADDR", "127.0.0.1:0")
        .env("OUTCRY__SHUTDOWN__DRAIN_TIMEOUT_SECS", "5")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // wait until it logged that its admin server listens (the signal handlers are installed
    // before that): on a loaded machine a fixed sleep can end before the process gets there
    let stderr = child.stderr.take().unwrap();
    let (send, lines) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            text.push_str(&line);
            text.push('\n');
            let _ = send.send(line);
        }
        text
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains("admin server listening") => break,
            Ok(_) => {}
            Err(error) => {
                let _ = child.kill();
                panic!("never logged that its admin server listens: {error}");
            }
        }
    }
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_with_timeout(&mut child, Duration::from_secs(15))
        .expect("did not exit within 15s of SIGTERM");
    let log = reader.join().unwrap();
    assert_eq!(exit.code(), Some(0), "{log}");
    assert!(log.contains("shutdown signal received"), "{log}");
}
