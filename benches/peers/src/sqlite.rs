//! SQLite, one file in WAL mode: rusqlite (the floor: `prepare_cached`, rows by index),
//! txova-db, diesel (`SqliteConnection`) and sqlx (`SqlitePool`). Every connection runs
//! with the same settings (WAL, `synchronous = FULL`, foreign keys on: sqlx's
//! defaults), so an insert pays the same fsyncs on every side.

use std::cell::RefCell;
use std::rc::Rc;

use tokio::runtime::Runtime;

use crate::*;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, hair_color TEXT);
CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id),
    title TEXT NOT NULL, body TEXT);
CREATE TABLE comments (id INTEGER PRIMARY KEY, post_id INTEGER NOT NULL REFERENCES posts (id),
    text TEXT NOT NULL);
CREATE INDEX posts_user_id ON posts (user_id);
CREATE INDEX comments_post_id ON comments (post_id);
CREATE TABLE new_users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, hair_color TEXT);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 10000)
INSERT INTO users (name, hair_color)
    SELECT 'User ' || i, CASE WHEN i % 2 = 0 THEN 'black' WHEN i % 5 = 0 THEN NULL ELSE 'brown' END
    FROM s;
WITH RECURSIVE u(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM u WHERE i < 100),
    p(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM p WHERE j < 10)
INSERT INTO posts (user_id, title, body)
    SELECT i, 'Post ' || j || ' by user ' || i, CASE WHEN j % 3 = 0 THEN NULL ELSE 'A body of text' END
    FROM u, p ORDER BY i, j;
WITH RECURSIVE p(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM p WHERE i < 1000),
    c(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM c WHERE j < 10)
INSERT INTO comments (post_id, text)
    SELECT i, 'Comment ' || j || ' on post ' || i FROM p, c ORDER BY i, j;
ANALYZE;
";

mod floor {
    //! rusqlite: statements from the connection's cache, rows decoded by index.

    use crate::*;
    use rusqlite::{Connection, ToSql, params_from_iter};

    pub use crate::rows::{Comment, Post, User};

    pub fn connect(path: &str) -> Connection {
        let c = Connection::open(path).unwrap();
        c.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .unwrap();
        c
    }

    fn user(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
        Ok(User {
            id: row.get(0)?,
            name: row.get(1)?,
            hair_color: row.get(2)?,
        })
    }

