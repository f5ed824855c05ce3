//! Postgres: tokio-postgres (the floor: statements prepared once per connection, rows
//! by index), txova-db, diesel (sync `PgConnection` over libpq), diesel-async
//! (`AsyncPgConnection`, over tokio-postgres), sqlx and SeaORM.

use std::cell::RefCell;
use std::rc::Rc;

use tokio::runtime::Runtime;

use crate::*;

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

mod floor {
    //! tokio-postgres: statements prepared once per connection, rows decoded by index.

    use crate::*;
    use tokio_postgres::{Client, NoTls, Statement};

    pub use crate::rows::{Comment, Post, User};

    pub struct Conn {
        client: Client,
        trivial: Statement,
        medium: Statement,
        posts: Statement,
        comments: Statement,
        /// `INSERT … VALUES` of 1, 100 and 1,000 rows.
        inserts: Vec<(usize, Statement)>,
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
            inserts.push((n, client.prepare(&insert_sql(n, true)).await.unwrap()));
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
            None => c
                .client
                .prepare(&insert_sql(users.len(), true))
                .await
                .unwrap(),
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
    //! sqlx as its guide writes it: `query_as` with `#[derive(FromRow)]`, a `PgPool`,
    //! `QueryBuilder::push_values` for the multi-row insert.

    use crate::*;
    use sqlx::{PgPool, Postgres, QueryBuilder};

    pub use crate::rows::{Comment, Post, User, UserWithPost};

    /// A pool of [`CONNECTIONS`], all opened (a warm pool hands them out in turn).
    pub async fn pool(url: &str) -> PgPool {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(CONNECTIONS as u32)
            .connect(url)
            .await
            .unwrap();
        let warm = (0..CONNECTIONS).map(|_| sqlx::query("SELECT pg_sleep(0.05)").execute(&pool));
        for done in futures_util::future::join_all(warm).await {
            done.unwrap();
        }
        pool
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
    pub async fn trivial_by_index<'e>(
        exec: impl sqlx::Executor<'e, Database = sqlx::Postgres>,
        n: i32,
    ) -> Vec<User> {
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
            .fetch_all(exec)
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
        rows.into_iter().map(UserWithPost::split).collect()
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
    //! diesel over libpq: the shared tables, models and queries on a `PgConnection`.

    pub use crate::diesel_side::*;
    use diesel::prelude::*;

    crate::diesel_side::queries!(PgConnection);

    pub fn connect(url: &str) -> PgConnection {
        PgConnection::establish(url).unwrap()
    }
}

mod with_diesel_async {
    //! diesel-async: the shared tables and models, queried through `AsyncPgConnection`
    //! (over tokio-postgres) with `diesel_async::RunQueryDsl`.

    use std::cell::RefCell;

    use diesel::prelude::*;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

    use crate::ASSOCIATED_USERS;
    use crate::diesel_side::*;

    pub async fn connect(url: &str) -> RefCell<AsyncPgConnection> {
        RefCell::new(AsyncPgConnection::establish(url).await.unwrap())
    }

    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn trivial(c: &RefCell<AsyncPgConnection>, n: i32) -> Vec<User> {
        users::table
            .filter(users::id.le(n))
            .select(User::as_select())
            .load(&mut *c.borrow_mut())
            .await
            .unwrap()
    }

    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn medium(c: &RefCell<AsyncPgConnection>) -> Vec<(User, Option<Post>)> {
        users::table
            .left_join(posts::table)
            .filter(users::hair_color.eq("black"))
            .filter(users::id.le(ASSOCIATED_USERS))
            .select((User::as_select(), Option::<Post>::as_select()))
            .load(&mut *c.borrow_mut())
            .await
            .unwrap()
    }

    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn insert(c: &RefCell<AsyncPgConnection>, users: &[(String, Option<String>)]) -> u64 {
        let rows: Vec<NewUser<'_>> = users
            .iter()
            .map(|(name, hair)| NewUser {
                name,
                hair_color: hair.as_deref(),
            })
            .collect();
        diesel::insert_into(new_users::table)
            .values(&rows)
            .execute(&mut *c.borrow_mut())
            .await
            .unwrap() as u64
    }

    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn associations(
        c: &RefCell<AsyncPgConnection>,
    ) -> Vec<(User, Vec<(Post, Vec<Comment>)>)> {
        let users = trivial(c, ASSOCIATED_USERS).await;
        let posts: Vec<Post> = Post::belonging_to(&users)
            .select(Post::as_select())
            .load(&mut *c.borrow_mut())
            .await
            .unwrap();
        let comments: Vec<Comment> = Comment::belonging_to(&posts)
            .select(Comment::as_select())
            .load(&mut *c.borrow_mut())
            .await
            .unwrap();
        let comments = comments.grouped_by(&posts);
        let posts: Vec<(Post, Vec<Comment>)> = posts.into_iter().zip(comments).collect();
        let posts = posts.grouped_by(&users);
        users.into_iter().zip(posts).collect()
    }
}

use crate::txova_side as with_txova;

mod with_sea_orm {
    //! SeaORM 2 as its guide writes it: entities with `DeriveEntityModel` and their
    //! relations, `find_also_related` for the join, `insert_many`, and the loader
    //! (`load_many`, one `IN` query per level) for associations; a `DatabaseConnection`
    //! over a warmed `PgPool` of [`CONNECTIONS`].

