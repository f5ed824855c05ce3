//! What the Redis benchmarks share: criterion and a current-thread runtime set up
//! alike, and interleaved rounds — both sides in every round, alternating which goes
//! first, so drift on a shared VM lands on both; medians per call.

use std::future::Future;
use std::time::{Duration, Instant};

use criterion::Criterion;

/// Criterion (3 s measurements after 1 s of warm-up, command-line options applied)
/// and the current-thread runtime the benchmarks block on.
pub fn setup() -> (Criterion, tokio::runtime::Runtime) {
    let criterion = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    (criterion, rt)
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Runs `a` and `b` `per_round` times in each of `rounds` rounds, alternating which goes
/// first; the medians of their per-call microseconds.
pub async fn interleave<A, B, FA, FB>(
    rounds: usize,
    per_round: usize,
    mut a: A,
    mut b: B,
) -> (f64, f64)
where
    A: FnMut(usize) -> FA,
    B: FnMut(usize) -> FB,
    FA: Future<Output = ()>,
    FB: Future<Output = ()>,
{
    let (mut a_us, mut b_us) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        for side in [round % 2, (round + 1) % 2] {
            let started = Instant::now();
            for i in 0..per_round {
                if side == 0 { a(i).await } else { b(i).await }
            }
            let micros = started.elapsed().as_secs_f64() / per_round as f64 * 1e6;
            if side == 0 {
                a_us.push(micros)
            } else {
                b_us.push(micros)
            }
        }
    }
    (median(a_us), median(b_us))
}
