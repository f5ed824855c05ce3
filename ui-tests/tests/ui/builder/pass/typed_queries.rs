#[path = "../../models.rs"]
mod models;
use models::{Ride, User, UserSort};
use txova_db::{Direction, PageRequest, Table, count, sum};

async fn queries(db: &txova_db::Db) -> txova_db::Result<()> {
    let _: Option<User> = User::find(db, 1).await?;
    let _: Vec<User> = User::select()
        .filter(User::age.ge(18) & User::nickname.is_null() & User::name.eq_opt(None::<&str>))
        .order_by(UserSort::NameDesc)
        .order_by_name("age", Direction::Asc)?
        .limit(10)
        .fetch_all(db)
        .await?;
    let _: Vec<(String, i64, Option<i64>)> = User::select()
        .inner_join(User::id, Ride::user_id)
        .columns((User::name, count(), sum(Ride::fare_cents)))
        .group_by(User::name)
        .having(count().gt(1))
        .fetch_all(db)
        .await?;
    let _ = User::select().paginate(db, PageRequest::new(1, 20)).await?;
    let name = String::from("Ana");
    let _ = User::update().set(User::name, &name).filter(User::id.eq(1)).execute(db).await?;
    let _ = User::delete().all_rows().execute(db).await?;
    Ok(())
}

fn assert_send<T: Send>(_: T) {}

fn main() {
    if let Some(db) = None::<txova_db::Db> {
        assert_send(queries(&db));
    }
}
