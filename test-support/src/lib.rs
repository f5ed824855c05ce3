//! Where txova-db's own tests find their servers, and what they do when there is none.
//!
//! For each [`Service`] the URL is, in order:
//!
//! 1. the environment variable ([`Service::env_var`]), used as given;
//! 2. the service on this machine's default port ([`Service::default_url`]), if it
//!    accepts a TCP connection;
//! 3. with the `docker` feature and a running Docker engine, a container started (or
//!    reused) through the `testcontainers` crate;
//! 4. otherwise none: the test prints why it skips and returns — except under
//!    `CI=true`, where a missing server fails the test instead.
//!
//! The answer is worked out once per process and shared by every test in it.

#[cfg(feature = "docker")]
mod docker;
mod postgres_server;
mod redis_servers;

pub use postgres_server::PostgresServer;
pub use redis_servers::{
    RedisCluster, RedisSentinel, RedisServer, redis_cli, redis_cluster, redis_sentinel,
};

use std::io::Write as _;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A server the tests may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// PostgreSQL.
    Postgres,
    /// Redis.
    Redis,
    /// MySQL or MariaDB.
    MySql,
}

impl Service {
    /// The variable that names this service's URL.
    pub fn env_var(self) -> &'static str {
        match self {
            Self::Postgres => "TXOVA_TEST_POSTGRES_URL",
            Self::Redis => "TXOVA_TEST_REDIS_URL",
            Self::MySql => "TXOVA_TEST_MYSQL_URL",
        }
    }

    /// Where the development machines and CI run this service.
    pub fn default_url(self) -> &'static str {
        match self {
            Self::Postgres => "postgres://postgres@127.0.0.1:5432/test",
            Self::Redis => "redis://127.0.0.1:6379",
            Self::MySql => "mysql://root@127.0.0.1:3306/test",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Postgres => 0,
            Self::Redis => 1,
            Self::MySql => 2,
        }
    }
}

/// The URL of `service` for the test named `test`, or `None` after printing why the
/// test skips.
///
/// # Panics
///
/// When the service cannot be found and the environment has `CI=true`: in CI a
/// missing server is a failure, never a silent skip.
pub fn server_url(service: Service, test: &str) -> Option<String> {
    static RESOLVED: [OnceLock<Result<String, String>>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    match RESOLVED[service.index()].get_or_init(|| resolve(service)) {
        Ok(url) => Some(url.clone()),
        Err(reason) => {
            skip(test, reason);
            None
        }
    }
}

/// Whether this run is CI (`CI=true`), where servers must be present.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// A server a test started itself, or `None` after printing why it could not be; under
/// `CI=true` a failure to start panics instead.
fn started<T>(test: &str, server: Result<T, String>) -> Option<T> {
    match server {
        Ok(server) => Some(server),
        Err(reason) => {
            skip(test, &reason);
            None
        }
    }
}

/// Prints a skip notice where `cargo test` shows it, even for a passing test.
///
/// The line names the test function: libtest runs each test on a thread named by its
/// path, so that name is used, and `test` (the caller's own label) only where the
/// thread has none. libtest captures only the `print!` family, so this writes to
/// stderr directly.
///
/// # Panics
///
/// Under `CI=true`: in CI nothing skips.
pub fn skip(test: &str, reason: &str) {
    let name = test_name(test);
    if in_ci() {
        panic!("{name}: {reason}; CI=true, so a test cannot skip");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED {name}: {reason}");
}

/// The running test's path (`module::function`) from libtest's thread name, else
/// `fallback`.
fn test_name(fallback: &str) -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" && !name.starts_with("tokio-runtime") => {
            if name == fallback || fallback.is_empty() {
                name.to_owned()
            } else {
                format!("{name} ({fallback})")
            }
        }
        _ => fallback.to_owned(),
    }
}

/// A name no other test of this or a concurrent run uses: `prefix_<pid>_<n>_<random>`,
/// lower case, safe as an SQL identifier or a key prefix.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random: u32 = rand::random();
    format!("{prefix}_{}_{n}_{random:08x}", std::process::id())
}

fn resolve(service: Service) -> Result<String, String> {
    if let Ok(url) = std::env::var(service.env_var()) {
        return Ok(url);
    }
    let default = service.default_url();
    if answers(default) {
        return Ok(default.to_owned());
    }
    let not_found = format!(
        "no {service:?} server: {} is unset and nothing answers at {default}",
        service.env_var()
    );
    #[cfg(feature = "docker")]
    {
        docker::start(service).map_err(|why| format!("{not_found}; docker: {why}"))
    }
    #[cfg(not(feature = "docker"))]
    {
        Err(format!(
            "{not_found} (enable the `docker` feature to start one in a container)"
        ))
    }
}

/// Whether something accepts TCP connections at the URL's host and port.
fn answers(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let (Some(host), Some(port)) = (parsed.host_str(), parsed.port_or_known_default()) else {
        return false;
    };
    let port = match (parsed.scheme(), parsed.port()) {
        (_, Some(port)) => port,
        ("postgres" | "postgresql", None) => 5432,
        ("redis", None) => 6379,
        ("mysql", None) => 3306,
        _ => port,
    };
    let Ok(addrs) = (host, port).to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|addr| TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_are_identifiers() {
        let a = unique_name("t");
        let b = unique_name("t");
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
    }

    #[test]
    fn a_skip_names_the_test_function() {
        assert_eq!(
            test_name("label"),
            "tests::a_skip_names_the_test_function (label)"
        );
        assert_eq!(
            test_name("tests::a_skip_names_the_test_function"),
            "tests::a_skip_names_the_test_function"
        );
        let from_a_thread_of_its_own = std::thread::spawn(|| test_name("label"))
            .join()
            .expect("the thread");
        assert_eq!(from_a_thread_of_its_own, "label");
    }

    #[test]
    fn nothing_answers_on_a_closed_port() {
        // Bind then drop a listener: the port is free, so nothing is listening.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        assert!(!answers(&format!("postgres://x@127.0.0.1:{port}/db")));
        assert!(!answers("not a url"));
    }
}
