//! The error kinds from MySQL / MariaDB error numbers (with the `mysql` feature).

use txova_db::sqlx::{self, AssertSqlSafe, Connection as _, Executor as _, MySqlConnection};
use txova_db::{Backend, Db, Error, ErrorKind, TxOptions, query};

use crate::support::{Service, server_url, unique_name};

struct MyTables {
    db: Db,
    url: String,
    users: String,
    rides: String,
}

async fn tables(test: &str) -> Option<MyTables> {
    let url = server_url(Service::MySql, test)?;
    let db = Db::connect(&url).await.expect("connect to MySQL");
    let users = unique_name("users");
    let rides = unique_name("rides");
    db.execute(&format!(
        "CREATE TABLE {users} (id BIGINT PRIMARY KEY, email VARCHAR(100) NOT NULL UNIQUE,
         age INT, CONSTRAINT {users}_age CHECK (age > 0)) ENGINE=InnoDB"
    ))
    .await
    .expect("users");
    db.execute(&format!(
        "CREATE TABLE {rides} (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL,
         CONSTRAINT {rides}_fk FOREIGN KEY (user_id) REFERENCES {users}(id)) ENGINE=InnoDB"
    ))
    .await
    .expect("rides");
    db.execute(&format!(
        "INSERT INTO {users} (id, email, age) VALUES (1, 'ana@example.com', 30), (2, 'rui@example.com', 40)"
    ))
    .await
    .expect("rows");
    Some(MyTables {
        db,
        url,
        users,
        rides,
    })
}

impl Drop for MyTables {
    fn drop(&mut self) {
        let db = self.db.clone();
        let sql = format!("DROP TABLE IF EXISTS {}, {}", self.rides, self.users);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            // Best effort: a leftover table has a unique name and harms no other test.
            handle.spawn(async move {
                let _ = db.execute(&sql).await;
            });
        }
    }
}

fn assert_mysql(err: &Error, kind: ErrorKind, code: &str) {
    assert_eq!(err.kind(), kind, "{err:?}");
    assert_eq!(err.code(), Some(code), "{err:?}");
    assert_eq!(err.as_database().map(|d| d.backend()), Some(Backend::MySql));
}

#[tokio::test]
async fn mysql_constraint_kinds() {
    let Some(t) = tables("mysql_constraint_kinds").await else {
        return;
    };
    let dup = query(format!("INSERT INTO {} (id, email) VALUES (3, ?)", t.users))
        .bind("ana@example.com")
        .execute(&t.db)
        .await
        .unwrap_err();
    assert_mysql(&dup, ErrorKind::Duplicate, "1062");
    assert!(
        dup.constraint().is_some_and(|c| c.ends_with("email")),
        "{dup:?}"
    );

    let fk = query(format!(
        "INSERT INTO {} (id, user_id) VALUES (1, ?)",
        t.rides
    ))
    .bind(99_i64)
    .execute(&t.db)
    .await
    .unwrap_err();
    assert_mysql(&fk, ErrorKind::ForeignKey, "1452");
    assert_eq!(fk.constraint(), Some(format!("{}_fk", t.rides).as_str()));

    let null = query(format!("INSERT INTO {} (id, email) VALUES (4, ?)", t.users))
        .bind(None::<String>)
        .execute(&t.db)
        .await
        .unwrap_err();
    assert_mysql(&null, ErrorKind::NotNull, "1048");

    let check =
        t.db.execute(&format!("UPDATE {} SET age = -1 WHERE id = 1", t.users))
            .await
            .unwrap_err();
    assert_eq!(check.kind(), ErrorKind::Check, "{check:?}");
}

