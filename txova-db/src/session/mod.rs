//! Server-side sessions on the [`Store`]: who is logged in, on which device, since
//! when — with the list of a user's sessions, so "log out everywhere" works.
//!
//! Each user has a tag: 96 bits of SHA-256 of the user id, URL-safe base64. A session
//! id is `<tag>.<secret>`, the secret 256 bits from a CSPRNG. The session is the hash
//! `session:{<tag>}:<secret>` (`user_id`, `device_id`, `device_info`, `ip_address`,
//! `created_at`, `last_active`, `expires_at`, `data.*` and `generation` fields), so one
//! field is updated without rewriting the others. The user's index
//! `user:sessions:{<tag>}` is a sorted set of session ids scored by expiry, and
//! `user:sessions:{<tag>}:generation` counts the user's sign-outs everywhere. The
//! braces are a Redis Cluster hash tag: a user's records, index and generation share a
//! slot, so every operation below is one atomic script (one multi-key update on the
//! embedded store), with no window between a record and its index entry:
//!
//! - creating a session writes its record, stamped with the current generation, and its
//!   index entry together: a session is never live but unlisted;
//! - a session is live only while its generation is current. Signing out everywhere
//!   starts a new generation and deletes the records it lists, so every session that
//!   exists when it returns is revoked, including one whose creation raced it (created
//!   under the old generation, whether or not it was listed); reads delete such a
//!   record when they meet it;
//! - an update writes only to a live record, so it cannot bring a session back.
//!
//! Sessions live 30 days from their creation (or rotation) by default; reading one
//! refreshes `last_active` at most once per [`SessionConfig::touch_interval`]. Index
//! entries past their expiry are dropped whenever the index is read or written; the
//! index and the generation live as long as the longest session (nothing is kept
//! forever), and no keyspace notifications are needed, so it works on managed Redis.
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
use backend::UserKeys;

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

