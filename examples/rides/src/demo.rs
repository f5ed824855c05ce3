//! The walkthrough: what `--demo` runs against the service over HTTP, and what the
//! service prints for a person to run with curl.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{AUTHORIZATION, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A step that did not answer as the walkthrough expects.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DemoError {
    #[error("{method} {path}: {source}")]
    Http {
        method: Method,
        path: String,
        source: reqwest::Error,
    },
    #[error("{method} {path}: expected {expected}, got {got}: {body}")]
    Unexpected {
        method: Method,
        path: String,
        expected: StatusCode,
        got: StatusCode,
        body: String,
    },
    #[error("{what}: {detail}")]
    Wrong { what: &'static str, detail: String },
}

/// One answer: status, headers and the JSON body (`Null` when there is none).
struct Reply {
    headers: HeaderMap,
    body: Value,
    elapsed_us: u128,
}

impl Reply {
    fn field(&self, name: &str) -> &Value {
        &self.body[name]
    }

    fn id(&self) -> i64 {
        self.body["id"].as_i64().unwrap_or_default()
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("-")
    }
}

/// An HTTP client for the service, signed in once `token` is set.
struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// `method path` with an optional JSON body; fails unless the status is `expected`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        expected: StatusCode,
    ) -> Result<Reply, DemoError> {
        let (status, reply) = self.send(method.clone(), path, body).await?;
        if status != expected {
            return Err(DemoError::Unexpected {
                method,
                path: path.to_owned(),
                expected,
                got: status,
                body: reply.body.to_string(),
            });
        }
        Ok(reply)
    }

    /// `method path` with an optional JSON body, whatever it answers.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Reply), DemoError> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let http_error = |source| DemoError::Http {
            method: method.clone(),
            path: path.to_owned(),
            source,
        };
        let started = Instant::now();
        let response = request.send().await.map_err(http_error)?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(http_error)?;
        let elapsed_us = started.elapsed().as_micros();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        println!(
            "  {:<6} {path:<38} {} {}",
            method.as_str(),
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        let reply = Reply {
            headers,
            body,
            elapsed_us,
        };
        Ok((status, reply))
    }
}

fn expect(
    what: &'static str,
    holds: bool,
    detail: impl FnOnce() -> String,
) -> Result<(), DemoError> {
    if holds {
        Ok(())
    } else {
        Err(DemoError::Wrong {
            what,
            detail: detail(),
        })
    }
}

/// An email and a password.
pub(crate) struct Credentials {
    pub(crate) email: String,
    pub(crate) password: String,
}

impl Credentials {
    /// `<who>+<run>@example.com` and 24 random characters.
    pub(crate) fn random(who: &str) -> Self {
        let password: String = (0..24)
            .map(|_| {
                char::from(
                    b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789"
                        [rand::random_range(0..55)],
                )
            })
            .collect();
        Self {
            email: format!("{who}+{}@example.com", run_id()),
            password,
        }
    }
}

/// Keeps repeated runs against a persistent database from colliding.
fn run_id() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_micros())
        .unwrap_or_default()
}

