use txova_db::{Error, transactional};

#[transactional]
async fn cleanup() -> Result<(), Error> {
    Ok(())
}

fn main() {}
