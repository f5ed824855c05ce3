//! What the service asks of its database, pinned: the hot queries read through an
//! index, and each request runs a fixed number of statements (a change that adds a
//! query per row, or a query per request, fails here before it reaches production).
//! On the embedded default, in process.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use metrics_exporter_prometheus::PrometheusBuilder;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use txova_db::store::Store;
use txova_db::testing::{Captured, assert_no_seq_scan, capture};
use txova_db::{DbConfig, Table as _};

use crate::model::{Ride, RideSort, User};
use crate::repo::hot;
use crate::service::{self, AppState};

const ADMIN: (&str, &str) = ("admin@example.com", "an admin password");

async fn app() -> (Router, AppState) {
    let metrics = PrometheusBuilder::new().build_recorder().handle();
    let state = service::start_with(DbConfig::default(), Store::embedded(), metrics)
        .await
        .expect("the service starts on the embedded default");
    service::seed_admin(&state.users, ADMIN.0, ADMIN.1)
        .await
        .expect("the admin");
    (crate::api::router(state.clone()), state)
}

/// One request, in this task (so its statements are captured): the status, the JSON
/// body and the statements.
async fn call(
    app: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value, Captured) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let mut request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("a request");
    request
        .extensions_mut()
        .insert(ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            4000,
        ))));
    let (response, captured) = capture(app.clone().oneshot(request)).await;
    let response = response.expect("the router answers");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("the body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body, captured)
}

