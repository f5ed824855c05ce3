//! The repositories: every statement the service runs, in typed queries, with the
//! transaction, cache and lock scopes as attributes on the methods that need them.

use txova_db::cache::{Cache, UsesCache};
use txova_db::lock::{Locks, UsesLocks};
use txova_db::{
    Db, Error, ErrorKind, Page, PageRequest, Table, UsesDb, cache_evict, cached, locked,
    transactional,
};

use crate::model::{
    Assignment, Driver, DriverSort, NewDriver, NewRide, NewUser, Referral, Ride, RideSort,
    RiderProfile, User, role, status,
};

/// The queries of the requests riders make most, as values: the repositories run
/// them, and the tests check their plans use an index.
pub(crate) mod hot {
    use txova_db::select::Cte;
    use txova_db::table::Aliased;
    use txova_db::{LeftJoin, Select, Table, count, not_exists};

    use crate::model::{Driver, DriverSort, Referral, Referrer, Ride, RideSort, User, status};

    /// Sign-in: the account by email (`users_email_unique`).
    pub(crate) fn user_by_email(email: &str) -> Select<User, User> {
        User::select().filter(User::email.eq(email))
    }

    /// A rider's rides, in the order asked for (`rides_user_idx`).
    pub(crate) fn rides_of_user(user_id: i64, sort: RideSort) -> Select<Ride, Ride> {
        Ride::select()
            .filter(Ride::user_id.eq(user_id))
            .order_by(sort)
    }

    /// The dispatcher's pick: a free driver who (should the flag and the rides ever
    /// disagree) holds no ride still assigned, by a correlated `NOT EXISTS`
    /// (`rides_driver_idx`).
    pub(crate) fn free_driver() -> Select<Driver, Driver> {
        Driver::select()
            .filter(Driver::available.eq(true))
            .filter(not_exists(
                Ride::select()
                    .correlate::<Driver>()
                    .columns(Ride::id)
                    .filter(Ride::driver_id.eq_column(Driver::id))
                    .filter(Ride::status.eq(status::ASSIGNED)),
            ))
            .order_by(DriverSort::NameAsc)
    }

    /// `users LEFT JOIN users AS referrer`.
    pub(crate) type UserWithReferrer = LeftJoin<User, Aliased<User, Referrer>>;
    /// A rider's name, email, and their referrer's name.
    pub(crate) type NameEmailReferrer = (String, String, Option<String>);

    /// The profile: a rider's name and email, and the name of whoever referred them,
    /// through a self-join of `users` (the primary key, both sides).
    pub(crate) fn profile_of_user(user_id: i64) -> Select<UserWithReferrer, NameEmailReferrer> {
        User::select()
            .left_join(User::referrer_id, User::id.of::<Referrer>())
            .columns((User::name, User::email, User::name.of::<Referrer>()))
            .filter(User::id.eq(user_id))
    }

    /// The riders `user_id` brought in, directly or not, by a recursive CTE over
    /// `users` (`users_referrer_idx` at each step); `UNION` ends it should referrals
    /// ever form a loop.
    pub(crate) fn referral_tree(user_id: i64) -> Select<Referral, Referral> {
        let tree = Cte::<Referral>::recursive_distinct(
            User::select()
                .columns((User::id, User::name, User::referrer_id))
                .filter(User::referrer_id.eq(user_id)),
            User::select()
                .inner_join(User::referrer_id, Referral::id)
                .columns((User::id, User::name, User::referrer_id)),
        );
        Referral::select().with(tree).order_by(Referral::id.asc())
    }

    /// The profile's first count (`rides_user_idx`).
    pub(crate) fn rides_requested(user_id: i64) -> Select<Ride, i64> {
        Ride::select()
            .columns(count())
            .filter(Ride::user_id.eq(user_id))
    }

    /// The profile's second count (`rides_user_idx`).
    pub(crate) fn rides_completed(user_id: i64) -> Select<Ride, i64> {
        Ride::select()
            .columns(count())
            .filter(Ride::user_id.eq(user_id) & Ride::status.eq(status::COMPLETED))
    }
}

/// Riders: accounts and the cached profile.
#[derive(Clone)]
pub(crate) struct Users {
    db: Db,
    cache: Cache,
}

impl UsesCache for Users {
    fn cache(&self) -> &Cache {
        &self.cache
    }
}

impl UsesDb for Users {
    fn db(&self) -> &Db {
        &self.db
    }
}

impl Users {
    pub(crate) fn new(db: Db, cache: Cache) -> Self {
        Self { db, cache }
    }

