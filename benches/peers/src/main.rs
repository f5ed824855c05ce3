//! Issue 26's peer suite: the diesel benchmark suite's workloads, written idiomatically
//! with each backend's raw driver (the floor) and the libraries people choose between,
//! one process per backend:
//! - `postgres`: tokio-postgres (floor), txova-db, diesel (sync `PgConnection`),
//!   diesel-async, sqlx, SeaORM;
//! - `sqlite`: rusqlite (floor), txova-db, diesel (`SqliteConnection`), sqlx;
//! - `mariadb`: mysql_async (floor), txova-db, diesel (`MysqlConnection`), sqlx.
//!
//! Data (the suite's three tables): 10,000 users (`id`, `name`, `hair_color`: black for
//! even ids, NULL for odd multiples of 5, else brown); users 1..=100 have 10 posts each
//! and every post 10 comments. Workloads:
//! - `trivial N`: the users with `id <= N`, N = 1, 100, 10,000;
//! - `medium`: users 1..=100 with black hair LEFT JOIN their posts (500 rows, 7 columns);
//! - `insert N`: N new users in one statement, N = 1, 100, 1,000;
//! - `associations`: users 1..=100, then their posts (1,000), then those posts'
//!   comments (10,000), grouped under their parents.
//!
//! Every call checks its result's size. Each variant spreads its calls over
//! [`CONNECTIONS`] connections used in turn (a point query's cost on these 2-vCPU
//! machines swings up to 3x with the vCPU each connection's server process gets): the
//! drivers and diesel (sync and async) that many connections, sqlx and SeaORM a pool
//! of that many (warmed, so it hands them out in turn), txova-db that many
//! one-connection `Db`s.
//! The async variants run on one current-thread runtime, each batch inside one
//! `block_on`; the sync ones (diesel, rusqlite) run their batch on the same thread.
//! Interleaved rounds, the order rotating each round; per variant the median wall time
//! and client CPU (`CLOCK_PROCESS_CPUTIME_ID`) per call, and ratios to the floor as
//! medians of per-round ratios.
//!
//! `cargo run --release -- [BACKEND [ROUNDS [WORKLOAD [VARIANT]]]]` (BACKEND `postgres`
//! by default), with `DATABASE_URL` for Postgres (default
//! `postgres://postgres@127.0.0.1:5432/test`) and `MYSQL_URL` for MariaDB (default
//! `mysql://root@127.0.0.1:3306/test`); each run creates a schema, database or file of
//! its own and drops it at the end. `WORKLOAD` and `VARIANT` keep the rows whose names
//! contain them (a workload named exactly: only that one; the floor is always kept),
//! for profiling one side under callgrind.

// The rows' fields are decoded and dropped, not read: the loading is what is measured
// (decoding allocates and checks, so the optimiser cannot skip it).
#![allow(dead_code)]

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use cpu_time::ProcessTime;
use futures_util::future::LocalBoxFuture;
use tokio::runtime::Runtime;

mod diesel_side;
mod mariadb;
mod postgres;
mod rows;
mod sqlite;
mod txova_side;

const CONNECTIONS: usize = 4;
const USERS: usize = 10_000;
const MEDIUM_ROWS: usize = 500;
const ASSOCIATED_USERS: i32 = 100;

/// The users a `insert N` call writes.
fn new_users(n: usize, i: u64) -> Vec<(String, Option<String>)> {
    (0..n)
        .map(|k| {
            let hair = (k % 2 == 0).then(|| "black".to_owned());
            (format!("New user {i}.{k}"), hair)
        })
        .collect()
}

/// Children grouped under their parents' keys, in the parents' order.
fn grouped<C, K: Hash + Eq + Copy>(
    parents: &[K],
    children: Vec<C>,
    key: impl Fn(&C) -> K,
) -> Vec<Vec<C>> {
    let at: HashMap<K, usize> = parents.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    let mut groups: Vec<Vec<C>> = parents.iter().map(|_| Vec::new()).collect();
    for child in children {
        groups[at[&key(&child)]].push(child);
    }
    groups
}

