//! Unit and property tests of the k-way merge of bar sources into time steps.

use super::*;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

type Steps = Vec<(Timestamp, Vec<(InstrumentIdx, Bar)>)>;

/// A bar whose price tells instrument `k`'s `j`-th bar apart from every other.
fn bar(ts: i64, k: usize, j: usize) -> Bar {
    let price = (k * 100_000 + j + 1) as f64;
    Bar {
        ts: Timestamp(ts),
        open: price,
        high: price,
        low: price,
        close: price,
        volume: 1.0,
    }
}

/// Bars of instrument `k` at `times`.
fn series(k: usize, times: &[i64]) -> Vec<Bar> {
    times
        .iter()
        .enumerate()
        .map(|(j, &t)| bar(t, k, j))
        .collect()
}

/// Runs `f` on its own thread and returns its result; fails if it takes more than a minute,
/// which only a hang does.
fn without_hanging<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(f());
    });
    receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("the test finished within a minute")
}

fn memory_sources(series: &[Vec<Bar>], chunks: &[usize]) -> Vec<Box<dyn BarSource>> {
    series
        .iter()
        .zip(chunks)
        .map(|(bars, &chunk)| {
            Box::new(MemorySource::new(bars.clone(), chunk)) as Box<dyn BarSource>
        })
        .collect()
}

/// Runs the merger to the end, checking that it then stays finished.
fn drain(merger: &mut StepMerger) -> Result<Steps> {
    let (mut steps, mut step) = (Vec::new(), Vec::new());
    while let Some(ts) = merger.next_step(&mut step)? {
        steps.push((ts, step.clone()));
    }
    assert!(step.is_empty());
    assert_eq!(merger.next_step(&mut step)?, None);
    Ok(steps)
}

/// Runs the merger until it fails, returning the steps before the error and the error.
fn until_error(merger: &mut StepMerger) -> (Steps, Error) {
    let (mut steps, mut step) = (Vec::new(), Vec::new());
    loop {
        match merger.next_step(&mut step) {
            Ok(Some(ts)) => steps.push((ts, step.clone())),
            Ok(None) => panic!("expected an error after {} steps", steps.len()),
            Err(error) => return (steps, error),
        }
    }
}

fn merge(series: &[Vec<Bar>], chunks: &[usize], threads: usize, heap: bool) -> Steps {
    let chunk_rows = chunks.iter().copied().max().unwrap_or(1);
    let mut merger = StepMerger::new(memory_sources(series, chunks), threads, chunk_rows);
    if heap {
        merger = merger.with_heap();
    }
    assert_eq!(merger.instruments(), series.len());
    drain(&mut merger).unwrap()
}

/// The steps computed directly: every bar keyed by (time, instrument), grouped by time.
fn reference(series: &[Vec<Bar>]) -> Steps {
    let mut all: Vec<(i64, u32, Bar)> = series
        .iter()
        .enumerate()
        .flat_map(|(k, bars)| bars.iter().map(move |b| (b.ts.0, k as u32, *b)))
        .collect();
    all.sort_by_key(|&(t, k, _)| (t, k));
    let mut steps: Steps = Vec::new();
    for (t, k, b) in all {
        match steps.last_mut() {
            Some((ts, step)) if ts.0 == t => step.push((InstrumentIdx(k), b)),
            _ => steps.push((Timestamp(t), vec![(InstrumentIdx(k), b)])),
        }
    }
    steps
}

/// Checks the merge's invariants directly: time order, instruments in order within a step,
/// every bar exactly once.
fn check_invariants(steps: &Steps, series: &[Vec<Bar>]) {
    for pair in steps.windows(2) {
        assert!(pair[0].0 < pair[1].0, "steps in time order");
    }
    let mut seen: Vec<usize> = vec![0; series.len()];
    for (ts, step) in steps {
        assert!(!step.is_empty());
        for pair in step.windows(2) {
            assert!(pair[0].0 < pair[1].0, "instruments strictly increasing");
        }
        for (k, bar) in step {
            assert_eq!(bar.ts, *ts);
            let k = k.get();
            assert_eq!(*bar, series[k][seen[k]], "instrument {k}'s bars in order");
            seen[k] += 1;
        }
    }
    let lengths: Vec<usize> = series.iter().map(Vec::len).collect();
    assert_eq!(seen, lengths, "every bar exactly once");
}

