#[path = "../dispatch.rs"]
mod dispatch;
use dispatch::{Dispatch, Ride};
use txova_db::{Error, locked};

impl Dispatch {
    #[locked(key = "ride:assign:<ride.id>")]
    async fn assign(&self, ride: &Ride) -> Result<(), Error> {
        let _ = ride;
        Ok(())
    }
}

fn main() {}
