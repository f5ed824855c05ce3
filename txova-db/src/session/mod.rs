//! Server-side sessions on the [`Store`]: who is logged in, on which device, since
//! when — with the list of a user's sessions, so "log out everywhere" works.
//!
//! A session is the hash `session:{id}` (`user_id`, `device_id`, `device_info`,
//! `ip_address`, `created_at`, `last_active`, `expires_at` and `data.*` fields), so one
//! field is updated without rewriting the others. Each user has an index
//! `user:sessions:{user_id}`, a sorted set of session ids scored by expiry: entries
//! past their expiry are dropped whenever the index is read or written, and entries
//! whose record is gone are dropped when listing finds them — no keyspace
//! notifications needed, so it works on managed Redis too.
//!
//! Ids are 256 bits from a CSPRNG, URL-safe base64. Sessions live 30 days from their
//! creation (or rotation) by default; reading one refreshes `last_active` at most once
//! per [`SessionConfig::touch_interval`]. Updates go through a script that writes only
//! if the record still exists, so an update racing a logout cannot bring the session
//! back.
//!
//! ```
//! # async fn demo() -> txova_db::Result<()> {
//! use txova_db::session::{NewSession, Sessions};
//! use txova_db::store::Store;
//!
//! let sessions = Sessions::new(Store::embedded());
//! let session = sessions
//!     .create(NewSession::new("rider-42").device_id("phone-1"))
//!     .await?;
//! let found = sessions.get(session.id.as_str()).await?.expect("just created");
//! assert_eq!(found.user_id, "rider-42");
//! assert_eq!(sessions.list_for_user("rider-42").await?.len(), 1);
//!
//! // On login, give the session a new id: the old one stops working.
//! let rotated = sessions.rotate(session.id.as_str()).await?.expect("exists");
//! assert!(sessions.get(session.id.as_str()).await?.is_none());
//! assert_eq!(sessions.delete_all_for_user("rider-42").await?, 1);
//! assert!(sessions.get(rotated.id.as_str()).await?.is_none());
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

mod backend;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::store::Store;

/// How long sessions live and how often reading one refreshes `last_active`.
///
/// ```
/// use std::time::Duration;
/// use txova_db::session::SessionConfig;
///
/// let config: SessionConfig = serde_json::from_str(r#"{"ttl": "7days"}"#).unwrap();
/// assert_eq!(config.ttl, Duration::from_secs(7 * 86_400));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SessionConfig {
    /// A session's lifetime from creation or rotation (default 30 days).
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// `get` writes `last_active` only if it is older than this (default 5 min), so
    /// reads stay reads.
    #[serde(with = "humantime_serde")]
    pub touch_interval: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(30 * 24 * 3600),
            touch_interval: Duration::from_secs(300),
        }
    }
}

/// A session id: 256 random bits, URL-safe. Its `Debug` shows only a prefix, as the id
/// is a bearer credential.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::session::{NewSession, Sessions};
/// use txova_db::store::Store;
///
/// let sessions = Sessions::new(Store::embedded());
/// let session = sessions.create(NewSession::new("42")).await?;
/// // 256 random bits, URL-safe base64: a bearer token or a cookie value as it is.
/// let token: &str = session.id.as_str();
/// assert_eq!(token.len(), 43);
/// assert!(sessions.get(token).await?.is_some());
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    /// The id as sent to the client (cookie or header value).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({}…)", self.0.get(..6).unwrap_or(""))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a new session starts with.
///
/// ```
/// use txova_db::session::NewSession;
///
/// let new = NewSession::new("user-1")
///     .device_id("ios-7f3a")
///     .device_info("iPhone 15, app 4.2")
///     .ip_address("203.0.113.9".parse().unwrap())
///     .data("locale", "pt-MZ");
/// # let _ = new;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    user_id: String,
    device_id: Option<String>,
    device_info: Option<String>,
    ip_address: Option<IpAddr>,
    data: BTreeMap<String, String>,
}

