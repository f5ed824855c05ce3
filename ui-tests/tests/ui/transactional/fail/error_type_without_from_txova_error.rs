use txova_db::{Db, UsesDb, transactional};

struct Repo {
    db: Db,
}

impl UsesDb for Repo {
    fn db(&self) -> &Db {
        &self.db
    }
}

#[derive(Debug)]
struct AppError;

impl Repo {
    #[transactional]
    async fn assign(&self) -> Result<(), AppError> {
        Ok(())
    }
}

fn main() {}
