use super::*;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const BUCKET: i64 = 300_000;

fn core() -> RouterCore {
    let config = Config::from_yaml(
        r#"
brands:
  - id: acme
    name: Acme Air
    team: acme-care
    spike:
      priority: 2
"#,
    )
    .unwrap();
    RouterCore::new(&config)
}

/// A spike event of `phase` for a spike that started at `started_ms`, decided by the
/// bucket starting `bucket_start_ms`.
fn event(phase: SpikePhase, started_ms: i64, bucket_start_ms: i64) -> SpikeEvent {
    SpikeEvent {
        phase,
        bucket_start_ms,
        bucket_secs: 300,
        observed: 40,
        expected: 2.0,
        deviation: 4.5,
        anomaly_score: 0.99,
        severity: outcry_spike::Severity::Minor,
        started_ms,
        duration_buckets: ((bucket_start_ms - started_ms) / BUCKET + 1) as u32,
    }
}

#[test]
fn a_spike_case_reopened_by_the_other_series_goes_on_with_its_sequence() {
    let mut core = core();
    let brand = core.brands.get_mut("acme").unwrap();
    // the mention volume spikes and calms down; the complaints series, whose spike began in
    // the same bucket, is confirmed only afterwards: one incident, one case id
    let steps = [
        (SERIES_VOLUME, SpikePhase::Opened, T0 + 2 * BUCKET),
        (SERIES_VOLUME, SpikePhase::Resolved, T0 + 5 * BUCKET),
        (SERIES_COMPLAINTS, SpikePhase::Opened, T0 + 6 * BUCKET),
        (SERIES_COMPLAINTS, SpikePhase::Updated, T0 + 7 * BUCKET),
        (SERIES_COMPLAINTS, SpikePhase::Resolved, T0 + 9 * BUCKET),
    ];
    let out: Vec<Escalation> = steps
        .iter()
        .filter_map(|&(series, phase, at)| brand.on_spike(series, &event(phase, T0, at), at, 0))
        .collect();
    let states: Vec<i32> = out.iter().map(|e| e.state).collect();
    assert_eq!(
        states,
        [
            CaseState::Open as i32,
            CaseState::Resolved as i32,
            CaseState::Open as i32,
            CaseState::Updated as i32,
            CaseState::Resolved as i32
        ]
    );
    assert!(out.iter().all(|e| e.case_id == out[0].case_id));
    let sequences: Vec<u64> = out.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [1, 2, 3, 4, 5]);
    let ids: HashSet<&str> = out.iter().map(|e| e.escalation_id.as_str()).collect();
    assert_eq!(ids.len(), out.len(), "an escalation id repeated");
}

/// The escalations for `steps` of (series, phase, spike start, deciding bucket), each
/// decided at its bucket's start.
fn run(brand: &mut BrandState, steps: &[(u8, SpikePhase, i64, i64)]) -> Vec<Escalation> {
    steps
        .iter()
        .filter_map(|&(series, phase, started, at)| {
            brand.on_spike(series, &event(phase, started, at), at, 0)
        })
        .collect()
}

#[test]
fn the_other_series_spiking_within_the_cooldown_reopens_the_case() {
    let mut core = core();
    let brand = core.brands.get_mut("acme").unwrap();
    // the volume spike resolves; two hours later the complaints series starts a spike of
    // its own: the complaints detector never cooled down, but the brand's incident did not
    // end, so it is the same case, not a second one for the CRM and the on-call
    let later = T0 + 24 * BUCKET;
    let out = run(
        brand,
        &[
            (SERIES_VOLUME, SpikePhase::Opened, T0, T0 + 2 * BUCKET),
            (SERIES_VOLUME, SpikePhase::Resolved, T0, T0 + 5 * BUCKET),
            (
                SERIES_COMPLAINTS,
                SpikePhase::Opened,
                later,
                later + 2 * BUCKET,
            ),
            (
                SERIES_COMPLAINTS,
                SpikePhase::Resolved,
                later,
                later + 4 * BUCKET,
            ),
        ],
    );
    assert_eq!(out.len(), 4);
    assert!(out.iter().all(|e| e.case_id == out[0].case_id));
    let sequences: Vec<u64> = out.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, [1, 2, 3, 4]);
    assert_eq!(out[2].state, CaseState::Open as i32);
    // the SLA runs again from the re-opening (30 minutes by default)
    let sla = |e: &Escalation| millis_from_timestamp(e.sla_due.as_ref());
    assert_eq!(sla(&out[2]), later + 2 * BUCKET + 30 * 60_000);
    assert!(sla(&out[2]) > sla(&out[0]));
    // the case's span covers both spikes
    let first_seen = millis_from_timestamp(out[3].first_seen.as_ref());
    assert_eq!(first_seen, T0);
}

#[test]
fn a_spike_after_the_cooldown_opens_a_case_of_its_own() {
    // the default cooldown is a day from the end of the bucket that resolved the case
    let resolved_at = T0 + 5 * BUCKET;
    let cooling_until = resolved_at + BUCKET + 24 * 3_600_000;
    for (series, started) in [
        (SERIES_VOLUME, cooling_until),
        (SERIES_COMPLAINTS, cooling_until),
    ] {
        let mut core = core();
        let out = run(
            core.brands.get_mut("acme").unwrap(),
            &[
                (SERIES_VOLUME, SpikePhase::Opened, T0, T0 + 2 * BUCKET),
                (SERIES_VOLUME, SpikePhase::Resolved, T0, resolved_at),
                (series, SpikePhase::Opened, started, started + 2 * BUCKET),
                (series, SpikePhase::Resolved, started, started + 4 * BUCKET),
            ],
        );
        assert_eq!(out.len(), 4);
        assert_ne!(out[2].case_id, out[0].case_id);
        assert_eq!(out[2].sequence, 1);
        assert_eq!(out[2].state, CaseState::Open as i32);
    }
    // one bucket earlier is still the first incident
    let started = cooling_until - BUCKET;
    let mut core = core();
    let out = run(
        core.brands.get_mut("acme").unwrap(),
        &[
            (SERIES_VOLUME, SpikePhase::Opened, T0, T0 + 2 * BUCKET),
            (SERIES_VOLUME, SpikePhase::Resolved, T0, resolved_at),
            (
                SERIES_COMPLAINTS,
                SpikePhase::Opened,
                started,
                started + 2 * BUCKET,
            ),
        ],
    );
    assert_eq!(out[2].case_id, out[0].case_id);
    assert_eq!(out[2].sequence, 3);
}
