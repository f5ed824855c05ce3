#[path = "../dispatch.rs"]
mod dispatch;
use dispatch::Ride;
use txova_db::{Error, locked};

#[locked("ride:assign:<ride.id>")]
async fn assign(ride: &Ride) -> Result<(), Error> {
    let _ = ride;
    Ok(())
}

fn main() {}
