#[path = "../dispatch.rs"]
mod dispatch;
use dispatch::{Dispatch, Ride};
use txova_db::{Error, locked};

impl Dispatch {
    #[locked("ride:assign:<ride.id>", ttl = "1s", ttl = "2s", timeout = "5s")]
    async fn assign(&self, ride: &Ride) -> Result<(), Error> {
        let _ = ride;
        Ok(())
    }
}

fn main() {}
