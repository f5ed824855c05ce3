//! The persistent embedded store's candidate engines (issue 27) on the writes the
//! store's patterns make, side by side in one process: interleaved rounds with a
//! rotating order, medians over the rounds.
//!
//! The store keeps its live entries in memory (the embedded store's code, unchanged)
//! and writes each change through to the engine; so what the engine is measured on is
//! a commit of the entries one pattern operation changes:
//!
//! - cache set: one 600-byte value;
//! - lock acquire + release: a 40-byte owner token put, then deleted (two commits);
//! - rate-limit check: one 32-byte counter;
//! - a point read from the engine (a session read, were the engine the only copy);
//! - group commit: 64 writes of 200 bytes in one commit (concurrent writers batched);
//! - reopening 100,000 entries and reading them all (a restart).
//!
//! Each commit is measured "durable" (on disk before the commit returns: redb
//! `Durability::Immediate`, fjall `PersistMode::SyncAll`, SQLite WAL with
//! `synchronous = FULL`) and "process-safe" (survives the process being killed, not
//! the machine losing power: fjall `PersistMode::Buffer`, SQLite WAL with
//! `synchronous = NORMAL`; redb has no such mode: `Durability::None` commits are lost
//! unless a durable one follows, so it is shown as not available).
//!
//!     cargo run --release -- [ROUNDS=5] [DIR=../../target/store-engines]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection};

/// One commit's writes: a key, and its new value or `None` for a delete.
type Writes<'a> = &'a [(&'a [u8], Option<&'a [u8]>)];

trait Engine {
    fn name(&self) -> &'static str;
    /// Whether this engine has the mode (`durable`: fsync per commit).
    fn has_mode(&self, durable: bool) -> bool;
    fn commit(&mut self, writes: Writes<'_>, durable: bool);
    fn get(&mut self, key: &[u8]) -> Option<Vec<u8>>;
    /// Closes, reopens, and reads every entry; how many.
    fn reopen_and_scan(&mut self) -> usize;
}

const TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("entries");

struct Redb {
    path: PathBuf,
    db: Option<redb::Database>,
}

impl Redb {
    fn open(dir: &Path) -> Self {
        let path = dir.join("store.redb");
        let db = redb::Database::create(&path).expect("redb");
        Self { path, db: Some(db) }
    }
}

impl Engine for Redb {
    fn name(&self) -> &'static str {
        "redb 5"
    }
    fn has_mode(&self, durable: bool) -> bool {
        durable
    }
    fn commit(&mut self, writes: Writes<'_>, _durable: bool) {
        let db = self.db.as_ref().expect("open");
        let mut tx = db.begin_write().expect("begin");
        tx.set_durability(redb::Durability::Immediate)
            .expect("durability");
        {
            let mut table = tx.open_table(TABLE).expect("table");
            for (key, value) in writes {
                match value {
                    Some(value) => {
                        table.insert(*key, *value).expect("insert");
                    }
                    None => {
                        table.remove(*key).expect("remove");
                    }
                }
            }
        }
        tx.commit().expect("commit");
    }
    fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        use redb::{ReadableDatabase, ReadableTable};
        let db = self.db.as_ref().expect("open");
        let tx = db.begin_read().expect("read");
        let table = tx.open_table(TABLE).expect("table");
        table.get(key).expect("get").map(|v| v.value().to_vec())
    }
    fn reopen_and_scan(&mut self) -> usize {
        use redb::{ReadableDatabase, ReadableTable};
        drop(self.db.take());
        let db = redb::Database::create(&self.path).expect("reopen");
        let n = {
            let tx = db.begin_read().expect("read");
            let table = tx.open_table(TABLE).expect("table");
            table
                .iter()
                .expect("iter")
                .map(|e| e.expect("entry"))
                .count()
        };
        self.db = Some(db);
        n
    }
}

struct Fjall {
    dir: PathBuf,
    db: Option<(fjall::Database, fjall::Keyspace)>,
}

impl Fjall {
    fn open(dir: &Path) -> Self {
        let dir = dir.join("fjall");
        let db = Self::open_at(&dir);
        Self { dir, db: Some(db) }
    }
    fn open_at(dir: &Path) -> (fjall::Database, fjall::Keyspace) {
        let db = fjall::Database::builder(dir).open().expect("fjall");
        let keyspace = db
            .keyspace("entries", fjall::KeyspaceCreateOptions::default)
            .expect("keyspace");
        (db, keyspace)
    }
}

