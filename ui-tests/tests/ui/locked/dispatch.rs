// The repository shared by the #[locked] cases (included with #[path]).
#![allow(dead_code)]

use txova_db::lock::{Locks, UsesLocks};

pub struct Ride {
    pub id: i64,
}

pub struct Dispatch {
    pub locks: Locks,
}

impl UsesLocks for Dispatch {
    fn locks(&self) -> &Locks {
        &self.locks
    }
}
