//! Nothing leaks: credentials in the connection URL never reach a `Debug`, `Display`,
//! serialized config, error, span, log line or health report, and the literals of a
//! statement never reach a span or a log line (sqlx's own statement log included).

use std::time::Duration;

use txova_db::health::HealthMonitor;
use txova_db::{Db, DbConfig, ErrorKind};

use crate::support;
use crate::telemetry_capture::Traces;

#[tokio::test]
async fn credentials_and_literals_stay_out_of_every_output() {
    let Some(pg) = support::postgres("secrets_stay_out").await else {
        return;
    };
    // Trust authentication ignores the passwords: they only have to be carried.
    let mut url = url::Url::parse(&pg.url()).expect("url");
    url.set_password(Some("hunter2userinfo")).expect("password");
    let url = format!("{url}&password=hunter2query");
    let traces = Traces::default();
    let _capture = traces.install();
    let db = Db::connect_with(DbConfig {
        slow_query_threshold: Some(Duration::ZERO),
        n_plus_one_threshold: Some(1),
        ..DbConfig::new(url.as_str())
    })
    .await
    .expect("connect");

    let literal_statements = [
        "SELECT 'hunter2plain' AS a",
        "SELECT $$hunter2dollar$$ AS a",
        "SELECT $tag$hunter2tagged$tag$ AS a",
        r"SELECT E'it\'s hunter2escaped' AS a",
        "SELECT 1 AS a -- hunter2comment",
        "SELECT /* hunter2block */ 2 AS a",
    ];
    txova_db::n_plus_one::scope("secrets", async {
        for sql in literal_statements {
            for _ in 0..2 {
                db.execute(sql).await.expect(sql);
            }
        }
    })
    .await;
    let failed = db
        .execute("SELECT no_such_column FROM pg_class")
        .await
        .unwrap_err();
    assert_eq!(failed.kind(), ErrorKind::Database);

    let monitor = HealthMonitor::builder().database("db", db.clone()).start();
    let report = serde_json::to_string(&monitor.check_now().await).expect("report");
    monitor.stop().await;

    // A server that is not there: the error names where, never with what.
    let refused = Db::connect_with(DbConfig {
        connect_timeout: Duration::from_secs(2),
        ..DbConfig::new("postgres://app:hunter2userinfo@127.0.0.1:1/db?password=hunter2query")
    })
    .await
    .unwrap_err();

    let outputs = [
        ("Db's Debug", format!("{db:?}")),
        ("DbConfig's Debug", format!("{:?}", db.config())),
        ("the URL's Display", db.config().url.to_string()),
        (
            "the serialized config",
            serde_json::to_string(db.config()).expect("json"),
        ),
        ("the health report", report),
        (
            "a refused connect's error",
            format!("{refused} / {refused:?}"),
        ),
        ("the spans and log lines", traces.everything()),
    ];
    for (what, text) in &outputs {
        assert!(
            !text.contains("hunter2userinfo"),
            "{what} shows the password: {text}"
        );
        assert!(
            !text.contains("hunter2query"),
            "{what} shows ?password=: {text}"
        );
    }
    let logged = traces.everything();
    for literal in [
        "hunter2plain",
        "hunter2dollar",
        "hunter2tagged",
        "hunter2escaped",
        "hunter2comment",
        "hunter2block",
    ] {
        assert!(
            !logged.contains(literal),
            "{literal} reached a span or log line"
        );
    }
    // The statements did reach the logs, redacted: the slow-query warnings and N+1.
    assert!(!traces.events("txova_db::slow_query").is_empty());
    assert!(!traces.events("txova_db::n_plus_one").is_empty());
    // sqlx's own statement log is off.
    let sqlx_logged: Vec<String> = traces
        .event_targets()
        .into_iter()
        .filter(|target| target.starts_with("sqlx::query"))
        .collect();
    assert!(
        sqlx_logged.is_empty(),
        "sqlx logged statements: {sqlx_logged:?}"
    );
    db.close().await;
}

/// An account whose password hash is a secret column.
#[derive(txova_db::Table, Debug, Clone, PartialEq)]
#[table(name = "secret_accounts")]
pub struct SecretAccount {
    #[column(primary_key, generated)]
    pub id: i64,
    pub email: String,
    #[column(secret)]
    pub password_hash: String,
}

