//! `outcry ingest`: a file of mentions (NDJSON, the ingest API's mention JSON per line) sent
//! to a running ingestor in batches, for backfills and sources that drop files.
//!
//! It goes through the HTTP API rather than to Kafka directly, so a file gets exactly what a
//! live source gets: the same validation, brand matching, deduplication (a file sent twice,
//! or a batch resent after a lost answer, writes nothing twice) and the broker's
//! acknowledgement before a mention counts as accepted. The API takes a batch all or
//! nothing: lines it names as bad are taken out, reported with their line in the file, and
//! the rest of the batch is sent again (unless the answer says the rest was written: a
//! mention Kafka refused as too large). `503` and `429` are waited out as `Retry-After` says
//! (5 s if it does not), a connection that fails is tried again, both within a bounded number
//! of attempts; `413` halves the batch. What a mention is refused for never stops the run;
//! a bad token, a wrong URL or an ingestor that stays away do.

use anyhow::{bail, Context as _};
use serde_json::{json, Value};
use std::io::BufRead;
use std::time::Duration;

/// How `outcry ingest` runs.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// `http://host:port/v1/mentions`
    pub url: String,
    pub token: Option<String>,
    /// lines per request (the ingestor's `max_batch` is 5000 by default)
    pub batch: usize,
    /// attempts per request on 503, 429 or a failed connection
    pub max_attempts: u32,
    /// the wait when a 503 or 429 names none, and between failed connections
    pub retry_wait: Duration,
}

/// One line the ingestor refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// the line in the file, from 1
    pub line: usize,
    pub field: String,
    pub reason: String,
    pub error: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestSummary {
    /// non-blank lines read
    pub lines: usize,
    pub accepted: u64,
    pub duplicates: u64,
    pub unmatched: u64,
    pub requests: u64,
    pub refused: Vec<Refused>,
}

impl IngestSummary {
    pub fn to_json(&self) -> Value {
        json!({
            "lines": self.lines,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "unmatched": self.unmatched,
            "rejected": self.refused.len(),
            "requests": self.requests,
            "errors": self.refused.iter().map(|r| json!({
                "line": r.line, "field": r.field, "reason": r.reason, "error": r.error,
            })).collect::<Vec<_>>(),
        })
    }
}

/// The answer to one request, as far as the run cares.
enum Answer {
    Accepted(Value),
    /// 400: the lines (of the batch, from 1) it names, and what it says it wrote anyway
    Refused(Vec<(usize, Refused)>, Value),
    TooLarge,
    Retry(Option<Duration>, String),
}

/// Sends every non-blank line of `input` to the ingestor.
pub async fn ingest(input: impl BufRead, options: &IngestOptions) -> anyhow::Result<IngestSummary> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("outcry-ingest/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let mut summary = IngestSummary::default();
    let mut batch: Vec<(usize, String)> = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("reading line {}", i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        summary.lines += 1;
        batch.push((i + 1, line));
        if batch.len() >= options.batch.max(1) {
            send_batch(&client, options, std::mem::take(&mut batch), &mut summary).await?;
        }
    }
    if !batch.is_empty() {
        send_batch(&client, options, batch, &mut summary).await?;
    }
    Ok(summary)
}

async fn send_batch(
    client: &reqwest::Client,
    options: &IngestOptions,
    batch: Vec<(usize, String)>,
    summary: &mut IngestSummary,
) -> anyhow::Result<()> {
    // batches still to send; a 413 splits one in two
    let mut pending = vec![batch];
    while let Some(mut batch) = pending.pop() {
        let mut attempts = 0;
        while !batch.is_empty() {
            attempts += 1;
            summary.requests += 1;
            match post(client, options, &batch).await? {
                Answer::Accepted(counts) => {
                    add_counts(summary, &counts);
                    break;
                }
                Answer::Refused(lines, counts) => {
                    add_counts(summary, &counts);
                    let mut named: Vec<usize> = lines.iter().map(|(l, _)| *l).collect();
                    named.sort_unstable();
                    named.dedup();
                    if named.is_empty() || named.iter().any(|&l| l == 0 || l > batch.len()) {
                        bail!("the ingestor refused a batch without naming lines of it: {counts}");
                    }
                    for (l, mut refused) in lines {
                        refused.line = batch[l - 1].0;
                        summary.refused.push(refused);
                    }
                    // refused while writing (too large for Kafka): the other lines were
                    // written, and counted in the answer
                    if counts.get("duplicates").is_some() {
                        break;
                    }
                    // the rest goes again; the lines named are out
                    let mut keep = Vec::with_capacity(batch.len());
                    for (i, line) in batch.into_iter().enumerate() {
                        if named.binary_search(&(i + 1)).is_err() {
                            keep.push(line);
                        }
                    }
                    batch = keep;
                    attempts = 0;
                }
                Answer::TooLarge if batch.len() > 1 => {
                    let second = batch.split_off(batch.len() / 2);
                    pending.push(second);
                    attempts = 0;
                }
                Answer::TooLarge => {
                    summary.refused.push(Refused {
                        line: batch[0].0,
                        field: ".".into(),
                        reason: "too_large".into(),
                        error: "the mention alone is larger than the ingestor's body limit".into(),
                    });
                    break;
                }
                Answer::Retry(after, why) => {
                    if attempts >= options.max_attempts {
                        bail!(
                            "giving up on lines {}..={} after {attempts} attempts: {why}",
                            batch[0].0,
                            batch[batch.len() - 1].0
                        );
                    }
                    tracing::warn!(attempt = attempts, %why, "ingestor not taking writes, waiting");
                    tokio::time::sleep(after.unwrap_or(options.retry_wait)).await;
                }
            }
        }
    }
    summary.refused.sort_by_key(|r| r.line);
    Ok(())
}

