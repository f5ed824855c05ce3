//! The suite's rows as the drivers' and sqlx's sides load them: plain structs, built by
//! hand from a driver's row or by sqlx's `FromRow` (generic over the backend).

use sqlx::FromRow;

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

/// A row of the `medium` join as sqlx's `query_as` reads it: the post's columns
/// renamed and optional (the LEFT JOIN).
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

impl UserWithPost {
    /// The user, and the post when the join found one.
    pub fn split(self) -> (User, Option<Post>) {
        let post = self.post_id.map(|id| Post {
            id,
            user_id: self.post_user_id.unwrap_or_default(),
            title: self.title.unwrap_or_default(),
            body: self.body,
        });
        let user = User {
            id: self.id,
            name: self.name,
            hair_color: self.hair_color,
        };
        (user, post)
    }
}
