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
    #[transactional(retries = 1, retries = 2)]
    async fn assign(&self) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
