//! Issue 26's peer suite on Postgres: the diesel benchmark suite's workloads, written
//! idiomatically with tokio-postgres (the floor), sqlx, diesel and txova-db, in one
//! process.
//!
//! Data (the suite's three tables): 10,000 users (`id`, `name`, `hair_color`: black for
//! even ids, NULL for odd multiples of 5, else brown); users 1..=100 have 10 posts each
//! and every post 10 comments. Workloads:
//! - `trivial N`: the users with `id <= N`, N = 1, 100, 10,000;
//! - `medium`: users 1..=100 with black hair LEFT JOIN their posts (500 rows, 7 columns);
//! - `insert N`: N new users in one statement, N = 1, 100, 1,000;
//! - `associations`: users 1..=100, then their posts (1,000), then those posts'
//!   comments (10,000), grouped under their parents.
//!
//! Every call checks its result's size. Each variant spreads its calls over
//! [`CONNECTIONS`] connections used in turn (a point query's cost on these 2-vCPU
//! machines swings up to 3x with the vCPU each connection's server process gets):
//! tokio-postgres and diesel that many connections, sqlx a `PgPool` of that many
//! (warmed, so it hands them out in turn), txova-db that many one-connection `Db`s.
//! The async variants run on one current-thread runtime, each batch inside one
//! `block_on`; diesel (sync `PgConnection`, over libpq) runs its batch on the same
//! thread. Interleaved rounds, the order rotating each round; per variant the median
//! wall time and client CPU (`CLOCK_PROCESS_CPUTIME_ID`) per call, and ratios to the
//! floor as medians of per-round ratios.
//!
//! `cargo run --release -- [ROUNDS [WORKLOAD [VARIANT]]]` with `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); a schema of its own is dropped at the
//! end. `WORKLOAD` and `VARIANT` keep the rows whose names contain them (the floor is
//! always kept), for profiling one side under callgrind.

// The rows' fields are decoded and dropped, not read: the loading is what is measured
// (decoding allocates and checks, so the optimiser cannot skip it).
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash;
use std::rc::Rc;
use std::time::{Duration, Instant};

use cpu_time::ProcessTime;
use futures_util::future::LocalBoxFuture;
use tokio::runtime::Runtime;

const CONNECTIONS: usize = 4;
const USERS: usize = 10_000;
const MEDIUM_ROWS: usize = 500;
const ASSOCIATED_USERS: i32 = 100;

const SCHEMA: &str = "
CREATE TABLE users (id SERIAL PRIMARY KEY, name TEXT NOT NULL, hair_color TEXT);
CREATE TABLE posts (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id),
    title TEXT NOT NULL, body TEXT);
CREATE TABLE comments (id SERIAL PRIMARY KEY, post_id INTEGER NOT NULL REFERENCES posts (id),
    text TEXT NOT NULL);
CREATE INDEX posts_user_id ON posts (user_id);
CREATE INDEX comments_post_id ON comments (post_id);
CREATE TABLE new_users (id SERIAL PRIMARY KEY, name TEXT NOT NULL, hair_color TEXT);
INSERT INTO users (name, hair_color)
    SELECT 'User ' || i, CASE WHEN i % 2 = 0 THEN 'black' WHEN i % 5 = 0 THEN NULL ELSE 'brown' END
    FROM generate_series(1, 10000) i;
INSERT INTO posts (user_id, title, body)
    SELECT u, 'Post ' || p || ' by user ' || u, CASE WHEN p % 3 = 0 THEN NULL ELSE 'A body of text' END
    FROM generate_series(1, 100) u, generate_series(1, 10) p;
INSERT INTO comments (post_id, text)
    SELECT p, 'Comment ' || c || ' on post ' || p FROM generate_series(1, 1000) p, generate_series(1, 10) c;
ANALYZE;
";

/// The users a `insert N` call writes.
fn new_users(n: usize, i: u64) -> Vec<(String, Option<String>)> {
    (0..n)
        .map(|k| {
            let hair = (k % 2 == 0).then(|| "black".to_owned());
            (format!("New user {i}.{k}"), hair)
        })
        .collect()
}

