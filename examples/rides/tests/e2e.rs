//! End to end: the `rides` binary started as a process, driven over HTTP, on the
//! embedded default (SQLite + in-process store), on Postgres + Redis and (built with the
//! `mysql` feature) on MariaDB + Redis.
//!
//! Server tests get a database of their own (created here, dropped at the end) and a
//! Redis server of their own (`RedisServer`), so their ids and keys never meet another
//! test's.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use txova_db::Db;
use txova_db_test_support::{RedisServer, Service, server_url, unique_name};

/// The admin account every service under test is started with.
const ADMIN_EMAIL: &str = "ops@example.com";
const ADMIN_PASSWORD: &str = "a long admin password";

/// Where the service under test keeps its data.
struct Backends {
    database_url: Option<String>,
    redis: Option<RedisServer>,
    fresh_database: Option<FreshDatabase>,
}

impl Backends {
    fn embedded() -> Self {
        Self {
            database_url: None,
            redis: None,
            fresh_database: None,
        }
    }

    /// A new Postgres database and a new Redis server, or `None` (after saying why)
    /// where there are none.
    async fn postgres_and_redis(test: &str) -> Option<Self> {
        Self::server_and_redis(Service::Postgres, test).await
    }

    /// The same on MariaDB.
    #[cfg(feature = "mysql")]
    async fn mariadb_and_redis(test: &str) -> Option<Self> {
        Self::server_and_redis(Service::MySql, test).await
    }