    /// A new rider with this password hash; `None` if the email is taken
    /// (`users_email_unique`).
    pub(crate) async fn create(
        &self,
        new: NewUser,
        password_hash: String,
    ) -> Result<Option<User>, Error> {
        let created = User::insert(&User {
            id: 0,
            name: new.name,
            email: new.email,
            password_hash,
            role: role::RIDER.into(),
            referrer_id: new.referrer_id,
        })
        .returning()
        .fetch_one(&self.db)
        .await;
        match created {
            Ok(user) => Ok(Some(user)),
            Err(err) if err.kind() == ErrorKind::Duplicate => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Makes the account of `email` an admin with this password, creating it if need be
    /// (from `RIDES_ADMIN_EMAIL` and `RIDES_ADMIN_PASSWORD` at start).
    #[transactional]
    pub(crate) async fn ensure_admin(&self, email: &str, password_hash: &str) -> Result<(), Error> {
        let updated = User::update()
            .set(User::role, role::ADMIN)
            .set(User::password_hash, password_hash)
            .filter(User::email.eq(email))
            .execute(&self.db)
            .await?;
        if updated == 0 {
            User::insert(&User {
                id: 0,
                name: "Admin".into(),
                email: email.into(),
                password_hash: password_hash.into(),
                role: role::ADMIN.into(),
                referrer_id: None,
            })
            .execute(&self.db)
            .await?;
        }
        Ok(())
    }

    /// The user's role, if the user exists.
    pub(crate) async fn role(&self, id: i64) -> Result<Option<String>, Error> {
        User::select()
            .columns(User::role)
            .filter(User::id.eq(id))
            .fetch_optional(&self.db)
            .await
    }

    pub(crate) async fn by_email(&self, email: &str) -> Result<Option<User>, Error> {
        hot::user_by_email(email).fetch_optional(&self.db).await
    }

    /// The profile screen: one user and two counts, cached for 15 minutes. Concurrent
    /// misses of one rider run the queries once; a store outage falls through to them.
    #[cached(key = "user:profile:<id>", ttl = "15m")]
    pub(crate) async fn profile(&self, id: i64) -> Result<RiderProfile, Error> {
        let (name, email, referred_by) = hot::profile_of_user(id)
            .fetch_optional(&self.db)
            .await?
            .ok_or(Error::NotFound)?;
        let rides_requested = hot::rides_requested(id).fetch_one(&self.db).await?;
        let rides_completed = hot::rides_completed(id).fetch_one(&self.db).await?;
        Ok(RiderProfile {
            id,
            name,
            email,
            referred_by,
            rides_requested,
            rides_completed,
        })
    }

    /// The riders `id` brought in, directly or through others, oldest first.
    pub(crate) async fn referrals(&self, id: i64) -> Result<Vec<Referral>, Error> {
        hot::referral_tree(id).fetch_all(&self.db).await
    }

    /// Renames a rider. The cached profile is evicted once the rename has succeeded
    /// (after the commit, when called inside a transaction).
    #[cache_evict(key = "user:profile:<id>")]
    pub(crate) async fn rename(&self, id: i64, name: &str) -> Result<User, Error> {
        let renamed = User::update()
            .set(User::name, name)
            .filter(User::id.eq(id))
            .execute(&self.db)
            .await?;
        if renamed == 0 {
            return Err(Error::NotFound);
        }
        User::find(&self.db, id).await?.ok_or(Error::NotFound)
    }
}

/// Drivers and whether they are free.
#[derive(Clone)]
pub(crate) struct Drivers {
    db: Db,
}

impl Drivers {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }

    /// A new driver, free to take rides; a plate already registered is
    /// `ErrorKind::Duplicate` (`drivers_plate_unique`).
    pub(crate) async fn create(&self, new: NewDriver) -> Result<Driver, Error> {
        Driver::insert(&Driver {
            id: 0,
            name: new.name,
            plate: new.plate,
            available: true,
        })
        .returning()
        .fetch_one(&self.db)
        .await
    }

    /// Drivers by name, only the free ones with `available = Some(true)`.
    pub(crate) async fn list(&self, available: Option<bool>) -> Result<Vec<Driver>, Error> {
        let mut select = Driver::select().order_by(DriverSort::NameAsc);
        if let Some(available) = available {
            select = select.filter(Driver::available.eq(available));
        }
        select.fetch_all(&self.db).await
    }
}

/// What dispatching a ride came to.
#[derive(Debug)]
pub(crate) enum Dispatch {
    Assigned(Assignment),
    /// Someone else assigned it first (or it is already completed).
    NotWaiting(Ride),
    NoDriverFree,
}

/// Rides: requests, dispatch and completion.
#[derive(Clone)]
pub(crate) struct Rides {
    db: Db,
    cache: Cache,
    locks: Locks,
}

impl UsesDb for Rides {
    fn db(&self) -> &Db {
        &self.db
    }
}

impl UsesCache for Rides {
    fn cache(&self) -> &Cache {
        &self.cache
    }
}

impl UsesLocks for Rides {
    fn locks(&self) -> &Locks {
        &self.locks
    }
}

impl Rides {
    pub(crate) fn new(db: Db, cache: Cache, locks: Locks) -> Self {
        Self { db, cache, locks }
    }