/// Posts with their comments grouped under them, then grouped under their users: the
/// end of every `associations` call that loads the three levels with `IN` queries.
fn nest<U, P, C>(
    users: Vec<U>,
    user_ids: &[i32],
    posts: Vec<P>,
    post_ids: &[i32],
    comments: Vec<C>,
    post_user: impl Fn(&P) -> i32,
    comment_post: impl Fn(&C) -> i32,
) -> Vec<(U, Vec<(P, Vec<C>)>)> {
    let mut comments = grouped(post_ids, comments, comment_post).into_iter();
    let posts: Vec<(P, Vec<C>)> = posts
        .into_iter()
        .map(|p| (p, comments.next().unwrap_or_default()))
        .collect();
    let posts = grouped(user_ids, posts, |(p, _)| post_user(p));
    users.into_iter().zip(posts).collect()
}

/// What an `associations` call loaded: users, posts per user, comments in all.
fn shape<U, P, C>(loaded: &[(U, Vec<(P, Vec<C>)>)]) -> (usize, Vec<usize>, usize) {
    let posts = loaded.iter().map(|(_, posts)| posts.len()).collect();
    let comments = loaded
        .iter()
        .flat_map(|(_, posts)| posts.iter().map(|(_, comments)| comments.len()))
        .sum();
    (loaded.len(), posts, comments)
}

fn check_associations((users, posts, comments): (usize, Vec<usize>, usize)) {
    assert_eq!(users, ASSOCIATED_USERS as usize);
    assert!(posts.iter().all(|&p| p == 10), "10 posts per user");
    assert_eq!(comments, 10_000);
}

/// `INSERT INTO new_users (name, hair_color) VALUES` with `n` rows of placeholders,
/// `$1, $2, …` when `numbered`, else `?`.
fn insert_sql(n: usize, numbered: bool) -> String {
    let mut sql = String::from("INSERT INTO new_users (name, hair_color) VALUES ");
    for k in 0..n {
        if k > 0 {
            sql.push_str(", ");
        }
        if numbered {
            sql.push_str(&format!("(${}, ${})", 2 * k + 1, 2 * k + 2));
        } else {
            sql.push_str("(?, ?)");
        }
    }
    sql
}

/// `(?, ?, …)` with `n` placeholders, for the drivers' `IN` lists.
fn in_list(n: usize) -> String {
    let mut list = String::from("(");
    for k in 0..n {
        list.push_str(if k == 0 { "?" } else { ", ?" });
    }
    list.push(')');
    list
}

/// `SELECT … WHERE column IN (…)` over `ids`, as sqlx's guide spells an `IN` where
/// the backend has no arrays.
fn sqlx_select_in<DB: sqlx::Database>(select: &str, ids: &[i32]) -> sqlx::QueryBuilder<DB>
where
    for<'t> i32: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let mut builder = sqlx::QueryBuilder::new(select);
    builder.push(" IN (");
    let mut list = builder.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    builder.push(")");
    builder
}

/// An async side: `$body` runs call `$i` with `$c` the connection it uses in turn.
macro_rules! on_each {
    ($conns:expr, |$c:ident, $i:ident| $body:expr) => {{
        let conns = $conns.clone();
        $crate::Body::Async(Box::new(move |$i| {
            let conns = conns.clone();
            Box::pin(async move {
                let $c = &conns[$i as usize % conns.len()];
                $body
            })
        }))
    }};
}
pub(crate) use on_each;

/// A sync side: `$body` runs call `$i` with `$c` the connection (`&mut`) it uses in
/// turn, out of an `Rc<RefCell<Vec<_>>>`.
macro_rules! on_each_sync {
    ($conns:expr, |$c:ident, $i:ident| $body:expr) => {{
        let conns = $conns.clone();
        $crate::Body::Sync(Box::new(move |$i| {
            let mut all = conns.borrow_mut();
            let len = all.len();
            let $c = &mut all[$i as usize % len];
            $body
        }))
    }};
}
pub(crate) use on_each_sync;