impl NewSession {
    /// A session for `user_id`.
    pub fn new(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            device_id: None,
            device_info: None,
            ip_address: None,
            data: BTreeMap::new(),
        }
    }

    /// The client device's id.
    pub fn device_id(mut self, device_id: impl Into<String>) -> Self {
        self.device_id = Some(device_id.into());
        self
    }

    /// A description of the device (user agent, app version).
    pub fn device_info(mut self, device_info: impl Into<String>) -> Self {
        self.device_info = Some(device_info.into());
        self
    }

    /// The client's address.
    pub fn ip_address(mut self, ip_address: IpAddr) -> Self {
        self.ip_address = Some(ip_address);
        self
    }

    /// An application value kept with the session.
    pub fn data(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.data.insert(name.into(), value.into());
        self
    }
}

/// Fields to change in an existing session ([`Sessions::update`]); the others are left
/// as they are.
///
/// ```
/// use txova_db::session::SessionUpdate;
///
/// let update = SessionUpdate::new()
///     .ip_address("198.51.100.4".parse().unwrap())
///     .data("locale", "en");
/// # let _ = update;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionUpdate {
    fields: Vec<(String, String)>,
}

impl SessionUpdate {
    /// Changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the device description.
    pub fn device_info(mut self, device_info: impl Into<String>) -> Self {
        self.fields.push(("device_info".into(), device_info.into()));
        self
    }

    /// Sets the client's address.
    pub fn ip_address(mut self, ip_address: IpAddr) -> Self {
        self.fields
            .push(("ip_address".into(), ip_address.to_string()));
        self
    }

    /// Sets an application value.
    pub fn data(mut self, name: impl AsRef<str>, value: impl Into<String>) -> Self {
        self.fields
            .push((format!("data.{}", name.as_ref()), value.into()));
        self
    }
}

/// A stored session.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::session::{NewSession, Sessions};
/// use txova_db::store::Store;
///
/// let sessions = Sessions::new(Store::embedded());
/// let created = sessions
///     .create(NewSession::new("42").device_id("android-3f9c").data("city", "Maputo"))
///     .await?;
/// let session = sessions.get(created.id.as_str()).await?.expect("stored");
/// assert_eq!(session.user_id, "42");
/// assert_eq!(session.device_id.as_deref(), Some("android-3f9c"));
/// assert_eq!(session.data["city"], "Maputo");
/// assert!(session.expires_at > session.created_at);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Session {
    /// The id.
    pub id: SessionId,
    /// Whose session it is.
    pub user_id: String,
    /// The client device's id.
    pub device_id: Option<String>,
    /// The device description.
    pub device_info: Option<String>,
    /// The client's address.
    pub ip_address: Option<IpAddr>,
    /// When the session was created (or last rotated).
    pub created_at: SystemTime,
    /// When it was last used, to within [`SessionConfig::touch_interval`].
    pub last_active: SystemTime,
    /// When it expires.
    pub expires_at: SystemTime,
    /// Application values.
    pub data: BTreeMap<String, String>,
}

impl Session {
    fn from_fields(id: &str, mut fields: HashMap<String, String>) -> Option<Self> {
        let time = |fields: &HashMap<String, String>, name: &str| {
            fields
                .get(name)
                .and_then(|ms| ms.parse::<u64>().ok())
                .map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
        };
        let created_at = time(&fields, "created_at")?;
        let last_active = time(&fields, "last_active").unwrap_or(created_at);
        let expires_at = time(&fields, "expires_at")?;
        let data = fields
            .iter()
            .filter_map(|(name, value)| {
                name.strip_prefix("data.")
                    .map(|name| (name.to_owned(), value.clone()))
            })
            .collect();
        Some(Self {
            id: SessionId(id.to_owned()),
            user_id: fields.remove("user_id")?,
            device_id: fields.remove("device_id"),
            device_info: fields.remove("device_info"),
            ip_address: fields.get("ip_address").and_then(|ip| ip.parse().ok()),
            created_at,
            last_active,
            expires_at,
            data,
        })
    }