    use sea_orm::{
        ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, LoaderTrait, QueryFilter,
        SqlxPostgresConnector,
    };

    use crate::ASSOCIATED_USERS;

    pub mod user {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
        #[sea_orm(table_name = "users")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            pub name: String,
            pub hair_color: Option<String>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(has_many = "super::post::Entity")]
            Post,
        }

        impl Related<super::post::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::Post.def()
            }
        }

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod post {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
        #[sea_orm(table_name = "posts")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            pub user_id: i32,
            pub title: String,
            pub body: Option<String>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(
                belongs_to = "super::user::Entity",
                from = "Column::UserId",
                to = "super::user::Column::Id"
            )]
            User,
            #[sea_orm(has_many = "super::comment::Entity")]
            Comment,
        }

        impl Related<super::user::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::User.def()
            }
        }

        impl Related<super::comment::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::Comment.def()
            }
        }

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod comment {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
        #[sea_orm(table_name = "comments")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            pub post_id: i32,
            pub text: String,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(
                belongs_to = "super::post::Entity",
                from = "Column::PostId",
                to = "super::post::Column::Id"
            )]
            Post,
        }

        impl Related<super::post::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::Post.def()
            }
        }

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod new_user {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
        #[sea_orm(table_name = "new_users")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            pub name: String,
            pub hair_color: Option<String>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub fn connect(pool: sqlx::PgPool) -> DatabaseConnection {
        SqlxPostgresConnector::from_sqlx_postgres_pool(pool)
    }

    pub async fn trivial(db: &DatabaseConnection, n: i32) -> Vec<user::Model> {
        user::Entity::find()
            .filter(user::Column::Id.lte(n))
            .all(db)
            .await
            .unwrap()
    }

    pub async fn medium(db: &DatabaseConnection) -> Vec<(user::Model, Option<post::Model>)> {
        user::Entity::find()
            .find_also_related(post::Entity)
            .filter(user::Column::HairColor.eq("black"))
            .filter(user::Column::Id.lte(ASSOCIATED_USERS))
            .all(db)
            .await
            .unwrap()
    }

    pub async fn insert(db: &DatabaseConnection, users: &[(String, Option<String>)]) -> u64 {
        let rows = users.iter().map(|(name, hair)| new_user::ActiveModel {
            name: Set(name.clone()),
            hair_color: Set(hair.clone()),
            ..Default::default()
        });
        new_user::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await
            .unwrap()
    }

    #[allow(clippy::type_complexity)]
    pub async fn associations(
        db: &DatabaseConnection,
    ) -> Vec<(user::Model, Vec<(post::Model, Vec<comment::Model>)>)> {
        let users = trivial(db, ASSOCIATED_USERS).await;
        let per_user = users.load_many(post::Entity, db).await.unwrap();
        let counts: Vec<usize> = per_user.iter().map(Vec::len).collect();
        let posts: Vec<post::Model> = per_user.into_iter().flatten().collect();
        let comments = posts.load_many(comment::Entity, db).await.unwrap();
        let mut posts = posts.into_iter().zip(comments);
        users
            .into_iter()
            .zip(counts)
            .map(|(user, count)| (user, posts.by_ref().take(count).collect()))
            .collect()
    }
}

