//! Interleaved rounds, shared by the benches that report ratios: each round runs a batch
//! of every row, in a rotating order, so drift on a shared machine lands on every row
//! alike; a ratio is the median of the per-round ratios, a time the median of its rounds.
//! Wall time and the client process's CPU time (`CLOCK_PROCESS_CPUTIME_ID`) both.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpu_time::ProcessTime;
use futures_util::future::BoxFuture;
use tokio::runtime::Runtime;

/// One row of a workload: runs iteration `i`.
pub type Body = Arc<dyn Fn(u64) -> BoxFuture<'static, ()> + Send + Sync>;

pub fn body<F, Fut>(f: F) -> Body
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |i| Box::pin(f(i)))
}

/// The connection iteration `i` runs on.
pub fn nth<T>(all: &[T], i: u64) -> &T {
    &all[i as usize % all.len()]
}

/// Runs `row` for iterations `0..iters` inside one task of `rt` (spawned, so on the
/// multi-thread runtime it runs on a worker, as a request handler would) and returns
/// the wall time and the process's CPU time over the run (the client's: the servers are
/// other processes).
pub fn timed_with_cpu(rt: &Runtime, iters: u64, row: &Body) -> (Duration, Duration) {
    let row = Arc::clone(row);
    let run = async move {
        let started = Instant::now();
        for i in 0..iters {
            row(i).await;
        }
        started.elapsed()
    };
    let cpu = ProcessTime::now();
    let wall = rt.block_on(async { tokio::spawn(run).await.unwrap() });
    (wall, cpu.elapsed())
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Per-iteration microseconds of each row in each round: wall, then CPU.
pub struct Rounds {
    pub wall: Vec<Vec<f64>>,
    pub cpu: Vec<Vec<f64>>,
}

/// Runs `rounds` rounds of `batch` iterations of every row, rotating which goes first.
pub fn interleave(rt: &Runtime, rows: &[Body], batch: u64, rounds: usize) -> Rounds {
    let n = rows.len();
    let mut out = Rounds {
        wall: vec![Vec::new(); n],
        cpu: vec![Vec::new(); n],
    };
    for round in 0..rounds {
        for k in 0..n {
            let at = (round + k) % n;
            let (w, c) = timed_with_cpu(rt, batch, &rows[at]);
            out.wall[at].push(w.as_secs_f64() * 1e6 / batch as f64);
            out.cpu[at].push(c.as_secs_f64() * 1e6 / batch as f64);
        }
    }
    out
}

/// The median over rounds of row `a`'s time divided by row `b`'s.
pub fn ratio(micros: &[Vec<f64>], a: usize, b: usize) -> f64 {
    median(
        micros[a]
            .iter()
            .zip(&micros[b])
            .map(|(x, y)| x / y)
            .collect(),
    )
}
