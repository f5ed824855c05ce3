//! Point queries and a 10k-row select on MySQL/MariaDB: txova-db's pooled `Db` against
//! the driver it runs on, used bare (the floor), and hand-written sqlx with a default
//! `MySqlPool`, on the current-thread runtime.
//!
//! Rows per workload:
//! - `sqlx_conn` (the floor): one `MySqlConnection` per connection slot, held for the
//!   whole run, the statement txova-db runs (prepared and cached by sqlx), columns read
//!   by index. No pool, no layer: what the driver itself costs.
//! - `sqlx_pool`: `sqlx::query_as` with `FromRow` (columns by name) on
//!   `MySqlPool::connect(url)`, sqlx's defaults: the code people write by hand.
//! - `txova_db`: `User::find` / `User::select()` on `Db::connect(url)`.
//!
//! Each row spreads its work over [`CONNECTIONS`] connections used in turn (iteration
//! `i` on connection `i % CONNECTIONS`): a connection's cost depends on where the OS
//! runs its server thread. The report runs interleaved rounds and prints medians of
//! per-round ratios to the floor, for wall time and client CPU.
//!
//! `cargo bench -p txova-db --features mysql --bench wire_floor_mysql` (needs MariaDB or
//! MySQL: see DEVELOPERS.md).

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used
)]

#[allow(dead_code)] // the Postgres helpers are for the other benches
mod common;
mod rounds;

use std::hint::black_box;
use std::sync::Arc;

use sqlx::mysql::{MySqlPoolOptions, MySqlRow};
use sqlx::{Connection as _, MySqlConnection, MySqlPool, Row as _};
use txova_db::{Backend, Db, DbConfig, Table, sqlx};

use common::{SqlxUser, User, rows};
use rounds::{Body, Rounds, body, interleave, median, nth, ratio};
use txova_db_test_support::{Service, server_url, unique_name};

const ROWS: i64 = 10_000;

/// Connections each row spreads its work over, used in turn.
const CONNECTIONS: usize = 4;

const CREATE_TABLE: &str = "CREATE TABLE bench_users (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(100) NOT NULL, email VARCHAR(100) NOT NULL, age INT NOT NULL,
    score DOUBLE NOT NULL, nickname VARCHAR(100)) ENGINE = InnoDB";

/// What `#[derive(sqlx::FromRow)]` generates for MySQL (columns by name).
struct MySqlUser(SqlxUser);

impl<'r> sqlx::FromRow<'r, MySqlRow> for MySqlUser {
    fn from_row(row: &'r MySqlRow) -> Result<Self, sqlx::Error> {
        Ok(Self(SqlxUser {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            email: row.try_get("email")?,
            age: row.try_get("age")?,
            score: row.try_get("score")?,
            nickname: row.try_get("nickname")?,
        }))
    }
}

/// The floor's decoding: by index, into the same struct.
fn by_index(row: &MySqlRow) -> User {
    User {
        id: row.get(0),
        name: row.get(1),
        email: row.get(2),
        age: row.get(3),
        score: row.get(4),
        nickname: row.get(5),
    }
}

struct Setup {
    database: String,
    base_url: String,
    conns: Arc<Vec<tokio::sync::Mutex<MySqlConnection>>>,
    pool: MySqlPool,
    dbs: Arc<Vec<Db>>,
}

async fn setup(url: &str) -> Setup {
    let database = unique_name("wire_mysql");
    let admin = Db::connect(url).await.unwrap();
    admin
        .execute(&format!("CREATE DATABASE {database}"))
        .await
        .unwrap();
    admin.close().await;
    let (server, _) = url.rsplit_once('/').unwrap();
    let url_in = format!("{server}/{database}");
    let db = Db::connect(&url_in).await.unwrap();
    db.execute(CREATE_TABLE).await.unwrap();
    User::insert_many(&rows(ROWS as i32))
        .execute(&db)
        .await
        .unwrap();
    db.execute("ANALYZE TABLE bench_users").await.unwrap();
    db.close().await;

    let mut conns = Vec::new();
    let mut dbs = Vec::new();
    for _ in 0..CONNECTIONS {
        conns.push(tokio::sync::Mutex::new(
            MySqlConnection::connect(&url_in).await.unwrap(),
        ));
        dbs.push(
            Db::connect_with(DbConfig {
                max_connections: 1,
                ..DbConfig::new(url_in.as_str())
            })
            .await
            .unwrap(),
        );
    }
    let pool = MySqlPoolOptions::new()
        .max_connections(CONNECTIONS as u32)
        .connect(&url_in)
        .await
        .unwrap();
    let warm = (0..CONNECTIONS).map(|_| sqlx::query("DO SLEEP(0.05)").execute(&pool));
    for done in futures_util::future::join_all(warm).await {
        done.unwrap();
    }
    Setup {
        database,
        base_url: url.to_owned(),
        conns: Arc::new(conns),
        pool,
        dbs: Arc::new(dbs),
    }
}

