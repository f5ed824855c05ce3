//! The rides service, at its first stage: connect, migrate, book a ride, read it back.
//!
//! With no environment it runs on an in-memory SQLite database, so it needs no server:
//!
//! ```sh
//! cargo run --example rides
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run --example rides
//! ```

use std::process::ExitCode;

use txova_db::{Backend, Db, DbConfig, ErrorKind, query};

const POSTGRES_SCHEMA: &str = include_str!("../../migrations/postgres/0001_create_rides.up.sql");
const SQLITE_SCHEMA: &str = include_str!("../../migrations/sqlite/0001_create_rides.up.sql");

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

    let schema = match db.backend() {
        Backend::Postgres => POSTGRES_SCHEMA,
        _ => SQLITE_SCHEMA,
    };
    db.execute_script(schema).await?;
    println!("migrated: users, drivers, rides");

    // A run id keeps repeated runs against a persistent database from colliding.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or_default();
    let user_id: i64 = query("INSERT INTO users (name, email) VALUES ($1, $2) RETURNING id")
        .bind("Ana Machava")
        .bind(format!("ana+{run}@example.com"))
        .fetch_one(&db)
        .await?
        .try_get(0)?;
    let driver_id: i64 =
        query("INSERT INTO drivers (name, vehicle_plate) VALUES ($1, $2) RETURNING id")
            .bind("Rui Cossa")
            .bind(format!("MZ-{run}"))
            .fetch_one(&db)
            .await?
            .try_get(0)?;
    println!("created user {user_id} and driver {driver_id}");

    let ride_id: i64 = query(
        "INSERT INTO rides (user_id, driver_id, status, pickup, dropoff, fare_cents)
         VALUES ($1, $2, 'assigned', $3, $4, $5) RETURNING id",
    )
    .bind(user_id)
    .bind(driver_id)
    .bind("Avenida Julius Nyerere 1200")
    .bind("Aeroporto Internacional de Maputo")
    .bind(45_000_i64)
    .fetch_one(&db)
    .await?
    .try_get(0)?;
    println!("booked ride {ride_id}");

    let ride = query(
        "SELECT r.status, r.pickup, r.dropoff, r.fare_cents, u.name AS rider, d.name AS driver
         FROM rides r JOIN users u ON u.id = r.user_id JOIN drivers d ON d.id = r.driver_id
         WHERE r.id = $1",
    )
    .bind(ride_id)
    .fetch_one(&db)
    .await?;
    let fare: i64 = ride.try_get("fare_cents")?;
    println!(
        "ride {ride_id}: {} from {} to {}, rider {}, driver {}, fare {}.{:02} MZN",
        ride.try_get::<String>("status")?,
        ride.try_get::<String>("pickup")?,
        ride.try_get::<String>("dropoff")?,
        ride.try_get::<String>("rider")?,
        ride.try_get::<String>("driver")?,
        fare / 100,
        fare % 100,
    );

    // The database guards its invariants; the error says which one, on any backend.
    let rejected =
        query("INSERT INTO rides (user_id, pickup, dropoff, fare_cents) VALUES ($1, 'a', 'b', -1)")
            .bind(user_id)
            .execute(&db)
            .await;
    match rejected {
        Err(err) if err.kind() == ErrorKind::Check => {
            println!(
                "negative fare refused: {:?} ({})",
                err.kind(),
                err.constraint().unwrap_or("?")
            );
        }
        other => println!("unexpected outcome for a negative fare: {other:?}"),
    }

    let stats = db.stats();
    println!(
        "pool: {} open, {} idle, {} acquires, {} waited",
        stats.size, stats.idle, stats.acquires, stats.waits
    );
    db.close().await;
    Ok(())
}
