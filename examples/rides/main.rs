//! The rides service: users, drivers and rides on txova-db.
//!
//! With no environment it runs on an in-memory SQLite database, so it needs no server:
//!
//! ```sh
//! cargo run --example rides
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run --example rides
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example rides
//! ```
//!
//! The rider profile is cached with `#[cached]`, drivers are assigned under
//! `#[locked]`, ride requests are rate limited per rider and the rider keeps a
//! session: in the in-process store by default, in Redis when `REDIS_URL` is set.

use std::process::ExitCode;

use serde::{Deserialize, Serialize};
use txova_db::cache::{Cache, UsesCache};
use txova_db::lock::{Locks, UsesLocks};
use txova_db::rate_limit::{RateLimit, RateLimiter};
use txova_db::session::{NewSession, SessionUpdate, Sessions};
use txova_db::store::Store;
use txova_db::{
    Backend, Db, DbConfig, Direction, Error, ErrorKind, KeysetRequest, PageRequest, Table,
    cache_evict, cached, count, locked, sum,
};

/// Someone who requests rides.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "users")]
struct User {
    #[column(primary_key, generated)]
    id: i64,
    #[column(sortable)]
    name: String,
    email: String,
}

/// Someone who drives them.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "drivers")]
struct Driver {
    #[column(primary_key, generated)]
    id: i64,
    #[column(sortable)]
    name: String,
    #[column(name = "vehicle_plate")]
    plate: String,
    available: bool,
}

/// A ride from request to completion.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "rides")]
struct Ride {
    #[column(primary_key, generated)]
    id: i64,
    user_id: i64,
    driver_id: Option<i64>,
    status: String,
    pickup: String,
    dropoff: String,
    #[column(sortable)]
    fare_cents: i64,
}

/// What the rider's app shows on its profile screen: cached, since every screen asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RiderProfile {
    id: i64,
    name: String,
    email: String,
    rides: i64,
}

/// The rider repository: a `Db` and a `Cache`, with the cache attributes on its methods.
struct Riders {
    db: Db,
    cache: Cache,
}

impl UsesCache for Riders {
    fn cache(&self) -> &Cache {
        &self.cache
    }
}

impl Riders {
    #[cached(key = "user:profile:<id>", ttl = "15m")]
    async fn profile(&self, id: i64) -> Result<RiderProfile, Error> {
        let user = User::find(&self.db, id).await?.ok_or(Error::NotFound)?;
        let rides: i64 = Ride::select()
            .columns(count())
            .filter(Ride::user_id.eq(id))
            .fetch_one(&self.db)
            .await?;
        Ok(RiderProfile {
            id: user.id,
            name: user.name,
            email: user.email,
            rides,
        })
    }

    /// Evicts the cached profile once the rename is committed.
    #[cache_evict(key = "user:profile:<id>")]
    async fn rename(&self, id: i64, name: &str) -> Result<u64, Error> {
        User::update()
            .set(User::name, name)
            .filter(User::id.eq(id))
            .execute(&self.db)
            .await
    }
}

/// Driver dispatch: assignments of one ride take turns under a distributed lock, so two
/// dispatchers (processes, or tasks) never hand one ride to two drivers.
struct Dispatch {
    db: Db,
    locks: Locks,
}

impl UsesLocks for Dispatch {
    fn locks(&self) -> &Locks {
        &self.locks
    }
}

