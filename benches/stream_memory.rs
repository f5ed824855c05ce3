//! Peak memory of reading a million rows: `fetch_all` (every row in a `Vec`) against
//! `.fetch(..)` (a stream, one row at a time), for raw queries and the typed builder,
//! with sqlx's own `fetch` stream as the reference.
//!
//! Peak RSS only grows, so each variant runs in a process of its own: this binary
//! starts itself once per variant (`TXOVA_STREAM_VARIANT`), and the child reports its
//! `VmHWM` from `/proc/self/status` after the read, beside the same figure taken after
//! connecting (`baseline`). The rows come from `generate_series`: an `i64`, a 20-odd
//! character string and a `f64` per row.
//!
//! `cargo bench -p txova-db --bench stream_memory` (needs Postgres: see DEVELOPERS.md).

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::time::Instant;

use futures_util::TryStreamExt as _;
use txova_db::{Db, Table, query};
use txova_db_test_support::{Service, server_url, unique_name};

const ROWS: i64 = 1_000_000;
const VARIANT: &str = "TXOVA_STREAM_VARIANT";
const URL: &str = "TXOVA_STREAM_URL";
const VARIANTS: [&str; 5] = [
    "baseline",
    "query_fetch_all",
    "query_fetch",
    "select_fetch_all",
    "select_fetch",
];

#[derive(Table)]
#[table(name = "stream_rows")]
struct StreamRow {
    #[column(primary_key)]
    id: i64,
    label: String,
    score: f64,
}

fn sql() -> String {
    format!(
        "SELECT i AS id, 'ride-' || i || '-' || md5(i::text) AS label, (i * 0.5)::float8 AS score \
         FROM generate_series(1, {ROWS}::bigint) AS i"
    )
}

/// Peak resident set size of this process, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib / 1024.0
}

async fn child(variant: &str, url: &str) {
    let db = Db::connect(url).await.unwrap();
    db.ping().await.unwrap();
    let started = Instant::now();
    let baseline = peak_rss_mib();
    let (rows, checksum) = match variant {
        "baseline" => (0, 0.0),
        "query_fetch_all" => {
            let rows = query(sql()).fetch_all(&db).await.unwrap();
            let sum = rows
                .iter()
                .map(|row| row.try_get::<f64>("score").unwrap())
                .sum();
            (rows.len(), sum)
        }
        "query_fetch" => query(sql())
            .fetch(&db)
            .try_fold((0, 0.0), |(n, sum), row| async move {
                Ok((n + 1, sum + row.try_get::<f64>("score")?))
            })
            .await
            .unwrap(),
        "select_fetch_all" => {
            let rows = StreamRow::select().fetch_all(&db).await.unwrap();
            let sum = rows.iter().map(|row| row.score).sum();
            (rows.len(), sum)
        }
        "select_fetch" => StreamRow::select()
            .fetch(&db)
            .try_fold((0, 0.0), |(n, sum), row| async move {
                Ok((n + 1, sum + row.score))
            })
            .await
            .unwrap(),
        other => panic!("unknown variant {other}"),
    };
    if variant != "baseline" {
        assert_eq!(rows, ROWS as usize, "{variant}");
        assert_eq!(checksum, (1..=ROWS).map(|i| i as f64 * 0.5).sum::<f64>());
    }
    println!(
        "{variant} {baseline:.1} {:.1} {:.2}",
        peak_rss_mib(),
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    if let (Ok(variant), Ok(url)) = (std::env::var(VARIANT), std::env::var(URL)) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(child(&variant, &url));
        return;
    }
    let Some(url) = server_url(Service::Postgres, "stream_memory") else {
        return;
    };
    // The builder's table: a view of the same rows, in a schema of this run's own.
    let schema = unique_name("stream");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let admin = runtime.block_on(Db::connect(&url)).unwrap();
    runtime
        .block_on(admin.execute_script(&format!(
            "CREATE SCHEMA {schema}; CREATE VIEW {schema}.stream_rows AS {}",
            sql()
        )))
        .unwrap();
    let in_schema = format!(
        "{url}{}options[search_path]={schema}",
        if url.contains('?') { '&' } else { '?' }
    );
    let exe = std::env::current_exe().unwrap();
    println!("{ROWS} rows of (bigint, text, float8); peak RSS of a process of its own per variant");
    println!(
        "{:<18} {:>14} {:>14} {:>16} {:>8}",
        "variant", "after connect", "peak", "peak - baseline", "seconds"
    );
    let mut baseline = None;
    for variant in VARIANTS {
        let out = std::process::Command::new(&exe)
            .env(VARIANT, variant)
            .env(URL, &in_schema)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{variant}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8(out.stdout).unwrap();
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (before, peak, seconds): (f64, f64, f64) = (
            fields[1].parse().unwrap(),
            fields[2].parse().unwrap(),
            fields[3].parse().unwrap(),
        );
        let base = *baseline.get_or_insert(peak);
        println!(
            "{variant:<18} {before:>11.1} MiB {peak:>10.1} MiB {:>12.1} MiB {seconds:>8.2}",
            peak - base
        );
    }
    runtime
        .block_on(admin.execute(&format!("DROP SCHEMA {schema} CASCADE")))
        .unwrap();
}