    pub fn trivial(c: &Connection, n: i32) -> Vec<User> {
        let mut statement = c
            .prepare_cached("SELECT id, name, hair_color FROM users WHERE id <= ?1")
            .unwrap();
        let rows = statement.query_map([n], user).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    pub fn medium(c: &Connection) -> Vec<(User, Option<Post>)> {
        let mut statement = c
            .prepare_cached(
                "SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body
                 FROM users u LEFT JOIN posts p ON p.user_id = u.id
                 WHERE u.hair_color = ?1 AND u.id <= ?2",
            )
            .unwrap();
        let rows = statement
            .query_map(rusqlite::params!["black", ASSOCIATED_USERS], |row| {
                let post = match row.get::<_, Option<i32>>(3)? {
                    Some(id) => Some(Post {
                        id,
                        user_id: row.get(4)?,
                        title: row.get(5)?,
                        body: row.get(6)?,
                    }),
                    None => None,
                };
                Ok((user(row)?, post))
            })
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    pub fn insert(c: &Connection, users: &[(String, Option<String>)]) -> u64 {
        let mut params: Vec<&dyn ToSql> = Vec::with_capacity(users.len() * 2);
        for (name, hair) in users {
            params.push(name);
            params.push(hair);
        }
        let mut statement = c.prepare_cached(&insert_sql(users.len(), false)).unwrap();
        statement.execute(&*params).unwrap() as u64
    }

    pub fn associations(c: &Connection) -> Vec<(User, Vec<(Post, Vec<Comment>)>)> {
        let users = trivial(c, ASSOCIATED_USERS);
        let user_ids: Vec<i32> = users.iter().map(|u| u.id).collect();
        let mut statement = c
            .prepare_cached(&format!(
                "SELECT id, user_id, title, body FROM posts WHERE user_id IN {}",
                in_list(user_ids.len())
            ))
            .unwrap();
        let posts: Vec<Post> = statement
            .query_map(params_from_iter(&user_ids), |row| {
                Ok(Post {
                    id: row.get(0)?,
                    user_id: row.get(1)?,
                    title: row.get(2)?,
                    body: row.get(3)?,
                })
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let post_ids: Vec<i32> = posts.iter().map(|p| p.id).collect();
        let mut statement = c
            .prepare_cached(&format!(
                "SELECT id, post_id, text FROM comments WHERE post_id IN {}",
                in_list(post_ids.len())
            ))
            .unwrap();
        let comments: Vec<Comment> = statement
            .query_map(params_from_iter(&post_ids), |row| {
                Ok(Comment {
                    id: row.get(0)?,
                    post_id: row.get(1)?,
                    text: row.get(2)?,
                })
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        nest(
            users,
            &user_ids,
            posts,
            &post_ids,
            comments,
            |p| p.user_id,
            |c| c.post_id,
        )
    }
}

mod with_sqlx {
    //! sqlx as its guide writes it: `query_as` with `#[derive(FromRow)]`, a
    //! `SqlitePool`, `QueryBuilder` for the multi-row insert and the `IN` lists.

    use crate::*;
    use sqlx::{QueryBuilder, Sqlite, SqlitePool};

    pub use crate::rows::{Comment, Post, User, UserWithPost};

    /// A pool of [`CONNECTIONS`], all opened (a warm pool hands them out in turn).
    pub async fn pool(url: &str) -> SqlitePool {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .min_connections(CONNECTIONS as u32)
            .max_connections(CONNECTIONS as u32)
            .connect(url)
            .await
            .unwrap();
        let mut held = Vec::new();
        for _ in 0..CONNECTIONS {
            held.push(pool.acquire().await.unwrap());
        }
        drop(held);
        pool
    }

    pub async fn trivial(pool: &SqlitePool, n: i32) -> Vec<User> {
        sqlx::query_as("SELECT id, name, hair_color FROM users WHERE id <= ?")
            .bind(n)
            .fetch_all(pool)
            .await
            .unwrap()
    }

    /// sqlx's own floor: the same rows read by index with `try_get_unchecked` (no
    /// name lookup, no type check), through the pool or on a connection of its own:
    /// what a library on sqlx cannot go below without leaving it.
    pub async fn trivial_by_index<'e>(
        exec: impl sqlx::Executor<'e, Database = sqlx::Sqlite>,
        n: i32,
    ) -> Vec<User> {
        use sqlx::Row as _;
        sqlx::query("SELECT id, name, hair_color FROM users WHERE id <= ?")
            .bind(n)
            .try_map(|row: sqlx::sqlite::SqliteRow| {
                Ok(User {
                    id: row.try_get_unchecked(0)?,
                    name: row.try_get_unchecked(1)?,
                    hair_color: row.try_get_unchecked(2)?,
                })
            })
            .fetch_all(exec)
            .await
            .unwrap()
    }

    pub async fn medium(pool: &SqlitePool) -> Vec<(User, Option<Post>)> {
        let rows: Vec<UserWithPost> = sqlx::query_as(
            "SELECT u.id, u.name, u.hair_color, p.id AS post_id, p.user_id AS post_user_id,
                    p.title, p.body
             FROM users u LEFT JOIN posts p ON p.user_id = u.id
             WHERE u.hair_color = ? AND u.id <= ?",
        )
        .bind("black")
        .bind(ASSOCIATED_USERS)
        .fetch_all(pool)
        .await
        .unwrap();
        rows.into_iter().map(UserWithPost::split).collect()
    }

    pub async fn insert(pool: &SqlitePool, users: &[(String, Option<String>)]) -> u64 {
        let mut builder: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO new_users (name, hair_color) ");
        builder.push_values(users, |mut row, (name, hair)| {
            row.push_bind(name).push_bind(hair);
        });
        builder.build().execute(pool).await.unwrap().rows_affected()
    }

    pub async fn associations(pool: &SqlitePool) -> Vec<(User, Vec<(Post, Vec<Comment>)>)> {
        let users = trivial(pool, ASSOCIATED_USERS).await;
        let user_ids: Vec<i32> = users.iter().map(|u| u.id).collect();
        let posts: Vec<Post> = sqlx_select_in::<Sqlite>(
            "SELECT id, user_id, title, body FROM posts WHERE user_id",
            &user_ids,
        )
        .build_query_as()
        .fetch_all(pool)
        .await
        .unwrap();
        let post_ids: Vec<i32> = posts.iter().map(|p| p.id).collect();
        let comments: Vec<Comment> = sqlx_select_in::<Sqlite>(
            "SELECT id, post_id, text FROM comments WHERE post_id",
            &post_ids,
        )
        .build_query_as()
        .fetch_all(pool)
        .await
        .unwrap();
        nest(
            users,
            &user_ids,
            posts,
            &post_ids,
            comments,
            |p| p.user_id,
            |c| c.post_id,
        )
    }
}

mod with_diesel {
    //! diesel's SQLite: the shared tables, models and queries on a `SqliteConnection`.

    pub use crate::diesel_side::*;
    use diesel::prelude::*;

    crate::diesel_side::queries!(SqliteConnection);

    pub fn connect(path: &str) -> SqliteConnection {
        let mut c = SqliteConnection::establish(path).unwrap();
        diesel::connection::SimpleConnection::batch_execute(
            &mut c,
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .unwrap();
        c
    }
}

use crate::txova_side as with_txova;

pub fn run(rt: &Runtime, args: &Args) {
    let dir = std::env::temp_dir().join(format!("peers-sqlite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("peers.db").display().to_string();
    let url = format!("sqlite://{path}?mode=rwc");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(SCHEMA)
        .unwrap();

    let (dbs, pool) = rt.block_on(async {
        let mut dbs = Vec::new();
        for _ in 0..CONNECTIONS {
            dbs.push(
                txova_db::Db::connect_with(txova_db::DbConfig {
                    max_connections: 1,
                    ..txova_db::DbConfig::new(url.as_str())
                })
                .await
                .unwrap(),
            );
        }
        (dbs, with_sqlx::pool(&url).await)
    });
    let floors = Rc::new(RefCell::new(
        (0..CONNECTIONS)
            .map(|_| floor::connect(&path))
            .collect::<Vec<_>>(),
    ));
    let dbs = Rc::new(dbs);
    let pools = Rc::new(vec![pool.clone()]);
    let sqlx_conns = Rc::new(rt.block_on(async {
        let mut conns = Vec::new();
        for _ in 0..CONNECTIONS {
            let conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await;
            conns.push(RefCell::new(conn.unwrap()));
        }
        conns
    }));
    let diesel = Rc::new(RefCell::new(
        (0..CONNECTIONS)
            .map(|_| with_diesel::connect(&path))
            .collect::<Vec<_>>(),
    ));

    // The four sides of a workload: `$body` runs call `i` on `c`, its connection (or
    // the pool), and returns what it loaded, for `$check`.
    macro_rules! sides {
        (|$c:ident, $i:ident| floor: $floor:expr, txova: $txova:expr, diesel: $diesel:expr,
         sqlx: $sqlx:expr, check: $check:expr) => {
            vec![
                ("rusqlite", on_each_sync!(floors, |$c, $i| $check($floor))),
                ("txova-db", on_each!(dbs, |$c, $i| $check($txova))),
                ("diesel", on_each_sync!(diesel, |$c, $i| $check($diesel))),
                ("sqlx", on_each!(pools, |$c, $i| $check($sqlx))),
            ]
        };
    }

    let mut workloads = Vec::new();
    for n in [1usize, 100, USERS] {
        let n32 = n as i32;
        let rows = move |loaded: usize| assert_eq!(loaded, n);
        let mut variants = sides!(|c, _i|
            floor: floor::trivial(c, n32).len(),
            txova: with_txova::trivial(c, n32).await.len(),
            diesel: with_diesel::trivial(c, n32).len(),
            sqlx: with_sqlx::trivial(c, n32).await.len(),
            check: rows);
        variants.push((
            "sqlx by index",
            on_each!(pools, |c, _i| rows(
                with_sqlx::trivial_by_index(c, n32).await.len()
            )),
        ));
        variants.push((
            "sqlx conn, index",
            on_each!(sqlx_conns, |c, _i| rows(
                with_sqlx::trivial_by_index(&mut *c.borrow_mut(), n32)
                    .await
                    .len()
            )),
        ));
        workloads.push(Workload::trivial(n, variants));
    }
    let rows = |loaded: usize| assert_eq!(loaded, MEDIUM_ROWS);
    workloads.push(Workload::medium(sides!(|c, _i|
        floor: floor::medium(c).len(),
        txova: with_txova::medium(c).await.len(),
        diesel: with_diesel::medium(c).len(),
        sqlx: with_sqlx::medium(c).await.len(),
        check: rows)));
    for n in [1usize, 100, 1000] {
        let inserted = move |count: u64| assert_eq!(count, n as u64);
        workloads.push(Workload::insert(
            n,
            sides!(|c, i|
            floor: floor::insert(c, &new_users(n, i)),
            txova: with_txova::insert(c, new_users(n, i)).await,
            diesel: with_diesel::insert(c, &new_users(n, i)) as u64,
            sqlx: with_sqlx::insert(c, &new_users(n, i)).await,
            check: inserted),
        ));
    }
    workloads.push(Workload::associations(sides!(|c, _i|
        floor: shape(&floor::associations(c)),
        txova: shape(&with_txova::associations(c).await),
        diesel: shape(&with_diesel::associations(c)),
        sqlx: shape(&with_sqlx::associations(c).await),
        check: check_associations)));

    report(rt, "sqlite", workloads, args);

    rt.block_on(async {
        pool.close().await;
        for db in dbs.iter() {
            db.close().await;
        }
    });
    drop(floors);
    drop(diesel);
    std::fs::remove_dir_all(&dir).unwrap();
}
