use txova_db::{Db, Error, UsesDb, transactional};

struct Repo {
    db: Db,
}

impl UsesDb for Repo {
    fn db(&self) -> &Db {
        &self.db
    }
}

impl Repo {
    #[transactional(read_only = true)]
    async fn count(&self) -> Result<i64, Error> {
        Ok(0)
    }
}

fn main() {}