impl Dispatch {
    /// The first available driver, assigned to the ride in one transaction; `None`
    /// when the ride was already assigned or no driver is free. With the lock's
    /// fencing token, for the log.
    #[locked("ride:assign:<ride_id>", ttl = "10s", wait = "2s")]
    async fn assign(&self, ride_id: i64) -> Result<Option<(Driver, u64)>, Error> {
        let fencing_token = txova_db::lock::current().map_or(0, |lease| lease.fencing_token());
        let db = &self.db;
        db.transaction(|_| async move {
            let Some(driver) = Driver::select()
                .filter(Driver::available.eq(true))
                .order_by(DriverSort::NameAsc)
                .fetch_optional(db)
                .await?
            else {
                return Ok(None);
            };
            // The status filter makes a second assignment of the ride a no-op.
            let assigned = Ride::update()
                .set(Ride::driver_id, driver.id)
                .set(Ride::status, "assigned")
                .filter(Ride::id.eq(ride_id) & Ride::status.eq("requested"))
                .execute(db)
                .await?;
            if assigned == 0 {
                return Ok(None);
            }
            Driver::update()
                .set(Driver::available, false)
                .filter(Driver::id.eq(driver.id))
                .execute(db)
                .await?;
            Ok(Some((driver, fencing_token)))
        })
        .await
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rides: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> txova_db::Result<()> {
    let config = match DbConfig::from_env() {
        Ok(config) => config,
        Err(txova_db::ConfigError::Missing { .. }) => DbConfig {
            application_name: Some("rides".into()),
            ..DbConfig::default()
        },
        Err(other) => return Err(other.into()),
    };
    let db = Db::connect_with(config).await?;
    println!("connected: {:?} at {}", db.backend(), db.config().url);

    // The repository's migrations, compiled in: one directory per dialect.
    let migrator = match db.backend() {
        Backend::Postgres => txova_db::embed_migrations!("../migrations/postgres")?,
        _ => txova_db::embed_migrations!("../migrations/sqlite")?,
    };
    for step in migrator.up(&db).await? {
        println!(
            "migrated: {:04} {} ({:.1} ms)",
            step.version,
            step.description,
            step.duration.as_secs_f64() * 1e3
        );
    }
    let drift = txova_db::verify_schema::<Ride, _>(&db).await?;
    println!("schema: {drift}");

    // A run id keeps repeated runs against a persistent database from colliding.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or_default();
    let ana = User::insert(&User {
        id: 0,
        name: "Ana Machava".into(),
        email: format!("ana+{run}@example.com"),
    })
    .returning()
    .fetch_one(&db)
    .await?;
    let drivers: Vec<Driver> = ["Rui Cossa", "Zito Langa", "Lúcia Nhantumbo"]
        .iter()
        .enumerate()
        .map(|(i, name)| Driver {
            id: 0,
            name: (*name).into(),
            plate: format!("MZ-{run}-{i}"),
            available: true,
        })
        .collect();
    let drivers = Driver::insert_many(&drivers)
        .returning()
        .fetch_all(&db)
        .await?;
    println!("created user {} and {} drivers", ana.id, drivers.len());

    let requested = Ride {
        id: 0,
        user_id: ana.id,
        driver_id: None,
        status: "requested".into(),
        pickup: "Avenida Julius Nyerere 1200".into(),
        dropoff: "Aeroporto Internacional de Maputo".into(),
        fare_cents: 45_000,
    };
    // The store behind the cache, the locks, the rate limits and the sessions:
    // in-process by default, Redis with REDIS_URL.
    let store = Store::from_env().await?;
    println!("store: {}", store.describe());

    // The rider logs in: a session with a fresh id, rotated at login against fixation.
    let sessions = Sessions::new(store.clone());
    let session = sessions
        .create(
            NewSession::new(ana.id.to_string())
                .device_id("android-3f9c")
                .device_info("Txova Rider 2.4 (Android 15)")
                .ip_address(std::net::Ipv4Addr::new(41, 94, 12, 7).into()),
        )
        .await?;
    let session = sessions
        .rotate(session.id.as_str())
        .await?
        .ok_or(Error::NotFound)?;
    sessions
        .update(
            session.id.as_str(),
            SessionUpdate::new().data("city", "Maputo"),
        )
        .await?;
    let active = sessions.list_for_user(&ana.id.to_string()).await?;
    println!(
        "session {}… for user {} on {}, {} active",
        session.id.as_str().get(..8).unwrap_or_default(),
        session.user_id,
        session.device_id.as_deref().unwrap_or("?"),
        active.len()
    );

    // Ride requests are rate limited per rider: a burst of 3, then one every 20 s.
    let limiter = RateLimiter::new(store.clone());
    let ride_requests = RateLimit::token_bucket(3, std::time::Duration::from_secs(60));
    let mut ride = None;
    for attempt in 1..=5 {
        let decision = limiter
            // Keyed by the rider's email, unique per run (a database that persists
            // across runs reuses user ids; Redis keeps the counts for a minute).
            .check(&ride_requests, &format!("rides:request:{}", ana.email))
            .await?;
        if !decision.allowed() {
            let headers: Vec<String> = decision
                .headers()
                .map(|(name, value)| format!("{name}: {value}"))
                .collect();
            println!(
                "request {attempt}: 429 Too Many Requests ({})",
                headers.join(", ")
            );
            continue;
        }
        let created = Ride::insert(&requested).returning().fetch_one(&db).await?;
        println!(
            "request {attempt}: ride {} requested ({} more allowed now)",
            created.id,
            decision.remaining()
        );
        ride.get_or_insert(created);
    }
    let ride = ride.ok_or(Error::NotFound)?;

    // Two dispatchers race for the ride; the lock makes them take turns and the second
    // finds it assigned.
    let dispatch = Dispatch {
        db: db.clone(),
        locks: Locks::new(store.clone()),
    };
    let (first, second) = tokio::join!(dispatch.assign(ride.id), dispatch.assign(ride.id));
    for outcome in [first?, second?] {
        match outcome {
            Some((driver, fencing_token)) => println!(
                "ride {} assigned to {} (lock fencing token {fencing_token})",
                ride.id, driver.name
            ),
            None => println!("ride {} was already assigned", ride.id),
        }
    }

    let (status, rider, driver_name, fare): (String, String, Option<String>, i64) = Ride::select()
        .inner_join(Ride::user_id, User::id)
        .left_join(Ride::driver_id, Driver::id)
        .columns((
            Ride::status,
            User::name,
            Driver::name.nullable(),
            Ride::fare_cents,
        ))
        .filter(Ride::id.eq(ride.id))
        .fetch_one(&db)
        .await?;
    println!(
        "ride {}: {status}, rider {rider}, driver {}, fare {}.{:02} MZN",
        ride.id,
        driver_name.as_deref().unwrap_or("none"),
        fare / 100,
        fare % 100,
    );

    // More rides, then the numbers a dashboard would show.
    let more: Vec<Ride> = (1..=6)
        .map(|i| Ride {
            fare_cents: 10_000 * i,
            status: if i % 2 == 0 { "completed" } else { "cancelled" }.into(),
            ..requested.clone()
        })
        .collect();
    Ride::insert_many(&more).execute(&db).await?;
    let per_status: Vec<(String, i64, Option<i64>)> = Ride::select()
        .columns((Ride::status, count(), sum(Ride::fare_cents)))
        .filter(Ride::user_id.eq(ana.id))
        .group_by(Ride::status)
        .order_by(Ride::status.asc())
        .fetch_all(&db)
        .await?;
    for (status, rides, total) in &per_status {
        println!(
            "  {status:<10} {rides} rides, {} MZN",
            total.unwrap_or(0) / 100
        );
    }

    // A `?sort=-fare_cents&page=1` request: the sort key can only name sortable columns.
    let sort: RideSort = "-fare_cents".parse()?;
    let page = Ride::select()
        .filter(Ride::user_id.eq(ana.id))
        .order_by(sort)
        .paginate(&db, PageRequest::new(1, 3))
        .await?;
    println!(
        "page {} of {}: fares {:?}",
        page.page,
        page.total_pages(),
        page.items.iter().map(|r| r.fare_cents).collect::<Vec<_>>()
    );
    match "password".parse::<RideSort>() {
        Err(refused) => println!("sort key refused: {refused}"),
        Ok(sort) => println!("unexpected sort key accepted: {sort}"),
    }
    let first = Ride::select()
        .filter(Ride::user_id.eq(ana.id))
        .keyset(&db, Ride::id, Direction::Asc, KeysetRequest::first(4))
        .await?;
    println!(
        "keyset page: {} rides, next cursor {:?}",
        first.items.len(),
        first.next
    );

    // The database guards its invariants; the error says which one, on any backend.
    let negative = Ride {
        fare_cents: -1,
        ..requested.clone()
    };
    match Ride::insert(&negative).execute(&db).await {
        Err(err) if err.kind() == ErrorKind::Check => {
            println!(
                "negative fare refused: {:?} ({})",
                err.kind(),
                err.constraint().unwrap_or("?")
            );
        }
        other => println!("unexpected outcome for a negative fare: {other:?}"),
    }

    // The rider profile through the cache: a miss reads the database, a hit does not,
    // a rename evicts it.
    let riders = Riders {
        db: db.clone(),
        cache: Cache::new(store.clone()),
    };
    let timed = |label: &'static str, started: std::time::Instant| {
        println!(
            "  {label} in {:.0} µs",
            started.elapsed().as_secs_f64() * 1e6
        );
    };
    let started = std::time::Instant::now();
    let profile = riders.profile(ana.id).await?;
    timed("profile (miss: database)", started);
    let started = std::time::Instant::now();
    let again = riders.profile(ana.id).await?;
    timed("profile (hit: cache)", started);
    assert_eq!(profile, again);
    println!("profile: {} with {} rides", profile.name, profile.rides);
    db.transaction(|_| {
        let riders = &riders;
        let user = ana.id;
        async move { riders.rename(user, "Ana M. Machava").await }
    })
    .await?;
    let renamed = riders.profile(ana.id).await?;
    println!("after the rename (evicted at commit): {}", renamed.name);

    // Log out everywhere.
    let ended = sessions.delete_all_for_user(&ana.id.to_string()).await?;
    println!("logged out: {ended} session(s) ended");

    let stats = db.stats();
    println!(
        "pool: {} open, {} idle, {} acquires, {} waited",
        stats.size, stats.idle, stats.acquires, stats.waits
    );
    db.close().await;
    Ok(())
}
