//! txova-db as its guide writes it, the same on every backend: `#[derive(Table)]`, the
//! typed builder, `insert_many`, `is_in` over the parent ids for associations.

use crate::*;
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

/// Takes the generated users by value, as the other sides take them by reference:
/// the rows a txova-db user inserts are the table's own structs, built from what they
/// have (here, moved out of the tuples), where sqlx binds the tuples' fields and diesel
/// borrows them into its `Insertable`.
pub async fn insert(db: &Db, users: Vec<(String, Option<String>)>) -> u64 {
    let rows: Vec<NewUser> = users
        .into_iter()
        .map(|(name, hair_color)| NewUser {
            id: 0,
            name,
            hair_color,
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
