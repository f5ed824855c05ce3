//! diesel 2 as its guide writes it: `table!`, `Queryable`/`Selectable`,
//! `belonging_to` + `grouped_by` for associations, on a sync connection; the tables and
//! models serve every backend, [`queries!`] writes the calls for one connection type.

use diesel::prelude::*;

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

/// The workloads' calls on connection type `$conn`, with the models above in scope.
macro_rules! queries {
    ($conn:ty) => {
        pub fn trivial(c: &mut $conn, n: i32) -> Vec<User> {
            users::table
                .filter(users::id.le(n))
                .select(User::as_select())
                .load(c)
                .unwrap()
        }

        pub fn medium(c: &mut $conn) -> Vec<(User, Option<Post>)> {
            users::table
                .left_join(posts::table)
                .filter(users::hair_color.eq("black"))
                .filter(users::id.le($crate::ASSOCIATED_USERS))
                .select((User::as_select(), Option::<Post>::as_select()))
                .load(c)
                .unwrap()
        }

        pub fn insert(c: &mut $conn, users: &[(String, Option<String>)]) -> usize {
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

        pub fn associations(c: &mut $conn) -> Vec<(User, Vec<(Post, Vec<Comment>)>)> {
            let users = trivial(c, $crate::ASSOCIATED_USERS);
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
    };
}
pub(crate) use queries;
