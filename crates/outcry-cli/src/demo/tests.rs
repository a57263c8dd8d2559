use super::{counter_total, notified_in_deliveries, records_in_cases};
use crate::webhook::{notified, Received};

#[test]
fn summary_counts_agree_in_number() {
    assert_eq!(records_in_cases(270, 268), "270 records in 268 cases");
    assert_eq!(records_in_cases(3, 1), "3 records in 1 case");
    assert_eq!(records_in_cases(1, 1), "1 record in 1 case");
    assert_eq!(records_in_cases(0, 0), "0 records in 0 cases");
}

#[test]
fn a_counter_is_summed_over_its_labels_and_only_its_own() {
    let text = "# TYPE outcry_router_mentions_late_total counter\n\
                outcry_router_mentions_late_total{brand=\"a\"} 2848\n\
                outcry_router_mentions_late_total{brand=\"b\"} 12\n\
                outcry_router_mentions_late_total_other 5\n\
                outcry_router_records_consumed_total 10919\n";
    assert_eq!(
        counter_total(text, "outcry_router_mentions_late_total"),
        2860
    );
    assert_eq!(
        counter_total(text, "outcry_router_records_consumed_total"),
        10919
    );
    assert_eq!(counter_total(text, "outcry_absent_total"), 0);
}

#[test]
fn a_repeated_delivery_is_one_escalation_notified() {
    let delivery = |key: &str| Received {
        body: serde_json::Value::Null,
        idempotency_key: key.into(),
        received_ms: 0,
    };
    let received = [delivery("e1"), delivery("e2"), delivery("e1")];
    assert_eq!(notified(&received), 2);
    assert_eq!(notified(&received[..2]), 2);
    assert_eq!(notified(&[]), 0);
    assert_eq!(
        notified_in_deliveries(2, 3),
        "2 escalations in 3 deliveries"
    );
    assert_eq!(notified_in_deliveries(1, 2), "1 escalation in 2 deliveries");
    assert_eq!(notified_in_deliveries(297, 297), "297 escalations");
}