/// Walks through the whole API at `base` (`http://host:port`), printing each step;
/// `admin` is an admin account to manage drivers with.
pub(crate) async fn walkthrough(base: &str, admin: &Credentials) -> Result<(), DemoError> {
    let run = run_id();
    let ana = Credentials::random("ana");
    let email = ana.email.clone();
    let mut client = Client {
        http: reqwest::Client::new(),
        base: base.to_owned(),
        token: None,
    };

    println!("\n1. The service is healthy: the monitor pings the database and the store.");
    let health = client
        .call(Method::GET, "/health", None, StatusCode::OK)
        .await?;
    println!(
        "     {} (status only: the details are for admins)",
        health.body
    );

    println!("\n2. Ana signs up. Signing up again with her email answers exactly the same:");
    println!("   sign-up does not tell anyone which emails have accounts.");
    let signed_up = client
        .call(
            Method::POST,
            "/users",
            Some(json!({ "name": "Ana Machava", "email": email, "password": ana.password })),
            StatusCode::ACCEPTED,
        )
        .await?;
    let again = client
        .call(
            Method::POST,
            "/users",
            Some(json!({ "name": "Not Ana", "email": email, "password": "a different one" })),
            StatusCode::ACCEPTED,
        )
        .await?;
    expect("sign-up answers", signed_up.body == again.body, || {
        format!("{} then {}", signed_up.body, again.body)
    })?;

    println!("\n3. She signs in (a session in the store; its id is her bearer token). A wrong");
    println!("   password and an unknown email get the same 401.");
    client
        .call(Method::GET, "/me", None, StatusCode::UNAUTHORIZED)
        .await?;
    let wrong = client
        .call(
            Method::POST,
            "/sessions",
            Some(json!({ "email": email, "password": "not her password" })),
            StatusCode::UNAUTHORIZED,
        )
        .await?;
    let unknown = client
        .call(
            Method::POST,
            "/sessions",
            Some(json!({ "email": format!("nobody+{run}@example.com"), "password": "whatever it is" })),
            StatusCode::UNAUTHORIZED,
        )
        .await?;
    expect("sign-in refusals", wrong.body == unknown.body, || {
        format!("{} then {}", wrong.body, unknown.body)
    })?;
    println!("     {}", wrong.field("message"));
    let login = client
        .call(
            Method::POST,
            "/sessions",
            Some(json!({ "email": email, "password": ana.password, "device_id": "android-3f9c" })),
            StatusCode::CREATED,
        )
        .await?;
    client.token = login.field("token").as_str().map(str::to_owned);

    println!("\n4. Drivers are managed by admins: Ana is refused; the admin adds three.");
    client
        .call(
            Method::POST,
            "/drivers",
            Some(json!({ "name": "Mr. Nobody", "plate": format!("XX-{run}") })),
            StatusCode::FORBIDDEN,
        )
        .await?;
    let mut operator = Client {
        http: reqwest::Client::new(),
        base: base.to_owned(),
        token: None,
    };
    let admin_login = operator
        .call(
            Method::POST,
            "/sessions",
            Some(json!({ "email": admin.email, "password": admin.password })),
            StatusCode::CREATED,
        )
        .await?;
    operator.token = admin_login.field("token").as_str().map(str::to_owned);
    for (i, name) in ["Rui Cossa", "Zito Langa", "Lúcia Nhantumbo"]
        .iter()
        .enumerate()
    {
        operator
            .call(
                Method::POST,
                "/drivers",
                Some(json!({ "name": name, "plate": format!("MZ-{}-{i}", run % 1_000_000) })),
                StatusCode::CREATED,
            )
            .await?;
    }
    let details = operator
        .call(Method::GET, "/health/details", None, StatusCode::OK)
        .await?;
    println!(
        "     the admin's /health/details: {} components",
        details.field("components").as_array().map_or(0, Vec::len)
    );

    println!("\n5. Her profile: the first read runs the queries, the second is a cache hit.");
    let miss = client
        .call(Method::GET, "/me", None, StatusCode::OK)
        .await?;
    let hit = client
        .call(Method::GET, "/me", None, StatusCode::OK)
        .await?;
    println!(
        "     {} µs, then {} µs from the cache",
        miss.elapsed_us, hit.elapsed_us
    );

    println!("\n6. Ride requests are rate limited per rider: a burst of 3, then 429.");
    let request_ride = |fare: i64, expected: StatusCode| {
        let body = json!({
            "pickup": "Avenida Julius Nyerere 1200",
            "dropoff": "Aeroporto Internacional de Maputo",
            "fare_cents": fare,
        });
        client.call(Method::POST, "/rides", Some(body), expected)
    };
    let first = request_ride(45_000, StatusCode::CREATED).await?;
    println!(
        "     ride {}, RateLimit-Remaining {}",
        first.id(),
        first.header("ratelimit-remaining")
    );
    let negative = request_ride(-1, StatusCode::UNPROCESSABLE_ENTITY).await?;
    println!("     a negative fare: {}", negative.field("message"));
    let second = request_ride(12_500, StatusCode::CREATED).await?;
    println!(
        "     ride {}, RateLimit-Remaining {}",
        second.id(),
        second.header("ratelimit-remaining")
    );
    let refused = request_ride(9_900, StatusCode::TOO_MANY_REQUESTS).await?;
    println!(
        "     refused: RateLimit-Policy {}, Retry-After {} s",
        refused.header("ratelimit-policy"),
        refused.header("retry-after")
    );

    println!(
        "\n7. Two dispatchers race for ride {}: the lock lets one assign it.",
        first.id()
    );
    let path = format!("/rides/{}/assign", first.id());
    let (one, other) = tokio::join!(
        client.send(Method::POST, &path, None),
        client.send(Method::POST, &path, None),
    );
    // Either may win; what matters is one assignment and one refusal.
    let assignment = match (one?, other?) {
        ((StatusCode::OK, won), (StatusCode::CONFLICT, lost))
        | ((StatusCode::CONFLICT, lost), (StatusCode::OK, won)) => {
            println!("     the other dispatcher: {}", lost.field("message"));
            won
        }
        ((first, _), (second, _)) => {
            return Err(DemoError::Wrong {
                what: "racing dispatchers",
                detail: format!("expected one 200 and one 409, got {first} and {second}"),
            });
        }
    };
    let driver = assignment
        .body
        .pointer("/driver/name")
        .cloned()
        .unwrap_or_default();
    println!(
        "     assigned to {driver} under fencing token {}",
        assignment
            .body
            .pointer("/fencing_token")
            .cloned()
            .unwrap_or_default()
    );

    println!("\n8. The ride completes; the driver is free again (one transaction).");
    client
        .call(
            Method::POST,
            &format!("/rides/{}/complete", first.id()),
            None,
            StatusCode::OK,
        )
        .await?;
    let free = client
        .call(Method::GET, "/drivers?available=true", None, StatusCode::OK)
        .await?;
    let free_now = free.body.as_array().map_or(0, Vec::len);
    expect("free drivers after completion", free_now >= 3, || {
        format!("{free_now} free")
    })?;

    println!("\n9. A rename evicts the cached profile; the counts are fresh too.");
    client
        .call(
            Method::PATCH,
            "/me",
            Some(json!({ "name": "Ana M. Machava" })),
            StatusCode::OK,
        )
        .await?;
    let profile = client
        .call(Method::GET, "/me", None, StatusCode::OK)
        .await?;
    println!("     {}", profile.body);
    expect(
        "profile after rename and completion",
        profile.field("name") == "Ana M. Machava"
            && profile.field("rides_requested") == 2
            && profile.field("rides_completed") == 1,
        || profile.body.to_string(),
    )?;

    println!("\n10. Her rides, most expensive first; a sort key must name a sortable column.");
    let page = client
        .call(
            Method::GET,
            "/rides?sort=-fare_cents&per_page=1",
            None,
            StatusCode::OK,
        )
        .await?;
    println!(
        "     page 1 of {} rides: fare {}",
        page.field("total"),
        page.body
            .pointer("/items/0/fare_cents")
            .cloned()
            .unwrap_or_default()
    );
    let bad_sort = client
        .call(
            Method::GET,
            "/rides?sort=password",
            None,
            StatusCode::BAD_REQUEST,
        )
        .await?;
    println!("     {}", bad_sort.field("message"));

    println!("\n11. Sizes are limited: a body over 16 KiB is refused unread (413), a field");
    println!("   over its length is named in a 422.");
    let (status, _) = client
        .send(
            Method::POST,
            "/rides",
            Some(json!({ "pickup": "x".repeat(20_000), "dropoff": "y", "fare_cents": 1 })),
        )
        .await?;
    expect(
        "an oversized body",
        status == StatusCode::PAYLOAD_TOO_LARGE,
        || format!("got {status}"),
    )?;
    let long = client
        .call(
            Method::PATCH,
            "/me",
            Some(json!({ "name": "A".repeat(500) })),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await?;
    println!("     {}", long.field("message"));

    println!("\n12. The metrics a Prometheus scrape sees.");
    let metrics = client
        .call(Method::GET, "/metrics", None, StatusCode::OK)
        .await?;
    let text = metrics.body.as_str().unwrap_or_default();
    for line in text.lines().filter(|line| {
        line.starts_with("txova_db_cache_")
            || line.starts_with("txova_db_rate_limit_rejections_total")
            || line.starts_with("txova_db_pool_connections")
    }) {
        println!("     {line}");
    }
    expect(
        "metrics",
        text.contains("txova_db_query_duration_seconds_bucket")
            && text.contains("txova_db_cache_hits_total"),
        || "query histogram or cache counters missing".to_owned(),
    )?;

    println!("\n13. Ana signs out; her token no longer works.");
    client
        .call(
            Method::DELETE,
            "/sessions/current",
            None,
            StatusCode::NO_CONTENT,
        )
        .await?;
    client
        .call(Method::GET, "/me", None, StatusCode::UNAUTHORIZED)
        .await?;
    println!("\nWalkthrough complete.");
    Ok(())
}

/// The same walkthrough as curl commands, for the service at `base`.
pub(crate) fn curl_walkthrough(base: &str) -> String {
    let json = "-H 'content-type: application/json'";
    let auth = "-H \"authorization: Bearer $TOKEN\"";
    [
        format!("curl -s {base}/health"),
        format!(
            "curl -s -X POST {base}/users {json} -d '{{\"name\":\"Ana Machava\",\"email\":\"ana@example.com\",\"password\":\"correct horse battery\"}}'"
        ),
        format!(
            "TOKEN=$(curl -s -X POST {base}/sessions {json} -d '{{\"email\":\"ana@example.com\",\"password\":\"correct horse battery\"}}' | sed -E 's/.*\"token\":\"([^\"]+)\".*/\\1/')"
        ),
        "# drivers need an admin: start the service with RIDES_ADMIN_EMAIL and RIDES_ADMIN_PASSWORD, sign in as that account, and POST /drivers {\"name\", \"plate\"} with its token".to_owned(),
        format!("curl -s {base}/me {auth}"),
        format!(
            "curl -si -X POST {base}/rides {json} {auth} -d '{{\"pickup\":\"Baixa\",\"dropoff\":\"Aeroporto\",\"fare_cents\":45000}}'"
        ),
        format!("curl -s -X POST {base}/rides/1/assign {auth}"),
        format!("curl -s -X POST {base}/rides/1/complete {auth}"),
        format!("curl -s '{base}/rides?sort=-fare_cents&per_page=5' {auth}"),
        format!("curl -s {base}/metrics"),
        format!("curl -s -X DELETE {base}/sessions/current {auth}"),
    ]
    .iter()
    .map(|line| format!("  {line}\n"))
    .collect()
}
