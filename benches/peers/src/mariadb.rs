//! MariaDB: mysql_async (the floor: statements from the connection's cache, rows as
//! tuples), txova-db, diesel (`MysqlConnection`, over the MariaDB C client: building
//! the suite needs `libmariadb-dev`) and sqlx (`MySqlPool`).

use std::cell::RefCell;
use std::rc::Rc;

use tokio::runtime::Runtime;

use crate::*;

const SCHEMA: &[&str] = &[
    "CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, name TEXT NOT NULL, hair_color TEXT)",
    "CREATE TABLE posts (id INT AUTO_INCREMENT PRIMARY KEY, user_id INT NOT NULL,
        title TEXT NOT NULL, body TEXT, INDEX posts_user_id (user_id),
        FOREIGN KEY (user_id) REFERENCES users (id))",
    "CREATE TABLE comments (id INT AUTO_INCREMENT PRIMARY KEY, post_id INT NOT NULL,
        text TEXT NOT NULL, INDEX comments_post_id (post_id),
        FOREIGN KEY (post_id) REFERENCES posts (id))",
    "CREATE TABLE new_users (id INT AUTO_INCREMENT PRIMARY KEY, name TEXT NOT NULL, hair_color TEXT)",
    "INSERT INTO users (name, hair_color)
        SELECT CONCAT('User ', seq),
            CASE WHEN seq % 2 = 0 THEN 'black' WHEN seq % 5 = 0 THEN NULL ELSE 'brown' END
        FROM seq_1_to_10000",
    "INSERT INTO posts (user_id, title, body)
        SELECT u.seq, CONCAT('Post ', p.seq, ' by user ', u.seq),
            CASE WHEN p.seq % 3 = 0 THEN NULL ELSE 'A body of text' END
        FROM seq_1_to_100 u, seq_1_to_10 p ORDER BY u.seq, p.seq",
    "INSERT INTO comments (post_id, text)
        SELECT p.seq, CONCAT('Comment ', c.seq, ' on post ', p.seq)
        FROM seq_1_to_1000 p, seq_1_to_10 c ORDER BY p.seq, c.seq",
    "ANALYZE TABLE users, posts, comments",
];

mod floor {
    //! mysql_async: `exec_map` over its per-connection statement cache, rows as tuples.

    use std::cell::RefCell;

    use crate::*;
    use mysql_async::prelude::*;
    use mysql_async::{Conn, Params, Value};

    pub use crate::rows::{Comment, Post, User};

    pub async fn connect(url: &str) -> RefCell<Conn> {
        RefCell::new(Conn::from_url(url).await.unwrap())
    }

