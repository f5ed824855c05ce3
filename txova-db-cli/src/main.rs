//! `txova-db`: run and manage txova-db migrations from the command line.
//!
//! ```sh
//! txova-db migrate up                      # apply every pending file of ./migrations
//! txova-db migrate --dir db/migrations status
//! txova-db migrate down 2
//! txova-db migrate steps -1
//! txova-db migrate force 7                 # after fixing a failed migration by hand
//! txova-db migrate create add_rides_index  # writes NNNN_add_rides_index.{up,down}.sql
//! txova-db schema --dir migrations/postgres show [--json]  # the schema they create
//! txova-db schema --dir migrations/postgres diff           # its drift from DATABASE_URL
//! ```
//!
//! The database comes from `--database-url` or `DATABASE_URL`. Every applied or
//! reverted file prints one line; any failure exits with status 1 and the reason.
//! `schema show` needs no database: it replays the `.up.sql` files as
//! `#[derive(Table)]` does; `schema diff` lists every difference between that replay
//! and the live catalog and exits with status 1 when there is one.

mod schema;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use txova_db::migrate::{Applied, Step};
use txova_db::{Db, Migrator};

#[derive(Parser)]
#[command(name = "txova-db", version, about = "txova-db command-line tool")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run and manage schema migrations.
    Migrate(Migrate),
    /// Show the schema a migrations directory creates, or its drift from a database.
    Schema(SchemaCommand),
}

#[derive(Parser)]
struct SchemaCommand {
    /// The migrations directory.
    #[arg(long, default_value = "migrations", global = true)]
    dir: PathBuf,
    /// Its SQL dialect (postgres, sqlite, mysql); by default named by the directory's
    /// path (`migrations/postgres`), else by the database URL.
    #[arg(long, global = true)]
    dialect: Option<String>,
    #[command(subcommand)]
    action: SchemaAction,
}

#[derive(Subcommand)]
enum SchemaAction {
    /// Print the schema the migrations create (no database needed).
    Show {
        /// As JSON rather than SQL.
        #[arg(long)]
        json: bool,
    },
    /// Compare it with a live database; exit 1 if they differ.
    Diff {
        /// The database (postgres://…, mysql://…, sqlite:…); the password is never printed.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// The history table, left out of the comparison.
        #[arg(long, default_value = "_txova_migrations")]
        table: String,
    },
}