/// Children grouped under their parents' keys, in the parents' order.
fn grouped<C, K: Hash + Eq + Copy>(
    parents: &[K],
    children: Vec<C>,
    key: impl Fn(&C) -> K,
) -> Vec<Vec<C>> {
    let at: HashMap<K, usize> = parents.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    let mut groups: Vec<Vec<C>> = parents.iter().map(|_| Vec::new()).collect();
    for child in children {
        groups[at[&key(&child)]].push(child);
    }
    groups
}

/// What an `associations` call loaded: users, posts per user, comments in all.
fn shape<U, P, C>(loaded: &[(U, Vec<(P, Vec<C>)>)]) -> (usize, Vec<usize>, usize) {
    let posts = loaded.iter().map(|(_, posts)| posts.len()).collect();
    let comments = loaded
        .iter()
        .flat_map(|(_, posts)| posts.iter().map(|(_, comments)| comments.len()))
        .sum();
    (loaded.len(), posts, comments)
}

fn check_associations((users, posts, comments): (usize, Vec<usize>, usize)) {
    assert_eq!(users, ASSOCIATED_USERS as usize);
    assert!(posts.iter().all(|&p| p == 10), "10 posts per user");
    assert_eq!(comments, 10_000);
}

/// An async side: `$body` runs call `$i` with `$c` the connection it uses in turn.
macro_rules! on_each {
    ($conns:expr, |$c:ident, $i:ident| $body:expr) => {{
        let conns = $conns.clone();
        Body::Async(Box::new(move |$i| {
            let conns = conns.clone();
            Box::pin(async move {
                let $c = &conns[$i as usize % conns.len()];
                $body
            })
        }))
    }};
}

mod floor {
    //! tokio-postgres: statements prepared once per connection, rows decoded by index.

    use super::*;
    use tokio_postgres::{Client, NoTls, Statement};

    pub struct User {
        pub id: i32,
        pub name: String,
        pub hair_color: Option<String>,
    }
    pub struct Post {
        pub id: i32,
        pub user_id: i32,
        pub title: String,
        pub body: Option<String>,
    }
    pub struct Comment {
        pub id: i32,
        pub post_id: i32,
        pub text: String,
    }

    pub struct Conn {
        client: Client,
        trivial: Statement,
        medium: Statement,
        posts: Statement,
        comments: Statement,
        /// `INSERT … VALUES` of 1, 100 and 1,000 rows.
        inserts: Vec<(usize, Statement)>,
    }

    fn insert_sql(n: usize) -> String {
        let mut sql = String::from("INSERT INTO new_users (name, hair_color) VALUES ");
        for k in 0..n {
            if k > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(${}, ${})", 2 * k + 1, 2 * k + 2));
        }
        sql
    }

    pub async fn connect(config: &str) -> Conn {
        let (client, connection) = tokio_postgres::connect(config, NoTls).await.unwrap();
        tokio::spawn(connection);
        let trivial = client
            .prepare("SELECT id, name, hair_color FROM users WHERE id <= $1")
            .await
            .unwrap();
        let medium = client
            .prepare(
                "SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body
                 FROM users u LEFT JOIN posts p ON p.user_id = u.id
                 WHERE u.hair_color = $1 AND u.id <= $2",
            )
            .await
            .unwrap();
        let posts = client
            .prepare("SELECT id, user_id, title, body FROM posts WHERE user_id = ANY($1)")
            .await
            .unwrap();
        let comments = client
            .prepare("SELECT id, post_id, text FROM comments WHERE post_id = ANY($1)")
            .await
            .unwrap();
        let mut inserts = Vec::new();
        for n in [1, 100, 1000] {
            inserts.push((n, client.prepare(&insert_sql(n)).await.unwrap()));
        }
        Conn {
            client,
            trivial,
            medium,
            posts,
            comments,
            inserts,
        }
    }

    fn user(row: &tokio_postgres::Row) -> User {
        User {
            id: row.get(0),
            name: row.get(1),
            hair_color: row.get(2),
        }
    }

    pub async fn trivial(c: &Conn, n: i32) -> Vec<User> {
        let rows = c.client.query(&c.trivial, &[&n]).await.unwrap();
        rows.iter().map(user).collect()
    }

    pub async fn medium(c: &Conn) -> Vec<(User, Option<Post>)> {
        let rows = c
            .client
            .query(&c.medium, &[&"black", &ASSOCIATED_USERS])
            .await
            .unwrap();
        rows.iter()
            .map(|row| {
                let post = row.get::<_, Option<i32>>(3).map(|id| Post {
                    id,
                    user_id: row.get(4),
                    title: row.get(5),
                    body: row.get(6),
                });
                (user(row), post)
            })
            .collect()
    }

