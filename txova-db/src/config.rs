//! [`DbConfig`]: every pool and connection setting, from code, serde or the environment.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Backend, ConfigError};
use crate::resilience::BreakerConfig;

/// Settings for [`Db::connect_with`](crate::Db::connect_with).
///
/// Build it in code (`DbConfig { max_connections: 20, ..DbConfig::new(url) }`), deserialize
/// it with serde (durations as `"5s"`, `"15m"`, `"250ms"`), or read it from the environment
/// with [`DbConfig::from_env`]. `Debug` never shows the password of the URL.
///
/// ```
/// use std::time::Duration;
/// use txova_db::DbConfig;
///
/// let config = DbConfig {
///     max_connections: 20,
///     statement_timeout: Some(Duration::from_secs(5)),
///     ..DbConfig::new("postgres://app:s3cret@db.internal/rides")
/// };
/// assert!(!format!("{config:?}").contains("s3cret"));
///
/// let from_json: DbConfig = serde_json::from_str(
///     r#"{ "url": "sqlite::memory:", "acquire_timeout": "2s", "idle_timeout": null }"#,
/// ).unwrap();
/// assert_eq!(from_json.acquire_timeout, Duration::from_secs(2));
/// assert_eq!(from_json.idle_timeout, None);
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DbConfig {
    /// Connection URL: `postgres://`, `postgresql://`, `sqlite:`, `mysql://`/`mariadb://`.
    pub url: DatabaseUrl,
    /// Upper bound on open connections (default 10).
    pub max_connections: u32,
    /// Connections kept open even when idle (default 0; at least 1 for in-memory SQLite,
    /// whose data lives only while a connection is open).
    pub min_connections: u32,
    /// Connections older than this are closed when returned (default 30 min; `None`: never).
    #[serde(with = "humantime_serde")]
    pub max_lifetime: Option<Duration>,
    /// Idle connections above `min_connections` are closed after this (default 10 min).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Option<Duration>,
    /// How long a query waits for a free pooled connection (default 10 s).
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
    /// How long [`Db::connect`](crate::Db::connect) waits for the first connection, TCP and
    /// handshake included (default 10 s).
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Check (ping) a pooled connection before handing it out when it has sat idle for
    /// longer than [`test_after_idle`](Self::test_after_idle) (default `true`).
    /// Connections left in doubt (a statement cancelled midway, a transaction dropped
    /// open, a session the server ended) are checked either way.
    pub test_before_acquire: bool,
    /// How long a connection may sit idle before [`test_before_acquire`](Self::test_before_acquire)
    /// checks it (default 1 s, as pgxpool does). A connection in steady use is never
    /// pinged: the ping is a round trip, as long as a point query. `Duration::ZERO`
    /// checks on every acquire.
    #[serde(with = "humantime_serde")]
    pub test_after_idle: Duration,
    /// Server-side limit per statement, failing it with
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout): Postgres `statement_timeout`,
    /// MariaDB `max_statement_time`, MySQL `max_execution_time` (which MySQL applies to
    /// read-only `SELECT`s only). Not available on SQLite (a warning says so). `None`
    /// for none.
    #[serde(with = "humantime_serde")]
    pub statement_timeout: Option<Duration>,
    /// How long a statement waits for a row or table lock before failing with
    /// [`ErrorKind::Busy`](crate::ErrorKind::Busy): Postgres `lock_timeout`, SQLite
    /// `busy_timeout`, MySQL/MariaDB `innodb_lock_wait_timeout` (whole seconds, rounded
    /// up). `None` keeps the backend's default (Postgres waits forever, SQLite 5 s,
    /// InnoDB 50 s).
    #[serde(with = "humantime_serde")]
    pub lock_timeout: Option<Duration>,
    /// Statements slower than this are logged at WARN with their SQL (never their
    /// values); `None` turns the warning off (default 1 s).
    #[serde(with = "humantime_serde")]
    pub slow_query_threshold: Option<Duration>,
    /// Attach the plan to each slow-query warning: a statement over
    /// `slow_query_threshold` that succeeded is explained (`EXPLAIN`, not `ANALYZE`:
    /// nothing runs again) on the same executor right after, and the plan and its
    /// [`advice`](crate::Plan::advice) logged on target `txova_db::slow_query`, with
    /// every literal in its conditions replaced by `?` (Postgres and MariaDB print bound
    /// values into plans). Off by default: the `EXPLAIN` adds a round trip to a call
    /// that was already slow. `TXOVA_DB_EXPLAIN_SLOW_QUERIES=true`.
    pub explain_slow_queries: bool,
    /// Reported to the server (Postgres `application_name`), visible in `pg_stat_activity`.
    pub application_name: Option<String>,
    /// Warn (target `txova_db::n_plus_one`) when one statement runs more than this many
    /// times inside one transaction or [`n_plus_one::scope`](crate::n_plus_one::scope):
    /// the mark of a loop that should be one query. `None` (the default) turns the
    /// detector off.
    pub n_plus_one_threshold: Option<u32>,
    /// A circuit breaker around acquiring connections (off by default). When on, after
    /// `failures` acquires in a row fail for want of a server (refused or timed-out
    /// connects, pool timeouts), every call fails at once with
    /// [`ErrorKind::CircuitOpen`](crate::ErrorKind::CircuitOpen) without trying to
    /// connect, until a background connect succeeds; the health report shows the state.
    /// For the environment: `TXOVA_DB_BREAKER=on`, `TXOVA_DB_BREAKER_FAILURES`,
    /// `TXOVA_DB_BREAKER_PROBE_INTERVAL`.
    pub breaker: BreakerConfig,
}