    fn fields(&self) -> Vec<(&str, String)> {
        let mut fields = vec![
            ("user_id", self.user_id.clone()),
            ("created_at", unix_millis(self.created_at).to_string()),
            ("last_active", unix_millis(self.last_active).to_string()),
            ("expires_at", unix_millis(self.expires_at).to_string()),
        ];
        if let Some(device_id) = &self.device_id {
            fields.push(("device_id", device_id.clone()));
        }
        if let Some(device_info) = &self.device_info {
            fields.push(("device_info", device_info.clone()));
        }
        if let Some(ip) = self.ip_address {
            fields.push(("ip_address", ip.to_string()));
        }
        fields
    }
}

/// The session store. Cheap to clone.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::session::{NewSession, SessionUpdate, Sessions};
/// use txova_db::store::Store;
///
/// let sessions = Sessions::new(Store::embedded());
/// // Sign-in: a new session, rotated again after a privilege change (against fixation).
/// let phone = sessions.create(NewSession::new("42").device_id("phone")).await?;
/// let phone = sessions.rotate(phone.id.as_str()).await?.expect("rotated");
/// sessions.create(NewSession::new("42").device_id("laptop")).await?;
/// sessions.update(phone.id.as_str(), SessionUpdate::new().data("theme", "dark")).await?;
/// assert_eq!(sessions.list_for_user("42").await?.len(), 2);
/// // Sign out everywhere.
/// assert_eq!(sessions.delete_all_for_user("42").await?, 2);
/// assert!(sessions.get(phone.id.as_str()).await?.is_none());
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    config: SessionConfig,
}

impl Sessions {
    /// Sessions on `store` with the default [`SessionConfig`].
    pub fn new(store: Store) -> Self {
        Self::with_config(store, SessionConfig::default())
    }