#[test]
fn memory_source_serves_chunks() {
    let bars = series(0, &[1, 2, 3, 4, 5]);
    let mut source = MemorySource::new(bars.clone(), 2);
    let mut out = vec![bar(0, 9, 9)];
    let mut chunks = Vec::new();
    while source.next_chunk(&mut out).unwrap() {
        chunks.push(out.clone());
    }
    assert_eq!(
        chunks,
        [bars[..2].to_vec(), bars[2..4].to_vec(), bars[4..].to_vec()]
    );
    assert!(out.is_empty());
    assert!(!source.next_chunk(&mut out).unwrap());
    // A chunk size of zero serves one bar at a time.
    let mut source = MemorySource::new(bars, 0);
    assert!(source.next_chunk(&mut out).unwrap());
    assert_eq!(out.len(), 1);
}

#[test]
fn equal_times_share_a_step_in_instrument_order() {
    let series = vec![
        series(0, &[10, 20, 30]),
        series(1, &[]),
        series(2, &[5, 20, 40]),
        series(3, &[20]),
    ];
    for (threads, heap) in [(0, false), (1, false), (3, false), (0, true), (3, true)] {
        let steps = merge(&series, &[2, 1, 1, 5], threads, heap);
        let shape: Vec<(i64, Vec<u32>)> = steps
            .iter()
            .map(|(ts, step)| (ts.0, step.iter().map(|(k, _)| k.0).collect()))
            .collect();
        assert_eq!(
            shape,
            [
                (5, vec![2]),
                (10, vec![0]),
                (20, vec![0, 2, 3]),
                (30, vec![0]),
                (40, vec![2])
            ]
        );
        check_invariants(&steps, &series);
    }
}

#[test]
fn no_sources_or_only_empty_ones() {
    for threads in [0, 2] {
        for heap in [false, true] {
            assert!(merge(&[], &[], threads, heap).is_empty());
            assert!(merge(&[Vec::new(), Vec::new()], &[1, 3], threads, heap).is_empty());
        }
    }
}

/// A source that fails with a file's error after serving `chunks` chunks.
struct Failing {
    inner: MemorySource,
    chunks: usize,
}

fn failure() -> Error {
    Error::Empty {
        path: PathBuf::from("failing.parquet"),
    }
}

impl BarSource for Failing {
    fn next_chunk(&mut self, out: &mut Vec<Bar>) -> Result<bool> {
        if self.chunks == 0 {
            return Err(failure());
        }
        self.chunks -= 1;
        self.inner.next_chunk(out)
    }
}

#[test]
fn a_source_error_surfaces_and_the_merger_drops_cleanly() {
    without_hanging(|| {
        let times: Vec<i64> = (0..100).map(|t| t * 3).collect();
        let good = series(0, &times);
        let flaky = series(1, &times);
        for threads in [0, 2] {
            for chunks in [0, 1, 3] {
                let mut sources = memory_sources(&[good.clone(), good.clone()], &[4, 7]);
                let inner = MemorySource::new(flaky.clone(), 4);
                sources.insert(1, Box::new(Failing { inner, chunks }));
                let mut merger = StepMerger::new(sources, threads, 4);
                if chunks == 1 {
                    merger = merger.with_heap(); // the heap's way too, once
                }
                let (steps, error) = until_error(&mut merger);
                assert_eq!(
                    error.to_string(),
                    failure().to_string(),
                    "{threads} {chunks}"
                );
                // Every bar of the failing source that was served came out first, and nothing
                // after the last of them.
                let served = 4 * chunks;
                if let Some((last, _)) = steps.last() {
                    assert!(last.0 <= times[served.max(1) - 1], "{threads} {chunks}");
                }
                let flaky_out = steps
                    .iter()
                    .flat_map(|(_, step)| step)
                    .filter(|(k, _)| k.0 == 1)
                    .count();
                assert_eq!(flaky_out, served, "{threads} {chunks}");
                drop(merger);
            }
        }
    });
}

#[test]
fn a_single_source_error_comes_after_every_bar_it_served() {
    without_hanging(|| {
        let times: Vec<i64> = (0..100).map(|t| t * 3).collect();
        for threads in [0, 2] {
            for chunks in [0, 1, 3] {
                let inner = MemorySource::new(series(0, &times), 4);
                let sources: Vec<Box<dyn BarSource>> = vec![Box::new(Failing { inner, chunks })];
                let mut merger = StepMerger::new(sources, threads, 4);
                let (steps, error) = until_error(&mut merger);
                assert_eq!(error.to_string(), failure().to_string());
                let times_out: Vec<i64> = steps.iter().map(|(ts, _)| ts.0).collect();
                assert_eq!(times_out, times[..4 * chunks], "{threads} {chunks}");
            }
        }
    });
}

