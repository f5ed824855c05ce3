//! Per-test databases: a fresh Postgres schema or SQLite file for every test, removed
//! when the test's handle drops, so tests run in parallel without sharing a table.

use std::path::PathBuf;

use txova_db::{Db, DbConfig};
pub use txova_db_test_support::{Service, server_url, unique_name};

/// A Postgres schema of the test's own; `db` has it as its `search_path`.
pub struct PgSchema {
    pub db: Db,
    pub schema: String,
    pub base_url: String,
}

/// A [`PgSchema`] with default settings, or `None` when the test skips.
pub async fn postgres(test: &str) -> Option<PgSchema> {
    postgres_with(test, |config| config).await
}

/// A [`PgSchema`] whose `Db` has the settings `configure` gives it.
pub async fn postgres_with(
    test: &str,
    configure: impl FnOnce(DbConfig) -> DbConfig,
) -> Option<PgSchema> {
    let base_url = server_url(Service::Postgres, test)?;
    let schema = unique_name("t");
    let admin = Db::connect(&base_url)
        .await
        .expect("connect to the test server");
    admin
        .execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create the test's schema");
    admin.close().await;
    let url = with_search_path(&base_url, &schema);
    let db = Db::connect_with(configure(DbConfig::new(url)))
        .await
        .expect("connect into the test's schema");
    Some(PgSchema {
        db,
        schema,
        base_url,
    })
}

impl PgSchema {
    /// The URL that lands in this schema, for tests that need a second handle.
    pub fn url(&self) -> String {
        with_search_path(&self.base_url, &self.schema)
    }
}

fn with_search_path(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options[search_path]={schema}")
}

/// Runs `sql` on the server at `url`, best effort, from a `Drop`: drops run inside the
/// test's runtime, which cannot be blocked on, so this uses a thread with a runtime of
/// its own and waits for it.
fn run_script_from_drop(url: String, sql: String) {
    let cleanup = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for cleanup");
        runtime.block_on(async {
            if let Ok(admin) = Db::connect(&url).await {
                let _ = admin.execute_script(&sql).await;
                admin.close().await;
            }
        });
    });
    let _ = cleanup.join();
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let url = self.base_url.clone();
        // Bounded: a failed test may leave a session holding a lock on the schema, and
        // this blocks the test's thread (so its runtime cannot release that lock).
        let sql = format!(
            "SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS {} CASCADE",
            self.schema
        );
        run_script_from_drop(url, sql);
    }
}

/// A MariaDB/MySQL database of the test's own (binary collation, so text compares as
/// on Postgres and SQLite), dropped with its tables on drop.
#[cfg(feature = "mysql")]
pub struct MyDatabase {
    pub db: Db,
    pub name: String,
    base_url: String,
}

/// Creates a [`MyDatabase`], or `None` after saying why the test skips MySQL.
#[cfg(feature = "mysql")]
pub async fn mysql(test: &str) -> Option<MyDatabase> {
    mysql_with(test, |config| config).await
}

