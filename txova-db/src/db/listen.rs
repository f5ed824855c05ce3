//! [`Db::listen`]: Postgres `LISTEN`/`NOTIFY` as a [`Stream`] that outlives its
//! connection — when the session is lost, a new one is opened (with backoff), every
//! channel subscribed again, and the stream says so, since what was notified meanwhile
//! is gone.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;

use super::Db;
use crate::error::{Backend, Error};

/// Longest channel name Postgres keeps (`NAMEDATALEN - 1` bytes); longer ones it would
/// silently truncate, so a `LISTEN` and a `NOTIFY` of the same name could miss.
const MAX_CHANNEL_BYTES: usize = 63;

/// One notification: `NOTIFY channel, 'payload'` or `pg_notify(channel, payload)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The channel it was sent on.
    pub channel: String,
    /// The payload (empty when none was given).
    pub payload: String,
    /// The server process id of the session that sent it.
    pub process_id: u32,
}

/// What a [`Listener`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenEvent {
    /// A notification on one of the channels.
    Notification(Notification),
    /// The connection was lost and a new one subscribed to every channel again, after
    /// `after` without one. Notifications sent meanwhile were missed: a service that
    /// listens to invalidate a cache should drop what it cached.
    Resubscribed {
        /// How long the listener had no connection.
        after: Duration,
    },
}

/// Notifications from Postgres channels, from [`Db::listen`]: a [`Stream`] that never
/// ends on its own. A lost connection is reopened with backoff (50 ms doubling to 2 s)
/// and every channel subscribed again, then [`ListenEvent::Resubscribed`] is yielded.
/// Dropping it closes its connection, which ends the subscriptions.
pub struct Listener {
    events: Pin<Box<dyn Stream<Item = ListenEvent> + Send>>,
    channels: Vec<String>,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl Listener {
    /// The channels it listens on.
    pub fn channels(&self) -> &[String] {
        &self.channels
    }
}

impl Stream for Listener {
    type Item = ListenEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ListenEvent>> {
        self.events.as_mut().poll_next(cx)
    }
}

/// Checks a channel name: Postgres would truncate a long one, and cut it at a NUL.
fn check_channel(channel: &str) -> Result<(), Error> {
    let reason = if channel.is_empty() {
        "a channel name cannot be empty"
    } else if channel.contains('\0') {
        "a channel name cannot contain NUL"
    } else if channel.len() > MAX_CHANNEL_BYTES {
        "a channel name is at most 63 bytes (Postgres would truncate it)"
    } else {
        return Ok(());
    };
    Err(Error::InvalidKey {
        key: channel.to_owned(),
        reason,
    })
}

impl Db {
    /// Listens on Postgres `channels` on a connection of its own (outside the pool);
    /// see [`Listener`]. The first connection must succeed; later losses are survived.
    /// Channel names are taken as written (quoted, so case counts), at most 63 bytes.
    /// On SQLite and MySQL, [`Error::Unsupported`].
    ///
    /// ```no_run
    /// # async fn demo() -> txova_db::Result<()> {
    /// use futures_util::StreamExt as _;
    /// use txova_db::{Db, ListenEvent};
    ///
    /// let db = Db::connect("postgres://localhost/rides").await?;
    /// let mut events = db.listen(["fares_changed"]).await?;
    /// db.notify("fares_changed", "zone:7").await?;
    /// while let Some(event) = events.next().await {
    ///     match event {
    ///         ListenEvent::Notification(n) => println!("{} changed", n.payload),
    ///         // Missed notifications: forget everything cached.
    ///         ListenEvent::Resubscribed { .. } => println!("flush the cache"),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn listen<I, S>(&self, channels: I) -> Result<Listener, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let channels: Vec<String> = channels.into_iter().map(Into::into).collect();
        for channel in &channels {
            check_channel(channel)?;
        }
        match &self.inner.pool {
            #[cfg(feature = "postgres")]
            super::Pool::Postgres(pool) => {
                let sqlx_pool = match pool {
                    super::pool::ConnPool::External(pool) => pool.clone(),
                    super::pool::ConnPool::Own(_) => sqlx::postgres::PgPoolOptions::new()
                        .max_connections(1)
                        .acquire_timeout(self.inner.config.connect_timeout)
                        .connect_lazy_with((*pool.connect_options()).clone()),
                };
                let events = postgres::subscribe(self.clone(), sqlx_pool, channels.clone()).await?;
                Ok(Listener { events, channels })
            }
            #[allow(unreachable_patterns)]
            _ => Err(Error::Unsupported {
                feature: "LISTEN/NOTIFY",
                backend: self.backend(),
            }),
        }
    }

