use super::*;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::sync::atomic::{AtomicU32, Ordering};

/// A real HTTP server on loopback; `respond` answers its `n`th request (from 1).
async fn serve<F>(respond: F) -> (String, Arc<AtomicU32>)
where
    F: Fn(u32) -> Response + Clone + Send + Sync + 'static,
{
    let hits = Arc::new(AtomicU32::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move || {
            let (counter, respond) = (counter.clone(), respond.clone());
            async move { respond(counter.fetch_add(1, Ordering::SeqCst) + 1) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

/// A loopback receiver that fails the first `fail_first` requests with `status`.
async fn receiver(fail_first: u32, status: StatusCode) -> (String, Arc<AtomicU32>) {
    serve(move |n| {
        if n <= fail_first {
            status.into_response()
        } else {
            StatusCode::NO_CONTENT.into_response()
        }
    })
    .await
}

fn config(hooks: &[(&str, &str)], max_attempts: u32) -> NotifierConfig {
    NotifierConfig {
        webhooks: hooks
            .iter()
            .map(|(name, url)| WebhookConfig {
                name: (*name).into(),
                url: (*url).into(),
                ..Default::default()
            })
            .collect(),
        max_attempts,
        initial_backoff_ms: 1,
        max_backoff_ms: 5,
        request_timeout_ms: 2_000,
    }
}

fn notifier(url: &str, max_attempts: u32) -> Notifier {
    Notifier::new(&config(&[("crm", url)], max_attempts)).unwrap()
}

fn record(payload: &[u8]) -> Record<'_> {
    Record {
        topic: "t",
        offset: 7,
        payload,
        ..Record::default()
    }
}

/// A real HTTP server on loopback that keeps every JSON body it is posted, per path.
async fn capture() -> (
    String,
    Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>,
) {
    type Bodies = Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>;
    let bodies: Bodies = Arc::default();
    let kept = bodies.clone();
    let app = axum::Router::new().route(
        "/{hook}",
        post(
            move |axum::extract::Path(hook): axum::extract::Path<String>,
                  axum::Json(body): axum::Json<serde_json::Value>| {
                let kept = kept.clone();
                async move {
                    kept.lock().unwrap().push((hook, body));
                    StatusCode::ACCEPTED
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, bodies)
}

#[tokio::test]
async fn each_webhook_gets_the_body_of_its_format() {
    use outcry_proto::v1::{CaseState, Priority};
    let (base, bodies) = capture().await;
    let hook = |name: &str, format| WebhookConfig {
        name: name.into(),
        url: format!("{base}/{name}"),
        format,
        routing_key: "key-1".into(),
        ..Default::default()
    };
    let mut cfg = config(&[], 2);
    cfg.webhooks = vec![
        hook("crm", WebhookFormat::Outcry),
        hook("slack", WebhookFormat::Slack),
        hook("pager", WebhookFormat::Pagerduty),
        hook("am", WebhookFormat::Alertmanager),
    ];
    let mut n = Notifier::new(&cfg).unwrap();
    for (sequence, state) in [(1, CaseState::Open), (2, CaseState::Resolved)] {
        let payload = Escalation {
            escalation_id: format!("c1:{sequence}"),
            case_id: "c1".into(),
            sequence,
            state: state as i32,
            priority: Priority::P2 as i32,
            team: "care".into(),
            summary: "Acme: <b>outage</b>".into(),
            ..Default::default()
        }
        .encode_to_vec();
        n.process(&record(&payload)).await.unwrap();
    }
    let bodies = bodies.lock().unwrap().clone();
    let of = |hook: &str| -> Vec<serde_json::Value> {
        bodies
            .iter()
            .filter(|(h, _)| h == hook)
            .map(|(_, b)| b.clone())
            .collect()
    };
    let crm = of("crm");
    assert_eq!(crm.len(), 2);
    assert_eq!(crm[0]["escalation_id"], "c1:1");
    let slack = of("slack");
    assert!(
        slack[0]["text"]
            .as_str()
            .unwrap()
            .contains("Acme: &lt;b&gt;outage&lt;/b&gt;"),
        "{slack:?}"
    );
    let pager = of("pager");
    assert_eq!(
        pager
            .iter()
            .map(|b| (b["event_action"].clone(), b["dedup_key"].clone()))
            .collect::<Vec<_>>(),
        [
            (serde_json::json!("trigger"), serde_json::json!("c1")),
            (serde_json::json!("resolve"), serde_json::json!("c1"))
        ]
    );
    assert_eq!(pager[0]["payload"]["custom_details"], crm[0]);
    let am = of("am");
    assert_eq!(am.len(), 2);
    assert_eq!(am[0][0]["labels"], am[1][0]["labels"]);
    assert_eq!(am[1][0]["annotations"]["state"], "resolved");
}

#[tokio::test]
async fn retries_server_errors_until_delivered() {
    let (url, hits) = receiver(2, StatusCode::SERVICE_UNAVAILABLE).await;
    let mut n = notifier(&url, 5);
    let payload = Escalation {
        escalation_id: "e1".into(),
        ..Default::default()
    }
    .encode_to_vec();
    let out = n.process(&record(&payload)).await.unwrap();
    assert!(out.is_empty());
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn gives_up_after_the_last_attempt_with_a_dead_letter_reason() {
    let (url, hits) = receiver(100, StatusCode::BAD_GATEWAY).await;
    let mut n = notifier(&url, 3);
    let payload = Escalation::default().encode_to_vec();
    let reject = n.process(&record(&payload)).await.unwrap_err();
    assert_eq!(reject.reason, "delivery_failed");
    assert_eq!(reject.attempts, 3);
    assert!(reject.detail.contains("502"), "{}", reject.detail);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (url, hits) = receiver(100, StatusCode::UNPROCESSABLE_ENTITY).await;
    let mut n = notifier(&url, 5);
    let reject = n
        .process(&record(&Escalation::default().encode_to_vec()))
        .await
        .unwrap_err();
    assert_eq!(reject.attempts, 1);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn undecodable_records_are_rejected_not_delivered() {
    let (url, hits) = receiver(0, StatusCode::OK).await;
    let mut n = notifier(&url, 5);
    let reject = n.process(&record(b"\xff\xff\xff")).await.unwrap_err();
    assert_eq!(reject.reason, "decode_error");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_failing_webhook_does_not_keep_the_others_from_the_escalation() {
    let (crm, crm_hits) = receiver(100, StatusCode::UNPROCESSABLE_ENTITY).await;
    let (pager, pager_hits) = receiver(0, StatusCode::OK).await;
    let mut n = Notifier::new(&config(&[("crm", &crm), ("pager", &pager)], 3)).unwrap();
    let payload = Escalation {
        escalation_id: "e1".into(),
        ..Default::default()
    }
    .encode_to_vec();
    let reject = n.process(&record(&payload)).await.unwrap_err();
    assert_eq!(pager_hits.load(Ordering::SeqCst), 1);
    assert_eq!(crm_hits.load(Ordering::SeqCst), 1);
    assert_eq!(reject.reason, "delivery_failed");
    assert_eq!(reject.attempts, 1);
    assert_eq!(
        reject.detail,
        "webhook crm after 1 attempt(s): http status 422 Unprocessable Entity"
    );
}

#[tokio::test]
async fn one_dead_letter_names_every_webhook_that_failed() {
    let (crm, _) = receiver(100, StatusCode::UNPROCESSABLE_ENTITY).await;
    let (pager, _) = receiver(0, StatusCode::OK).await;
    let (audit, audit_hits) = receiver(100, StatusCode::BAD_GATEWAY).await;
    let hooks = [("crm", crm.as_str()), ("pager", &pager), ("audit", &audit)];
    let mut n = Notifier::new(&config(&hooks, 2)).unwrap();
    let reject = n
        .process(&record(&Escalation::default().encode_to_vec()))
        .await
        .unwrap_err();
    assert_eq!(audit_hits.load(Ordering::SeqCst), 2);
    assert_eq!(reject.attempts, 2);
    assert_eq!(
        reject.detail,
        "webhook crm after 1 attempt(s): http status 422 Unprocessable Entity; \
         webhook audit after 2 attempt(s): http status 502 Bad Gateway"
    );
}

/// Answers 429 `Retry-After: <secs>` to every request sooner than `secs` after its
/// first 429, and 204 after that: it counts an early retry as one more refusal.
async fn rate_limited(secs: u64) -> (String, Arc<AtomicU32>) {
    let first = Arc::new(std::sync::Mutex::new(None::<Instant>));
    serve(move |_| {
        let mut first = first.lock().unwrap();
        let since = first.get_or_insert_with(Instant::now).elapsed();
        if since >= Duration::from_secs(secs) {
            StatusCode::NO_CONTENT.into_response()
        } else {
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", secs.to_string())],
            )
                .into_response()
        }
    })
    .await
}

#[tokio::test]
async fn retry_after_above_max_backoff_is_waited_for() {
    let (url, hits) = rate_limited(1).await;
    // max_backoff is 5 ms: three attempts capped to it all land inside the second
    let mut n = notifier(&url, 3);
    let payload = Escalation::default().encode_to_vec();
    let processed = tokio::time::timeout(Duration::from_secs(30), n.process(&record(&payload)))
        .await
        .expect("delivery within the bound");
    assert!(processed.is_ok(), "{processed:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn retry_after_beyond_the_budget_gives_up_at_once() {
    let (url, hits) = rate_limited(3600).await;
    let mut n = notifier(&url, 5);
    let payload = Escalation::default().encode_to_vec();
    let reject = tokio::time::timeout(Duration::from_secs(30), n.process(&record(&payload)))
        .await
        .expect("no hour-long wait")
        .unwrap_err();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(reject.reason, "delivery_failed");
    assert_eq!(
        reject.detail,
        "webhook crm after 1 attempt(s): http status 429 Too Many Requests; retry-after \
         3600s exceeds what is left of the 120s retry budget"
    );
}

#[test]
fn delivery_series_exist_at_zero_before_any_delivery() {
    // the process-wide recorder, the one the admin endpoint renders
    let handle = outcry_runtime::telemetry::metrics_handle();
    let _n = Notifier::new(&config(&[("zero-series", "http://127.0.0.1:9/hook")], 3)).unwrap();
    let text = handle.render();
    let value = |series: &str| -> f64 {
        outcry_runtime::telemetry::sample_value(&text, series)
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
    };
    for outcome in ["delivered", "failed"] {
        let series = format!(
            r#"outcry_notifier_deliveries_total{{webhook="zero-series",outcome="{outcome}"}}"#
        );
        assert_eq!(value(&series), 0.0, "{series}");
    }
    for result in ["2xx", "4xx", "5xx", "error"] {
        let series = format!(
            r#"outcry_notifier_delivery_attempts_total{{webhook="zero-series",result="{result}"}}"#
        );
        assert_eq!(value(&series), 0.0, "{series}");
    }
}

#[tokio::test]
async fn every_dead_letter_reason_is_declared_to_the_pipeline() {
    let (url, _) = receiver(100, StatusCode::UNPROCESSABLE_ENTITY).await;
    let mut n = notifier(&url, 1);
    let undecodable = n.process(&record(b"\xff\xff\xff")).await.unwrap_err();
    let undelivered = n
        .process(&record(&Escalation::default().encode_to_vec()))
        .await
        .unwrap_err();
    assert_eq!(
        n.dead_letter_reasons(),
        &[undecodable.reason, undelivered.reason]
    );
}