fn add_counts(summary: &mut IngestSummary, counts: &Value) {
    let n = |k: &str| counts[k].as_u64().unwrap_or(0);
    summary.accepted += n("accepted");
    summary.duplicates += n("duplicates");
    summary.unmatched += n("unmatched");
}

async fn post(
    client: &reqwest::Client,
    options: &IngestOptions,
    batch: &[(usize, String)],
) -> anyhow::Result<Answer> {
    let mut body = String::with_capacity(batch.iter().map(|(_, l)| l.len() + 1).sum());
    for (_, line) in batch {
        body.push_str(line);
        body.push('\n');
    }
    let mut request = client
        .post(&options.url)
        .header("content-type", "application/x-ndjson")
        .body(body);
    if let Some(token) = &options.token {
        request = request.bearer_auth(token);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) if error.is_connect() || error.is_timeout() => {
            return Ok(Answer::Retry(None, format!("{error}")));
        }
        Err(error) => return Err(error).context("posting to the ingestor"),
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    Ok(match status {
        200..=299 => Answer::Accepted(answer),
        // more lines than the ingestor's max_batch
        400 if answer["errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["reason"] == "batch_too_large")) =>
        {
            Answer::TooLarge
        }
        400 => {
            let lines = answer["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| {
                    let line = usize::try_from(e["line"].as_u64()?).ok()?;
                    let text = |k: &str| e[k].as_str().unwrap_or("").to_string();
                    Some((
                        line,
                        Refused {
                            line,
                            field: text("field"),
                            reason: text("reason"),
                            error: text("error"),
                        },
                    ))
                })
                .collect();
            Answer::Refused(lines, answer)
        }
        413 => Answer::TooLarge,
        429 | 503 => Answer::Retry(retry_after, format!("http {status}: {answer}")),
        _ => bail!("the ingestor answered {status}: {answer}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    /// A loopback ingestor that answers 503 (with `Retry-After: 0`) `unavailable` times,
    /// then accepts every line.
    async fn flaky(unavailable: u32) -> (String, Arc<AtomicU32>) {
        let hits = Arc::new(AtomicU32::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().route(
            "/v1/mentions",
            axum::routing::post(move |body: String| {
                let counter = counter.clone();
                async move {
                    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    if n <= unavailable {
                        return (
                            StatusCode::SERVICE_UNAVAILABLE,
                            [("retry-after", "0")],
                            "{}",
                        )
                            .into_response();
                    }
                    let lines = body.lines().count();
                    (
                        StatusCode::ACCEPTED,
                        axum::Json(json!({"accepted": lines, "duplicates": 0, "unmatched": 0})),
                    )
                        .into_response()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/mentions", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, hits)
    }

    fn options(url: String, max_attempts: u32) -> IngestOptions {
        IngestOptions {
            url,
            token: None,
            batch: 10,
            max_attempts,
            retry_wait: Duration::from_millis(10),
        }
    }

    #[tokio::test]
    async fn a_503_is_waited_out_and_the_batch_sent_again() {
        let (url, hits) = flaky(2).await;
        let input = "{\"a\":1}\n\n{\"a\":2}\n".as_bytes();
        let summary = ingest(input, &options(url, 5)).await.unwrap();
        assert_eq!(summary.lines, 2);
        assert_eq!(summary.accepted, 2);
        assert_eq!(summary.requests, 3);
        assert_eq!(hits.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_ingestor_that_stays_away_stops_the_run_naming_the_lines() {
        let (url, hits) = flaky(100).await;
        let input = "{\"a\":1}\n{\"a\":2}\n".as_bytes();
        let error = ingest(input, &options(url, 3))
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("lines 1..=2 after 3 attempts"), "{error}");
        assert_eq!(hits.load(Ordering::SeqCst), 3);
    }
}