impl Default for DbConfig {
    /// The embedded default: an in-memory SQLite database.
    fn default() -> Self {
        Self {
            url: DatabaseUrl::from("sqlite::memory:"),
            max_connections: 10,
            min_connections: 0,
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            idle_timeout: Some(Duration::from_secs(10 * 60)),
            acquire_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            test_before_acquire: true,
            test_after_idle: Duration::from_secs(1),
            statement_timeout: None,
            lock_timeout: None,
            slow_query_threshold: Some(Duration::from_secs(1)),
            explain_slow_queries: false,
            application_name: None,
            n_plus_one_threshold: None,
            breaker: BreakerConfig::disabled(),
        }
    }
}

impl DbConfig {
    /// Default settings for `url`.
    pub fn new(url: impl Into<DatabaseUrl>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// Reads the configuration from the process environment.
    ///
    /// The URL comes from `DATABASE_URL` (required); every other field from
    /// `TXOVA_DB_<FIELD>` in upper case — `TXOVA_DB_MAX_CONNECTIONS=20`,
    /// `TXOVA_DB_ACQUIRE_TIMEOUT=2s`, `TXOVA_DB_IDLE_TIMEOUT=none`,
    /// `TXOVA_DB_TEST_BEFORE_ACQUIRE=false`, `TXOVA_DB_APPLICATION_NAME=rides`. Unset
    /// variables keep their defaults; a value that does not parse is an error naming the
    /// variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup` (for tests,
    /// or a configuration source of your own).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use txova_db::DbConfig;
    ///
    /// let vars = HashMap::from([
    ///     ("DATABASE_URL", "postgres://localhost/app"),
    ///     ("TXOVA_DB_MAX_CONNECTIONS", "32"),
    ///     ("TXOVA_DB_STATEMENT_TIMEOUT", "3s"),
    /// ]);
    /// let config = DbConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
    /// assert_eq!(config.max_connections, 32);
    /// assert_eq!(config.statement_timeout, Some(std::time::Duration::from_secs(3)));
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let url = lookup("DATABASE_URL").ok_or_else(|| ConfigError::Missing {
            key: "DATABASE_URL".to_owned(),
        })?;
        let mut config = Self::new(url);
        let env = EnvReader { lookup: &lookup };
        env.read(
            "TXOVA_DB_MAX_CONNECTIONS",
            &mut config.max_connections,
            parse_from_str,
        )?;
        env.read(
            "TXOVA_DB_MIN_CONNECTIONS",
            &mut config.min_connections,
            parse_from_str,
        )?;
        env.read(
            "TXOVA_DB_MAX_LIFETIME",
            &mut config.max_lifetime,
            parse_optional_duration,
        )?;
        env.read(
            "TXOVA_DB_IDLE_TIMEOUT",
            &mut config.idle_timeout,
            parse_optional_duration,
        )?;
        env.read(
            "TXOVA_DB_ACQUIRE_TIMEOUT",
            &mut config.acquire_timeout,
            parse_duration,
        )?;
        env.read(
            "TXOVA_DB_CONNECT_TIMEOUT",
            &mut config.connect_timeout,
            parse_duration,
        )?;
        env.read(
            "TXOVA_DB_TEST_BEFORE_ACQUIRE",
            &mut config.test_before_acquire,
            parse_from_str,
        )?;
        env.read(
            "TXOVA_DB_TEST_AFTER_IDLE",
            &mut config.test_after_idle,
            parse_duration,
        )?;
        env.read(
            "TXOVA_DB_STATEMENT_TIMEOUT",
            &mut config.statement_timeout,
            parse_optional_duration,
        )?;
        env.read(
            "TXOVA_DB_LOCK_TIMEOUT",
            &mut config.lock_timeout,
            parse_optional_duration,
        )?;
        env.read(
            "TXOVA_DB_SLOW_QUERY_THRESHOLD",
            &mut config.slow_query_threshold,
            parse_optional_duration,
        )?;
        env.read(
            "TXOVA_DB_EXPLAIN_SLOW_QUERIES",
            &mut config.explain_slow_queries,
            parse_from_str,
        )?;
        env.read(
            "TXOVA_DB_APPLICATION_NAME",
            &mut config.application_name,
            |v| Ok(Some(v.to_owned())),
        )?;
        env.read(
            "TXOVA_DB_N_PLUS_ONE_THRESHOLD",
            &mut config.n_plus_one_threshold,
            |v| match v {
                "" | "none" | "off" => Ok(None),
                other => parse_from_str(other).map(Some),
            },
        )?;
        env.read(
            "TXOVA_DB_BREAKER",
            &mut config.breaker.enabled,
            |v| match v {
                "on" | "true" | "1" => Ok(true),
                "off" | "false" | "0" | "" => Ok(false),
                other => Err(format!("`{other}` is not on or off")),
            },
        )?;
        env.read(
            "TXOVA_DB_BREAKER_FAILURES",
            &mut config.breaker.failures,
            parse_from_str,
        )?;
        env.read(
            "TXOVA_DB_BREAKER_PROBE_INTERVAL",
            &mut config.breaker.probe_interval,
            parse_duration,
        )?;
        Ok(config)
    }
}