#[test]
fn a_merger_dropped_midway_stops_its_workers() {
    without_hanging(|| {
        let times: Vec<i64> = (0..1000).collect();
        let all: Vec<Vec<Bar>> = (0..8).map(|k| series(k, &times)).collect();
        for threads in [1, 4] {
            // Never started.
            drop(StepMerger::new(memory_sources(&all, &[3; 8]), threads, 3));
            let mut merger = StepMerger::new(memory_sources(&all, &[3; 8]), threads, 3);
            let mut step = Vec::new();
            for _ in 0..10 {
                merger.next_step(&mut step).unwrap();
            }
            assert_eq!(step.len(), 8);
            drop(merger);
        }
    });
}

/// A source that panics on its second chunk.
struct Panicking(usize);

impl BarSource for Panicking {
    fn next_chunk(&mut self, out: &mut Vec<Bar>) -> Result<bool> {
        self.0 += 1;
        assert!(
            self.0 < 2,
            "a source bug (this panic is expected by the test)"
        );
        *out = series(0, &[1, 2]);
        Ok(true)
    }
}

#[test]
fn a_panicking_source_on_a_worker_is_an_error_not_a_hang() {
    without_hanging(|| {
        for threads in [1, 2, 4] {
            let mut sources = memory_sources(&[series(0, &(0..50).collect::<Vec<_>>())], &[2]);
            sources.push(Box::new(Panicking(0)));
            let mut merger = StepMerger::new(sources, threads, 2);
            let (_, error) = until_error(&mut merger);
            assert!(matches!(error, Error::Prefetch { .. }), "{error:?}");
        }
    });
}

/// A source that answers every other call with more to come but no bars.
struct Stuttering {
    inner: MemorySource,
    calls: usize,
}

impl BarSource for Stuttering {
    fn next_chunk(&mut self, out: &mut Vec<Bar>) -> Result<bool> {
        self.calls += 1;
        if self.calls % 2 == 1 {
            out.clear();
            return Ok(true);
        }
        self.inner.next_chunk(out)
    }
}

#[test]
fn an_empty_chunk_is_not_the_end() {
    let all = vec![
        series(0, &[1, 4, 6, 8, 9]),
        series(1, &[2, 4, 5, 7, 10, 11]),
    ];
    for threads in [0, 2] {
        let sources: Vec<Box<dyn BarSource>> = all
            .iter()
            .map(|bars| {
                let inner = MemorySource::new(bars.clone(), 2);
                Box::new(Stuttering { inner, calls: 0 }) as Box<dyn BarSource>
            })
            .collect();
        let mut merger = StepMerger::new(sources, threads, 2);
        assert_eq!(drain(&mut merger).unwrap(), reference(&all));
    }
}

/// Instruments with random lengths, start times and gaps, on a coarse clock so that many share
/// timestamps, each with a small random chunk size.
fn random_sources() -> impl Strategy<Value = (Vec<Vec<Bar>>, Vec<usize>)> {
    let one = (
        -20_i64..40,
        prop::collection::vec(1_i64..6, 0..60),
        1_usize..8,
    );
    prop::collection::vec(one, 0..10).prop_map(|specs| {
        let mut series_of = Vec::new();
        let mut chunks = Vec::new();
        for (k, (start, gaps, chunk)) in specs.into_iter().enumerate() {
            let times: Vec<i64> = gaps
                .iter()
                .scan(start, |t, gap| {
                    let now = *t;
                    *t += gap;
                    Some(now)
                })
                .collect();
            series_of.push(series(k, &times));
            chunks.push(chunk);
        }
        (series_of, chunks)
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        rng_seed: RngSeed::Fixed(0x6d65_7267_6521),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn prop_merge_is_ordered_complete_and_independent_of_threads(
        (series, chunks) in random_sources()
    ) {
        let expected = reference(&series);
        for (threads, heap) in [(0, false), (1, false), (3, false), (0, true), (3, true)] {
            let steps = merge(&series, &chunks, threads, heap);
            check_invariants(&steps, &series);
            prop_assert_eq!(&steps, &expected, "threads {}, heap {}", threads, heap);
        }
    }
}

#[test]
fn a_bar_at_the_last_instant_is_not_taken_for_the_end() {
    let series = vec![series(0, &[1, i64::MAX]), series(1, &[2])];
    for heap in [false, true] {
        assert_eq!(
            merge(&series, &[1, 1], 0, heap),
            reference(&series),
            "heap {heap}"
        );
    }
}
