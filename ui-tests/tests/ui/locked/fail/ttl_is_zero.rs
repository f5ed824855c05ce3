#[path = "../dispatch.rs"]
mod dispatch;
use dispatch::{Dispatch, Ride};
use txova_db::{Error, locked};

impl Dispatch {
    #[locked("ride:assign:<ride.id>", ttl = "0s")]
    async fn assign(&self, ride: &Ride) -> Result<(), Error> {
        let _ = ride;
        Ok(())
    }
}

fn main() {}