    /// A new ride request. The rider's profile counts rides, so it is evicted after
    /// the insert commits.
    #[cache_evict(key = "user:profile:<user_id>")]
    pub(crate) async fn request(&self, user_id: i64, new: &NewRide) -> Result<Ride, Error> {
        Ride::insert(&Ride {
            id: 0,
            user_id,
            driver_id: None,
            status: status::REQUESTED.into(),
            pickup: new.pickup.clone(),
            dropoff: new.dropoff.clone(),
            fare_cents: new.fare_cents,
        })
        .returning()
        .fetch_one(&self.db)
        .await
    }

    pub(crate) async fn get(&self, id: i64) -> Result<Option<Ride>, Error> {
        Ride::find(&self.db, id).await
    }

    /// One page of a rider's rides, in the order the client asked for (a sort key it
    /// could only name from `RideSort::KEYS`), newest first by default.
    pub(crate) async fn list_for_user(
        &self,
        user_id: i64,
        sort: Option<RideSort>,
        page: PageRequest,
    ) -> Result<Page<Ride>, Error> {
        hot::rides_of_user(user_id, sort.unwrap_or(RideSort::IdDesc))
            .paginate(&self.db, page)
            .await
    }

    /// Assigns the first free driver. Dispatchers of one ride (tasks here, or other
    /// processes on the same Redis) take turns under the `ride:assign:<id>` lock, so a
    /// ride never gets two drivers; the transaction inside makes the ride's and the
    /// driver's updates land together.
    #[locked("ride:assign:<ride_id>", ttl = "10s", wait = "2s")]
    pub(crate) async fn assign(&self, ride_id: i64) -> Result<Dispatch, Error> {
        let fencing_token = txova_db::lock::current().map_or(0, |lease| lease.fencing_token());
        self.assign_free_driver(ride_id, fencing_token).await
    }

    #[transactional]
    async fn assign_free_driver(
        &self,
        ride_id: i64,
        fencing_token: u64,
    ) -> Result<Dispatch, Error> {
        let ride = Ride::find(&self.db, ride_id)
            .await?
            .ok_or(Error::NotFound)?;
        if ride.status != status::REQUESTED {
            return Ok(Dispatch::NotWaiting(ride));
        }
        // The lock is per ride: dispatchers of other rides may want the same driver, so
        // a driver is claimed only if still free (a second claim waits for the first
        // transaction and then updates nothing), and the next one is tried.
        let driver = loop {
            let Some(driver) = hot::free_driver().fetch_optional(&self.db).await? else {
                return Ok(Dispatch::NoDriverFree);
            };
            let claimed = Driver::update()
                .set(Driver::available, false)
                .filter(Driver::id.eq(driver.id) & Driver::available.eq(true))
                .execute(&self.db)
                .await?;
            if claimed == 1 {
                break driver;
            }
        };
        // The status filter keeps this correct even without the lock (a second
        // assignment updates nothing); the lock is what keeps dispatchers of one ride
        // from racing in the first place.
        let assigned = Ride::update()
            .set(Ride::driver_id, driver.id)
            .set(Ride::status, status::ASSIGNED)
            .filter(Ride::id.eq(ride_id) & Ride::status.eq(status::REQUESTED))
            .execute(&self.db)
            .await?;
        if assigned == 0 {
            // Not waiting after all: the driver goes back, in the same transaction.
            Driver::update()
                .set(Driver::available, true)
                .filter(Driver::id.eq(driver.id))
                .execute(&self.db)
                .await?;
            return Ok(Dispatch::NotWaiting(ride));
        }
        Ok(Dispatch::Assigned(Assignment {
            ride: Ride {
                driver_id: Some(driver.id),
                status: status::ASSIGNED.into(),
                ..ride
            },
            driver: Driver {
                available: false,
                ..driver
            },
            fencing_token,
        }))
    }

    /// Completes an assigned ride and frees its driver, in one transaction; `None`
    /// when the ride was not assigned. Evicts the rider's profile after the commit.
    #[cache_evict(key = "user:profile:<user_id>")]
    #[transactional]
    pub(crate) async fn complete(&self, user_id: i64, ride_id: i64) -> Result<Option<Ride>, Error> {
        let completed = Ride::update()
            .set(Ride::status, status::COMPLETED)
            .filter(
                Ride::id.eq(ride_id)
                    & Ride::user_id.eq(user_id)
                    & Ride::status.eq(status::ASSIGNED),
            )
            .execute(&self.db)
            .await?;
        if completed == 0 {
            return Ok(None);
        }
        let ride = Ride::find(&self.db, ride_id)
            .await?
            .ok_or(Error::NotFound)?;
        if let Some(driver_id) = ride.driver_id {
            Driver::update()
                .set(Driver::available, true)
                .filter(Driver::id.eq(driver_id))
                .execute(&self.db)
                .await?;
        }
        Ok(Some(ride))
    }
}