fn account(email: &str, hash: &str) -> SecretAccount {
    SecretAccount {
        id: 0,
        email: email.into(),
        password_hash: hash.into(),
    }
}

/// `#[column(secret)]`: every way a value reaches the column — comparisons, lists,
/// ranges, inserts one and many, updates, keyset pages — shows as `***` in the
/// statement's `Display` and `params()` and the builder's `Debug`, and still binds as
/// the value itself (on Postgres, lists and bulk inserts as arrays).
#[tokio::test]
async fn a_secret_columns_values_show_as_stars_and_bind_as_themselves() {
    use txova_db::{KeysetRequest, Table as _};

    let Some(pg) = support::postgres("secret_columns").await else {
        return;
    };
    let db = &pg.db;
    db.execute(
        "CREATE TABLE secret_accounts (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL,
         password_hash TEXT NOT NULL UNIQUE)",
    )
    .await
    .expect("create");
    let (ana, rui, eva) = ("hash-ana-7Qx", "hash-rui-2Wp", "hash-eva-9Lm");
    let shown = |text: String| {
        for hash in [ana, rui, eva] {
            assert!(!text.contains(hash), "{hash} shown in {text}");
        }
        assert!(text.contains("***"), "{text}");
    };

    let one = account("ana@example.com", ana);
    let insert = SecretAccount::insert(&one);
    let statement = insert.to_sql();
    shown(statement.to_string());
    assert!(
        statement
            .params()
            .contains(&"\"ana@example.com\"".to_owned())
    );
    insert.execute(db).await.expect("insert one");
    let many = [
        account("rui@example.com", rui),
        account("eva@example.com", eva),
    ];
    let insert_many = SecretAccount::insert_many(&many);
    for statement in insert_many.to_sql_for(txova_db::Backend::Sqlite) {
        shown(format!("{statement} {statement:?}"));
    }
    insert_many.execute(db).await.expect("insert many (arrays)");

    let by_hash = SecretAccount::select().filter(SecretAccount::password_hash.eq(ana));
    shown(format!("{by_hash:?} {}", by_hash.to_sql()));
    assert_eq!(
        by_hash.fetch_one(db).await.expect("by hash").email,
        "ana@example.com"
    );

    let listed = SecretAccount::select()
        .filter(SecretAccount::password_hash.is_in([rui, eva]))
        .order_by(SecretAccount::id.asc());
    shown(format!("{listed:?}"));
    let emails: Vec<String> = listed
        .fetch_all(db)
        .await
        .expect("is_in")
        .into_iter()
        .map(|a| a.email)
        .collect();
    assert_eq!(emails, ["rui@example.com", "eva@example.com"]);

    let ranged = SecretAccount::select().filter(SecretAccount::password_hash.between(ana, eva));
    shown(format!("{ranged:?}"));
    assert_eq!(ranged.fetch_all(db).await.expect("between").len(), 2);

    let new_hash = "hash-ana-rotated";
    let update = SecretAccount::update()
        .set(SecretAccount::password_hash, new_hash)
        .filter(SecretAccount::password_hash.eq(ana));
    let shown_update = format!("{update:?}");
    assert!(
        !shown_update.contains(new_hash) && !shown_update.contains(ana),
        "{shown_update}"
    );
    assert_eq!(update.execute(db).await.expect("update"), 1);
    let rotated = SecretAccount::select()
        .filter(SecretAccount::password_hash.eq(new_hash))
        .fetch_one(db)
        .await
        .expect("rotated");
    assert_eq!(rotated.email, "ana@example.com");

    // A keyset page after a secret value binds it redacted too.
    let page = SecretAccount::select()
        .keyset(
            db,
            SecretAccount::password_hash,
            txova_db::Direction::Asc,
            KeysetRequest::after(eva.to_owned(), 10),
        )
        .await
        .expect("keyset");
    let after: Vec<&str> = page
        .items
        .iter()
        .map(|a| a.password_hash.as_str())
        .collect();
    assert_eq!(after, [rui]);
}

