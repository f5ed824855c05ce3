//! [`RedisConfig`]: where Redis is (one URL for standalone, cluster and sentinel) and
//! how long to wait for it.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::resilience::BreakerConfig;

/// Settings for [`RedisClient::connect_with`](super::RedisClient::connect_with).
///
/// The URL picks the deployment:
///
/// - `redis://[user:password@]host:port[/db]` (or `rediss://`): one server;
/// - `redis+cluster://[user:password@]host:port,host:port,...`: a Redis Cluster, from
///   any of its nodes;
/// - `redis+sentinel://[user:password@]host:port,host:port,.../service[/db]`: the
///   primary that the sentinels name `service`, followed across failovers. The
///   credentials are the Redis servers'; the sentinels are reached without.
///
/// `Debug` and every error show the URL without its password.
///
/// ```
/// use std::time::Duration;
/// use txova_db::store::RedisConfig;
///
/// let config = RedisConfig {
///     command_timeout: Duration::from_millis(250),
///     ..RedisConfig::new("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/rides")
/// };
/// assert_eq!(config.connect_timeout, Duration::from_secs(5));
/// assert!(!format!("{:?}", RedisConfig::new("redis://:hunter2@cache:6379")).contains("hunter2"));
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// Where Redis is; see the type's documentation for the three forms.
    pub url: String,
    /// How long opening a connection (TCP, handshake, AUTH) may take (default 5 s).
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// How long one command may take before it fails with
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) (default 1 s). The cache treats
    /// such a failure as a miss.
    #[serde(with = "humantime_serde")]
    pub command_timeout: Duration,
    /// The longest pause between reconnection attempts after the server went away
    /// (default 2 s; attempts start at 50 ms and double).
    #[serde(with = "humantime_serde")]
    pub max_reconnect_delay: Duration,
    /// The circuit breaker around every command (on by default: 3 failed commands in a
    /// row open it, a `PING` every 250 ms closes it once Redis answers). While it is
    /// open, commands fail at once with
    /// [`ErrorKind::CircuitOpen`](crate::ErrorKind::CircuitOpen): the cache calls the
    /// source, rate limits apply their [`FailureMode`](crate::rate_limit::FailureMode),
    /// locks and sessions return the error.
    pub breaker: BreakerConfig,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self::new("redis://127.0.0.1:6379")
    }
}

impl RedisConfig {
    /// The defaults, for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(1),
            max_reconnect_delay: Duration::from_secs(2),
            breaker: BreakerConfig::default(),
        }
    }

    /// `REDIS_URL`, if it is set and not empty.
    pub fn from_env() -> Option<Self> {
        std::env::var("REDIS_URL")
            .ok()
            .filter(|url| !url.trim().is_empty())
            .map(Self::new)
    }

    pub(crate) fn topology(&self) -> Result<Topology, ConfigError> {
        Topology::parse(&self.url)
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact(&self.url))
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("max_reconnect_delay", &self.max_reconnect_delay)
            .field("breaker", &self.breaker)
            .finish()
    }
}

/// What a Redis URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Topology {
    /// One server: the URL as redis-rs reads it.
    Standalone { url: String },
    /// Seed nodes of a cluster, as `redis://` URLs with the credentials.
    Cluster { nodes: Vec<String> },
    /// Sentinels (as `redis://host:port`) watching `service`.
    Sentinel {
        sentinels: Vec<String>,
        service: String,
        db: i64,
        username: Option<String>,
        password: Option<String>,
    },
}

