#[path = "../dispatch.rs"]
mod dispatch;
use dispatch::{Dispatch, Ride};
use txova_db::locked;

impl Dispatch {
    #[locked("ride:assign:<ride.id>")]
    async fn assign(&self, ride: &Ride) {
        let _ = ride;
    }
}

fn main() {}