    async fn server_and_redis(service: Service, test: &str) -> Option<Self> {
        let server = server_url(service, test)?;
        let redis = RedisServer::start(test)?;
        let fresh = FreshDatabase::create(&server).await;
        Some(Self {
            database_url: Some(fresh.url.clone()),
            redis: Some(redis),
            fresh_database: Some(fresh),
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rides"));
        command
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env("RUST_LOG", "warn")
            .env("RIDES_HEALTH_INTERVAL", "100ms")
            .env("RIDES_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("RIDES_ADMIN_PASSWORD", ADMIN_PASSWORD);
        if let Some(url) = &self.database_url {
            command.env("DATABASE_URL", url);
        }
        if let Some(redis) = &self.redis {
            command.env("REDIS_URL", &redis.url);
        }
        command
    }

    async fn clean_up(self) {
        if let Some(fresh) = self.fresh_database {
            fresh.drop_database().await;
        }
    }
}

/// A Postgres or MariaDB database made for one test.
struct FreshDatabase {
    admin: Db,
    name: String,
    url: String,
}

impl FreshDatabase {
    async fn create(server: &str) -> Self {
        let admin = Db::connect(server).await.expect("connect to the server");
        let name = unique_name("rides_e2e");
        txova_db::query(format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create the test database");
        let mut url = url::Url::parse(server).expect("server url");
        url.set_path(&name);
        Self {
            admin,
            name,
            url: url.into(),
        }
    }

    async fn drop_database(self) {
        // Postgres refuses to drop a database with sessions unless forced; MariaDB has
        // no such clause (the service, killed by now, held the only sessions).
        let force = match self.admin.backend() {
            txova_db::Backend::Postgres => " WITH (FORCE)",
            _ => "",
        };
        txova_db::query(format!("DROP DATABASE IF EXISTS {}{force}", self.name))
            .execute(&self.admin)
            .await
            .expect("drop the test database");
        self.admin.close().await;
    }
}

/// The service running as a child process; killed when dropped.
struct Running {
    child: Child,
    base: String,
    /// The management listener: the health report and metrics without sign-in.
    admin: String,
}

impl Running {
    /// Starts the service on a free port and waits for its "listening on" line.
    fn start(backends: &Backends) -> Self {
        Self::start_with(backends, &[])
    }

    /// [`start`](Self::start) with more arguments.
    fn start_with(backends: &Backends, more: &[&str]) -> Self {
        let mut args = vec!["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"];
        args.extend_from_slice(more);
        let mut child = backends
            .command(&args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the rides binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stdout = BufReader::new(stdout);
        let mut first = String::new();
        stdout
            .read_line(&mut first)
            .expect("read the service's first line");
        // Keep reading, so the service never writes into a full or closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let mut addresses = first
            .split([' ', ',', '('])
            .filter(|word| word.starts_with("http://"))
            .map(str::to_owned);
        let base = addresses
            .next()
            .unwrap_or_else(|| panic!("no address in {first:?}"));
        let admin = addresses
            .next()
            .unwrap_or_else(|| panic!("no admin address in {first:?}"));
        Self { child, base, admin }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `rides --demo` and checks it walks through to the end.
async fn demo_passes(backends: &Backends) {
    let mut command = backends.command(&["--demo"]);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run rides --demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "rides --demo failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "202 Accepted",
        "401 Unauthorized",
        "403 Forbidden",
        "409 Conflict",
        "413 Payload Too Large",
        "422 Unprocessable Entity",
        "429 Too Many Requests",
        "Walkthrough complete.",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}");
    }
}

/// An HTTP client for one rider.
struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    email: String,
    password: String,
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl Api {
    fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.to_owned(),
            token: None,
            email: String::new(),
            password: String::new(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// Signs up and in as a new rider.
    async fn rider(base: &str, name: &str) -> (Self, i64) {
        let mut api = Self::new(base);
        api.email = format!("{}@example.com", unique_name(name));
        api.password = format!("{name}'s password");
        let user = api
            .post(
                "/users",
                json!({ "name": name, "email": api.email, "password": api.password }),
            )
            .await;
        assert_eq!(user.status, StatusCode::ACCEPTED, "{}", user.body);
        let user_id = api.sign_in().await;
        (api, user_id)
    }

    /// Signs in as the admin the service was started with.
    async fn admin(base: &str) -> Self {
        let mut api = Self::new(base);
        api.email = ADMIN_EMAIL.into();
        api.password = ADMIN_PASSWORD.into();
        api.sign_in().await;
        api
    }

    /// Signs in with this client's email and password; the user's id.
    async fn sign_in(&mut self) -> i64 {
        let login = self
            .post(
                "/sessions",
                json!({ "email": self.email, "password": self.password }),
            )
            .await;
        assert_eq!(login.status, StatusCode::CREATED, "{}", login.body);
        self.token = login.body["token"].as_str().map(str::to_owned);
        login.body["user_id"].as_i64().expect("user id")
    }

    /// The value of the sample `name` (with its labels, as rendered) in `/metrics`.
    async fn metric(&self, sample: &str) -> f64 {
        let scrape = self.get("/metrics").await;
        let text = scrape.body.as_str().unwrap_or_default();
        text.lines()
            .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }
}

/// Eight digits, for a plate no other run uses (plates are at most 16 characters).
fn rand_suffix() -> String {
    let name = unique_name("p");
    let digits: String = name.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(8)..].to_owned()
}

fn ride(fare_cents: i64) -> Value {
    json!({ "pickup": "Baixa", "dropoff": "Aeroporto", "fare_cents": fare_cents })
}

/// Drives every route and checks what it answers, beyond the walkthrough.
async fn api_behaves(base: &str) {
    let anonymous = Api::new(base);

    // Health: the status to anyone, nothing more; the report to admins only.
    let health = anonymous.get("/health").await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.body);
    assert_eq!(health.body, json!({ "status": "up" }));
    assert_eq!(
        anonymous.get("/health/details").await.status,
        StatusCode::UNAUTHORIZED
    );
    let admin = Api::admin(base).await;
    let details = admin.get("/health/details").await;
    assert_eq!(details.status, StatusCode::OK, "{}", details.body);
    let names: Vec<&str> = details.body["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|component| component["name"].as_str())
        .collect();
    assert_eq!(names, ["database", "store"]);

    // No token, a made-up token: 401 with the way out in the message.
    assert_eq!(anonymous.get("/me").await.status, StatusCode::UNAUTHORIZED);
    let forged = Api {
        token: Some("not-a-session".into()),
        ..Api::new(base)
    };
    let refused = forged.get("/rides").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Bearer")
    );

    // Malformed requests are refused before the database.
    let bad = anonymous
        .post(
            "/users",
            json!({ "name": " ", "email": "nobody", "password": "long enough, surely" }),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let short = anonymous
        .post(
            "/users",
            json!({ "name": "Eva", "email": "eva@example.com", "password": "short" }),
        )
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);

    let (ana, ana_id) = Api::rider(base, "ana").await;
    let (zito, _) = Api::rider(base, "zito").await;

    // Sign-up of a taken email answers as a new one; a wrong password as an unknown
    // email: neither tells which emails have accounts.
    let fresh = anonymous
        .post(
            "/users",
            json!({ "name": "New", "email": format!("{}@example.com", unique_name("new")), "password": "a fresh password" }),
        )
        .await;
    let taken = anonymous
        .post(
            "/users",
            json!({ "name": "Impostor", "email": ana.email, "password": "the impostor's one" }),
        )
        .await;
    assert_eq!((fresh.status, &fresh.body), (taken.status, &taken.body));
    assert_eq!(fresh.status, StatusCode::ACCEPTED);
    let wrong = anonymous
        .post(
            "/sessions",
            json!({ "email": ana.email, "password": "the impostor's one" }),
        )
        .await;
    let unknown = anonymous
        .post(
            "/sessions",
            json!({ "email": format!("{}@example.com", unique_name("nobody")), "password": "anything at all" }),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body));
    // Ana's own password still works: the impostor's sign-up changed nothing.
    let mut ana_again = Api::new(base);
    ana_again.email = ana.email.clone();
    ana_again.password = ana.password.clone();
    assert_eq!(ana_again.sign_in().await, ana_id);

    // Sizes: a body past 16 KiB is a 413, a field past its length a 422 naming it, and
    // a huge User-Agent is kept cut short rather than stored whole.
    let huge = ana
        .post(
            "/rides",
            json!({ "pickup": "x".repeat(20_000), "dropoff": "y", "fare_cents": 1 }),
        )
        .await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);
    let long = ana
        .post(
            "/rides",
            json!({ "pickup": "x".repeat(201), "dropoff": "y", "fare_cents": 1 }),
        )
        .await;
    assert_eq!(
        long.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        long.body
    );
    assert!(
        long.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("pickup")
    );
    let agent = reqwest::Client::new()
        .post(format!("{base}/sessions"))
        .header("user-agent", "A".repeat(8_000))
        .json(&json!({ "email": ana.email, "password": ana.password }))
        .send()
        .await
        .expect("request");
    assert_eq!(agent.status(), StatusCode::CREATED);

    // No driver yet: dispatch says so.
    let first = ana.post("/rides", ride(30_000)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.header("ratelimit-limit"), Some("3"));
    assert_eq!(first.header("ratelimit-remaining"), Some("2"));
    assert_eq!(first.header("ratelimit-policy"), Some("3;w=60"));
    assert!(first.header("retry-after").is_none());
    let ride_id = first.body["id"].as_i64().expect("ride id");
    let assign = format!("/rides/{ride_id}/assign");
    let none_free = ana.post(&assign, json!(null)).await;
    assert_eq!(none_free.status, StatusCode::CONFLICT, "{}", none_free.body);

    // Someone else's ride is not found, whatever the verb.
    assert_eq!(
        zito.get(&format!("/rides/{ride_id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        zito.post(&assign, json!(null)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        zito.post(&format!("/rides/{ride_id}/complete"), json!(null))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Completing a ride that has no driver yet is a conflict, not a silent no-op.
    let early = ana
        .post(&format!("/rides/{ride_id}/complete"), json!(null))
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);

    // Drivers are the admin's: anyone else is refused. A plate is unique; the second
    // driver with it is refused by its constraint.
    let plate = format!("MZ{}", rand_suffix());
    let driver = json!({ "name": "Rui Cossa", "plate": plate });
    assert_eq!(
        anonymous.post("/drivers", driver.clone()).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ana.post("/drivers", driver.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    let created = admin.post("/drivers", driver).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let twin = admin
        .post("/drivers", json!({ "name": "Rui Again", "plate": plate }))
        .await;
    assert_eq!(twin.status, StatusCode::CONFLICT, "{}", twin.body);

    // Eight dispatchers at once: one assignment, seven refusals, one fencing token.
    // (The conditional UPDATE alone would give one assignment; the lock is what makes
    // them take turns, and each of the eight took it.)
    let locks_taken = ana.metric("txova_db_lock_wait_seconds_count").await;
    let attempts = join_all((0..8).map(|_| ana.post(&assign, json!(null)))).await;
    assert_eq!(
        ana.metric("txova_db_lock_wait_seconds_count").await,
        locks_taken + 8.0,
        "every dispatcher held ride {ride_id}'s lock"
    );
    let won: Vec<&Answer> = attempts
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .collect();
    assert_eq!(
        won.len(),
        1,
        "{:?}",
        attempts.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert!(
        attempts
            .iter()
            .all(|a| a.status == StatusCode::OK || a.status == StatusCode::CONFLICT)
    );
    assert_eq!(won[0].body["driver"]["plate"], plate.as_str());
    assert!(won[0].body["fencing_token"].as_u64().expect("token") >= 1);
    let free = anonymous.get("/drivers?available=true").await;
    assert_eq!(free.body.as_array().map(Vec::len), Some(0));

    // The cached profile: hits counted, evicted by a completion.
    let hits = ana.metric("txova_db_cache_hits_total").await;
    let profile = ana.get("/me").await;
    assert_eq!(profile.body["rides_requested"], 1);
    assert_eq!(ana.get("/me").await.body, profile.body);
    assert_eq!(ana.metric("txova_db_cache_hits_total").await, hits + 1.0);
    let done = ana
        .post(&format!("/rides/{ride_id}/complete"), json!(null))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["status"], "completed");
    assert_eq!(ana.get("/me").await.body["rides_completed"], 1);
    let free = anonymous.get("/drivers?available=true").await;
    assert_eq!(free.body.as_array().map(Vec::len), Some(1));

    // Two more requests use up the burst of 3; the fourth is refused with the headers.
    for fare in [10_000, 20_000] {
        assert_eq!(
            ana.post("/rides", ride(fare)).await.status,
            StatusCode::CREATED
        );
    }
    let limited = ana.post("/rides", ride(5_000)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["error"], "rate_limited");
    assert_eq!(limited.header("ratelimit-remaining"), Some("0"));
    let retry_after: u64 = limited
        .header("retry-after")
        .and_then(|value| value.parse().ok())
        .expect("Retry-After");
    assert!((1..=20).contains(&retry_after), "Retry-After {retry_after}");
    // The limit is per rider: Zito still has his whole burst.
    assert_eq!(
        zito.post("/rides", ride(1_000)).await.status,
        StatusCode::CREATED
    );

    // Pages and sort keys.
    let page = ana.get("/rides?sort=-fare_cents&per_page=2&page=1").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.body["total"], 3);
    let fares: Vec<i64> = page.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|ride| ride["fare_cents"].as_i64())
        .collect();
    assert_eq!(fares, [30_000, 20_000]);
    let unsortable = ana.get("/rides?sort=pickup").await;
    assert_eq!(unsortable.status, StatusCode::BAD_REQUEST);
    assert!(
        unsortable.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("fare_cents")
    );

    // Renames evict the profile at once.
    let renamed = ana
        .send(
            reqwest::Method::PATCH,
            "/me",
            Some(json!({ "name": "Ana M." })),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK);
    let profile = ana.get("/me").await;
    assert_eq!(profile.body["name"], "Ana M.");
    assert_eq!(profile.body["id"], ana_id);

    // Metrics in Prometheus' text format, with txova-db's and the service's own.
    let scrape = anonymous.get("/metrics").await;
    assert_eq!(
        scrape.header("content-type"),
        Some("text/plain; version=0.0.4")
    );
    let text = scrape.body.as_str().expect("text");
    for family in [
        "txova_db_query_duration_seconds_bucket",
        "txova_db_pool_connections{",
        "txova_db_lock_wait_seconds",
        "txova_db_rate_limit_rejections_total",
        "txova_db_health_status{component=\"store\"} ",
        "rides_http_request_duration_seconds_bucket{method=\"POST\",route=\"/rides/{id}/assign\",status=\"409\"",
    ] {
        assert!(text.contains(family), "no {family} in /metrics:\n{text}");
    }
    assert!(text.contains("# HELP txova_db_query_duration_seconds Time a statement ran"));
    promtool_passes(text);

    // Signing out ends this session only.
    let ana_phone = Api::new(base);
    let second = ana_phone
        .post(
            "/sessions",
            json!({ "email": ana.email, "password": ana.password }),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED);
    let out = ana
        .send(reqwest::Method::DELETE, "/sessions/current", None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(ana.get("/me").await.status, StatusCode::UNAUTHORIZED);
    let phone = Api {
        token: second.body["token"].as_str().map(str::to_owned),
        ..Api::new(base)
    };
    assert_eq!(phone.get("/me").await.status, StatusCode::OK);
}

/// Waits up to 10 s for `/health/details` to answer `status`.
async fn health_becomes(api: &Api, status: StatusCode) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = api.get("/health/details").await;
        if answer.status == status || Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_on_the_embedded_default() {
    demo_passes(&Backends::embedded()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_on_postgres_and_redis() {
    let Some(backends) = Backends::postgres_and_redis("demo_runs_on_postgres_and_redis").await
    else {
        return;
    };
    demo_passes(&backends).await;
    backends.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_on_the_embedded_default() {
    let backends = Backends::embedded();
    let service = Running::start(&backends);
    api_behaves(&service.base).await;
}

/// `--data-dir`: the service killed (SIGKILL, no shutdown) and started again on the
/// same directory still knows its users and their sessions: the old token signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_on_the_data_dir_keeps_users_signed_in() {
    let dir = std::env::temp_dir().join(unique_name("rides_data"));
    let data_dir = dir.to_str().expect("a UTF-8 temp path");
    let backends = Backends::embedded();

    let first = Running::start_with(&backends, &["--data-dir", data_dir]);
    let (rider, user_id) = Api::rider(&first.base, "Dara").await;
    let before = rider.get("/me").await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    let token = rider.token.clone().expect("signed in");
    drop(first);

    let second = Running::start_with(&backends, &["--data-dir", data_dir]);
    let mut again = Api::new(&second.base);
    again.token = Some(token);
    let after = again.get("/me").await;
    assert_eq!(
        after.status,
        StatusCode::OK,
        "the old session: {}",
        after.body
    );
    assert_eq!(after.body["id"].as_i64(), Some(user_id), "{}", after.body);
    assert_eq!(after.body["name"], before.body["name"]);

    // A signed-out session stays signed out across the next restart.
    let signed_out = again
        .send(reqwest::Method::DELETE, "/sessions/current", None)
        .await;
    assert!(signed_out.status.is_success(), "{}", signed_out.body);
    drop(second);
    let third = Running::start_with(&backends, &["--data-dir", data_dir]);
    again.base = third.base.clone();
    assert_eq!(again.get("/me").await.status, StatusCode::UNAUTHORIZED);
    drop(third);
    std::fs::remove_dir_all(&dir).expect("remove the data directory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_on_postgres_and_redis() {
    let Some(backends) = Backends::postgres_and_redis("api_on_postgres_and_redis").await else {
        return;
    };
    let service = Running::start(&backends);
    api_behaves(&service.base).await;
    drop(service);
    backends.clean_up().await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_on_mariadb_and_redis() {
    let Some(backends) = Backends::mariadb_and_redis("demo_runs_on_mariadb_and_redis").await else {
        return;
    };
    demo_passes(&backends).await;
    backends.clean_up().await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_on_mariadb_and_redis() {
    let Some(backends) = Backends::mariadb_and_redis("api_on_mariadb_and_redis").await else {
        return;
    };
    let service = Running::start(&backends);
    api_behaves(&service.base).await;
    drop(service);
    backends.clean_up().await;
}

/// `/health` follows the store: Redis killed → 503 with the store down, Redis back →
/// 200, the outage in the report; the database stays up throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_a_redis_outage() {
    let Some(mut backends) = Backends::postgres_and_redis("health_follows_a_redis_outage").await
    else {
        return;
    };
    let service = Running::start(&backends);
    // The management listener: it answers whatever the session store's state.
    let api = Api::new(&service.admin);
    assert_eq!(
        health_becomes(&api, StatusCode::OK).await.status,
        StatusCode::OK
    );

    backends.redis.as_mut().expect("redis").kill();
    let down = health_becomes(&api, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.body
    );
    let components = down.body["components"].as_array().expect("components");
    let status_of = |name: &str| {
        components
            .iter()
            .find(|component| component["name"] == name)
            .map(|component| component["status"].clone())
    };
    assert_eq!(status_of("store"), Some(json!("down")));
    assert_eq!(status_of("database"), Some(json!("up")));

    backends
        .redis
        .as_mut()
        .expect("redis")
        .restart()
        .expect("restart redis");
    let up = health_becomes(&api, StatusCode::OK).await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.body);
    let store = up.body["components"]
        .as_array()
        .and_then(|components| components.iter().find(|c| c["name"] == "store"))
        .expect("store component");
    assert_eq!(store["outages"], 1);
    assert!(store["last_outage"]["ended"].is_string(), "{store}");

    drop(service);
    backends.clean_up().await;
}

/// Prometheus' own linter finds nothing wrong with the exposition: every series has
/// help text, counters end in `_total`, units are base units.
fn promtool_passes(exposition: &str) {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        txova_db_test_support::skip(
            "promtool_passes",
            "promtool is not installed (Debian: apt-get install prometheus)",
        );
        return;
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(exposition.as_bytes())
        .expect("write to promtool");
    let output = child.wait_with_output().expect("promtool");
    assert!(
        output.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
