//! What the Redis patterns cost on the wire, counted by `MONITOR` on a server of the
//! test's own: commands a client sent, not the ones its scripts ran (`[0 lua]`).
//! A lock's acquire + release is 2, a rate-limit check 1, a session read 1.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use txova_db::lock::Locks;
use txova_db::rate_limit::{RateLimit, RateLimiter};
use txova_db::redis;
use txova_db::session::{NewSession, SessionConfig, Sessions};
use txova_db::store::Store;
use txova_db_test_support::RedisServer;

/// `redis-cli monitor` on `port`, its lines in a channel.
struct Monitor {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Monitor {
    fn start(port: u16) -> Self {
        let mut child = Command::new("redis-cli")
            .args(["-p", &port.to_string(), "monitor"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("redis-cli");
        let stdout = child.stdout.take().expect("piped");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let ok = lines
            .recv_timeout(Duration::from_secs(5))
            .expect("MONITOR answers");
        assert_eq!(ok, "OK");
        Self { child, lines }
    }

    /// The client commands seen up to the `ECHO` of `marker`, without it.
    fn commands_until(&self, marker: &str) -> Vec<String> {
        let mut commands = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(5))
                .expect("the marker reaches MONITOR");
            if line.contains("\"ECHO\"") && line.contains(marker) {
                return commands;
            }
            if !line.contains(" lua]") {
                commands.push(line);
            }
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn mark(store: &Store, marker: &str) {
    let client = store.as_redis().expect("redis");
    let _: String = client.query(redis::cmd("ECHO").arg(marker)).await.unwrap();
}

#[tokio::test]
async fn a_lock_costs_two_round_trips_a_rate_limit_check_and_a_session_read_one() {
    let Some(server) = RedisServer::start("a_lock_costs_two_round_trips") else {
        return;
    };
    let store = Store::redis(&server.url).await.unwrap();
    let locks = Locks::new(store.clone());
    let limiter = RateLimiter::new(store.clone());
    let limit = RateLimit::sliding_window(10, Duration::from_secs(60));
    // Load the scripts first: the first call on a server also sends SCRIPT LOAD.
    locks
        .acquire("warm")
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
    limiter.check(&limit, "warm").await.unwrap();

    let monitor = Monitor::start(server.port);
    mark(&store, "start").await;
    monitor.commands_until("start");

    let guard = locks.acquire("ride:assign:1").await.unwrap();
    guard.release().await.unwrap();
    mark(&store, "lock").await;
    let lock_commands = monitor.commands_until("lock");
    assert_eq!(
        lock_commands.len(),
        2,
        "acquire + release: {lock_commands:#?}"
    );
    assert!(
        lock_commands.iter().all(|c| c.contains("\"EVALSHA\"")),
        "{lock_commands:#?}"
    );

    for limit in [
        RateLimit::fixed_window(10, Duration::from_secs(1)),
        RateLimit::sliding_window(10, Duration::from_secs(60)),
        RateLimit::token_bucket(10, Duration::from_secs(3600)).burst(20),
    ] {
        limiter.check(&limit, "rider:1").await.unwrap();
        mark(&store, "limit").await;
        let limit_commands = monitor.commands_until("limit");
        // A script not loaded yet costs one NOSCRIPT reply and a reload; the second
        // check shows the steady state.
        limiter.check(&limit, "rider:1").await.unwrap();
        mark(&store, "limit").await;
        let steady = monitor.commands_until("limit");
        assert_eq!(steady.len(), 1, "{limit:?}: {steady:#?}");
        assert!(limit_commands.len() <= 3, "{limit_commands:#?}");
    }

    // A session read is one round trip, touching `last_active` or not.
    let mut config = SessionConfig::default();
    config.touch_interval = Duration::ZERO;
    let sessions = Sessions::with_config(store.clone(), config);
    let session = sessions.create(NewSession::new("rider-1")).await.unwrap();
    sessions.get(session.id.as_str()).await.unwrap();
    mark(&store, "session").await;
    monitor.commands_until("session");
    sessions.get(session.id.as_str()).await.unwrap().unwrap();
    mark(&store, "session").await;
    let get_commands = monitor.commands_until("session");
    assert_eq!(get_commands.len(), 1, "{get_commands:#?}");
    drop(monitor);
    drop(server);
}