impl Engine for Fjall {
    fn name(&self) -> &'static str {
        "fjall 3"
    }
    fn has_mode(&self, _durable: bool) -> bool {
        true
    }
    fn commit(&mut self, writes: Writes<'_>, durable: bool) {
        let (db, keyspace) = self.db.as_ref().expect("open");
        let mode = if durable {
            fjall::PersistMode::SyncAll
        } else {
            fjall::PersistMode::Buffer
        };
        let mut batch = db.batch().durability(Some(mode));
        for (key, value) in writes {
            match value {
                Some(value) => batch.insert(keyspace, *key, *value),
                None => batch.remove(keyspace, *key),
            }
        }
        batch.commit().expect("commit");
    }
    fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        let (_, keyspace) = self.db.as_ref().expect("open");
        keyspace.get(key).expect("get").map(|v| v.to_vec())
    }
    fn reopen_and_scan(&mut self) -> usize {
        drop(self.db.take());
        let db = Self::open_at(&self.dir);
        let n = db.1.iter().map(|e| e.into_inner().expect("entry")).count();
        self.db = Some(db);
        n
    }
}

struct Sqlite {
    rt: tokio::runtime::Runtime,
    path: PathBuf,
    conn: Option<SqliteConnection>,
    durable: Option<bool>,
}

impl Sqlite {
    fn open(dir: &Path) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let path = dir.join("store.sqlite");
        let mut engine = Self {
            rt,
            path,
            conn: None,
            durable: None,
        };
        engine.connect();
        engine.rt.block_on(async {
            sqlx::query("CREATE TABLE IF NOT EXISTS entries (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID")
                .execute(engine.conn.as_mut().expect("open"))
                .await
                .expect("table");
        });
        engine
    }
    fn connect(&mut self) {
        let options = SqliteConnectOptions::new()
            .filename(&self.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        self.conn = Some(
            self.rt
                .block_on(SqliteConnection::connect_with(&options))
                .expect("sqlite"),
        );
        self.durable = Some(true);
    }
}

impl Engine for Sqlite {
    fn name(&self) -> &'static str {
        "SQLite (sqlx, WAL)"
    }
    fn has_mode(&self, _durable: bool) -> bool {
        true
    }
    fn commit(&mut self, writes: Writes<'_>, durable: bool) {
        let conn = self.conn.as_mut().expect("open");
        let switch = self.durable != Some(durable);
        self.rt.block_on(async {
            if switch {
                let pragma = if durable { "PRAGMA synchronous = FULL" } else { "PRAGMA synchronous = NORMAL" };
                sqlx::query(pragma).execute(&mut *conn).await.expect("pragma");
            }
            let mut tx = conn.begin().await.expect("begin");
            for (key, value) in writes {
                match value {
                    Some(value) => sqlx::query("INSERT INTO entries (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
                        .bind(*key)
                        .bind(*value)
                        .execute(&mut *tx)
                        .await
                        .expect("upsert"),
                    None => sqlx::query("DELETE FROM entries WHERE key = ?")
                        .bind(*key)
                        .execute(&mut *tx)
                        .await
                        .expect("delete"),
                };
            }
            tx.commit().await.expect("commit");
        });
        self.durable = Some(durable);
    }
    fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        let conn = self.conn.as_mut().expect("open");
        self.rt.block_on(async {
            sqlx::query_scalar::<_, Vec<u8>>("SELECT value FROM entries WHERE key = ?")
                .bind(key)
                .fetch_optional(conn)
                .await
                .expect("get")
        })
    }
    fn reopen_and_scan(&mut self) -> usize {
        let conn = self.conn.take().expect("open");
        self.rt.block_on(conn.close()).expect("close");
        self.connect();
        let conn = self.conn.as_mut().expect("open");
        self.rt.block_on(async {
            sqlx::query_as::<_, (Vec<u8>, Vec<u8>)>("SELECT key, value FROM entries")
                .fetch_all(conn)
                .await
                .expect("scan")
                .len()
        })
    }
}

/// Microseconds per operation of `op`, run `n` times.
fn per_op(n: usize, mut op: impl FnMut(usize)) -> f64 {
    let started = Instant::now();
    for i in 0..n {
        op(i);
    }
    started.elapsed().as_secs_f64() * 1e6 / n as f64
}

const WORKLOADS: &[&str] = &[
    "cache set",
    "lock acquire + release",
    "rate-limit check",
    "group commit, per write (64/commit)",
    "point read",
];