/// A session id: the user's tag (16 characters, which puts the user's sessions in one
/// Redis Cluster slot), a dot, and 256 random bits, all URL-safe. The id is a bearer
/// credential, so `Debug` and `Display` (and with them logs and spans) show only a
/// prefix of the tag; [`as_str`](Self::as_str) gives the whole id, to send to the
/// client.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::session::{NewSession, Sessions};
/// use txova_db::store::Store;
///
/// let sessions = Sessions::new(Store::embedded());
/// let session = sessions.create(NewSession::new("42")).await?;
/// // URL-safe: a bearer token or a cookie value as it is.
/// let token: &str = session.id.as_str();
/// assert_eq!(token.len(), 16 + 1 + 43);
/// assert!(sessions.get(token).await?.is_some());
/// // Printed, it shows no more than where it belongs.
/// assert!(!session.id.to_string().contains(&token[17..]));
/// assert!(!format!("{:?}", session.id).contains(&token[17..]));
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
    /// The same prefix as `Debug`: a `%id` in a log line must not hand out the session.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", self.0.get(..6).unwrap_or(""))
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
            id: SessionId(format!(
                "{}.{}",
                user_tag(&new.user_id),
                crate::token::random_token::<32>()
            )),
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

    /// Writes `session`'s record and index entry, in one step.
    async fn store(&self, session: &Session) -> Result<(), Error> {
        let Some(keys) = SessionKeys::of(session.id.as_str()) else {
            unreachable!("ids made by this module parse")
        };
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
        let new = backend::NewRecord {
            record: &keys.record,
            id: session.id.as_str(),
            fields: &fields,
            expires_ms: unix_millis(session.expires_at),
            now_ms: unix_millis(SystemTime::now()),
            ttl: self.inner.config.ttl,
        };
        backend::create(&self.inner.store, &keys.user, &new).await
    }

    /// The session `id`, if it exists, has not expired and was not revoked. Refreshes
    /// `last_active` when it is older than the touch interval, in the same round trip
    /// (a script on Redis), and only if the session is live.
    pub async fn get(&self, id: &str) -> Result<Option<Session>, Error> {
        let interval =
            u64::try_from(self.inner.config.touch_interval.as_millis()).unwrap_or(u64::MAX);
        self.read_with(id, Some((unix_millis(SystemTime::now()), interval)))
            .await
    }

    async fn read(&self, id: &str) -> Result<Option<Session>, Error> {
        self.read_with(id, None).await
    }

    async fn read_with(
        &self,
        id: &str,
        touch: Option<(u64, u64)>,
    ) -> Result<Option<Session>, Error> {
        // An id this module did not make (empty, forged, of the old format) names no
        // session.
        let Some(keys) = SessionKeys::of(id) else {
            return Ok(None);
        };
        let fields = backend::read(&self.inner.store, &keys.record, &keys.user, id, touch).await?;
        Ok(live(id, fields))
    }

    /// Changes the fields in `update`, one write, if the session is still live: a
    /// session deleted or revoked meanwhile stays so. Whether it was live.
    pub async fn update(&self, id: &str, update: SessionUpdate) -> Result<bool, Error> {
        let Some(keys) = SessionKeys::of(id) else {
            return Ok(false);
        };
        if update.fields.is_empty() {
            return Ok(self.read(id).await?.is_some());
        }
        backend::update(&self.inner.store, &keys.record, &keys.user, &update.fields).await
    }

    /// Deletes the session `id` (log out); whether it was live.
    pub async fn delete(&self, id: &str) -> Result<bool, Error> {
        let Some(keys) = SessionKeys::of(id) else {
            return Ok(false);
        };
        backend::delete(&self.inner.store, &keys.record, &keys.user, id).await
    }

    /// The user's live sessions, oldest first. Expired index entries are dropped, and
    /// so are revoked sessions met on the way.
    pub async fn list_for_user(&self, user_id: &str) -> Result<Vec<Session>, Error> {
        check_user(user_id)?;
        let user = UserKeys::of(user_id);
        let ids = backend::list(&self.inner.store, &user, unix_millis(SystemTime::now())).await?;
        let records =
            futures_util::future::try_join_all(ids.iter().map(|id| self.read(id))).await?;
        Ok(records
            .into_iter()
            .flatten()
            // Another user whose id hashes to the same tag (2^-96 per pair) shares the
            // index, never a session.
            .filter(|session| session.user_id == user_id)
            .collect())
    }

    /// Revokes every session of the user (log out everywhere): every session that
    /// exists when this returns is dead, including one created while it ran. Returns
    /// how many sessions it found and deleted.
    pub async fn delete_all_for_user(&self, user_id: &str) -> Result<u64, Error> {
        check_user(user_id)?;
        let store = &self.inner.store;
        let user = UserKeys::of(user_id);
        let ids = backend::list(store, &user, unix_millis(SystemTime::now())).await?;
        let records: Vec<String> = ids
            .iter()
            .filter_map(|id| SessionKeys::of(id).map(|keys| keys.record))
            .collect();
        backend::revoke_all(store, &user, &records, self.inner.config.ttl).await
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
            id: SessionId(format!(
                "{}.{}",
                user_tag(&old.user_id),
                crate::token::random_token::<32>()
            )),
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

/// A user's tag: 96 bits of SHA-256 of the user id, URL-safe base64 (16 characters).
/// It puts the user's sessions, index and generation in one Redis Cluster slot.
fn user_tag(user_id: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("txova-db session user:{user_id}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..12])
}

impl UserKeys {
    fn of(user_id: &str) -> Self {
        Self::for_tag(&user_tag(user_id))
    }

    fn for_tag(tag: &str) -> Self {
        Self {
            index: format!("user:sessions:{{{tag}}}"),
            generation: format!("user:sessions:{{{tag}}}:generation"),
        }
    }
}

/// The keys a session id leads to: its record, and its user's index and generation.
struct SessionKeys {
    record: String,
    user: UserKeys,
}

impl SessionKeys {
    /// `None` for an id not of the form `<16-char tag>.<43-char secret>`.
    fn of(id: &str) -> Option<Self> {
        let (tag, secret) = id.split_once('.')?;
        let url_safe = |part: &str, len: usize| {
            part.len() == len
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        (url_safe(tag, 16) && url_safe(secret, 43)).then(|| Self {
            record: format!("session:{{{tag}}}:{secret}"),
            user: UserKeys::for_tag(tag),
        })
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

fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
