#[path = "../dispatch.rs"]
mod dispatch;
use dispatch::{Dispatch, Ride};
use txova_db::locked;

#[derive(Debug)]
struct AssignError;

impl Dispatch {
    #[locked("ride:assign:<ride.id>")]
    async fn assign(&self, ride: &Ride) -> Result<(), AssignError> {
        Ok(())
    }
}

fn main() {}