    fn positional(ids: &[i32]) -> Params {
        Params::Positional(ids.iter().map(|id| Value::from(*id)).collect())
    }

    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn trivial(c: &RefCell<Conn>, n: i32) -> Vec<User> {
        c.borrow_mut()
            .exec_map(
                "SELECT id, name, hair_color FROM users WHERE id <= ?",
                (n,),
                |(id, name, hair_color)| User {
                    id,
                    name,
                    hair_color,
                },
            )
            .await
            .unwrap()
    }

    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn medium(c: &RefCell<Conn>) -> Vec<(User, Option<Post>)> {
        type Row = (
            i32,
            String,
            Option<String>,
            Option<i32>,
            Option<i32>,
            Option<String>,
            Option<String>,
        );
        c.borrow_mut()
            .exec_map(
                "SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body
                 FROM users u LEFT JOIN posts p ON p.user_id = u.id
                 WHERE u.hair_color = ? AND u.id <= ?",
                ("black", ASSOCIATED_USERS),
                |(id, name, hair_color, post_id, user_id, title, body): Row| {
                    let post = post_id.map(|id| Post {
                        id,
                        user_id: user_id.unwrap_or_default(),
                        title: title.unwrap_or_default(),
                        body,
                    });
                    (
                        User {
                            id,
                            name,
                            hair_color,
                        },
                        post,
                    )
                },
            )
            .await
            .unwrap()
    }

    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn insert(c: &RefCell<Conn>, users: &[(String, Option<String>)]) -> u64 {
        let mut params = Vec::with_capacity(users.len() * 2);
        for (name, hair) in users {
            params.push(Value::from(name.as_str()));
            params.push(Value::from(hair.as_deref()));
        }
        let mut c = c.borrow_mut();
        c.exec_drop(insert_sql(users.len(), false), Params::Positional(params))
            .await
            .unwrap();
        c.affected_rows()
    }

    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn associations(c: &RefCell<Conn>) -> Vec<(User, Vec<(Post, Vec<Comment>)>)> {
        let users = trivial(c, ASSOCIATED_USERS).await;
        let user_ids: Vec<i32> = users.iter().map(|u| u.id).collect();
        let posts: Vec<Post> = c
            .borrow_mut()
            .exec_map(
                format!(
                    "SELECT id, user_id, title, body FROM posts WHERE user_id IN {}",
                    in_list(user_ids.len())
                ),
                positional(&user_ids),
                |(id, user_id, title, body)| Post {
                    id,
                    user_id,
                    title,
                    body,
                },
            )
            .await
            .unwrap();
        let post_ids: Vec<i32> = posts.iter().map(|p| p.id).collect();
        let comments: Vec<Comment> = c
            .borrow_mut()
            .exec_map(
                format!(
                    "SELECT id, post_id, text FROM comments WHERE post_id IN {}",
                    in_list(post_ids.len())
                ),
                positional(&post_ids),
                |(id, post_id, text)| Comment { id, post_id, text },
            )
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

mod with_sqlx {
    //! sqlx as its guide writes it: `query_as` with `#[derive(FromRow)]`, a
    //! `MySqlPool`, `QueryBuilder` for the multi-row insert and the `IN` lists.

    use crate::*;
    use sqlx::{MySql, MySqlPool, QueryBuilder};

    pub use crate::rows::{Comment, Post, User, UserWithPost};

    /// A pool of [`CONNECTIONS`], all opened (a warm pool hands them out in turn).
    pub async fn pool(url: &str) -> MySqlPool {
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(CONNECTIONS as u32)
            .connect(url)
            .await
            .unwrap();
        let warm = (0..CONNECTIONS).map(|_| sqlx::query("SELECT SLEEP(0.05)").execute(&pool));
        for done in futures_util::future::join_all(warm).await {
            done.unwrap();
        }
        pool
    }

    pub async fn trivial(pool: &MySqlPool, n: i32) -> Vec<User> {
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
        exec: impl sqlx::Executor<'e, Database = sqlx::MySql>,
        n: i32,
    ) -> Vec<User> {
        use sqlx::Row as _;
        sqlx::query("SELECT id, name, hair_color FROM users WHERE id <= ?")
            .bind(n)
            .try_map(|row: sqlx::mysql::MySqlRow| {
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

    pub async fn medium(pool: &MySqlPool) -> Vec<(User, Option<Post>)> {
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

    pub async fn insert(pool: &MySqlPool, users: &[(String, Option<String>)]) -> u64 {
        let mut builder: QueryBuilder<MySql> =
            QueryBuilder::new("INSERT INTO new_users (name, hair_color) ");
        builder.push_values(users, |mut row, (name, hair)| {
            row.push_bind(name).push_bind(hair);
        });
        builder.build().execute(pool).await.unwrap().rows_affected()
    }

    pub async fn associations(pool: &MySqlPool) -> Vec<(User, Vec<(Post, Vec<Comment>)>)> {
        let users = trivial(pool, ASSOCIATED_USERS).await;
        let user_ids: Vec<i32> = users.iter().map(|u| u.id).collect();
        let posts: Vec<Post> = sqlx_select_in::<MySql>(
            "SELECT id, user_id, title, body FROM posts WHERE user_id",
            &user_ids,
        )
        .build_query_as()
        .fetch_all(pool)
        .await
        .unwrap();
        let post_ids: Vec<i32> = posts.iter().map(|p| p.id).collect();
        let comments: Vec<Comment> = sqlx_select_in::<MySql>(
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
    //! diesel's MySQL: the shared tables, models and queries on a `MysqlConnection`.

    pub use crate::diesel_side::*;
    use diesel::prelude::*;

    crate::diesel_side::queries!(MysqlConnection);

    pub fn connect(url: &str) -> MysqlConnection {
        MysqlConnection::establish(url).unwrap()
    }
}

use crate::txova_side as with_txova;

pub fn run(rt: &Runtime, args: &Args) {
    let url =
        std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let database = format!("peers_{}", std::process::id());
    let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
    let in_database = format!("{base}/{database}");

    let (floors, dbs, pool) = rt.block_on(async {
        let admin = txova_db::Db::connect(&url).await.unwrap();
        txova_db::query(format!("CREATE DATABASE {database}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let db = txova_db::Db::connect(&in_database).await.unwrap();
        for statement in SCHEMA {
            txova_db::query(*statement).execute(&db).await.unwrap();
        }
        db.close().await;
        let mut floors = Vec::new();
        let mut dbs = Vec::new();
        for _ in 0..CONNECTIONS {
            floors.push(floor::connect(&in_database).await);
            dbs.push(
                txova_db::Db::connect_with(txova_db::DbConfig {
                    max_connections: 1,
                    ..txova_db::DbConfig::new(in_database.as_str())
                })
                .await
                .unwrap(),
            );
        }
        (floors, dbs, with_sqlx::pool(&in_database).await)
    });
    let floors = Rc::new(floors);
    let dbs = Rc::new(dbs);
    let pools = Rc::new(vec![pool.clone()]);
    let sqlx_conns = Rc::new(rt.block_on(async {
        let mut conns = Vec::new();
        for _ in 0..CONNECTIONS {
            let conn = <sqlx::MySqlConnection as sqlx::Connection>::connect(&in_database).await;
            conns.push(RefCell::new(conn.unwrap()));
        }
        conns
    }));
    let diesel = Rc::new(RefCell::new(
        (0..CONNECTIONS)
            .map(|_| with_diesel::connect(&in_database))
            .collect::<Vec<_>>(),
    ));

    // The four sides of a workload: `$body` runs call `i` on `c`, its connection (or
    // the pool), and returns what it loaded, for `$check`.
    macro_rules! sides {
        (|$c:ident, $i:ident| floor: $floor:expr, txova: $txova:expr, diesel: $diesel:expr,
         sqlx: $sqlx:expr, check: $check:expr) => {
            vec![
                ("mysql_async", on_each!(floors, |$c, $i| $check($floor))),
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
            floor: floor::trivial(c, n32).await.len(),
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
        floor: floor::medium(c).await.len(),
        txova: with_txova::medium(c).await.len(),
        diesel: with_diesel::medium(c).len(),
        sqlx: with_sqlx::medium(c).await.len(),
        check: rows)));
    for n in [1usize, 100, 1000] {
        let inserted = move |count: u64| assert_eq!(count, n as u64);
        workloads.push(Workload::insert(
            n,
            sides!(|c, i|
            floor: floor::insert(c, &new_users(n, i)).await,
            txova: with_txova::insert(c, new_users(n, i)).await,
            diesel: with_diesel::insert(c, &new_users(n, i)) as u64,
            sqlx: with_sqlx::insert(c, &new_users(n, i)).await,
            check: inserted),
        ));
    }
    workloads.push(Workload::associations(sides!(|c, _i|
        floor: shape(&floor::associations(c).await),
        txova: shape(&with_txova::associations(c).await),
        diesel: shape(&with_diesel::associations(c)),
        sqlx: shape(&with_sqlx::associations(c).await),
        check: check_associations)));

    report(rt, "mariadb", workloads, args);

    rt.block_on(async {
        pool.close().await;
        for db in dbs.iter() {
            db.close().await;
        }
        let floors = Rc::try_unwrap(floors).ok().unwrap();
        for conn in floors {
            conn.into_inner().disconnect().await.unwrap();
        }
        let admin = txova_db::Db::connect(&url).await.unwrap();
        txova_db::query(format!("DROP DATABASE {database}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
    });
}