struct EnvReader<'a, F> {
    lookup: &'a F,
}

impl<F: Fn(&str) -> Option<String>> EnvReader<'_, F> {
    fn read<T>(
        &self,
        key: &str,
        field: &mut T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<(), ConfigError> {
        if let Some(raw) = (self.lookup)(key) {
            *field = parse(raw.trim()).map_err(|reason| ConfigError::InvalidValue {
                key: key.to_owned(),
                reason,
            })?;
        }
        Ok(())
    }
}

fn parse_from_str<T: std::str::FromStr<Err: fmt::Display>>(raw: &str) -> Result<T, String> {
    raw.parse().map_err(|e: T::Err| e.to_string())
}

fn parse_duration(raw: &str) -> Result<Duration, String> {
    humantime::parse_duration(raw).map_err(|e| e.to_string())
}

fn parse_optional_duration(raw: &str) -> Result<Option<Duration>, String> {
    match raw {
        "" | "none" | "off" => Ok(None),
        other => parse_duration(other).map(Some),
    }
}

impl fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbConfig")
            .field("url", &self.url)
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("max_lifetime", &self.max_lifetime)
            .field("idle_timeout", &self.idle_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("test_before_acquire", &self.test_before_acquire)
            .field("test_after_idle", &self.test_after_idle)
            .field("statement_timeout", &self.statement_timeout)
            .field("lock_timeout", &self.lock_timeout)
            .field("slow_query_threshold", &self.slow_query_threshold)
            .field("explain_slow_queries", &self.explain_slow_queries)
            .field("application_name", &self.application_name)
            .field("n_plus_one_threshold", &self.n_plus_one_threshold)
            .field("breaker", &self.breaker)
            .finish()
    }
}

