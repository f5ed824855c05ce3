// Handles are Clone + Send + Sync, errors fit in Box<dyn Error + Send + Sync>, and every future they return is Send, so they work
// inside tokio::spawn and axum handlers.
fn assert_send<T: Send>(_: T) {}
fn assert_shared<T: Clone + Send + Sync + 'static>() {}
fn assert_boxable_error<T: std::error::Error + Send + Sync + 'static>() {}

async fn uses(db: &txova_db::Db, name: &str) -> txova_db::Result<()> {
    txova_db::query("INSERT INTO users (name) VALUES ($1)")
        .bind(name)
        .execute(db)
        .await?;
    Ok(())
}

fn main() {
    assert_shared::<txova_db::Db>();
    assert_boxable_error::<txova_db::Error>();
    let db: Option<txova_db::Db> = None;
    if let Some(db) = db {
        assert_send(uses(&db, "ana"));
        assert_send(db.ping());
        assert_send(async move { db.close().await });
    }
}