    /// Sends `payload` on Postgres `channel` (`pg_notify`), delivered to its listeners
    /// when the sender's transaction commits (at once outside one). On SQLite and MySQL,
    /// [`Error::Unsupported`].
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<(), Error> {
        check_channel(channel)?;
        if self.backend() != Backend::Postgres {
            return Err(Error::Unsupported {
                feature: "LISTEN/NOTIFY",
                backend: self.backend(),
            });
        }
        crate::query::query("SELECT pg_notify($1, $2)")
            .bind(channel.to_owned())
            .bind(payload.to_owned())
            .execute(self)
            .await
            .map(drop)
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::pin::Pin;
    use std::time::Duration;

    use futures_util::Stream;
    use sqlx::postgres::{PgListener, PgPool};
    use tokio::time::Instant;

    use super::{ListenEvent, Notification};
    use crate::db::Db;
    use crate::error::Error;
    use crate::resilience::{Backoff, Jitter};

    /// The listener's state between events.
    struct State {
        db: Db,
        pool: PgPool,
        channels: Vec<String>,
        listener: Option<PgListener>,
        /// When the connection was lost, while it is.
        lost_at: Option<Instant>,
    }

    /// Opens the first connection (its failure is the caller's error) and returns the
    /// stream of events.
    pub(super) async fn subscribe(
        db: Db,
        pool: PgPool,
        channels: Vec<String>,
    ) -> Result<Pin<Box<dyn Stream<Item = ListenEvent> + Send>>, Error> {
        let listener = open(&pool, &channels).await.map_err(|err| db.error(err))?;
        let state = State {
            db,
            pool,
            channels,
            listener: Some(listener),
            lost_at: None,
        };
        Ok(Box::pin(futures_util::stream::unfold(state, next)))
    }

    async fn open(pool: &PgPool, channels: &[String]) -> Result<PgListener, sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        // This stream reconnects itself, and must see every loss to report it.
        listener.eager_reconnect(false);
        listener.ignore_pool_close_event(true);
        listener
            .listen_all(channels.iter().map(String::as_str))
            .await?;
        Ok(listener)
    }

    /// The next event: a notification, or a resubscription after a loss.
    async fn next(mut state: State) -> Option<(ListenEvent, State)> {
        let backoff =
            Backoff::new(Duration::from_millis(50), Duration::from_secs(2)).jitter(Jitter::Equal);
        let mut delays = backoff.delays();
        loop {
            match state.listener.as_mut() {
                Some(listener) => match listener.try_recv().await {
                    Ok(Some(notification)) => {
                        let event = ListenEvent::Notification(Notification {
                            channel: notification.channel().to_owned(),
                            payload: notification.payload().to_owned(),
                            process_id: notification.process_id(),
                        });
                        return Some((event, state));
                    }
                    // Lost (`None`), or an error the session may not survive: either
                    // way a new session, so no loss goes unreported.
                    lost => {
                        if let Err(error) = lost {
                            let error = state.db.error(error);
                            tracing::warn!(%error, channels = ?state.channels, "LISTEN connection failed; reconnecting");
                        } else {
                            tracing::warn!(channels = ?state.channels, "LISTEN connection lost; reconnecting");
                        }
                        state.listener = None;
                        state.lost_at = Some(Instant::now());
                    }
                },
                None => match open(&state.pool, &state.channels).await {
                    Ok(listener) => {
                        state.listener = Some(listener);
                        let after = state
                            .lost_at
                            .take()
                            .map_or(Duration::ZERO, |lost| lost.elapsed());
                        tracing::info!(channels = ?state.channels, ?after, "LISTEN resubscribed");
                        return Some((ListenEvent::Resubscribed { after }, state));
                    }
                    Err(error) => {
                        let error = state.db.error(error);
                        tracing::debug!(%error, "LISTEN reconnect failed; retrying");
                        let delay = delays.next().unwrap_or(Duration::from_secs(2));
                        tokio::time::sleep(delay).await;
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_postgres_would_alter_are_refused() {
        assert!(check_channel("fares_changed").is_ok());
        assert!(check_channel("Fares \"quoted\" ; DROP TABLE x").is_ok());
        assert!(check_channel(&"é".repeat(31)).is_ok());
        for bad in [String::new(), "a\0b".into(), "x".repeat(64), "é".repeat(32)] {
            let err = check_channel(&bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidKey, "{bad:?}");
        }
    }
}