/// A connection URL that keeps its credentials out of `Debug`, `Display` and serialized
/// output: the password in the userinfo and every credential query parameter
/// (`password`, `sslpassword`, and any parameter whose name holds `pass`, `pwd`,
/// `secret` or `token`) show as `***`. (`sslkey` and `sslcert` name files, and show.) Deserializing takes the URL as given;
/// serializing writes it masked, so a config written out cannot be used to connect
/// (the credentials belong in the environment or a secret store).
///
/// ```
/// use txova_db::DatabaseUrl;
///
/// let url = DatabaseUrl::from("postgres://app:hunter2@db:5432/rides?sslpassword=s3");
/// assert_eq!(url.to_string(), "postgres://app:***@db:5432/rides?sslpassword=***");
/// assert_eq!(url.expose(), "postgres://app:hunter2@db:5432/rides?sslpassword=s3");
/// assert_eq!(
///     serde_json::to_string(&url).unwrap(),
///     r#""postgres://app:***@db:5432/rides?sslpassword=***""#
/// );
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Whether a URL query parameter named `name` carries a credential.
fn is_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token"]
        .iter()
        .any(|word| name.contains(word))
}

impl DatabaseUrl {
    /// The URL with its password, for handing to a driver. Never log this.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The backend the scheme names.
    pub fn backend(&self) -> Result<Backend, ConfigError> {
        let Some((scheme, _)) = self.0.split_once(':') else {
            return Err(ConfigError::MalformedUrl {
                reason: "no scheme (expected e.g. postgres://… or sqlite:…)".to_owned(),
            });
        };
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            "sqlite" => Ok(Backend::Sqlite),
            "mysql" | "mariadb" => Ok(Backend::MySql),
            other => Err(ConfigError::UnsupportedScheme {
                scheme: other.to_owned(),
                expected: "postgres://, postgresql://, sqlite:, mysql:// or mariadb://",
            }),
        }
    }

    /// The credentials the URL carries: its password, and the values of credential
    /// query parameters, each as written and decoded.
    fn secrets(&self) -> Vec<String> {
        let Ok(url) = url::Url::parse(&self.0) else {
            return Vec::new();
        };
        let mut secrets: Vec<String> = Vec::new();
        if let Some(password) = url.password() {
            secrets.extend(percent_decode(password));
            secrets.push(password.to_owned());
        }
        // As written in the URL, and decoded.
        for pair in url.query().unwrap_or_default().split('&') {
            if let Some((name, value)) = pair.split_once('=')
                && is_credential(name)
            {
                secrets.push(value.to_owned());
            }
        }
        for (name, value) in url.query_pairs() {
            if is_credential(&name) {
                secrets.push(value.into_owned());
            }
        }
        secrets.retain(|s| !s.is_empty());
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets
    }

    /// Replaces every occurrence of this URL's credentials in `text` (a driver message)
    /// by `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        self.secrets()
            .iter()
            .fold(text.to_owned(), |text, secret| text.replace(secret, "***"))
    }
}

impl From<&str> for DatabaseUrl {
    fn from(url: &str) -> Self {
        Self(url.to_owned())
    }
}