/// One round of every workload on `engine`, in `durable` mode: µs per operation.
fn round(engine: &mut dyn Engine, durable: bool, round: usize) -> Vec<Option<f64>> {
    if !engine.has_mode(durable) {
        return vec![None; WORKLOADS.len()];
    }
    let n = if durable { 200 } else { 2_000 };
    let cache = vec![7u8; 600];
    let token = vec![1u8; 40];
    let counter = vec![2u8; 32];
    let value = vec![3u8; 200];
    let key = |kind: &str, i: usize| format!("{kind}:{round}:{i}").into_bytes();
    let set = per_op(n, |i| {
        let k = key("cache", i);
        engine.commit(&[(&k, Some(&cache))], durable);
    });
    let lock = per_op(n, |i| {
        let k = key("lock", i % 16);
        engine.commit(&[(&k, Some(&token))], durable);
        engine.commit(&[(&k, None)], durable);
    });
    let limit = per_op(n, |i| {
        let k = key("rate", i % 64);
        engine.commit(&[(&k, Some(&counter))], durable);
    });
    let batches = n / 8;
    let group = per_op(batches, |i| {
        let keys: Vec<Vec<u8>> = (0..64).map(|j| key("group", i * 64 + j)).collect();
        let writes: Vec<(&[u8], Option<&[u8]>)> = keys
            .iter()
            .map(|k| (k.as_slice(), Some(value.as_slice())))
            .collect();
        engine.commit(&writes, durable);
    }) / 64.0;
    let read = per_op(n, |i| {
        let k = key("cache", i % n);
        assert!(engine.get(&k).is_some());
    });
    vec![Some(set), Some(lock), Some(limit), Some(group), Some(read)]
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let dir = PathBuf::from(
        args.get(2)
            .cloned()
            .unwrap_or_else(|| "../../target/store-engines".into()),
    );
    std::fs::create_dir_all(&dir).expect("dir");
    let work = tempfile::tempdir_in(&dir).expect("tempdir");
    let mut engines: Vec<Box<dyn Engine>> = vec![
        Box::new(Redb::open(&work.path().join("redb").tap_mkdir())),
        Box::new(Fjall::open(work.path())),
        Box::new(Sqlite::open(&work.path().join("sqlite").tap_mkdir())),
    ];
    // results[engine][mode][workload] = per-round µs
    let mut results = vec![vec![vec![Vec::new(); WORKLOADS.len()]; 2]; engines.len()];
    for r in 0..rounds {
        for offset in 0..engines.len() {
            let e = (r + offset) % engines.len();
            for (m, durable) in [true, false].into_iter().enumerate() {
                for (w, value) in round(engines[e].as_mut(), durable, r * 2 + m)
                    .into_iter()
                    .enumerate()
                {
                    if let Some(value) = value {
                        results[e][m][w].push(value);
                    }
                }
            }
        }
        eprintln!("round {} of {rounds} done", r + 1);
    }
    // A restart: 100,000 entries (what the rounds wrote, topped up), reopened and read.
    let mut restart = Vec::new();
    for engine in &mut engines {
        let value = vec![5u8; 200];
        for chunk in 0..100 {
            let keys: Vec<Vec<u8>> = (0..1_000)
                .map(|i| format!("bulk:{chunk}:{i}").into_bytes())
                .collect();
            let writes: Vec<(&[u8], Option<&[u8]>)> = keys
                .iter()
                .map(|k| (k.as_slice(), Some(value.as_slice())))
                .collect();
            engine.commit(&writes, true);
        }
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..3 {
            let started = Instant::now();
            count = engine.reopen_and_scan();
            times.push(started.elapsed());
        }
        times.sort();
        restart.push((times[1], count));
    }

    println!("µs per operation, median of {rounds} interleaved rounds (lower is better)\n");
    for (m, mode) in ["durable (fsync per commit)", "process-safe (no fsync)"]
        .iter()
        .enumerate()
    {
        println!("### {mode}\n");
        print!("| workload |");
        for engine in &engines {
            print!(" {} |", engine.name());
        }
        println!();
        println!("|---|{}", "---|".repeat(engines.len()));
        for (w, workload) in WORKLOADS.iter().enumerate() {
            print!("| {workload} |");
            for e in 0..engines.len() {
                let xs = &results[e][m][w];
                if xs.is_empty() {
                    print!(" n/a |");
                } else {
                    print!(" {:.1} |", median(xs.clone()));
                }
            }
            println!();
        }
        println!();
    }
    println!("### restart: reopen and read every entry\n");
    for (engine, (time, count)) in engines.iter().zip(&restart) {
        println!(
            "- {}: {count} entries in {:.1} ms",
            engine.name(),
            time.as_secs_f64() * 1e3
        );
    }
    let _ = Duration::ZERO;
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).expect("mkdir");
        self
    }
}