/// One variant of a workload: runs call `i`.
enum Body {
    Async(Box<dyn Fn(u64) -> LocalBoxFuture<'static, ()>>),
    Sync(Box<dyn FnMut(u64)>),
}

fn run_batch(rt: &Runtime, body: &mut Body, batch: u64, offset: u64) -> (Duration, Duration) {
    let cpu = ProcessTime::now();
    let started = Instant::now();
    match body {
        Body::Async(f) => rt.block_on(async {
            for i in 0..batch {
                f(offset + i).await;
            }
        }),
        Body::Sync(f) => {
            for i in 0..batch {
                f(offset + i);
            }
        }
    }
    (started.elapsed(), cpu.elapsed())
}

/// A workload: its variants, the floor first.
struct Workload {
    name: String,
    batch: u64,
    variants: Vec<(&'static str, Body)>,
}

impl Workload {
    /// The batch of calls a round times: enough that a batch takes milliseconds.
    fn trivial(n: usize, variants: Vec<(&'static str, Body)>) -> Self {
        Workload {
            name: format!("trivial {n}"),
            batch: if n == USERS {
                5
            } else {
                200 / (1 + n as u64 / 50)
            },
            variants,
        }
    }

    fn medium(variants: Vec<(&'static str, Body)>) -> Self {
        Workload {
            name: "medium (500 rows)".into(),
            batch: 20,
            variants,
        }
    }

    fn insert(n: usize, variants: Vec<(&'static str, Body)>) -> Self {
        Workload {
            name: format!("insert {n}"),
            batch: match n {
                1000 => 5,
                100 => 20,
                _ => 100,
            },
            variants,
        }
    }

    fn associations(variants: Vec<(&'static str, Body)>) -> Self {
        Workload {
            name: "associations".into(),
            batch: 5,
            variants,
        }
    }
}

/// What the command line asked for.
struct Args {
    rounds: usize,
    only_workload: String,
    only_variant: String,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the workloads' interleaved rounds and prints the table.
fn report(rt: &Runtime, backend: &str, workloads: Vec<Workload>, args: &Args) {
    let floor = workloads
        .first()
        .map_or("floor", |w| w.variants[0].0)
        .to_owned();
    println!(
        "{backend}: {} interleaved rounds, {CONNECTIONS} connections per variant; per call: median wall µs / CPU µs, and the medians of per-round ratios to {floor}",
        args.rounds
    );
    println!(
        "{:<20} {:<16} {:>12} {:>12} {:>10} {:>10}",
        "workload", "variant", "wall µs", "CPU µs", "wall ×", "CPU ×"
    );
    // A workload named exactly is the only one run ("trivial 1" is not "trivial 100").
    let exact = workloads.iter().any(|w| w.name == args.only_workload);
    for mut workload in workloads {
        let wanted = if exact {
            workload.name == args.only_workload
        } else {
            workload.name.contains(&args.only_workload)
        };
        if !wanted {
            continue;
        }
        let mut k = 0;
        workload.variants.retain(|(name, _)| {
            k += 1;
            k == 1 || name.contains(&args.only_variant)
        });
        let n = workload.variants.len();
        let mut wall = vec![Vec::new(); n];
        let mut cpu = vec![Vec::new(); n];
        // One untimed round: connections warmed, statements prepared and cached.
        for (_, body) in &mut workload.variants {
            run_batch(rt, body, 2, 0);
        }
        for round in 0..args.rounds {
            for k in 0..n {
                let at = (round + k) % n;
                let offset = 1_000 + (round as u64) * workload.batch;
                let (w, c) = run_batch(rt, &mut workload.variants[at].1, workload.batch, offset);
                wall[at].push(w.as_secs_f64() * 1e6 / workload.batch as f64);
                cpu[at].push(c.as_secs_f64() * 1e6 / workload.batch as f64);
            }
        }
        for (v, (name, _)) in workload.variants.iter().enumerate() {
            let ratio =
                |m: &[Vec<f64>]| median(m[v].iter().zip(&m[0]).map(|(a, b)| a / b).collect());
            println!(
                "{:<20} {:<16} {:>12.1} {:>12.1} {:>9.2}x {:>9.2}x",
                workload.name,
                name,
                median(wall[v].clone()),
                median(cpu[v].clone()),
                ratio(&wall),
                ratio(&cpu),
            );
        }
    }
}

fn main() {
    let mut argv = std::env::args().skip(1);
    let backend = argv.next().unwrap_or_else(|| "postgres".into());
    let args = Args {
        rounds: argv.next().map_or(10, |r| r.parse().unwrap()),
        only_workload: argv.next().unwrap_or_default(),
        only_variant: argv.next().unwrap_or_default(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    match backend.as_str() {
        "postgres" => postgres::run(&rt, &args),
        "sqlite" => sqlite::run(&rt, &args),
        "mariadb" | "mysql" => mariadb::run(&rt, &args),
        other => panic!("unknown backend {other:?}: postgres, sqlite or mariadb"),
    }
}
