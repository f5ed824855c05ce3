//! The built `txova-db` binary: its output, its exit codes, and a killed process
//! leaving no migration lock behind.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use txova_db_test_support::{Service, server_url, unique_name};

struct Workspace {
    dir: PathBuf,
}

impl Workspace {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(unique_name("txova_cli"));
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir }
    }

    fn migrations(&self) -> PathBuf {
        self.dir.join("migrations")
    }

    fn sqlite_url(&self) -> String {
        format!("sqlite://{}", self.dir.join("app.db").display())
    }

    fn write(&self, file: &str, sql: &str) {
        std::fs::write(self.migrations().join(file), sql).unwrap();
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn txova(url: Option<&str>, dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_txova-db"));
    command.arg("migrate").arg("--dir").arg(dir).args(args);
    command.env_remove("DATABASE_URL");
    if let Some(url) = url {
        command.env("DATABASE_URL", url);
    }
    command.output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn create_up_status_version_down_steps_force_on_sqlite() {
    let ws = Workspace::new();
    let url = ws.sqlite_url();
    let dir = ws.migrations();
    let run = |args: &[&str]| txova(Some(&url), &dir, args);

    let created = run(&["create", "users"]);
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(stdout(&created).contains("0001_users.up.sql"));
    run(&["create", "orders"]);
    ws.write(
        "0001_users.up.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
    );
    ws.write("0001_users.down.sql", "DROP TABLE users;");
    ws.write(
        "0002_orders.up.sql",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY);",
    );
    ws.write("0002_orders.down.sql", "DROP TABLE orders;");

    let plan = run(&["up", "--dry-run"]);
    assert!(
        stdout(&plan).contains("would apply 0001 users"),
        "{}",
        stdout(&plan)
    );
    assert!(stdout(&plan).contains("CREATE TABLE users"));
    assert_eq!(stdout(&run(&["version"])).trim(), "none");

    let up = run(&["up"]);
    assert!(up.status.success(), "{}", stderr(&up));
    let printed = stdout(&up);
    let lines: Vec<&str> = printed.lines().map(str::trim).collect();
    assert!(lines[0].starts_with("applied 0001 users"), "{lines:?}");
    assert!(lines[1].starts_with("applied 0002 orders"), "{lines:?}");
    assert_eq!(stdout(&run(&["version"])).trim(), "2");
    assert!(stdout(&run(&["up"])).contains("nothing to do"));

    let status = stdout(&run(&["status"]));
    assert!(
        status.contains("0001 users") && status.contains("applied at"),
        "{status}"
    );

    assert!(stdout(&run(&["down"])).contains("reverted 0002 orders"));
    assert!(stdout(&run(&["steps", "-1"])).contains("reverted 0001 users"));
    assert!(stdout(&run(&["steps", "2"])).contains("applied 0002 orders"));

    // A failing file: exit 1, the reason on stderr, the version dirty.
    run(&["create", "broken"]);
    ws.write(
        "0003_broken.up.sql",
        "CREATE TABLE broken (x INT); SELECT * FROM no_such_table;",
    );
    let failed = run(&["up"]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        stderr(&failed).contains("migration 3 (broken) failed"),
        "{}",
        stderr(&failed)
    );
    assert_eq!(stdout(&run(&["version"])).trim(), "3 (dirty)");
    let refused = run(&["up"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("dirty"));

    ws.write("0003_broken.up.sql", "CREATE TABLE broken (x INT);");
    assert!(run(&["force", "2"]).status.success());
    assert!(stdout(&run(&["up"])).contains("applied 0003 broken"));
    assert_eq!(stdout(&run(&["version"])).trim(), "3");
}

#[test]
fn bad_input_exits_non_zero_with_a_reason() {
    let ws = Workspace::new();
    let dir = ws.migrations();
    std::fs::create_dir_all(&dir).unwrap();

    let no_db = txova(None, &dir, &["up"]);
    assert_eq!(no_db.status.code(), Some(1));
    assert!(stderr(&no_db).contains("DATABASE_URL"));

    ws.write("0001-users.up.sql", "SELECT 1;");
    let bad_name = txova(Some(&ws.sqlite_url()), &dir, &["up"]);
    assert_eq!(bad_name.status.code(), Some(1));
    assert!(
        stderr(&bad_name).contains("0001-users.up.sql"),
        "{}",
        stderr(&bad_name)
    );

    let bad_create = txova(Some(&ws.sqlite_url()), &dir, &["create", "drop table"]);
    assert_eq!(bad_create.status.code(), Some(1));

    // A valid, empty directory: the run gets as far as connecting, and fails there.
    let empty = ws.dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let password = txova(
        Some("postgres://app:s3cret@127.0.0.1:1/db"),
        &empty,
        &["up"],
    );
    assert_eq!(password.status.code(), Some(1));
    let said = stderr(&password);
    assert!(said.contains("127.0.0.1"), "the host is named: {said}");
    assert!(!said.contains("s3cret"), "the password is not: {said}");
}

/// Runs `sql` on the server at `url` through txova-db itself (no `psql` needed).
fn admin(url: &str, sql: &str) -> i64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let db = txova_db::Db::connect(url).await.unwrap();
        let answer = txova_db::query(sql).fetch_optional(&db).await;
        db.close().await;
        answer
            .unwrap()
            .map_or(0, |row| row.try_get::<i64>(0).unwrap())
    })
}