pub fn run(rt: &Runtime, args: &Args) {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("peers_{}", std::process::id());
    let separator = if url.contains('?') { '&' } else { '?' };
    // sqlx's spelling of the search path, and libpq's (diesel).
    let in_schema = format!("{url}{separator}options[search_path]={schema}");
    let libpq_url = format!("{url}{separator}options=-csearch_path%3D{schema}");
    let parsed = url_parts(&url);
    let tp_config = format!("{parsed} options=-csearch_path={schema}");

    let (floors, dbs, asyncs, pool, sea) = rt.block_on(async {
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
        let mut asyncs = Vec::new();
        for _ in 0..CONNECTIONS {
            asyncs.push(with_diesel_async::connect(&libpq_url).await);
        }
        let pool = with_sqlx::pool(&in_schema).await;
        let sea = with_sea_orm::connect(with_sqlx::pool(&in_schema).await);
        (floors, dbs, asyncs, pool, sea)
    });
    let floors = Rc::new(floors);
    let dbs = Rc::new(dbs);
    let asyncs = Rc::new(asyncs);
    let pools = Rc::new(vec![pool.clone()]);
    let sqlx_conns = Rc::new(rt.block_on(async {
        let mut conns = Vec::new();
        for _ in 0..CONNECTIONS {
            let conn = <sqlx::PgConnection as sqlx::Connection>::connect(&in_schema).await;
            conns.push(RefCell::new(conn.unwrap()));
        }
        conns
    }));
    let seas = Rc::new(vec![sea.clone()]);
    let diesel = Rc::new(RefCell::new(
        (0..CONNECTIONS)
            .map(|_| with_diesel::connect(&libpq_url))
            .collect::<Vec<_>>(),
    ));

    // The five sides of a workload: `$body` runs call `i` on `c`, its connection (or
    // the pool), and returns what it loaded, for `$check`.
    macro_rules! sides {
        (|$c:ident, $i:ident| floor: $floor:expr, txova: $txova:expr, diesel: $diesel:expr,
         diesel_async: $diesel_async:expr, sqlx: $sqlx:expr, sea: $sea:expr,
         check: $check:expr) => {
            vec![
                ("tokio-postgres", on_each!(floors, |$c, $i| $check($floor))),
                ("txova-db", on_each!(dbs, |$c, $i| $check($txova))),
                ("diesel", on_each_sync!(diesel, |$c, $i| $check($diesel))),
                (
                    "diesel-async",
                    on_each!(asyncs, |$c, $i| $check($diesel_async)),
                ),
                ("sqlx", on_each!(pools, |$c, $i| $check($sqlx))),
                ("SeaORM", on_each!(seas, |$c, $i| $check($sea))),
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
            diesel_async: with_diesel_async::trivial(c, n32).await.len(),
            sqlx: with_sqlx::trivial(c, n32).await.len(),
            sea: with_sea_orm::trivial(c, n32).await.len(),
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
        diesel_async: with_diesel_async::medium(c).await.len(),
        sqlx: with_sqlx::medium(c).await.len(),
        sea: with_sea_orm::medium(c).await.len(),
        check: rows)));
    for n in [1usize, 100, 1000] {
        let inserted = move |count: u64| assert_eq!(count, n as u64);
        workloads.push(Workload::insert(
            n,
            sides!(|c, i|
            floor: floor::insert(c, &new_users(n, i)).await,
            txova: with_txova::insert(c, new_users(n, i)).await,
            diesel: with_diesel::insert(c, &new_users(n, i)) as u64,
            diesel_async: with_diesel_async::insert(c, &new_users(n, i)).await,
            sqlx: with_sqlx::insert(c, &new_users(n, i)).await,
            sea: with_sea_orm::insert(c, &new_users(n, i)).await,
            check: inserted),
        ));
    }
    workloads.push(Workload::associations(sides!(|c, _i|
        floor: shape(&floor::associations(c).await),
        txova: shape(&with_txova::associations(c).await),
        diesel: shape(&with_diesel::associations(c)),
        diesel_async: shape(&with_diesel_async::associations(c).await),
        sqlx: shape(&with_sqlx::associations(c).await),
        sea: shape(&with_sea_orm::associations(c).await),
        check: check_associations)));

    report(rt, "postgres", workloads, args);

    rt.block_on(async {
        pool.close().await;
        sea.close().await.unwrap();
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