#[tokio::test]
async fn mysql_deadlock() {
    let Some(t) = tables("mysql_deadlock").await else {
        return;
    };
    let mut a = MySqlConnection::connect(&t.url).await.expect("a");
    let mut b = MySqlConnection::connect(&t.url).await.expect("b");
    let update = |age: i32, id: i32| {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "UPDATE {} SET age = {age} WHERE id = {id}",
            t.users
        )))
    };
    a.execute("BEGIN").await.expect("begin a");
    b.execute("BEGIN").await.expect("begin b");
    a.execute(update(5, 1)).await.expect("a locks 1");
    b.execute(update(6, 2)).await.expect("b locks 2");
    let (sql_a, sql_b) = (update(5, 2), update(6, 1));
    let a_wants_2 = async move { a.execute(sql_a).await.map(|_| ()) };
    // Whichever asks first, the second closes the cycle and one is the victim.
    let b_wants_1 = async move { b.execute(sql_b).await.map(|_| ()) };
    let (ra, rb) = tokio::join!(a_wants_2, b_wants_1);
    let failures: Vec<Error> = [ra.err(), rb.err()]
        .into_iter()
        .flatten()
        .map(Error::from)
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_mysql(&failures[0], ErrorKind::Deadlock, "1213");
    assert!(failures[0].is_retryable());
}

/// A deadlock rolls a MySQL transaction back on the spot; a body that swallows it and
/// returns `Ok` gets `RolledBack`, not a COMMIT of whatever it ran afterwards.
#[tokio::test]
async fn mysql_swallowed_deadlock_is_rolled_back_not_committed() {
    let Some(t) = tables("mysql_swallowed_deadlock").await else {
        return;
    };
    let heavy = unique_name("heavy");
    t.db.execute_script(&format!(
        "CREATE TABLE {heavy} (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB;
         INSERT INTO {heavy} SELECT seq, 0 FROM seq_1_to_200;"
    ))
    .await
    .expect("heavy");
    let mut other = MySqlConnection::connect(&t.url).await.expect("other");
    other.execute("BEGIN").await.expect("begin");
    // The other transaction changes many rows, so InnoDB picks ours as the victim.
    other
        .execute(AssertSqlSafe(format!("UPDATE {heavy} SET n = 1")))
        .await
        .expect("heavy update");
    other
        .execute(AssertSqlSafe(format!(
            "UPDATE {} SET age = 6 WHERE id = 2",
            t.users
        )))
        .await
        .expect("other locks 2");
    let users = t.users.clone();
    let db = t.db.clone();
    let (holds_1, ours_holds_1) = tokio::sync::oneshot::channel::<()>();
    let holds_1 = std::sync::Mutex::new(Some(holds_1));
    let ours = db.transaction_with(TxOptions::new().retries(0), |_| async {
        db.execute(&format!("UPDATE {users} SET age = 5 WHERE id = 1"))
            .await?;
        if let Some(holds_1) = holds_1.lock().unwrap().take() {
            let _ = holds_1.send(());
        }
        let wants_2 = db
            .execute(&format!("UPDATE {users} SET age = 5 WHERE id = 2"))
            .await;
        assert_eq!(wants_2.unwrap_err().kind(), ErrorKind::Deadlock);
        // After the deadlock this would run outside any transaction on MySQL.
        Ok::<_, Error>(())
    });
    let theirs = async {
        // Once ours holds row 1 (either way round, the cycle closes).
        ours_holds_1.await.expect("ours locked row 1");
        other
            .execute(AssertSqlSafe(format!(
                "UPDATE {} SET age = 6 WHERE id = 1",
                t.users
            )))
            .await
            .expect("the other transaction wins");
        other.execute("COMMIT").await.expect("commit");
    };
    let (ours, ()) = tokio::join!(ours, theirs);
    let err = ours.expect_err("committed after a deadlock");
    assert_eq!(err.kind(), ErrorKind::RolledBack, "{err}");
    let age: i32 = query(format!("SELECT age FROM {} WHERE id = 1", t.users))
        .fetch_one(&t.db)
        .await
        .and_then(|row| row.try_get(0))
        .expect("age");
    assert_eq!(age, 6, "only the other transaction's write is there");
}
