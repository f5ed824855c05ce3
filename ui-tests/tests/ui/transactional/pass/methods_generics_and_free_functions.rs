use txova_db::{Db, Error, UsesDb, transactional};

struct Repo {
    db: Db,
}

impl UsesDb for Repo {
    fn db(&self) -> &Db {
        &self.db
    }
}

#[derive(Debug)]
enum AppError {
    Db(Error),
    Missing,
}

impl From<Error> for AppError {
    fn from(err: Error) -> Self {
        Self::Db(err)
    }
}

type AppResult<T> = Result<T, AppError>;

impl Repo {
    #[transactional(isolation = "repeatable_read", retries = 3, savepoint)]
    async fn rename<'a, T>(&self, id: i64, name: &'a T) -> AppResult<&'a T>
    where
        T: ?Sized + Sync,
    {
        if id < 0 {
            return Err(AppError::Missing);
        }
        txova_db::query("UPDATE users SET id = id WHERE id = $1").bind(id).execute(&self.db).await?;
        Ok(name)
    }
}

#[transactional(db = db, read_only)]
async fn count(db: &Db, table: &str) -> Result<i64, Error> {
    let _ = table;
    txova_db::query("SELECT count(*) FROM users").fetch_one(db).await?.try_get(0)
}

fn assert_send<T: Send>(_: T) {}

fn main() {
    if let Some(db) = None::<Db> {
        let repo = Repo { db: db.clone() };
        assert_send(repo.rename(1, "ana"));
        assert_send(count(&db, "users"));
    }
}
