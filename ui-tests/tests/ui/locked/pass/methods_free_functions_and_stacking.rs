#[path = "../dispatch.rs"]
mod dispatch;
use std::sync::Arc;

use dispatch::{Dispatch, Ride};
use txova_db::lock::Locks;
use txova_db::{Db, Error, locked, transactional};

#[derive(Debug)]
enum AssignError {
    Store(Error),
    NoDriver,
}

impl From<Error> for AssignError {
    fn from(err: Error) -> Self {
        Self::Store(err)
    }
}

type AssignResult<T> = Result<T, AssignError>;

struct Rides {
    db: Db,
    locks: Locks,
}

impl txova_db::UsesDb for Rides {
    fn db(&self) -> &Db {
        &self.db
    }
}

impl Dispatch {
    #[locked("ride:assign:<ride.id>", ttl = "10s", wait = "250ms", watchdog = false)]
    async fn assign(&self, ride: &Ride, driver: i64) -> AssignResult<i64> {
        if driver < 0 {
            return Err(AssignError::NoDriver);
        }
        let lease = txova_db::lock::current().ok_or(AssignError::NoDriver)?;
        Ok(lease.fencing_token() as i64 + ride.id)
    }

    #[locked("ride:cancel:<ride_id>")]
    async fn cancel(self: Arc<Self>, ride_id: i64) -> Result<(), Error> {
        let _moved = self;
        Ok(())
    }
}

impl Rides {
    // The lock outside, the transaction inside: the row is written and committed
    // before the lock is released.
    #[locked("ride:complete:<id>", locks = self.locks)]
    #[transactional]
    async fn complete(&self, id: i64) -> Result<(), Error> {
        let _ = id;
        Ok(())
    }
}

#[locked("report:<day>", locks = locks)]
async fn report<'a>(locks: &'a Locks, day: &'a str) -> Result<&'a str, Error> {
    Ok(day)
}

fn is_send<T: Send>(_: T) {}

fn main() {
    let dispatch = Dispatch {
        locks: Locks::new(txova_db::store::Store::embedded()),
    };
    is_send(dispatch.assign(&Ride { id: 1 }, 2));
    let dispatch = Arc::new(dispatch);
    is_send(dispatch.clone().cancel(1));
    is_send(report(&dispatch.locks, "2026-11-24"));
}