    pub async fn insert(c: &Conn, users: &[(String, Option<String>)]) -> u64 {
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = Vec::new();
        for (name, hair) in users {
            params.push(name);
            params.push(hair);
        }
        let statement = match c.inserts.iter().find(|(n, _)| *n == users.len()) {
            Some((_, statement)) => statement.clone(),
            None => c.client.prepare(&insert_sql(users.len())).await.unwrap(),
        };
        c.client.execute(&statement, &params).await.unwrap()
    }

    pub async fn associations(c: &Conn) -> Vec<(User, Vec<(Post, Vec<Comment>)>)> {
        let users: Vec<User> = trivial(c, ASSOCIATED_USERS).await;
        let user_ids: Vec<i32> = users.iter().map(|u| u.id).collect();
        let posts: Vec<Post> = c
            .client
            .query(&c.posts, &[&user_ids])
            .await
            .unwrap()
            .iter()
            .map(|row| Post {
                id: row.get(0),
                user_id: row.get(1),
                title: row.get(2),
                body: row.get(3),
            })
            .collect();
        let post_ids: Vec<i32> = posts.iter().map(|p| p.id).collect();
        let comments: Vec<Comment> = c
            .client
            .query(&c.comments, &[&post_ids])
            .await
            .unwrap()
            .iter()
            .map(|row| Comment {
                id: row.get(0),
                post_id: row.get(1),
                text: row.get(2),
            })
            .collect();
        let mut comments = grouped(&post_ids, comments, |c| c.post_id).into_iter();
        let posts: Vec<(Post, Vec<Comment>)> = posts
            .into_iter()
            .map(|p| (p, comments.next().unwrap_or_default()))
            .collect();
        let posts = grouped(&user_ids, posts, |(p, _)| p.user_id);
        users.into_iter().zip(posts).collect()
    }
}

mod with_sqlx {
    //! sqlx as its guide writes it: `query_as` with `#[derive(FromRow)]`, a `PgPool`,
    //! `QueryBuilder::push_values` for the multi-row insert.

