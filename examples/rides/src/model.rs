//! The service's tables and the bodies its API reads and writes.

use serde::{Deserialize, Serialize};
use txova_db::Table;

/// Someone who requests rides (or an admin, who manages drivers).
#[derive(Table, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[table(name = "users")]
pub(crate) struct User {
    #[column(primary_key, generated)]
    pub(crate) id: i64,
    #[column(sortable)]
    pub(crate) name: String,
    pub(crate) email: String,
    /// An Argon2id PHC string; never leaves the service (nor a statement's `Debug`).
    #[serde(skip)]
    #[column(secret)]
    pub(crate) password_hash: String,
    /// `rider` or `admin` (the `users_role_known` check).
    #[serde(skip)]
    pub(crate) role: String,
    /// The rider who referred this one, if any.
    pub(crate) referrer_id: Option<i64>,
}

txova_db::alias!(pub(crate) Referrer);

/// A rider someone brought in, directly or through the riders they brought in
/// (`GET /me/referrals`): the rows of a recursive common table expression.
#[derive(Table, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[table(name = "referral_tree", unchecked)]
pub(crate) struct Referral {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) referrer_id: Option<i64>,
}

/// Who may do what: riders ride, admins also manage drivers and see `/health/details`.
pub(crate) mod role {
    pub(crate) const RIDER: &str = "rider";
    pub(crate) const ADMIN: &str = "admin";
}

/// The longest text a request may put in each field (characters); longer is a 422. A
/// body over `MAX_BODY_BYTES` is a 413 before it is read.
pub(crate) mod limits {
    pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024;
    pub(crate) const NAME: usize = 100;
    pub(crate) const EMAIL: usize = 254;
    pub(crate) const PASSWORD_MIN: usize = 10;
    pub(crate) const PASSWORD: usize = 128;
    pub(crate) const PLACE: usize = 200;
    pub(crate) const PLATE: usize = 16;
    pub(crate) const DEVICE_ID: usize = 64;
    /// A longer User-Agent is kept truncated, not refused.
    pub(crate) const USER_AGENT: usize = 200;
}

/// Someone who drives them.
#[derive(Table, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[table(name = "drivers")]
pub(crate) struct Driver {
    #[column(primary_key, generated)]
    pub(crate) id: i64,
    #[column(sortable)]
    pub(crate) name: String,
    #[column(name = "vehicle_plate")]
    pub(crate) plate: String,
    pub(crate) available: bool,
}

/// A ride from request to completion.
#[derive(Table, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[table(name = "rides")]
pub(crate) struct Ride {
    #[column(primary_key, generated, sortable)]
    pub(crate) id: i64,
    pub(crate) user_id: i64,
    pub(crate) driver_id: Option<i64>,
    #[column(sortable)]
    pub(crate) status: String,
    pub(crate) pickup: String,
    pub(crate) dropoff: String,
    #[column(sortable)]
    pub(crate) fare_cents: i64,
}

/// A ride's life: `requested` → `assigned` → `completed` (or `cancelled`); the
/// database's `rides_status_known` check holds the same list.
pub(crate) mod status {
    pub(crate) const REQUESTED: &str = "requested";
    pub(crate) const ASSIGNED: &str = "assigned";
    pub(crate) const COMPLETED: &str = "completed";
}

/// `POST /users`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NewUser {
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) password: String,
    /// The id of the rider who referred this one.
    #[serde(default)]
    pub(crate) referrer_id: Option<i64>,
}

/// `POST /drivers`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NewDriver {
    pub(crate) name: String,
    pub(crate) plate: String,
}

/// `POST /rides`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NewRide {
    pub(crate) pickup: String,
    pub(crate) dropoff: String,
    pub(crate) fare_cents: i64,
}

/// `POST /sessions`: sign in.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Login {
    pub(crate) email: String,
    pub(crate) password: String,
    pub(crate) device_id: Option<String>,
}

/// What `POST /sessions` answers: the bearer token for the other requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LoginResponse {
    pub(crate) token: String,
    pub(crate) user_id: i64,
    /// Seconds since the Unix epoch.
    pub(crate) expires_at: u64,
}

/// `PATCH /me`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Rename {
    pub(crate) name: String,
}

/// The rider's profile screen (`GET /me`): cached, since every screen asks for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RiderProfile {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) email: String,
    /// The name of the rider who referred this one.
    pub(crate) referred_by: Option<String>,
    pub(crate) rides_requested: i64,
    pub(crate) rides_completed: i64,
}

/// A driver assigned to a ride (`POST /rides/{id}/assign`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Assignment {
    pub(crate) ride: Ride,
    pub(crate) driver: Driver,
    /// The dispatch lock's fencing token: increases with every holder of the lock.
    pub(crate) fencing_token: u64,
}

/// `GET /rides?page=1&per_page=20&sort=-fare_cents`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct RideListQuery {
    pub(crate) page: Option<u32>,
    pub(crate) per_page: Option<u32>,
    pub(crate) sort: Option<String>,
}
