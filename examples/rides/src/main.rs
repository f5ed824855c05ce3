//! The rides service: users, drivers and rides over HTTP, on txova-db.
//!
//! With no environment it runs on an in-memory SQLite database and the in-process
//! store, so it needs no server; `--data-dir` keeps both on disk (users, rides and
//! sessions survive a restart), and `DATABASE_URL` and `REDIS_URL` move it to Postgres
//! and Redis:
//!
//! ```sh
//! cargo run -p rides -- --demo                 # the walkthrough against itself, then exit
//! cargo run -p rides                           # serve on 127.0.0.1:8080, print curl steps
//! cargo run -p rides -- --data-dir ./rides-data   # the same, kept across restarts
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379 \
//!     cargo run -p rides -- --listen 127.0.0.1:3000
//! DATABASE_URL=mysql://root@127.0.0.1:3306/test cargo run -p rides --features mysql
//! ```
//!
//! - `repo` holds every statement: typed queries from `#[derive(Table)]`, with
//!   `#[transactional]`, `#[cached]`/`#[cache_evict]` and `#[locked]` on the methods
//!   that need them.
//! - `api` is the axum router: a session-backed bearer token, per-rider rate limits with
//!   the `RateLimit-*` headers, `/health` from the health monitor, `/metrics` for
//!   Prometheus.
//! - `service` wires it from the environment; `demo` is the walkthrough.

mod api;
mod demo;
mod model;
mod password;
mod repo;
mod service;
#[cfg(test)]
mod tests;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: rides [--listen ADDR] [--admin-listen ADDR] [--data-dir DIR] [--demo]

  --listen ADDR           where to serve (default 127.0.0.1:8080, or RIDES_LISTEN)
  --data-dir DIR          keep the SQLite database (DIR/rides.db) and the store
                          (DIR/store) on disk, so a restart keeps users, rides and
                          sessions (or RIDES_DATA_DIR); DATABASE_URL and REDIS_URL
                          still take precedence
  --admin-listen ADDR     also serve /health/details and /metrics, without sign-in, on
                          this (internal) address (or RIDES_ADMIN_LISTEN)
  --demo                  serve on a free loopback port, run the walkthrough against it, exit

  DATABASE_URL            postgres://…, sqlite:… or (built with the mysql feature)
                          mysql://… (default: an in-memory SQLite database)
  REDIS_URL               redis://… (default: the in-process store)
  RIDES_ADMIN_EMAIL       with RIDES_ADMIN_PASSWORD: an admin account (manages drivers,
  RIDES_ADMIN_PASSWORD    reads /health/details), created or updated at start
  RIDES_HEALTH_INTERVAL   how often /health's monitor checks (default 5s)
  RUST_LOG                log filter (default: info, txova_db at warn)";

/// What the command line asks for.
#[derive(Debug)]
struct Args {
    listen: SocketAddr,
    admin_listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    demo: bool,
}

/// A command line the service does not understand.
#[derive(Debug, thiserror::Error)]
enum UsageError {
    #[error("unknown argument `{0}`")]
    Unknown(String),
    #[error("--listen needs an address such as 127.0.0.1:8080")]
    MissingAddress,
    #[error("--data-dir needs a directory")]
    MissingDirectory,
    #[error("`{0}` is not an address such as 127.0.0.1:8080")]
    BadAddress(String),
    #[error("help")]
    Help,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, UsageError> {
        let mut listen = std::env::var("RIDES_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
        let mut admin_listen = std::env::var("RIDES_ADMIN_LISTEN").ok();
        let mut data_dir = std::env::var_os("RIDES_DATA_DIR").map(PathBuf::from);
        let mut demo = false;
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--demo" => demo = true,
                "--listen" => listen = args.next().ok_or(UsageError::MissingAddress)?,
                "--admin-listen" => {
                    admin_listen = Some(args.next().ok_or(UsageError::MissingAddress)?);
                }
                "--data-dir" => {
                    data_dir = Some(args.next().ok_or(UsageError::MissingDirectory)?.into());
                }
                "-h" | "--help" => return Err(UsageError::Help),
                _ => return Err(UsageError::Unknown(arg)),
            }
        }
        if demo {
            listen = "127.0.0.1:0".into();
        }
        let parse = |text: String| text.parse().map_err(|_| UsageError::BadAddress(text));
        Ok(Self {
            listen: parse(listen)?,
            admin_listen: admin_listen.map(parse).transpose()?,
            data_dir,
            demo,
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(UsageError::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("rides: {err}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,txova_db=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rides: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Why the service stopped with an error.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Start(#[from] service::StartError),
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
    #[error("the walkthrough failed: {0}")]
    Demo(#[from] demo::DemoError),
}

async fn run(args: Args) -> Result<(), RunError> {
    let metrics = service::install_metrics()?;
    let state = service::start(metrics, args.data_dir.as_deref()).await?;
    let listener = TcpListener::bind(args.listen).await?;
    let address = listener.local_addr()?;
    let base = format!("http://{address}");
    // A service keeps serving when nobody reads its stdout any more: what it prints
    // there is for the person who started it, so a closed pipe is not an error.
    let admin = match args.admin_listen {
        Some(address) => Some(TcpListener::bind(address).await?),
        None => None,
    };
    let admin_base = match &admin {
        Some(listener) => format!(", admin on http://{}", listener.local_addr()?),
        None => String::new(),
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "rides listening on {base}{admin_base} (database: {:?}, store: {})",
        state.db.backend(),
        state.store.describe()
    );
    let (stop_admin, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    if let Some(listener) = admin {
        let app = api::admin_router(state.clone());
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = admin_stopped.await;
                })
                .await;
            if let Err(err) = served {
                tracing::error!(error = %err, "the admin listener failed");
            }
        });
    }

    let app = api::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });

    let outcome = if args.demo {
        // The walkthrough's admin: an account of this run only.
        let admin = demo::Credentials::random("admin");
        service::seed_admin(&state.users, &admin.email, &admin.password).await?;
        demo::walkthrough(&base, &admin)
            .await
            .map_err(RunError::from)
    } else {
        let _ = writeln!(
            stdout,
            "try it (Ctrl-C stops the service):\n{}",
            demo::curl_walkthrough(&base)
        );
        let _ = stdout.flush();
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        Ok(())
    };

    let _ = stop.send(());
    let _ = stop_admin.send(());
    match server.await {
        Ok(served) => served?,
        Err(join) => tracing::error!(error = %join, "server task failed"),
    }
    state.health.stop().await;
    state.db.close().await;
    outcome
}
