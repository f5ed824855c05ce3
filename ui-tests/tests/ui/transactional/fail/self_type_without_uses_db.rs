use txova_db::{Db, Error, transactional};

struct Repo {
    db: Db,
}

impl Repo {
    #[transactional]
    async fn assign(&self) -> Result<(), Error> {
        let _ = &self.db;
        Ok(())
    }
}

fn main() {}