async fn sign_in(app: &Router, email: &str, password: &str) -> String {
    let (status, body, _) = call(
        app,
        Method::POST,
        "/sessions",
        None,
        Some(json!({ "email": email, "password": password })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["token"].as_str().expect("a token").to_owned()
}

#[tokio::test]
async fn each_request_runs_a_fixed_number_of_statements() {
    let (app, _state) = app().await;
    let admin = sign_in(&app, ADMIN.0, ADMIN.1).await;

    let expect = |what: &str, status: StatusCode, captured: Captured, statements: usize| {
        assert!(status.is_success(), "{what}: {status}");
        assert_eq!(
            captured.len(),
            statements,
            "{what} ran {} statements:\n{captured}",
            captured.len()
        );
        // The ride is read twice by its assignment (whose is it, then again under the
        // lock); three runs of one statement would be a loop.
        captured.assert_no_n_plus_one(2);
    };

    let (status, _, captured) = call(
        &app,
        Method::POST,
        "/users",
        None,
        Some(json!({ "name": "Ana", "email": "ana@example.com", "password": "ana's password" })),
    )
    .await;
    expect("sign-up: an INSERT … RETURNING", status, captured, 1);

    let (status, body, captured) = call(
        &app,
        Method::POST,
        "/sessions",
        None,
        Some(json!({ "email": "ana@example.com", "password": "ana's password" })),
    )
    .await;
    expect("sign-in: the account by email", status, captured, 1);
    let ana = body["token"].as_str().expect("a token").to_owned();

    let (status, profile, captured) = call(&app, Method::GET, "/me", Some(&ana), None).await;
    expect(
        "profile, missed: the user with their referrer, and two counts",
        status,
        captured,
        3,
    );
    assert_eq!(profile["referred_by"], Value::Null, "{profile}");
    let ana_id = profile["id"].as_i64().expect("Ana's id");
    let (status, _, captured) = call(&app, Method::GET, "/me", Some(&ana), None).await;
    expect("profile, cached", status, captured, 0);

    // A rider Ana referred: the profile names her, read through the self-join.
    let (status, _, captured) = call(
        &app,
        Method::POST,
        "/users",
        None,
        Some(json!({
            "name": "Bea", "email": "bea@example.com", "password": "bea's password",
            "referrer_id": ana_id,
        })),
    )
    .await;
    expect("sign-up with a referrer: the INSERT", status, captured, 1);
    let (_, body, _) = call(
        &app,
        Method::POST,
        "/sessions",
        None,
        Some(json!({ "email": "bea@example.com", "password": "bea's password" })),
    )
    .await;
    let bea = body["token"].as_str().expect("a token").to_owned();
    let (status, profile, captured) = call(&app, Method::GET, "/me", Some(&bea), None).await;
    expect("Bea's profile", status, captured, 3);
    assert_eq!(profile["referred_by"], "Ana", "{profile}");
    let (status, referrals, captured) =
        call(&app, Method::GET, "/me/referrals", Some(&ana), None).await;
    expect(
        "the referral tree: one recursive query",
        status,
        captured,
        1,
    );
    assert_eq!(referrals[0]["name"], "Bea", "{referrals}");
    assert_eq!(referrals.as_array().map(Vec::len), Some(1), "{referrals}");

    let (status, _, captured) = call(
        &app,
        Method::POST,
        "/drivers",
        Some(&admin),
        Some(json!({ "name": "Rui", "plate": "MZ-001" })),
    )
    .await;
    expect(
        "new driver: the admin's role, the INSERT",
        status,
        captured,
        2,
    );

    let (status, body, captured) = call(
        &app,
        Method::POST,
        "/rides",
        Some(&ana),
        Some(json!({ "pickup": "Baixa", "dropoff": "Polana", "fare_cents": 1500 })),
    )
    .await;
    expect("ride request: the INSERT", status, captured, 1);
    let ride = body["id"].as_i64().expect("the ride's id");

    let (status, _, captured) = call(&app, Method::GET, "/rides", Some(&ana), None).await;
    expect(
        "the rider's rides: a page and its count",
        status,
        captured,
        2,
    );
    let (status, _, captured) = call(
        &app,
        Method::GET,
        &format!("/rides/{ride}"),
        Some(&ana),
        None,
    )
    .await;
    expect("one ride", status, captured, 1);

    let (status, _, captured) = call(
        &app,
        Method::POST,
        &format!("/rides/{ride}/assign"),
        Some(&ana),
        None,
    )
    .await;
    expect(
        "assignment: the ride (is it the rider's?), BEGIN, the ride again under the lock, \
         a free driver, take them, assign the ride, COMMIT",
        status,
        captured,
        7,
    );
    let (status, _, captured) = call(
        &app,
        Method::POST,
        &format!("/rides/{ride}/complete"),
        Some(&ana),
        None,
    )
    .await;
    expect(
        "completion: BEGIN, complete the rider's ride, read it back, free the driver, COMMIT",
        status,
        captured,
        5,
    );
}

#[tokio::test]
async fn the_hot_queries_read_through_an_index() {
    let (_app, state) = app().await;
    let db = &state.db;
    let plans = [
        (
            "users",
            hot::user_by_email("ana@example.com").explain(db).await,
        ),
        (
            "rides",
            hot::rides_of_user(7, RideSort::IdDesc).explain(db).await,
        ),
        ("rides", hot::rides_requested(7).explain(db).await),
        ("rides", hot::rides_completed(7).explain(db).await),
        (
            "rides",
            Ride::select().filter(Ride::id.eq(7)).explain(db).await,
        ),
        (
            "users",
            User::select().filter(User::id.eq(7)).explain(db).await,
        ),
        ("users", hot::profile_of_user(7).explain(db).await),
        ("users", hot::referral_tree(7).explain(db).await),
    ];
    for (table, plan) in plans {
        let plan = plan.expect("explain");
        assert_no_seq_scan(&plan, table);
        assert!(plan.advice().is_empty(), "{plan}");
    }
    let by_email = hot::user_by_email("ana@example.com")
        .explain(db)
        .await
        .expect("explain");
    assert!(
        by_email.nodes().any(|node| node.index.is_some()),
        "{by_email}"
    );
    // The dispatcher's NOT EXISTS looks rides up by driver, not all of them.
    let free = hot::free_driver().explain(db).await.expect("explain");
    assert!(free.uses_index("rides_driver_idx"), "{free}");
    assert_no_seq_scan(&free, "rides");
    let of_user = hot::rides_of_user(7, RideSort::IdDesc)
        .explain(db)
        .await
        .expect("explain");
    assert!(of_user.uses_index("rides_user_idx"), "{of_user}");
    // Each round of the referral tree finds the next riders by the referrer index.
    let tree = hot::referral_tree(7).explain(db).await.expect("explain");
    assert!(tree.uses_index("users_referrer_idx"), "{tree}");
}
