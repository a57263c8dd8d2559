//! `outcry ingest FILE` against a running ingestor (the four services on librdkafka's mock
//! cluster): refused lines named by their line in the file, the rest written once, and a file
//! sent twice written once.

use outcry_cli::broker::Broker;
use outcry_cli::stack::Stack;
use outcry_runtime::kafka::default_topics;
use outcry_runtime::Config;
use serde_json::Value;
use std::process::Command;

fn mention(id: &str, text: &str) -> String {
    format!(
        r#"{{"source":"x","external_id":"{id}","text":"{text}","author":{{"id":"a{id}","handle":"h{id}"}}}}"#
    )
}

/// Runs `outcry ingest` on `file`; its exit code and its JSON summary.
fn ingest(url: &str, file: &std::path::Path, batch: usize) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_outcry"))
        .args(["ingest", "--url", url, "--batch", &batch.to_string()])
        .arg(file)
        .output()
        .unwrap();
    let summary = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_file_is_ingested_in_batches_with_its_bad_lines_named() {
    let broker = Broker::embedded().unwrap();
    let mut config = Config::from_yaml(outcry_cli::demo::DEMO_CONFIG).unwrap();
    config.kafka.brokers = broker.bootstrap_servers();
    config.ingestor.listen = "127.0.0.1:0".parse().unwrap();
    config.telemetry.admin_addr = "127.0.0.1:0".parse().unwrap();
    // small limits, so that the file's batches are split by count and by size
    config.ingestor.max_batch = 3;
    config.ingestor.max_body_bytes = 1024;
    broker
        .create_topics(&config.kafka, &default_topics(&config.kafka, 1))
        .await
        .unwrap();
    let stack = Stack::start(config).await.unwrap();

    let long = format!("@acmeair {}", "my bag is still lost ".repeat(30));
    let lines = [
        mention("f1", "@acmeair lost my bag"),
        mention("f2", "@acmeair thanks for the upgrade"),
        "{not json".to_string(),
        mention("f3", "@acmeair flight delayed again"),
        mention("f1", "@acmeair lost my bag"),
        r#"{"source":"x","external_id":"f5"}"#.to_string(),
        String::new(),
        mention("f4", &long),
        mention("f6", "nothing about any brand here"),
    ];
    let dir = std::env::temp_dir().join(format!("outcry-ingest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mentions.ndjson");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let url = stack.ingest_url();

    let (code, first) = tokio::task::spawn_blocking({
        let (url, file) = (url.clone(), file.clone());
        move || ingest(&url, &file, 5)
    })
    .await
    .unwrap();
    assert_eq!(code, 65, "{first}");
    assert_eq!(first["lines"], 8, "{first}");
    assert_eq!(first["accepted"], 4, "{first}");
    assert_eq!(first["duplicates"], 1, "{first}");
    assert_eq!(first["unmatched"], 1, "{first}");
    assert_eq!(first["rejected"], 2, "{first}");
    let named: Vec<(u64, String)> = first["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(named[0].0, 3, "{first}");
    assert_eq!(named[1], (6, "text".to_string()), "{first}");
    // more requests than batches: split for the ingestor's max_batch and body limit
    assert!(first["requests"].as_u64().unwrap() > 2, "{first}");

    // the same file again writes nothing: every mention is a duplicate
    let (code, second) = tokio::task::spawn_blocking(move || ingest(&url, &file, 5))
        .await
        .unwrap();
    assert_eq!(code, 65);
    assert_eq!(second["accepted"], 0, "{second}");
    assert_eq!(second["duplicates"], 5, "{second}");
    assert_eq!(second["rejected"], 2, "{second}");

    stack.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