    use super::*;
    use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};

    #[derive(FromRow)]
    pub struct User {
        pub id: i32,
        pub name: String,
        pub hair_color: Option<String>,
    }
    #[derive(FromRow)]
    pub struct Post {
        pub id: i32,
        pub user_id: i32,
        pub title: String,
        pub body: Option<String>,
    }
    #[derive(FromRow)]
    pub struct Comment {
        pub id: i32,
        pub post_id: i32,
        pub text: String,
    }
    #[derive(FromRow)]
    pub struct UserWithPost {
        pub id: i32,
        pub name: String,
        pub hair_color: Option<String>,
        pub post_id: Option<i32>,
        pub post_user_id: Option<i32>,
        pub title: Option<String>,
        pub body: Option<String>,
    }

    pub async fn trivial(pool: &PgPool, n: i32) -> Vec<User> {
        sqlx::query_as("SELECT id, name, hair_color FROM users WHERE id <= $1")
            .bind(n)
            .fetch_all(pool)
            .await
            .unwrap()
    }

    /// sqlx's own floor: the same rows read from `PgRow`s by index with
    /// `try_get_unchecked` (no name lookup, no type check), what a library on sqlx
    /// cannot go below without leaving it.
    pub async fn trivial_by_index(pool: &PgPool, n: i32) -> Vec<User> {
        use sqlx::Row as _;
        sqlx::query("SELECT id, name, hair_color FROM users WHERE id <= $1")
            .bind(n)
            .try_map(|row: sqlx::postgres::PgRow| {
                Ok(User {
                    id: row.try_get_unchecked(0)?,
                    name: row.try_get_unchecked(1)?,
                    hair_color: row.try_get_unchecked(2)?,
                })
            })
            .fetch_all(pool)
            .await
            .unwrap()
    }

    pub async fn medium(pool: &PgPool) -> Vec<(User, Option<Post>)> {
        let rows: Vec<UserWithPost> = sqlx::query_as(
            "SELECT u.id, u.name, u.hair_color, p.id AS post_id, p.user_id AS post_user_id,
                    p.title, p.body
             FROM users u LEFT JOIN posts p ON p.user_id = u.id
             WHERE u.hair_color = $1 AND u.id <= $2",
        )
        .bind("black")
        .bind(ASSOCIATED_USERS)
        .fetch_all(pool)
        .await
        .unwrap();
        rows.into_iter()
            .map(|r| {
                let post = r.post_id.map(|id| Post {
                    id,
                    user_id: r.post_user_id.unwrap_or_default(),
                    title: r.title.unwrap_or_default(),
                    body: r.body,
                });
                (
                    User {
                        id: r.id,
                        name: r.name,
                        hair_color: r.hair_color,
                    },
                    post,
                )
            })
            .collect()
    }

    pub async fn insert(pool: &PgPool, users: &[(String, Option<String>)]) -> u64 {
        let mut builder: QueryBuilder<Postgres> =
            QueryBuilder::new("INSERT INTO new_users (name, hair_color) ");
        builder.push_values(users, |mut row, (name, hair)| {
            row.push_bind(name).push_bind(hair);
        });
        builder.build().execute(pool).await.unwrap().rows_affected()
    }

    pub async fn associations(pool: &PgPool) -> Vec<(User, Vec<(Post, Vec<Comment>)>)> {
        let users = trivial(pool, ASSOCIATED_USERS).await;
        let user_ids: Vec<i32> = users.iter().map(|u| u.id).collect();
        let posts: Vec<Post> =
            sqlx::query_as("SELECT id, user_id, title, body FROM posts WHERE user_id = ANY($1)")
                .bind(&user_ids)
                .fetch_all(pool)
                .await
                .unwrap();
        let post_ids: Vec<i32> = posts.iter().map(|p| p.id).collect();
        let comments: Vec<Comment> =
            sqlx::query_as("SELECT id, post_id, text FROM comments WHERE post_id = ANY($1)")
                .bind(&post_ids)
                .fetch_all(pool)
                .await
                .unwrap();
        let mut comments = grouped(&post_ids, comments, |c| c.post_id).into_iter();
        let posts: Vec<(Post, Vec<Comment>)> = posts
            .into_iter()
            .map(|p| (p, comments.next().unwrap_or_default()))
            .collect();
        let posts = grouped(&user_ids, posts, |(p, _)| p.user_id);
        users.into_iter().zip(posts).collect()
    }
}

mod with_diesel {
    //! diesel 2 as its guide writes it: `table!`, `Queryable`/`Selectable`,
    //! `belonging_to` + `grouped_by` for associations, a sync `PgConnection`.

    use diesel::prelude::*;

    use super::ASSOCIATED_USERS;

    diesel::table! {
        users (id) {
            id -> Int4,
            name -> Text,
            hair_color -> Nullable<Text>,
        }
    }
    diesel::table! {
        posts (id) {
            id -> Int4,
            user_id -> Int4,
            title -> Text,
            body -> Nullable<Text>,
        }
    }
    diesel::table! {
        comments (id) {
            id -> Int4,
            post_id -> Int4,
            text -> Text,
        }
    }
    diesel::table! {
        new_users (id) {
            id -> Int4,
            name -> Text,
            hair_color -> Nullable<Text>,
        }
    }
    diesel::joinable!(posts -> users (user_id));
    diesel::joinable!(comments -> posts (post_id));
    diesel::allow_tables_to_appear_in_same_query!(users, posts, comments);