fn id_of(i: u64) -> i64 {
    (i as i64 * 7919) % ROWS + 1
}

struct Workload {
    name: &'static str,
    batch: u64,
    rounds: usize,
    /// Floor, sqlx pool, txova-db.
    rows: [Body; 3],
}

fn workloads(s: &Setup) -> Vec<Workload> {
    // The statements txova-db runs, for the sqlx rows.
    let find: &'static str = User::select()
        .filter(User::id.eq(0))
        .to_sql_for(Backend::MySql)
        .sql()
        .to_owned()
        .leak();
    let all: &'static str = User::select()
        .to_sql_for(Backend::MySql)
        .sql()
        .to_owned()
        .leak();
    let point = [
        {
            let conns = Arc::clone(&s.conns);
            body(move |i| {
                let conns = Arc::clone(&conns);
                async move {
                    let mut conn = nth(&conns, i).lock().await;
                    let row = sqlx::query(find)
                        .bind(id_of(i))
                        .fetch_optional(&mut *conn)
                        .await
                        .unwrap();
                    black_box(row.as_ref().map(by_index));
                }
            })
        },
        {
            let pool = s.pool.clone();
            body(move |i| {
                let pool = pool.clone();
                async move {
                    let user: Option<MySqlUser> = sqlx::query_as(find)
                        .bind(id_of(i))
                        .fetch_optional(&pool)
                        .await
                        .unwrap();
                    black_box(user.map(|u| u.0.id));
                }
            })
        },
        {
            let dbs = Arc::clone(&s.dbs);
            body(move |i| {
                let dbs = Arc::clone(&dbs);
                async move {
                    black_box(User::find(nth(&dbs, i), id_of(i)).await.unwrap());
                }
            })
        },
    ];
    let select = [
        {
            let conns = Arc::clone(&s.conns);
            body(move |i| {
                let conns = Arc::clone(&conns);
                async move {
                    let mut conn = nth(&conns, i).lock().await;
                    let rows = sqlx::query(all).fetch_all(&mut *conn).await.unwrap();
                    let users: Vec<User> = rows.iter().map(by_index).collect();
                    assert_eq!(users.len() as i64, ROWS);
                    black_box(users);
                }
            })
        },
        {
            let pool = s.pool.clone();
            body(move |_| {
                let pool = pool.clone();
                async move {
                    let users: Vec<MySqlUser> = sqlx::query_as(all).fetch_all(&pool).await.unwrap();
                    assert_eq!(users.len() as i64, ROWS);
                    black_box(users);
                }
            })
        },
        {
            let dbs = Arc::clone(&s.dbs);
            body(move |i| {
                let dbs = Arc::clone(&dbs);
                async move {
                    let users = User::select().fetch_all(nth(&dbs, i)).await.unwrap();
                    assert_eq!(users.len() as i64, ROWS);
                    black_box(users);
                }
            })
        },
    ];
    vec![
        Workload {
            name: "point_query",
            batch: 200,
            rounds: 40,
            rows: point,
        },
        Workload {
            name: "select_10k",
            batch: 4,
            rounds: 24,
            rows: select,
        },
    ]
}

fn main() {
    let Some(url) = server_url(Service::MySql, "wire_floor_mysql bench") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = rt.block_on(setup(&url));
    let version: String = rt.block_on(async {
        txova_db::query("SELECT VERSION()")
            .fetch_one(&s.dbs[0])
            .await
            .and_then(|row| row.try_get(0))
            .unwrap()
    });
    println!(
        "wire floor on {version}, interleaved rounds (medians), each row over {CONNECTIONS} \
         connections in turn: ratios to sqlx on a bare MySqlConnection"
    );
    println!(
        "{:<12} {:>5} {:>11} {:>12} {:>11} {:>11} {:>12} {:>12}",
        "workload", "", "floor", "sqlx pool", "txova-db", "pool/floor", "txova/floor", "txova/pool"
    );
    for workload in workloads(&s) {
        // Warm every row (statement caches, buffers) before measuring.
        interleave(&rt, &workload.rows, workload.batch, 1);
        let Rounds { wall, cpu } = interleave(&rt, &workload.rows, workload.batch, workload.rounds);
        for (measure, micros) in [("wall", &wall), ("cpu", &cpu)] {
            let time = |row: usize| median(micros[row].clone());
            println!(
                "{:<12} {:>5} {:>8.1} µs {:>9.1} µs {:>8.1} µs {:>11.3} {:>12.3} {:>12.3}",
                workload.name,
                measure,
                time(0),
                time(1),
                time(2),
                ratio(micros, 1, 0),
                ratio(micros, 2, 0),
                ratio(micros, 2, 1),
            );
        }
    }
    rt.block_on(async {
        for db in s.dbs.iter() {
            db.close().await;
        }
        s.pool.close().await;
        let admin = Db::connect(&s.base_url).await.unwrap();
        admin
            .execute(&format!("DROP DATABASE {}", s.database))
            .await
            .unwrap();
        admin.close().await;
    });
}
