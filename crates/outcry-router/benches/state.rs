//! `cargo bench -p outcry-router --bench state`: what keeping the router's state costs.
//!
//! One busy brand, 300,000 scored mentions over three days (about 70 a minute, a fifth of
//! them complaints from a few hundred authors), routed as the service routes them. Printed,
//! each the median of `BENCH_RUNS` runs (7 by default):
//! - routing without state and with a snapshot every 100,000 records (the default), in
//!   mentions per second, the two taking turns, and the median of each pair's ratio: the
//!   snapshots' share of the routing cost;
//! - the size of the brand's snapshot (its seen-id window full at 100,000) and the time to
//!   write and to read it;
//! - a restore replaying 100,000 mentions after that snapshot, in mentions per second.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{record_at, scored, MemoryStore, T0};
use outcry_proto::Message as _;
use outcry_router::core::RouterCore;
use outcry_router::Router;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

const MENTIONS: usize = 300_000;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The scored partition: (timestamp, payload) by offset.
fn input() -> Vec<(i64, Vec<u8>)> {
    let gap = 3 * 86_400_000 / MENTIONS as i64;
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..MENTIONS)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = T0 + i as i64 * gap;
            let sm = if state.is_multiple_of(5) {
                let author = format!("a{}", state % 400);
                scored(&format!("x:{i}"), &author, at, 0.9, -0.6)
            } else {
                scored(
                    &format!("x:{i}"),
                    &format!("u{}", state % 50_000),
                    at,
                    0.1,
                    0.4,
                )
            };
            (at, sm.encode_to_vec())
        })
        .collect()
}

/// Routes offsets `from .. to` of `log` with `router`, writing its snapshots to `store`;
/// returns the outputs' count.
fn route(
    router: &mut Router,
    store: &MemoryStore,
    log: &[(i64, Vec<u8>)],
    from: usize,
    to: usize,
) -> usize {
    let mut outputs = 0;
    for (offset, (at, payload)) in log.iter().enumerate().take(to).skip(from) {
        let out = router
            .handle_record(&record_at(offset as i64, *at, payload), *at)
            .unwrap_or_default();
        outputs += store.write("outcry.router-state.v1", out).len();
    }
    outputs
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(7);
    let log = input();
    let store = Arc::new(MemoryStore::default());
    for (at, payload) in &log {
        store.append_scored(0, *at, payload.clone());
    }
    let config = common::config();
    let mut stateful = config.clone();
    stateful.router.state.checkpoint_secs = 1_000_000;

    // the two take turns, each going first every other pair, so that a change in the host's
    // load (the machines are shared) moves both sides of a pair alike: the ratio reported is
    // the median of the pairs' ratios, not a ratio of medians taken minutes apart
    let (mut without, mut with, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let mut pair = [0.0; 2];
        for side in [run % 2, 1 - run % 2] {
            let start = Instant::now();
            let (mut router, writes_to) = if side == 0 {
                (Router::new(&config), store.clone())
            } else {
                // a store of its own each run, so that a restore finds nothing: the first
                // record of the partition replays nothing before offset 0
                let own = Arc::new(MemoryStore::default());
                (Router::with_state(&stateful, own.clone()), own)
            };
            black_box(route(&mut router, &writes_to, &log, 0, MENTIONS));
            pair[side] = MENTIONS as f64 / start.elapsed().as_secs_f64();
        }
        without.push(pair[0]);
        with.push(pair[1]);
        ratios.push(pair[1] / pair[0]);
    }
    let pairs: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
    println!("routing, no state: {:.0} mentions/s", median(without));
    println!(
        "routing, a snapshot every 100,000 records: {:.0} mentions/s ({:.3} of no state, median of the pairs: {})",
        median(with),
        median(ratios),
        pairs.join(" ")
    );

    let mut core = RouterCore::new(&config);
    for (at, payload) in &log {
        let sm = outcry_proto::v1::ScoredMention::decode(payload.as_slice()).unwrap();
        let _ = core.route(&sm, *at);
    }
    let (mut save_ms, mut load_ms, mut bytes) = (Vec::new(), Vec::new(), 0);
    for _ in 0..runs {
        let start = Instant::now();
        let snapshot = core.save(["acme"]).unwrap();
        save_ms.push(start.elapsed().as_secs_f64() * 1000.0);
        bytes = snapshot.len();
        let mut fresh = RouterCore::new(&config);
        let start = Instant::now();
        fresh.load(&snapshot, |_| true).unwrap();
        load_ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "snapshot of the brand: {:.2} MB, written in {:.1} ms, read in {:.1} ms",
        bytes as f64 / 1e6,
        median(save_ms),
        median(load_ms)
    );

    // the partition's snapshot at 200,000, then a router taking over at 300,000
    let mut writer = Router::with_state(&stateful, store.clone());
    route(&mut writer, &store, &log, 0, 200_000);
    let mut replay = Vec::new();
    for _ in 0..runs {
        let mut next = Router::with_state(&stateful, store.clone());
        let start = Instant::now();
        route(&mut next, &store, &log, MENTIONS - 1, MENTIONS);
        replay.push(100_000.0 / start.elapsed().as_secs_f64());
    }
    println!(
        "restore: snapshot read and 100,000 mentions replayed at {:.0} mentions/s",
        median(replay)
    );
}
