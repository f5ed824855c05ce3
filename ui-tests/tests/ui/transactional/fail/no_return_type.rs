use txova_db::{Db, UsesDb, transactional};

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
    async fn touch(&self) {}
}

fn main() {}
