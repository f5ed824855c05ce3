//! `testing`: captures see every statement of the task (transactions,
//! `#[transactional]` bodies, `#[cached]` misses, nested captures) and nothing of
//! other tasks; the N+1 mode fails; values never reach a capture.

use futures_util::FutureExt as _;
use txova_db::cache::{Cache, UsesCache};
use txova_db::store::Store;
use txova_db::testing::{self, capture, deny_n_plus_one};
use txova_db::{Db, Error, Table, UsesDb, assert_queries, cached, query, transactional};

use crate::support;

#[derive(Table, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[table(name = "counted")]
struct Counted {
    #[column(primary_key)]
    id: i64,
    name: String,
}

struct Repo {
    db: Db,
    cache: Cache,
}

impl UsesDb for Repo {
    fn db(&self) -> &Db {
        &self.db
    }
}

impl UsesCache for Repo {
    fn cache(&self) -> &Cache {
        &self.cache
    }
}

impl Repo {
    #[transactional]
    async fn add_two(&self, first: i64) -> Result<(), Error> {
        for id in [first, first + 1] {
            Counted::insert(&Counted {
                id,
                name: format!("n{id}"),
            })
            .execute(&self.db)
            .await?;
        }
        Ok(())
    }

    #[cached(key = "counted:<id>", ttl = "1m")]
    async fn name(&self, id: i64) -> Result<Option<Counted>, Error> {
        Counted::find(&self.db, id).await
    }
}

async fn repo(db: Db) -> Repo {
    db.execute("CREATE TABLE counted (id BIGINT PRIMARY KEY, name TEXT NOT NULL)")
        .await
        .unwrap();
    Repo {
        db,
        cache: Cache::new(Store::embedded()),
    }
}

async fn scenario(db: Db) {
    let repo = repo(db.clone()).await;

    // A #[transactional] body: its statements, each inside the transaction.
    let (added, captured) = capture(repo.add_two(1)).await;
    added.unwrap();
    let inserts: Vec<_> = captured
        .statements()
        .iter()
        .filter(|s| s.sql.starts_with("INSERT"))
        .collect();
    assert_eq!(inserts.len(), 2, "{captured}");
    assert!(inserts.iter().all(|s| s.in_transaction), "{captured}");

    // A #[cached] miss runs its source; the hit after it runs nothing.
    let first = assert_queries!(1, { repo.name(1).await.unwrap() });
    assert_eq!(first.map(|c| c.name), Some("n1".into()));
    assert_queries!(0, { repo.name(1).await.unwrap() });

    // Nested captures: the outer sees the inner's statements too.
    let (inner, outer) = capture(async {
        query("SELECT 1").execute(&db).await.unwrap();
        let ((), inner) = capture(async {
            Counted::select().fetch_all(&db).await.unwrap();
        })
        .await;
        inner
    })
    .await;
    assert_eq!((inner.len(), outer.len()), (1, 2), "{outer}");
    assert_eq!(inner.statements()[0].rows, Some(2));

    // Work spawned onto another task is that task's.
    let spawned_db = db.clone();
    let ((), captured) = capture(async move {
        tokio::spawn(async move { query("SELECT 1").execute(&spawned_db).await.unwrap() })
            .await
            .unwrap();
    })
    .await;
    assert!(captured.is_empty(), "{captured}");

    // Values never: bound ones are placeholders, inline literals are redacted, and a
    // failed statement is kept with its error kind.
    let ((), captured) = capture(async {
        Counted::select()
            .filter(Counted::name.eq("secret-bound"))
            .fetch_all(&db)
            .await
            .unwrap();
        db.execute("SELECT count(*) FROM counted WHERE name <> 'secret-inline'")
            .await
            .unwrap();
        let duplicate = Counted {
            id: 1,
            name: "again".into(),
        };
        Counted::insert(&duplicate).execute(&db).await.unwrap_err();
    })
    .await;
    let shown = captured.to_string();
    assert!(!shown.contains("secret"), "{shown}");
    assert_eq!(
        captured.statements()[2].error,
        Some(txova_db::ErrorKind::Duplicate)
    );

    // The N+1 mode fails the test; a bulk read passes it.
    let looped = deny_n_plus_one(3, async {
        for id in 0..5 {
            Counted::find(&db, id).await.unwrap();
        }
    });
    let failure = std::panic::AssertUnwindSafe(looped)
        .catch_unwind()
        .await
        .unwrap_err();
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("N+1: one statement ran 5 times"),
        "{message}"
    );
    deny_n_plus_one(3, async {
        Counted::select()
            .filter(Counted::id.is_in(0..5))
            .fetch_all(&db)
            .await
            .unwrap();
    })
    .await;

    // A failed count names what ran.
    let wrong = std::panic::AssertUnwindSafe(async {
        assert_queries!(1, {
            query("SELECT 1 AS first").execute(&db).await.unwrap();
            query("SELECT 1 AS second").execute(&db).await.unwrap();
        })
    })
    .catch_unwind()
    .await
    .unwrap_err();
    let message = wrong.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("expected 1 statement(s), 2 ran"),
        "{message}"
    );
    assert!(message.contains("SELECT ? AS second"), "{message}");

    // And a plan with a full scan fails `assert_no_seq_scan`.
    let plan = Counted::select()
        .filter(Counted::name.eq("x"))
        .explain(&db)
        .await
        .unwrap();
    let scanned = std::panic::catch_unwind(|| testing::assert_no_seq_scan(&plan, "counted"));
    assert!(scanned.is_err());
}

#[tokio::test]
async fn captures_on_sqlite() {
    let file = support::SqliteFile::new();
    scenario(Db::connect(&file.url()).await.unwrap()).await;
}

#[tokio::test]
async fn captures_on_postgres() {
    let Some(pg) = support::postgres("query_assertions").await else {
        return;
    };
    scenario(pg.db.clone()).await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn captures_on_mariadb() {
    let Some(my) = support::mysql("query_assertions").await else {
        return;
    };
    scenario(my.db.clone()).await;
}