impl From<String> for DatabaseUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut url) => {
                if url.password().is_some() {
                    // Cannot fail: a URL with a password has a host.
                    let _ = url.set_password(Some("***"));
                }
                if let Some(query) = url.query().map(str::to_owned) {
                    let masked: Vec<String> = query
                        .split('&')
                        .map(|pair| match pair.split_once('=') {
                            Some((name, _)) if is_credential(name) => format!("{name}=***"),
                            _ => pair.to_owned(),
                        })
                        .collect();
                    url.set_query(Some(&masked.join("&")));
                }
                f.write_str(url.as_str())
            }
            // Unparsable text may still hold a secret: show the scheme only.
            Err(_) => match self.0.split_once(':') {
                Some((scheme, _)) => write!(f, "{scheme}:<unparsable>"),
                None => f.write_str("<unparsable>"),
            },
        }
    }
}

/// A URL's percent-encoded userinfo decoded (`pa%40ss` → `pa@ss`); `None` when there is
/// nothing to decode, or it does not decode to UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return None;
    }
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            out.push(b);
            rest = tail;
        }
    }
    String::from_utf8(out).ok()
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    /// A configuration with every field away from its default, written out in full so
    /// a new field does not compile until these tests cover it.
    fn every_field_set() -> DbConfig {
        DbConfig {
            url: DatabaseUrl::from("postgres://u@h/db"),
            max_connections: 7,
            min_connections: 2,
            max_lifetime: None,
            idle_timeout: Some(Duration::from_secs(90)),
            acquire_timeout: Duration::from_millis(250),
            connect_timeout: Duration::from_secs(3),
            test_before_acquire: false,
            test_after_idle: Duration::from_millis(750),
            statement_timeout: Some(Duration::from_secs(60)),
            lock_timeout: Some(Duration::from_millis(40)),
            slow_query_threshold: None,
            explain_slow_queries: true,
            application_name: Some("rides".into()),
            n_plus_one_threshold: Some(12),
            breaker: BreakerConfig {
                enabled: true,
                failures: 5,
                probe_interval: Duration::from_secs(1),
            },
        }
    }

    #[test]
    fn every_field_set_differs_from_the_default_in_every_field() {
        let set = serde_json::to_value(every_field_set()).expect("serializes");
        let default = serde_json::to_value(DbConfig::default()).expect("serializes");
        let fields = set.as_object().expect("an object");
        for (name, value) in fields {
            assert_ne!(Some(value), default.get(name), "{name} is at its default");
        }
    }

    #[test]
    fn env_reads_every_field() {
        let config = DbConfig::from_lookup(lookup(&[
            ("DATABASE_URL", "postgres://u@h/db"),
            ("TXOVA_DB_MAX_CONNECTIONS", "7"),
            ("TXOVA_DB_MIN_CONNECTIONS", "2"),
            ("TXOVA_DB_MAX_LIFETIME", "none"),
            ("TXOVA_DB_IDLE_TIMEOUT", "90s"),
            ("TXOVA_DB_ACQUIRE_TIMEOUT", "250ms"),
            ("TXOVA_DB_CONNECT_TIMEOUT", "3s"),
            ("TXOVA_DB_TEST_BEFORE_ACQUIRE", "false"),
            ("TXOVA_DB_TEST_AFTER_IDLE", "750ms"),
            ("TXOVA_DB_STATEMENT_TIMEOUT", "1m"),
            ("TXOVA_DB_LOCK_TIMEOUT", "40ms"),
            ("TXOVA_DB_SLOW_QUERY_THRESHOLD", "off"),
            ("TXOVA_DB_EXPLAIN_SLOW_QUERIES", "true"),
            ("TXOVA_DB_APPLICATION_NAME", "rides"),
            ("TXOVA_DB_N_PLUS_ONE_THRESHOLD", "12"),
            ("TXOVA_DB_BREAKER", "on"),
            ("TXOVA_DB_BREAKER_FAILURES", "5"),
            ("TXOVA_DB_BREAKER_PROBE_INTERVAL", "1s"),
        ]))
        .expect("valid environment");
        assert_eq!(config, every_field_set());
    }

    #[test]
    fn env_errors_name_the_variable() {
        let missing = DbConfig::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(
            missing,
            ConfigError::Missing {
                key: "DATABASE_URL".into()
            }
        );
        let bad = DbConfig::from_lookup(lookup(&[
            ("DATABASE_URL", "sqlite::memory:"),
            ("TXOVA_DB_ACQUIRE_TIMEOUT", "soon"),
        ]))
        .unwrap_err();
        assert!(
            matches!(bad, ConfigError::InvalidValue { ref key, .. } if key == "TXOVA_DB_ACQUIRE_TIMEOUT")
        );
    }

    #[test]
    fn serde_round_trip_keeps_every_field_but_credentials() {
        let config = every_field_set();
        let json = serde_json::to_string(&config).expect("serializes");
        let back: DbConfig = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, config);
        // Credentials are written masked, never in clear.
        let secret = DbConfig::new("postgres://a:hunter2@c/d?password=hunter3&sslpassword=hunter4");
        let json = serde_json::to_string(&secret).expect("serializes");
        assert!(!json.contains("hunter"), "{json}");
        assert!(
            json.contains("postgres://a:***@c/d?password=***&sslpassword=***"),
            "{json}"
        );
        let unknown = serde_json::from_str::<DbConfig>(r#"{"max_conections": 3}"#);
        assert!(unknown.is_err(), "a misspelt key must not be ignored");
    }

    #[test]
    fn urls_never_show_credential_parameters() {
        let url = DatabaseUrl::from(
            "postgres://app@db/rides?sslmode=require&password=hunter2&sslpassword=p%26w&PGPASSWORD=x&api_token=t0k&sslkey=/etc/k.pem",
        );
        let shown = url.to_string();
        assert_eq!(
            shown,
            "postgres://app@db/rides?sslmode=require&password=***&sslpassword=***&PGPASSWORD=***&api_token=***&sslkey=/etc/k.pem"
        );
        assert!(!format!("{:?}", DbConfig::new(url.clone())).contains("hunter2"));
        // Driver messages may quote a value as written or decoded.
        assert_eq!(
            url.scrub("bad password hunter2; key p&w / p%26w"),
            "bad password ***; key *** / ***"
        );
        assert_eq!(
            DatabaseUrl::from("mysql://root@h/db?password=hunter2").to_string(),
            "mysql://root@h/db?password=***"
        );
    }

    #[test]
    fn urls_never_show_passwords() {
        let url = DatabaseUrl::from("postgresql://user:pa%40ss@localhost:5432/db?sslmode=disable");
        assert_eq!(
            url.to_string(),
            "postgresql://user:***@localhost:5432/db?sslmode=disable"
        );
        assert!(!format!("{:?}", DbConfig::new(url.clone())).contains("pa%40ss"));
        assert_eq!(url.scrub("auth failed for pa%40ss"), "auth failed for ***");
        assert_eq!(url.scrub("auth failed for pa@ss"), "auth failed for ***");
        assert_eq!(
            DatabaseUrl::from("postgres://u:secret@[bad").to_string(),
            "postgres:<unparsable>"
        );
        assert_eq!(
            DatabaseUrl::from("sqlite::memory:").to_string(),
            "sqlite::memory:"
        );
    }

    #[test]
    fn schemes_pick_backends() {
        let backend = |u: &str| DatabaseUrl::from(u).backend();
        assert_eq!(backend("postgres://h/d"), Ok(Backend::Postgres));
        assert_eq!(backend("PostgreSQL://h/d"), Ok(Backend::Postgres));
        assert_eq!(backend("sqlite:rides.db"), Ok(Backend::Sqlite));
        assert_eq!(backend("mariadb://h/d"), Ok(Backend::MySql));
        assert!(matches!(
            backend("oracle://h/d"),
            Err(ConfigError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            backend("just-a-path"),
            Err(ConfigError::MalformedUrl { .. })
        ));
    }
}