#[derive(Parser)]
struct Migrate {
    /// The database (postgres://…, mysql://…, sqlite:…); the password is never printed.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    database_url: Option<String>,
    /// The migrations directory.
    #[arg(long, default_value = "migrations", global = true)]
    dir: PathBuf,
    /// The history table.
    #[arg(long, default_value = "_txova_migrations", global = true)]
    table: String,
    /// How long to wait for another migrator (e.g. 30s, 2m).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, global = true)]
    lock_timeout: Duration,
    /// Print the plan and its SQL; change nothing.
    #[arg(long, global = true)]
    dry_run: bool,
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Apply every pending migration.
    Up,
    /// Revert the last N migrations (default 1).
    Down {
        /// How many.
        #[arg(default_value_t = 1)]
        n: usize,
    },
    /// Apply the next N (N > 0) or revert the last -N (N < 0).
    Steps {
        /// Signed count.
        #[arg(allow_negative_numbers = true)]
        n: i64,
    },
    /// List every migration with its state.
    Status,
    /// Print the current version and whether it is dirty.
    Version,
    /// Declare VERSION current and clean (after fixing a failed migration).
    Force {
        /// The version.
        version: i64,
    },
    /// Accept the checksums of deliberately edited applied files.
    Repair,
    /// Create the next pair of migration files.
    Create {
        /// A description: letters, digits and underscores.
        name: String,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let outcome = match Cli::parse().command {
        Command::Migrate(migrate) => run(migrate).await,
        Command::Schema(command) => run_schema(command).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run_schema(args: SchemaCommand) -> Result<(), String> {
    let url = match &args.action {
        SchemaAction::Show { .. } => None,
        SchemaAction::Diff { database_url, .. } => Some(
            database_url
                .as_deref()
                .ok_or("no database: pass --database-url or set DATABASE_URL")?,
        ),
    };
    let dialect = match &args.dialect {
        Some(name) => txova_db_schema::Dialect::from_name(name)
            .ok_or_else(|| format!("`{name}` is not a dialect: write postgres, sqlite or mysql"))?,
        None => txova_db_schema::Dialect::of_path(&args.dir)
            .or_else(|| {
                url.and_then(|url| txova_db_schema::Dialect::from_name(url.split(':').next()?))
            })
            .ok_or_else(|| {
                format!(
                    "cannot tell the SQL dialect of {}: pass --dialect postgres|sqlite|mysql",
                    args.dir.display()
                )
            })?,
    };
    let replayed = schema::replay(&args.dir, dialect)?;
    match &args.action {
        SchemaAction::Show { json: true } => println!(
            "{}",
            serde_json::to_string_pretty(&schema::to_json(&replayed.schema))
                .map_err(|e| e.to_string())?
        ),
        SchemaAction::Show { json: false } => print!("{}", replayed.schema),
        SchemaAction::Diff { table, .. } => {
            let db = Db::connect(url.unwrap_or_default())
                .await
                .map_err(|e| e.to_string())?;
            let drift = schema::diff(&db, &replayed.schema, dialect, table).await;
            db.close().await;
            let drift = drift?;
            if !drift.is_empty() {
                for line in &drift {
                    println!("{line}");
                }
                return Err(format!(
                    "the database differs from the migrations in {} ({} differences)",
                    args.dir.display(),
                    drift.len()
                ));
            }
            println!(
                "the database matches the migrations in {}",
                args.dir.display()
            );
        }
    }
    Ok(())
}

async fn run(args: Migrate) -> Result<(), String> {
    if let Action::Create { name } = &args.action {
        return create(&args.dir, name);
    }
    let url = args
        .database_url
        .as_deref()
        .ok_or("no database: pass --database-url or set DATABASE_URL")?;
    let migrator = Migrator::from_dir(&args.dir)
        .map_err(|e| e.to_string())?
        .table(args.table.clone())
        .lock_timeout(args.lock_timeout)
        .dry_run(args.dry_run);
    let db = Db::connect(url).await.map_err(|e| e.to_string())?;
    let outcome = act(&db, &migrator, &args).await;
    db.close().await;
    outcome.map_err(|e| e.to_string())
}

async fn act(db: &Db, migrator: &Migrator, args: &Migrate) -> txova_db::Result<()> {
    match &args.action {
        Action::Up => report(migrator.up(db).await?, args.dry_run),
        Action::Down { n } => report(migrator.down(db, *n).await?, args.dry_run),
        Action::Steps { n } => report(migrator.steps(db, *n).await?, args.dry_run),
        Action::Status => {
            for s in migrator.status(db).await? {
                let state = match (&s.applied_at, s.dirty, s.checksum_mismatch) {
                    (_, true, _) => "dirty".to_owned(),
                    (Some(_), _, true) => "applied, edited since".to_owned(),
                    (Some(at), _, _) => format!(
                        "applied at {at} in {} ms",
                        s.duration_ms.unwrap_or_default()
                    ),
                    (None, _, _) => "pending".to_owned(),
                };
                println!("{:04} {:<40} {state}", s.version, s.description);
            }
        }
        Action::Version => match migrator.version(db).await? {
            Some(v) if v.dirty => println!("{} (dirty)", v.version),
            Some(v) => println!("{}", v.version),
            None => println!("none"),
        },
        Action::Force { version } => {
            migrator.force(db, *version).await?;
            println!("forced version {version}");
        }
        Action::Repair => println!("repaired {} checksums", migrator.repair(db).await?),
        Action::Create { .. } => {}
    }
    Ok(())
}

fn report(steps: Vec<Applied>, dry_run: bool) {
    if steps.is_empty() {
        println!("nothing to do");
    }
    for step in steps {
        let verb = match (step.step, dry_run) {
            (Step::Up, false) => "applied",
            (Step::Down, false) => "reverted",
            (Step::Up, true) => "would apply",
            (Step::Down, true) => "would revert",
        };
        println!(
            "{verb} {:04} {} ({:.1} ms)",
            step.version,
            step.description,
            step.duration.as_secs_f64() * 1e3
        );
        if dry_run {
            for line in step.sql.lines() {
                println!("    {line}");
            }
        }
    }
}

fn create(dir: &Path, name: &str) -> Result<(), String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "`{name}` is not a migration name: use letters, digits and underscores"
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let existing = if dir.read_dir().map_err(|e| e.to_string())?.next().is_some() {
        Migrator::from_dir(dir)
            .map_err(|e| e.to_string())?
            .migrations()
            .last()
            .map_or(0, |m| m.version)
    } else {
        0
    };
    let version = existing + 1;
    for (suffix, text) in [
        ("up", "-- Write the change here.\n"),
        ("down", "-- Undo the change here.\n"),
    ] {
        let path = dir.join(format!("{version:04}_{name}.{suffix}.sql"));
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("created {}", path.display());
    }
    Ok(())
}
