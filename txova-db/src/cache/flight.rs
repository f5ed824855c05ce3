//! Single flight: concurrent misses of one key in this process run the compute once.
//!
//! The first caller becomes the leader and computes; the others wait for the encoded
//! entry it publishes and decode their own copy (so the value type needs no `Clone`).
//! If the leader's result is not cacheable (an `Err`), the waiters compute for
//! themselves, since an error value cannot be shared; if the leader is cancelled, one
//! waiter takes over.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// What a flight ended with.
#[derive(Clone)]
pub(crate) enum Landed {
    /// The encoded entry, as stored.
    Entry(Arc<[u8]>),
    /// The result was not cacheable: compute it yourself.
    Uncacheable,
}

type Flight = watch::Receiver<Option<Landed>>;

#[derive(Default)]
pub(crate) struct Flights {
    active: Mutex<HashMap<String, Flight>>,
}

pub(crate) enum Role<'a> {
    Leader(Leader<'a>),
    Follower(Flight),
}

/// The leader's side of a flight; dropping it without [`Leader::land`] (cancellation)
/// lets a waiter take over.
pub(crate) struct Leader<'a> {
    flights: &'a Flights,
    key: String,
    sender: watch::Sender<Option<Landed>>,
}

impl Flights {
    fn active(&self) -> std::sync::MutexGuard<'_, HashMap<String, Flight>> {
        // The map is only ever changed by single inserts and removes.
        self.active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Joins the flight for `key`, or starts it.
    pub(crate) fn join(&self, key: &str) -> Role<'_> {
        let mut active = self.active();
        if let Some(flight) = active.get(key)
            && flight.has_changed().is_ok()
        {
            return Role::Follower(flight.clone());
        }
        let (sender, receiver) = watch::channel(None);
        active.insert(key.to_owned(), receiver);
        Role::Leader(Leader {
            flights: self,
            key: key.to_owned(),
            sender,
        })
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.active().len()
    }
}

impl Leader<'_> {
    /// Publishes the outcome to the waiters and ends the flight.
    pub(crate) fn land(self, landed: Landed) {
        // Waiters may all be gone; nothing to tell then.
        let _ = self.sender.send(Some(landed));
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        let mut active = self.flights.active();
        if active
            .get(&self.key)
            .is_some_and(|flight| flight.same_channel(&self.sender.subscribe()))
        {
            active.remove(&self.key);
        }
    }
}

/// Waits for the flight to land; `None` if its leader went away without landing.
pub(crate) async fn wait(mut flight: Flight) -> Option<Landed> {
    match flight.wait_for(Option::is_some).await {
        Ok(landed) => landed.clone(),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{Flights, Landed, Role, wait};

    #[tokio::test]
    async fn followers_see_the_leaders_entry_and_the_flight_ends() {
        let flights = Flights::default();
        let Role::Leader(leader) = flights.join("k") else {
            panic!("first caller leads")
        };
        let Role::Follower(follower) = flights.join("k") else {
            panic!("second caller follows")
        };
        leader.land(Landed::Entry(b"x".as_slice().into()));
        assert!(matches!(wait(follower).await, Some(Landed::Entry(e)) if &*e == b"x"));
        assert_eq!(flights.len(), 0);
        assert!(matches!(flights.join("k"), Role::Leader(_)));
    }

    #[tokio::test]
    async fn a_dropped_leader_releases_its_followers() {
        let flights = Flights::default();
        let leader = flights.join("k");
        let Role::Follower(follower) = flights.join("k") else {
            panic!("second caller follows")
        };
        drop(leader);
        assert!(wait(follower).await.is_none());
        assert!(matches!(flights.join("k"), Role::Leader(_)));
    }
}