#[test]
fn killing_the_process_leaves_no_lock_behind() {
    let Some(base) = server_url(Service::Postgres, "cli: killed process releases lock") else {
        return;
    };
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.migrations()).unwrap();
    let schema = unique_name("cli");
    // The schema's name in the statement marks this test's session among the server's.
    ws.write(
        "0001_slow.up.sql",
        &format!("SELECT '{schema}', pg_sleep(10);"),
    );
    admin(&base, &format!("CREATE SCHEMA {schema}"));
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options[search_path]={schema}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_txova-db"))
        .args(["migrate", "--dir"])
        .arg(ws.migrations())
        .arg("up")
        .env("DATABASE_URL", &url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The migration runs only under the lock: once it shows on the server, the lock is
    // held.
    let running = format!(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE state = 'active' AND query LIKE '%''{schema}''%pg_sleep%' \
           AND pid <> pg_backend_pid()"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while admin(&base, &running) == 0 {
        assert!(Instant::now() < deadline, "the migration never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let started = Instant::now();
    let forced = txova(
        Some(&url),
        &ws.migrations(),
        &["force", "0", "--lock-timeout", "5s"],
    );
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    admin(&base, &format!("DROP SCHEMA {schema} CASCADE"));
}

fn schema_cmd(dir: &Path, url: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_txova-db"));
    command.arg("schema").arg("--dir").arg(dir).args(args);
    command.env_remove("DATABASE_URL");
    if let Some(url) = url {
        command.env("DATABASE_URL", url);
    }
    command.output().unwrap()
}

const USERS_SQL: &str =
    "CREATE TABLE users (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL, nick TEXT, created_at TIMESTAMPTZ NOT NULL DEFAULT now());";

#[test]
fn schema_show_prints_the_replay_as_sql_and_json_without_a_database() {
    let ws = Workspace::new();
    let dir = ws.dir.join("postgres");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("0001_users.up.sql"), USERS_SQL).unwrap();
    std::fs::write(
        dir.join("0002_nick.up.sql"),
        "ALTER TABLE users RENAME COLUMN nick TO nickname;",
    )
    .unwrap();

    let sql = schema_cmd(&dir, None, &["show"]);
    assert!(sql.status.success(), "{}", stderr(&sql));
    let text = stdout(&sql);
    assert!(
        text.starts_with(
            "CREATE TABLE users (\n    id bigint NOT NULL GENERATED BY DEFAULT AS IDENTITY,"
        ),
        "{text}"
    );
    assert!(text.contains("    nickname text,\n"), "{text}");

    let json = schema_cmd(&dir, None, &["show", "--json"]);
    assert!(json.status.success(), "{}", stderr(&json));
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let columns = &value["tables"][0]["columns"];
    assert_eq!(value["tables"][0]["name"], "users");
    assert_eq!(columns[2]["name"], "nickname");
    assert_eq!(columns[2]["nullable"], true);
    assert!(
        columns[2]["defined_at"]
            .as_str()
            .unwrap()
            .ends_with("0002_nick.up.sql:1")
    );
    assert_eq!(value["tables"][0]["primary_key"][0], "id");
}

#[test]
fn schema_show_refuses_a_statement_it_cannot_replay_naming_file_and_line() {
    let ws = Workspace::new();
    let dir = ws.dir.join("db");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("0001_users.up.sql"),
        format!("{USERS_SQL}\nCREATE TABLE copy AS SELECT * FROM users;"),
    )
    .unwrap();
    let unknown = schema_cmd(&dir, None, &["show"]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("pass --dialect"),
        "{}",
        stderr(&unknown)
    );
    let refused = schema_cmd(&dir, None, &["--dialect", "postgres", "show"]);
    assert!(!refused.status.success());
    let said = stderr(&refused);
    assert!(
        said.contains("0001_users.up.sql:3: `CREATE TABLE … AS / LIKE / CLONE` is not understood"),
        "{said}"
    );
}

