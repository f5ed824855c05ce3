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
    #[transactional]
    async fn store(&self, names: Vec<String>) -> Result<usize, Error> {
        let owned: Vec<String> = names;
        Ok(owned.len())
    }
}

fn main() {}