/// A [`MyDatabase`] whose `Db` has the settings `configure` gives it.
#[cfg(feature = "mysql")]
pub async fn mysql_with(
    test: &str,
    configure: impl FnOnce(DbConfig) -> DbConfig,
) -> Option<MyDatabase> {
    let base_url = server_url(Service::MySql, test)?;
    let name = unique_name("t");
    let admin = Db::connect(&base_url).await.expect("connect to MariaDB");
    admin
        .execute(&format!(
            "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ))
        .await
        .expect("create the test's database");
    admin.close().await;
    let db = Db::connect_with(configure(DbConfig::new(with_database(&base_url, &name))))
        .await
        .expect("connect to the test's database");
    Some(MyDatabase { db, name, base_url })
}

#[cfg(feature = "mysql")]
impl MyDatabase {
    /// The URL that lands in this database, for tests that need a second handle.
    pub fn url(&self) -> String {
        with_database(&self.base_url, &self.name)
    }
}

/// `url` with its path (the database) replaced by `database`.
#[cfg(feature = "mysql")]
fn with_database(url: &str, database: &str) -> String {
    let (url, query) = url
        .split_once('?')
        .map_or((url, None), |(u, q)| (u, Some(q)));
    let authority_at = url.find("://").map_or(0, |i| i + 3);
    let base = match url[authority_at..].find('/') {
        Some(slash) => &url[..authority_at + slash],
        None => url,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

#[cfg(feature = "mysql")]
impl Drop for MyDatabase {
    fn drop(&mut self) {
        let url = self.base_url.clone();
        // Bounded, as for Postgres: a failed test may leave a transaction open on it,
        // and this blocks the test's thread (so its runtime cannot end that transaction).
        let sql = format!(
            "SET SESSION lock_wait_timeout = 5; DROP DATABASE IF EXISTS {}",
            self.name
        );
        run_script_from_drop(url, sql);
    }
}

/// A SQLite database file of the test's own, deleted (with its WAL files) on drop.
pub struct SqliteFile {
    pub path: PathBuf,
}

impl SqliteFile {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("{}.db", unique_name("txova")));
        Self { path }
    }

    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }
}

impl Drop for SqliteFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.path.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Every store this machine offers, by name: the embedded store in memory and on disk
/// always, Redis standalone / cluster / sentinel when they can be reached or started
/// (in CI they must be).
#[cfg(feature = "redis")]
pub async fn stores(test: &str) -> Vec<(&'static str, txova_db::store::Store)> {
    use txova_db::store::Store;
    use txova_db_test_support::{redis_cluster, redis_sentinel};

    let mut stores = vec![("embedded", Store::embedded())];
    #[cfg(feature = "persistent-store")]
    stores.push((
        "persistent",
        Store::embedded_at(store_dir(test)).expect("open a persistent store"),
    ));
    if let Some(url) = server_url(Service::Redis, test) {
        stores.push((
            "standalone",
            Store::redis(&url).await.expect("connect to Redis"),
        ));
    }
    if let Some(cluster) = redis_cluster(test) {
        stores.push((
            "cluster",
            Store::redis(&cluster.url)
                .await
                .expect("connect to the cluster"),
        ));
    }
    if let Some(sentinel) = redis_sentinel(test) {
        stores.push((
            "sentinel",
            Store::redis(&sentinel.url)
                .await
                .expect("connect through the sentinel"),
        ));
    }
    stores
}

/// A new directory for a persistent embedded store, under one per test process.
/// The process cannot remove its own (its stores may outlive any guard), so each run
/// first removes those of processes that have exited.
#[cfg(feature = "persistent-store")]
pub fn store_dir(test: &str) -> PathBuf {
    use std::sync::Once;
    use std::sync::atomic::{AtomicU32, Ordering};

    static SWEPT: Once = Once::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let root = std::env::temp_dir().join("txova-db-store-tests");
    SWEPT.call_once(|| {
        for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let pid = entry.file_name().to_string_lossy().parse::<u32>();
            if pid.is_ok_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    });
    root.join(std::process::id().to_string())
        .join(format!("{test}-{}", NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// Waits up to a second until no session named `app` is anything but idle (a session
/// whose socket was just closed ends when its server process sees the EOF); panics
/// with what it saw, under `what`.
pub async fn assert_sessions_idle(observer: &Db, app: &str, what: &str) {
    let started = std::time::Instant::now();
    loop {
        let busy: Vec<String> = txova_db::query(
            "SELECT state || ': ' || query FROM pg_stat_activity
             WHERE application_name = $1 AND state <> 'idle' AND pid <> pg_backend_pid()",
        )
        .bind(app.to_owned())
        .fetch_all(observer)
        .await
        .expect("pg_stat_activity")
        .iter()
        .map(|row| row.try_get(0).expect("state"))
        .collect();
        if busy.is_empty() {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{what}: sessions left in a transaction or running: {busy:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// A TCP proxy in front of the server of `url` (at `default_port` if it names none).
pub async fn proxy_in_front_of(url: &str, default_port: u16) -> crate::tcp_proxy::TcpProxy {
    let url = url::Url::parse(url).expect("url");
    let target = tokio::net::lookup_host((
        url.host_str().expect("host").to_owned(),
        url.port().unwrap_or(default_port),
    ))
    .await
    .expect("resolve")
    .next()
    .expect("an address");
    crate::tcp_proxy::TcpProxy::start(target).await
}

/// A TCP proxy in front of the test's Postgres server, and the schema's URL through it.
pub async fn proxy_for(pg: &PgSchema) -> (crate::tcp_proxy::TcpProxy, String) {
    let proxy = proxy_in_front_of(&pg.base_url, 5432).await;
    let mut url = url::Url::parse(&pg.url()).expect("url");
    url.set_port(Some(proxy.port)).expect("port");
    (proxy, url.to_string())
}

/// Waits until `holds` is true, polling the state a test can observe: the way a test
/// orders itself after something another task does, where a fixed sleep would race on
/// a loaded machine. Panics naming `what` after 10 s.
pub async fn eventually(what: &str, mut holds: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !holds() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}