    #[derive(Queryable, Selectable, Identifiable)]
    #[diesel(table_name = users)]
    pub struct User {
        pub id: i32,
        pub name: String,
        pub hair_color: Option<String>,
    }
    #[derive(Queryable, Selectable, Identifiable, Associations)]
    #[diesel(belongs_to(User), table_name = posts)]
    pub struct Post {
        pub id: i32,
        pub user_id: i32,
        pub title: String,
        pub body: Option<String>,
    }
    #[derive(Queryable, Selectable, Identifiable, Associations)]
    #[diesel(belongs_to(Post), table_name = comments)]
    pub struct Comment {
        pub id: i32,
        pub post_id: i32,
        pub text: String,
    }
    #[derive(Insertable)]
    #[diesel(table_name = new_users)]
    pub struct NewUser<'a> {
        pub name: &'a str,
        pub hair_color: Option<&'a str>,
    }

    pub fn connect(url: &str) -> PgConnection {
        PgConnection::establish(url).unwrap()
    }

    pub fn trivial(c: &mut PgConnection, n: i32) -> Vec<User> {
        users::table
            .filter(users::id.le(n))
            .select(User::as_select())
            .load(c)
            .unwrap()
    }

    pub fn medium(c: &mut PgConnection) -> Vec<(User, Option<Post>)> {
        users::table
            .left_join(posts::table)
            .filter(users::hair_color.eq("black"))
            .filter(users::id.le(ASSOCIATED_USERS))
            .select((User::as_select(), Option::<Post>::as_select()))
            .load(c)
            .unwrap()
    }

    pub fn insert(c: &mut PgConnection, users: &[(String, Option<String>)]) -> usize {
        let rows: Vec<NewUser<'_>> = users
            .iter()
            .map(|(name, hair)| NewUser {
                name,
                hair_color: hair.as_deref(),
            })
            .collect();
        diesel::insert_into(new_users::table)
            .values(&rows)
            .execute(c)
            .unwrap()
    }

    pub fn associations(c: &mut PgConnection) -> Vec<(User, Vec<(Post, Vec<Comment>)>)> {
        let users = trivial(c, ASSOCIATED_USERS);
        let posts: Vec<Post> = Post::belonging_to(&users)
            .select(Post::as_select())
            .load(c)
            .unwrap();
        let comments: Vec<Comment> = Comment::belonging_to(&posts)
            .select(Comment::as_select())
            .load(c)
            .unwrap();
        let comments = comments.grouped_by(&posts);
        let posts: Vec<(Post, Vec<Comment>)> = posts.into_iter().zip(comments).collect();
        let posts = posts.grouped_by(&users);
        users.into_iter().zip(posts).collect()
    }
}

mod with_txova {
    //! txova-db as its guide writes it: `#[derive(Table)]`, the typed builder,
    //! `insert_many`, `is_in` over the parent ids for associations.

    use super::*;
    use txova_db::{Db, Table};

    #[derive(Table, Debug)]
    #[table(name = "users")]
    pub struct User {
        #[column(primary_key, generated)]
        pub id: i32,
        pub name: String,
        pub hair_color: Option<String>,
    }
    #[derive(Table, Debug)]
    #[table(name = "posts")]
    pub struct Post {
        #[column(primary_key, generated)]
        pub id: i32,
        pub user_id: i32,
        pub title: String,
        pub body: Option<String>,
    }
    #[derive(Table, Debug)]
    #[table(name = "comments")]
    pub struct Comment {
        #[column(primary_key, generated)]
        pub id: i32,
        pub post_id: i32,
        pub text: String,
    }
    #[derive(Table, Debug)]
    #[table(name = "new_users")]
    pub struct NewUser {
        #[column(primary_key, generated)]
        pub id: i32,
        pub name: String,
        pub hair_color: Option<String>,
    }

    pub async fn trivial(db: &Db, n: i32) -> Vec<User> {
        User::select()
            .filter(User::id.le(n))
            .fetch_all(db)
            .await
            .unwrap()
    }

    pub async fn medium(db: &Db) -> Vec<(User, Option<Post>)> {
        let rows = User::select()
            .left_join(User::id, Post::user_id)
            .filter(User::hair_color.eq("black") & User::id.le(ASSOCIATED_USERS))
            .columns((
                User::id,
                User::name,
                User::hair_color,
                Post::id,
                Post::user_id,
                Post::title,
                Post::body,
            ))
            .fetch_all(db)
            .await
            .unwrap();
        rows.into_iter()
            .map(|(id, name, hair_color, post_id, user_id, title, body)| {
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
            })
            .collect()
    }

    pub async fn insert(db: &Db, users: &[(String, Option<String>)]) -> u64 {
        let rows: Vec<NewUser> = users
            .iter()
            .map(|(name, hair)| NewUser {
                id: 0,
                name: name.clone(),
                hair_color: hair.clone(),
            })
            .collect();
        NewUser::insert_many(&rows).execute(db).await.unwrap()
    }