#[test]
fn schema_diff_on_sqlite_is_clean_after_migrating_and_lists_every_drift() {
    let ws = Workspace::new();
    let url = ws.sqlite_url();
    let dir = ws.dir.join("sqlite");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("0001_users.up.sql"),
        "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
         nick TEXT, score REAL NOT NULL DEFAULT 0);",
    )
    .unwrap();
    let up = txova(Some(&url), &dir, &["up"]);
    assert!(up.status.success(), "{}", stderr(&up));
    let clean = schema_cmd(&dir, Some(&url), &["diff"]);
    assert!(
        clean.status.success(),
        "{}{}",
        stdout(&clean),
        stderr(&clean)
    );
    assert!(stdout(&clean).contains("the database matches"));

    admin(&url, "ALTER TABLE users ADD COLUMN extra TEXT");
    admin(&url, "ALTER TABLE users DROP COLUMN nick");
    admin(&url, "CREATE TABLE stray (id INTEGER)");
    let drifted = schema_cmd(&dir, Some(&url), &["diff"]);
    assert!(!drifted.status.success());
    let lines = stdout(&drifted);
    assert!(lines.contains("column `users.nick`: defined at"), "{lines}");
    assert!(lines.contains("missing from the database"), "{lines}");
    assert!(
        lines.contains("column `users.extra`: in the database (`TEXT`), created by no migration"),
        "{lines}"
    );
    assert!(
        lines.contains("table `stray`: in the database, created by no migration"),
        "{lines}"
    );
    assert_eq!(lines.lines().count(), 3, "{lines}");
    assert!(
        stderr(&drifted).contains("(3 differences)"),
        "{}",
        stderr(&drifted)
    );
}

#[test]
fn schema_diff_on_postgres_names_type_nullability_and_default_drift() {
    let Some(base) = server_url(Service::Postgres, "cli: schema diff on postgres") else {
        return;
    };
    let ws = Workspace::new();
    let dir = ws.dir.join("postgres");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("0001_users.up.sql"), USERS_SQL).unwrap();
    let schema = unique_name("cli_diff");
    admin(&base, &format!("CREATE SCHEMA {schema}"));
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options[search_path]={schema}");

    let up = txova(Some(&url), &dir, &["up"]);
    assert!(up.status.success(), "{}", stderr(&up));
    let clean = schema_cmd(&dir, Some(&url), &["diff"]);
    assert!(
        clean.status.success(),
        "{}{}",
        stdout(&clean),
        stderr(&clean)
    );

    admin(&url, "ALTER TABLE users ALTER COLUMN name DROP NOT NULL");
    admin(&url, "ALTER TABLE users ALTER COLUMN nick TYPE varchar(10)");
    admin(
        &url,
        "ALTER TABLE users ALTER COLUMN nick TYPE integer USING 0",
    );
    admin(
        &url,
        "ALTER TABLE users ALTER COLUMN created_at DROP DEFAULT",
    );
    let drifted = schema_cmd(&dir, Some(&url), &["diff"]);
    assert!(!drifted.status.success());
    let lines = stdout(&drifted);
    assert!(
        lines.contains("column `users.name`: the migrations say NOT NULL"),
        "{lines}"
    );
    assert!(lines.contains("the database has NULL"), "{lines}");
    assert!(
        lines.contains("column `users.nick`: the migrations say `text`"),
        "{lines}"
    );
    assert!(lines.contains("the database has `integer`"), "{lines}");
    assert!(
        lines.contains("column `users.created_at`: the migrations give it a default"),
        "{lines}"
    );
    assert_eq!(lines.lines().count(), 3, "{lines}");
    admin(&base, &format!("DROP SCHEMA {schema} CASCADE"));
}