    /// Sessions on `store` with `config`.
    pub fn with_config(store: Store, config: SessionConfig) -> Self {
        Self {
            inner: Arc::new(Inner { store, config }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &SessionConfig {
        &self.inner.config
    }

    /// Creates a session with a fresh id. The user's index is written first, so a
    /// session is never stored without being listed (and revocable); an index entry
    /// whose record never arrived is pruned when the index is next listed.
    pub async fn create(&self, new: NewSession) -> Result<Session, Error> {
        check_user(&new.user_id)?;
        let now = SystemTime::now();
        let session = Session {
            id: SessionId(crate::token::random_token::<32>()),
            user_id: new.user_id,
            device_id: new.device_id,
            device_info: new.device_info,
            ip_address: new.ip_address,
            created_at: now,
            last_active: now,
            expires_at: now + self.inner.config.ttl,
            data: new.data,
        };
        self.store(&session).await?;
        Ok(session)
    }

    async fn store(&self, session: &Session) -> Result<(), Error> {
        let store = &self.inner.store;
        let ttl = self.inner.config.ttl;
        backend::index_add(
            store,
            &index_key(&session.user_id),
            session.id.as_str(),
            unix_millis(session.expires_at),
            unix_millis(SystemTime::now()),
            ttl,
        )
        .await?;
        let data: Vec<(String, String)> = session
            .data
            .iter()
            .map(|(name, value)| (format!("data.{name}"), value.clone()))
            .collect();
        let mut fields = session.fields();
        fields.extend(
            data.iter()
                .map(|(name, value)| (name.as_str(), value.clone())),
        );
        backend::create(store, &session_key(session.id.as_str()), &fields, ttl).await
    }

    /// The session `id`, if it exists and has not expired. Refreshes `last_active`
    /// when it is older than the touch interval, in the same round trip (a script on
    /// Redis), and only if the session still exists.
    pub async fn get(&self, id: &str) -> Result<Option<Session>, Error> {
        if id.is_empty() {
            return Ok(None);
        }
        let interval =
            u64::try_from(self.inner.config.touch_interval.as_millis()).unwrap_or(u64::MAX);
        let fields = backend::read_and_touch(
            &self.inner.store,
            &session_key(id),
            unix_millis(SystemTime::now()),
            interval,
        )
        .await?;
        Ok(live(id, fields))
    }

    async fn read(&self, id: &str) -> Result<Option<Session>, Error> {
        if id.is_empty() {
            return Ok(None);
        }
        let fields = backend::get(&self.inner.store, &session_key(id)).await?;
        Ok(live(id, fields))
    }

    /// Changes the fields in `update`, one write, if the session still exists: a
    /// session deleted meanwhile stays deleted. Whether it existed.
    pub async fn update(&self, id: &str, update: SessionUpdate) -> Result<bool, Error> {
        if id.is_empty() {
            return Ok(false);
        }
        if update.fields.is_empty() {
            return Ok(self.read(id).await?.is_some());
        }
        backend::update(&self.inner.store, &session_key(id), &update.fields).await
    }

    /// Deletes the session `id` (log out); whether it existed.
    pub async fn delete(&self, id: &str) -> Result<bool, Error> {
        if id.is_empty() {
            return Ok(false);
        }
        let store = &self.inner.store;
        match backend::take(store, &session_key(id)).await? {
            Some(user_id) => {
                backend::index_remove(store, &index_key(&user_id), &[id]).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The user's live sessions, oldest first. Expired index entries are dropped, and
    /// so are entries whose session was deleted.
    pub async fn list_for_user(&self, user_id: &str) -> Result<Vec<Session>, Error> {
        check_user(user_id)?;
        let store = &self.inner.store;
        let index = index_key(user_id);
        let ids = backend::index_list(store, &index, unix_millis(SystemTime::now())).await?;
        let records =
            futures_util::future::try_join_all(ids.iter().map(|id| self.read(id))).await?;
        let mut live = Vec::with_capacity(ids.len());
        let mut dead: Vec<&str> = Vec::new();
        for (id, record) in ids.iter().zip(records) {
            match record {
                Some(session) if session.user_id == user_id => live.push(session),
                _ => dead.push(id),
            }
        }
        backend::index_remove(store, &index, &dead).await?;
        Ok(live)
    }

    /// Deletes every session of the user (log out everywhere); how many there were.
    pub async fn delete_all_for_user(&self, user_id: &str) -> Result<u64, Error> {
        check_user(user_id)?;
        let store = &self.inner.store;
        let index = index_key(user_id);
        let ids = backend::index_list(store, &index, unix_millis(SystemTime::now())).await?;
        let keys: Vec<String> = ids.iter().map(|id| session_key(id)).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let deleted = store.delete(&keys).await?;
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        backend::index_remove(store, &index, &ids).await?;
        Ok(deleted)
    }

    /// Moves the session to a fresh id (do it at login, against session fixation):
    /// same user, device and data, a new lifetime; the old id stops working. `None` if
    /// the session does not exist.
    pub async fn rotate(&self, id: &str) -> Result<Option<Session>, Error> {
        let Some(old) = self.read(id).await? else {
            return Ok(None);
        };
        let now = SystemTime::now();
        let session = Session {
            id: SessionId(crate::token::random_token::<32>()),
            created_at: now,
            last_active: now,
            expires_at: now + self.inner.config.ttl,
            ..old
        };
        self.store(&session).await?;
        if !self.delete(id).await? {
            // Logged out while rotating: the new session must not outlive the old one.
            self.delete(session.id.as_str()).await?;
            return Ok(None);
        }
        Ok(Some(session))
    }
}

/// The session in `fields`, unless it is malformed or past its expiry (the store may
/// not have dropped it yet).
fn live(id: &str, fields: Option<HashMap<String, String>>) -> Option<Session> {
    fields
        .and_then(|fields| Session::from_fields(id, fields))
        .filter(|session| session.expires_at > SystemTime::now())
}

fn check_user(user_id: &str) -> Result<(), Error> {
    if user_id.is_empty() {
        return Err(Error::InvalidKey {
            key: String::new(),
            reason: "a session's user id cannot be empty",
        });
    }
    Ok(())
}

fn session_key(id: &str) -> String {
    format!("session:{id}")
}

fn index_key(user_id: &str) -> String {
    format!("user:sessions:{user_id}")
}

fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