proptest::proptest! {
    /// Whatever the value, no statement or builder output through a secret column
    /// shows any of it, on any backend (each value is marked with a `§` no SQL text
    /// holds).
    #[test]
    fn no_value_of_a_secret_column_is_ever_shown(value in "\\PC{0,24}") {
        use txova_db::Table as _;

        let value = format!("§{value}");
        let row = account("someone@example.com", &value);
        let select = SecretAccount::select().filter(
            SecretAccount::password_hash.eq(&value)
                | SecretAccount::password_hash.ne(&value)
                | SecretAccount::password_hash.is_in([&value, &value])
                | SecretAccount::password_hash.not_in([&value])
                | SecretAccount::password_hash.between(&value, &value),
        );
        let update = SecretAccount::update()
            .set(SecretAccount::password_hash, &value)
            .filter(SecretAccount::password_hash.lt(&value));
        let delete = SecretAccount::delete().filter(SecretAccount::password_hash.ge(&value));
        let mut shown = vec![format!("{select:?}"), format!("{update:?}"), format!("{delete:?}")];
        for backend in [txova_db::Backend::Postgres, txova_db::Backend::Sqlite, txova_db::Backend::MySql] {
            for statement in SecretAccount::insert(&row).to_sql_for(backend) {
                shown.push(format!("{statement} {statement:?} {:?}", statement.params()));
            }
            for statement in SecretAccount::insert_many([&row, &row]).to_sql_for(backend) {
                shown.push(format!("{statement} {statement:?}"));
            }
        }
        for text in shown {
            proptest::prop_assert!(!text.contains('§'), "{}", text);
        }
    }
}

/// What the server says of a rejected row can hold the row's values (Postgres'
/// detail: `Key (password_hash)=(…) already exists`, `Failing row contains (…)`;
/// MariaDB's message: `Duplicate entry '…' for key …`). None of it reaches an error's
/// `Display` or `Debug`; the constraint, the code and the kind still do.
#[tokio::test]
async fn rejected_values_stay_out_of_errors() {
    use txova_db::Table as _;

    let hash = "hash-dup-5Rk";
    let check = |err: txova_db::Error, kind: ErrorKind| {
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(hash), "{shown}");
        assert_eq!(err.kind(), kind, "{shown}");
        shown
    };
    if let Some(pg) = support::postgres("rejected_values_pg").await {
        let create = "CREATE TABLE secret_accounts (id BIGSERIAL PRIMARY KEY,
            email TEXT NOT NULL, password_hash TEXT NOT NULL UNIQUE CHECK (email LIKE '%@%'))";
        let shown = check(
            inserted_twice(&pg.db, create, hash).await,
            ErrorKind::Duplicate,
        );
        assert!(
            shown.contains("secret_accounts_password_hash_key"),
            "{shown}"
        );
        // Postgres checks the row before its unique index, so this fails the CHECK
        // (whose detail quotes the whole row) with the same hash.
        let unchecked = SecretAccount::insert(&account("no-at-sign", hash))
            .execute(&pg.db)
            .await
            .unwrap_err();
        check(unchecked, ErrorKind::Check);
    }
    if let Some(my) = support::mysql("rejected_values_my").await {
        let create = "CREATE TABLE secret_accounts (id BIGINT AUTO_INCREMENT PRIMARY KEY,
            email TEXT NOT NULL, password_hash VARCHAR(64) NOT NULL UNIQUE)";
        let shown = check(
            inserted_twice(&my.db, create, hash).await,
            ErrorKind::Duplicate,
        );
        assert!(shown.contains("password_hash"), "{shown}");
    }
}

/// Creates the accounts table with `create`, inserts an account with `hash`, and
/// returns the error of inserting another with the same hash.
async fn inserted_twice(db: &Db, create: &str, hash: &str) -> txova_db::Error {
    use txova_db::Table as _;

    db.execute(create).await.expect("create");
    SecretAccount::insert(&account("a@example.com", hash))
        .execute(db)
        .await
        .expect("first");
    SecretAccount::insert(&account("b@example.com", hash))
        .execute(db)
        .await
        .unwrap_err()
}