    pub async fn associations(db: &Db) -> Vec<(User, Vec<(Post, Vec<Comment>)>)> {
        let users = trivial(db, ASSOCIATED_USERS).await;
        let user_ids: Vec<i32> = users.iter().map(|u| u.id).collect();
        let posts = Post::select()
            .filter(Post::user_id.is_in(user_ids.iter().copied()))
            .fetch_all(db)
            .await
            .unwrap();
        let post_ids: Vec<i32> = posts.iter().map(|p| p.id).collect();
        let comments = Comment::select()
            .filter(Comment::post_id.is_in(post_ids.iter().copied()))
            .fetch_all(db)
            .await
            .unwrap();
        let mut comments = grouped(&post_ids, comments, |c| c.post_id).into_iter();
        let posts: Vec<(Post, Vec<Comment>)> = posts
            .into_iter()
            .map(|p| (p, comments.next().unwrap_or_default()))
            .collect();
        let posts = grouped(&user_ids, posts, |(p, _)| p.user_id);
        users.into_iter().zip(posts).collect()
    }
}

/// One variant of a workload: runs call `i`.
enum Body {
    Async(Box<dyn Fn(u64) -> LocalBoxFuture<'static, ()>>),
    Sync(Box<dyn FnMut(u64)>),
}

fn run_batch(rt: &Runtime, body: &mut Body, batch: u64, offset: u64) -> (Duration, Duration) {
    let cpu = ProcessTime::now();
    let started = Instant::now();
    match body {
        Body::Async(f) => rt.block_on(async {
            for i in 0..batch {
                f(offset + i).await;
            }
        }),
        Body::Sync(f) => {
            for i in 0..batch {
                f(offset + i);
            }
        }
    }
    (started.elapsed(), cpu.elapsed())
}

struct Workload {
    name: String,
    batch: u64,
    variants: Vec<(&'static str, Body)>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args().nth(1).map_or(10, |r| r.parse().unwrap());
    // For profiling one side: only the workloads and variants whose names contain these.
    let only_workload = std::env::args().nth(2).unwrap_or_default();
    let only_variant = std::env::args().nth(3).unwrap_or_default();
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let schema = format!("peers_{}", std::process::id());
    let separator = if url.contains('?') { '&' } else { '?' };
    // sqlx's spelling of the search path, and libpq's (diesel).
    let in_schema = format!("{url}{separator}options[search_path]={schema}");
    let libpq_url = format!("{url}{separator}options=-csearch_path%3D{schema}");
    let parsed = url_parts(&url);
    let tp_config = format!("{parsed} options=-csearch_path={schema}");

    let (floors, dbs, pool) = rt.block_on(async {
        let admin = txova_db::Db::connect(&url).await.unwrap();
        txova_db::query(format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let db = txova_db::Db::connect(&in_schema).await.unwrap();
        db.execute_script(SCHEMA).await.unwrap();
        db.close().await;
        let mut floors = Vec::new();
        let mut dbs = Vec::new();
        for _ in 0..CONNECTIONS {
            floors.push(floor::connect(&tp_config).await);
            dbs.push(
                txova_db::Db::connect_with(txova_db::DbConfig {
                    max_connections: 1,
                    ..txova_db::DbConfig::new(in_schema.as_str())
                })
                .await
                .unwrap(),
            );
        }
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(CONNECTIONS as u32)
            .connect(&in_schema)
            .await
            .unwrap();
        let warm = (0..CONNECTIONS).map(|_| sqlx::query("SELECT pg_sleep(0.05)").execute(&pool));
        for done in futures_util::future::join_all(warm).await {
            done.unwrap();
        }
        (floors, dbs, pool)
    });
    let floors = Rc::new(floors);
    let dbs = Rc::new(dbs);
    let pools = Rc::new(vec![pool.clone()]);
    let diesel = Rc::new(RefCell::new(
        (0..CONNECTIONS)
            .map(|_| with_diesel::connect(&libpq_url))
            .collect::<Vec<_>>(),
    ));

    // The four sides of a workload: `$body` runs call `i` on `c`, its connection (or
    // the pool), and returns what it loaded, for `$check`.
    macro_rules! sides {
        (|$c:ident, $i:ident| floor: $floor:expr, txova: $txova:expr, diesel: $diesel:expr,
         sqlx: $sqlx:expr, check: $check:expr) => {
            vec![
                ("tokio-postgres", on_each!(floors, |$c, $i| $check($floor))),
                ("txova-db", on_each!(dbs, |$c, $i| $check($txova))),
                ("diesel", {
                    let conns = diesel.clone();
                    Body::Sync(Box::new(move |$i| {
                        let mut all = conns.borrow_mut();
                        let $c = &mut all[$i as usize % CONNECTIONS];
                        $check($diesel)
                    }))
                }),
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
        workloads.push(Workload {
            name: format!("trivial {n}"),
            batch: if n == USERS {
                5
            } else {
                200 / (1 + n as u64 / 50)
            },
            variants,
        });
    }
    let rows = |loaded: usize| assert_eq!(loaded, MEDIUM_ROWS);
    workloads.push(Workload {
        name: "medium (500 rows)".into(),
        batch: 20,
        variants: sides!(|c, _i|
            floor: floor::medium(c).await.len(),
            txova: with_txova::medium(c).await.len(),
            diesel: with_diesel::medium(c).len(),
            sqlx: with_sqlx::medium(c).await.len(),
            check: rows),
    });
    for n in [1usize, 100, 1000] {
        let inserted = move |count: u64| assert_eq!(count, n as u64);
        workloads.push(Workload {
            name: format!("insert {n}"),
            batch: match n {
                1000 => 5,
                100 => 20,
                _ => 100,
            },
            variants: sides!(|c, i|
                floor: floor::insert(c, &new_users(n, i)).await,
                txova: with_txova::insert(c, &new_users(n, i)).await,
                diesel: with_diesel::insert(c, &new_users(n, i)) as u64,
                sqlx: with_sqlx::insert(c, &new_users(n, i)).await,
                check: inserted),
        });
    }
    workloads.push(Workload {
        name: "associations".into(),
        batch: 5,
        variants: sides!(|c, _i|
            floor: shape(&floor::associations(c).await),
            txova: shape(&with_txova::associations(c).await),
            diesel: shape(&with_diesel::associations(c)),
            sqlx: shape(&with_sqlx::associations(c).await),
            check: check_associations),
    });

    println!(
        "{rounds} interleaved rounds, {CONNECTIONS} connections per variant; per call: median wall µs / CPU µs, and the medians of per-round ratios to tokio-postgres"
    );
    println!(
        "{:<20} {:<16} {:>12} {:>12} {:>10} {:>10}",
        "workload", "variant", "wall µs", "CPU µs", "wall ×", "CPU ×"
    );
    for mut workload in workloads {
        if !workload.name.contains(&only_workload) {
            continue;
        }
        workload
            .variants
            .retain(|(name, _)| *name == "tokio-postgres" || name.contains(&only_variant));
        let n = workload.variants.len();
        let mut wall = vec![Vec::new(); n];
        let mut cpu = vec![Vec::new(); n];
        // One untimed round: connections warmed, statements prepared and cached.
        for (_, body) in &mut workload.variants {
            run_batch(&rt, body, 2, 0);
        }
        for round in 0..rounds {
            for k in 0..n {
                let at = (round + k) % n;
                let offset = 1_000 + (round as u64) * workload.batch;
                let (w, c) = run_batch(&rt, &mut workload.variants[at].1, workload.batch, offset);
                wall[at].push(w.as_secs_f64() * 1e6 / workload.batch as f64);
                cpu[at].push(c.as_secs_f64() * 1e6 / workload.batch as f64);
            }
        }
        for (v, (name, _)) in workload.variants.iter().enumerate() {
            let ratio =
                |m: &[Vec<f64>]| median(m[v].iter().zip(&m[0]).map(|(a, b)| a / b).collect());
            println!(
                "{:<20} {:<16} {:>12.1} {:>12.1} {:>9.2}x {:>9.2}x",
                workload.name,
                name,
                median(wall[v].clone()),
                median(cpu[v].clone()),
                ratio(&wall),
                ratio(&cpu),
            );
        }
    }

    rt.block_on(async {
        pool.close().await;
        for db in dbs.iter() {
            db.close().await;
        }
        let admin = txova_db::Db::connect(&url).await.unwrap();
        txova_db::query(format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
    });
}

/// `host=… port=… user=… dbname=…` of a `postgres://` URL, for tokio-postgres.
fn url_parts(url: &str) -> String {
    let rest = url
        .trim_start_matches("postgres://")
        .trim_start_matches("postgresql://");
    let (auth, rest) = rest.split_once('@').unwrap_or(("postgres", rest));
    let user = auth.split(':').next().unwrap_or("postgres");
    let (hostport, db) = rest.split_once('/').unwrap_or((rest, "postgres"));
    let db = db.split('?').next().unwrap_or("postgres");
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
    format!("host={host} port={port} user={user} dbname={db}")
}