/// A MariaDB database of the test's own: its URL, and the server's, to drop it after.
fn mariadb_database(test: &str) -> Option<(String, String, String)> {
    let base = server_url(Service::MySql, test)?;
    let name = unique_name("cli");
    admin(&base, &format!("CREATE DATABASE {name}"));
    let (server, _) = base.rsplit_once('/').unwrap();
    Some((format!("{server}/{name}"), base.clone(), name))
}

/// Two `txova-db migrate up` processes started together on one MariaDB database: the
/// `GET_LOCK` lock is the server's, so one waits for the other and each file runs once
/// (a lock inside each process would let both run the slow first file).
#[test]
fn two_processes_migrating_mariadb_at_once_apply_each_file_once() {
    let Some((url, base, name)) = mariadb_database("cli: two processes on mariadb") else {
        return;
    };
    let ws = Workspace::new();
    let dir = ws.dir.join("mysql");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("0001_items.up.sql"),
        "CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(20) NOT NULL);\nDO SLEEP(1);",
    )
    .unwrap();
    std::fs::write(
        dir.join("0002_seed.up.sql"),
        "INSERT INTO items VALUES (1, 'one'), (2, 'two');",
    )
    .unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_txova-db"))
            .args(["migrate", "--dir"])
            .arg(&dir)
            .arg("up")
            .env("DATABASE_URL", &url)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(b.status.success(), "{}", stderr(&b));
    assert_eq!(admin(&url, "SELECT count(*) FROM items"), 2);
    assert_eq!(admin(&url, "SELECT count(*) FROM _txova_migrations"), 2);
    assert_eq!(
        admin(&url, "SELECT count(*) FROM _txova_migrations WHERE dirty"),
        0
    );
    admin(&base, &format!("DROP DATABASE {name}"));
}

/// The lock is the session's: a killed migrator's is gone with its connection.
#[test]
fn killing_the_process_leaves_no_lock_behind_on_mariadb() {
    let Some((url, base, name)) = mariadb_database("cli: killed process on mariadb") else {
        return;
    };
    let ws = Workspace::new();
    let dir = ws.dir.join("mysql");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("0001_slow.up.sql"),
        format!("SELECT '{name}', SLEEP(10);"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_txova-db"))
        .args(["migrate", "--dir"])
        .arg(&dir)
        .arg("up")
        .env("DATABASE_URL", &url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = format!(
        "SELECT count(*) FROM information_schema.PROCESSLIST \
         WHERE INFO LIKE '%''{name}''%SLEEP%' AND ID <> CONNECTION_ID()"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while admin(&base, &running) == 0 {
        assert!(Instant::now() < deadline, "the migration never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let started = Instant::now();
    let forced = txova(Some(&url), &dir, &["force", "0", "--lock-timeout", "5s"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    admin(&base, &format!("DROP DATABASE {name}"));
}

#[test]
fn schema_diff_on_mariadb_names_type_nullability_and_default_drift() {
    let Some((url, base, name)) = mariadb_database("cli: schema diff on mariadb") else {
        return;
    };
    let ws = Workspace::new();
    let dir = ws.dir.join("mysql");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("0001_users.up.sql"),
        "CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY,
         name VARCHAR(100) NOT NULL, nick VARCHAR(50),
         created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP);",
    )
    .unwrap();
    let up = txova(Some(&url), &dir, &["up"]);
    assert!(up.status.success(), "{}", stderr(&up));
    let clean = schema_cmd(&dir, Some(&url), &["diff"]);
    assert!(
        clean.status.success(),
        "{}{}",
        stdout(&clean),
        stderr(&clean)
    );

    admin(&url, "ALTER TABLE users MODIFY name VARCHAR(100) NULL");
    admin(&url, "ALTER TABLE users MODIFY nick INT");
    admin(
        &url,
        "ALTER TABLE users ALTER COLUMN created_at DROP DEFAULT",
    );
    let drifted = schema_cmd(&dir, Some(&url), &["diff"]);
    assert!(!drifted.status.success());
    let lines = stdout(&drifted);
    assert!(
        lines.contains("column `users.name`: the migrations say NOT NULL"),
        "{lines}"
    );
    assert!(
        lines.contains("column `users.nick`: the migrations say `varchar(50)`"),
        "{lines}"
    );
    assert!(
        lines.contains("column `users.created_at`: the migrations give it a default"),
        "{lines}"
    );
    assert_eq!(lines.lines().count(), 3, "{lines}");
    admin(&base, &format!("DROP DATABASE {name}"));
}
