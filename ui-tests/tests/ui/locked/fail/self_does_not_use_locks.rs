#[path = "../dispatch.rs"]
mod dispatch;
use dispatch::Ride;
use txova_db::{Error, locked};

struct Drivers;

impl Drivers {
    #[locked("ride:assign:<ride.id>")]
    async fn assign(&self, ride: &Ride) -> Result<(), Error> {
        Ok(())
    }
}

fn main() {}