impl Topology {
    fn parse(url: &str) -> Result<Self, ConfigError> {
        let malformed = |reason: &str| ConfigError::MalformedUrl {
            reason: format!("{reason} in Redis URL {}", redact(url)),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| malformed("no scheme"))?;
        match scheme.to_ascii_lowercase().as_str() {
            "redis" | "rediss" | "unix" | "redis+unix" => Ok(Self::Standalone {
                url: url.to_owned(),
            }),
            "redis+cluster" | "rediss+cluster" => {
                let secure = scheme.starts_with("rediss");
                let (userinfo, hosts) = split_userinfo(rest);
                let hosts = hosts.split('/').next().unwrap_or_default();
                let nodes: Vec<String> = hosts
                    .split(',')
                    .filter(|h| !h.is_empty())
                    .map(|host| {
                        let scheme = if secure { "rediss" } else { "redis" };
                        match userinfo {
                            Some(info) => format!("{scheme}://{info}@{host}"),
                            None => format!("{scheme}://{host}"),
                        }
                    })
                    .collect();
                if nodes.is_empty() {
                    return Err(malformed("no cluster node"));
                }
                Ok(Self::Cluster { nodes })
            }
            "redis+sentinel" => {
                let (userinfo, rest) = split_userinfo(rest);
                let mut parts = rest.split('/');
                let hosts = parts.next().unwrap_or_default();
                let service = parts
                    .next()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| malformed("no service name after the sentinel hosts"))?;
                let db = match parts.next().filter(|s| !s.is_empty()) {
                    Some(db) => db
                        .parse()
                        .map_err(|_| malformed("a database that is not a number"))?,
                    None => 0,
                };
                let sentinels: Vec<String> = hosts
                    .split(',')
                    .filter(|h| !h.is_empty())
                    .map(|h| format!("redis://{h}"))
                    .collect();
                if sentinels.is_empty() {
                    return Err(malformed("no sentinel host"));
                }
                let (username, password) = match userinfo {
                    Some(info) => match info.split_once(':') {
                        Some((user, pass)) => (
                            Some(user.to_owned()).filter(|u| !u.is_empty()),
                            Some(pass.to_owned()),
                        ),
                        None => (Some(info.to_owned()), None),
                    },
                    None => (None, None),
                };
                Ok(Self::Sentinel {
                    sentinels,
                    service: service.to_owned(),
                    db,
                    username,
                    password,
                })
            }
            other => Err(ConfigError::UnsupportedScheme {
                scheme: other.to_owned(),
                expected: "redis://, rediss://, redis+cluster:// or redis+sentinel://",
            }),
        }
    }
}

fn split_userinfo(rest: &str) -> (Option<&str>, &str) {
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    }
}

/// `url` with any password replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match split_userinfo(rest) {
        (Some(info), hosts) => {
            let user = info.split_once(':').map_or(info, |(user, _)| user);
            if info.contains(':') {
                format!("{scheme}://{user}:***@{hosts}")
            } else {
                format!("{scheme}://{user}@{hosts}")
            }
        }
        (None, _) => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{Topology, redact};

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(
            Topology::parse("redis://127.0.0.1:6379/2").unwrap(),
            Topology::Standalone {
                url: "redis://127.0.0.1:6379/2".into()
            }
        );
        assert_eq!(
            Topology::parse("redis+cluster://:pw@a:7000,b:7001").unwrap(),
            Topology::Cluster {
                nodes: vec!["redis://:pw@a:7000".into(), "redis://:pw@b:7001".into()]
            }
        );
        assert_eq!(
            Topology::parse("redis+sentinel://u:p@s1:26379,s2:26380/rides/3").unwrap(),
            Topology::Sentinel {
                sentinels: vec!["redis://s1:26379".into(), "redis://s2:26380".into()],
                service: "rides".into(),
                db: 3,
                username: Some("u".into()),
                password: Some("p".into()),
            }
        );
        assert!(Topology::parse("redis+sentinel://s1:26379").is_err());
        assert!(Topology::parse("memcached://x").is_err());
        assert!(Topology::parse("nonsense").is_err());
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("redis://:s3cret@h:1/0"), "redis://:***@h:1/0");
        assert_eq!(
            redact("redis+cluster://u:s3cret@a:1,b:2"),
            "redis+cluster://u:***@a:1,b:2"
        );
        assert_eq!(redact("redis://h:1"), "redis://h:1");
    }
}
