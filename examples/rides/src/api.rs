//! The HTTP API: routes, the signed-in rider, rate limits and how errors answer.

use std::net::SocketAddr;
use std::time::{Instant, UNIX_EPOCH};

use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequestParts, MatchedPath, Path, Query, Request, State,
};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tracing::Instrument as _;
use txova_db::error::InvalidSortKey;
use txova_db::rate_limit::{RateLimit, RateLimitDecision};
use txova_db::session::NewSession;
use txova_db::{ErrorKind, PageRequest};

use crate::model::{
    Login, LoginResponse, NewDriver, NewRide, NewUser, Rename, RideListQuery, RideSort, limits,
    role,
};
use crate::password;
use crate::repo::Dispatch;
use crate::service::AppState;

/// Every route of the service.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/users", post(create_user))
        .route("/sessions", post(sign_in))
        .route("/sessions/current", axum::routing::delete(sign_out))
        .route("/me", get(profile).patch(rename))
        .route("/me/referrals", get(referrals))
        .route("/drivers", post(create_driver).get(list_drivers))
        .route("/rides", post(request_ride).get(list_rides))
        .route("/rides/{id}", get(get_ride))
        .route("/rides/{id}/assign", post(assign_ride))
        .route("/rides/{id}/complete", post(complete_ride))
        .route("/health", get(health))
        .route("/health/details", get(health_details))
        .route("/metrics", get(metrics))
        // Bodies past this are refused (413) before they are read.
        .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES))
        .layer(middleware::from_fn(observe_request))
        .with_state(state)
}

/// The management listener's routes (`--admin-listen`, for operators and probes on an
/// internal address): the health report in full, whatever the store's state (the
/// public listener's `/health/details` needs a session, so a store outage hides it).
pub(crate) fn admin_router(state: AppState) -> Router {
    Router::new()
        .route("/health/details", get(health_report))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Per request: a span, an N+1 scope (statements repeated within one request are
/// reported) and the `rides_http_request_duration_seconds` histogram.
async fn observe_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().clone();
    let span = tracing::info_span!(
        "http.request",
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    let started = Instant::now();
    // The span names the route, so the detector's warning (logged inside it) does too.
    let response = txova_db::n_plus_one::scope("http request", next.run(request))
        .instrument(span.clone())
        .await;
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    metrics::histogram!(
        REQUEST_DURATION,
        "method" => method.to_string(),
        "route" => route,
        "status" => status.to_string(),
    )
    .record(started.elapsed());
    response
}

/// The one metric the service records itself.
const REQUEST_DURATION: &str = "rides_http_request_duration_seconds";

/// Gives the service's own metric its help text and unit (txova-db's are described by
/// `txova_db::observability::describe_metrics`).
pub(crate) fn describe_metrics() {
    metrics::describe_histogram!(
        REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by method, route and status."
    );
}

/// How a request fails, and the status it answers with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error(
        "sign in first: send `Authorization: Bearer <token>` with the token from POST /sessions"
    )]
    Unauthorized,
    /// The same answer for an unknown email and a wrong password.
    #[error("wrong email or password")]
    SignIn,
    #[error("only an admin may do this")]
    Forbidden,
    #[error("`{field}` is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("internal error")]
    Internal,
    #[error("no {0} with that id")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("invalid request: {0}")]
    BadRequest(String),
    #[error("too many requests: retry after the Retry-After header's seconds")]
    RateLimited(RateLimitDecision),
    #[error(transparent)]
    Db(#[from] txova_db::Error),
}

impl From<InvalidSortKey> for ApiError {
    fn from(err: InvalidSortKey) -> Self {
        Self::BadRequest(err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::Unauthorized | Self::SignIn => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::TooLong { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "too_long"),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Db(err) => match err.kind() {
                ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
                ErrorKind::Duplicate => (StatusCode::CONFLICT, "duplicate"),
                ErrorKind::Check | ErrorKind::NotNull | ErrorKind::ForeignKey => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "constraint")
                }
                ErrorKind::LockNotAcquired => (StatusCode::CONFLICT, "busy"),
                ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
                ErrorKind::Timeout
                | ErrorKind::Connection
                | ErrorKind::PoolClosed
                | ErrorKind::Busy => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
        };
        // The client learns which rule it broke, never the server's internals.
        let message = match &self {
            Self::Db(err) if status == StatusCode::INTERNAL_SERVER_ERROR => {
                tracing::error!(error = %err, "request failed");
                "internal error".to_owned()
            }
            Self::Db(err) if status.is_server_error() => {
                tracing::warn!(error = %err, "backend unavailable");
                "temporarily unavailable, retry shortly".to_owned()
            }
            Self::Db(err) => match err.constraint() {
                Some(constraint) => format!("refused by `{constraint}`"),
                None => err.to_string(),
            },
            other => other.to_string(),
        };
        let body = Json(serde_json::json!({ "error": code, "message": message }));
        let mut response = (status, body).into_response();
        match &self {
            Self::RateLimited(decision) => add_rate_limit_headers(response.headers_mut(), decision),
            _ if status == StatusCode::SERVICE_UNAVAILABLE => {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The rider a request's bearer token signs in (a session in the store).
pub(crate) struct Rider {
    user_id: i64,
    session_id: String,
}

impl FromRequestParts<AppState> for Rider {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        // `get` also touches the session's last-activity time, at most every 5 minutes.
        let session = state
            .sessions
            .get(token)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        let user_id = session
            .user_id
            .parse()
            .map_err(|_| ApiError::Unauthorized)?;
        Ok(Self {
            user_id,
            session_id: session.id.as_str().to_owned(),
        })
    }
}

/// A signed-in admin.
pub(crate) struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let rider = Rider::from_request_parts(parts, state).await?;
        // Read from the database on every request: a demoted admin stops at once.
        match state.users.role(rider.user_id).await?.as_deref() {
            Some(role::ADMIN) => Ok(Self),
            _ => Err(ApiError::Forbidden),
        }
    }
}

/// Refuses `value` over `max` characters (422), naming the field.
fn at_most(field: &'static str, value: &str, max: usize) -> ApiResult<()> {
    if value.chars().count() > max {
        return Err(ApiError::TooLong { field, max });
    }
    Ok(())
}

/// Runs the password hash off the async workers (it takes tens of milliseconds of CPU).
async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ApiError::Internal)
}

/// Checks `limit` for `key`: a refusal becomes a 429 with the limit's headers.
async fn rate_limit(
    state: &AppState,
    limit: &RateLimit,
    key: &str,
) -> ApiResult<RateLimitDecision> {
    let decision = state.limiter.check(limit, key).await?;
    if decision.allowed() {
        Ok(decision)
    } else {
        Err(ApiError::RateLimited(decision))
    }
}

fn add_rate_limit_headers(headers: &mut HeaderMap, decision: &RateLimitDecision) {
    for (name, value) in decision.headers() {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(lowercase(name)), value);
        }
    }
}

/// `HeaderName::from_static` takes lowercase names only.
fn lowercase(name: &'static str) -> &'static str {
    match name {
        "RateLimit-Limit" => "ratelimit-limit",
        "RateLimit-Remaining" => "ratelimit-remaining",
        "RateLimit-Reset" => "ratelimit-reset",
        "RateLimit-Policy" => "ratelimit-policy",
        "Retry-After" => "retry-after",
        _ => "x-ratelimit-unknown",
    }
}

/// Sign-up answers the same whether the email was free or taken (202, same body, the
/// same password hash spent either way), so it cannot tell anyone which emails have
/// accounts; the account's owner signs in as usual.
async fn create_user(
    State(state): State<AppState>,
    Json(new): Json<NewUser>,
) -> ApiResult<impl IntoResponse> {
    at_most("name", &new.name, limits::NAME)?;
    at_most("email", &new.email, limits::EMAIL)?;
    at_most("password", &new.password, limits::PASSWORD)?;
    if new.name.trim().is_empty() || !new.email.contains('@') {
        return Err(ApiError::BadRequest(
            "a user needs a name and an email".into(),
        ));
    }
    if new.password.chars().count() < limits::PASSWORD_MIN {
        return Err(ApiError::BadRequest(format!(
            "a password needs at least {} characters",
            limits::PASSWORD_MIN
        )));
    }
    let password = new.password.clone();
    let hash = off_the_runtime(move || password::hash(&password))
        .await?
        .map_err(|err| {
            tracing::error!(error = %err, "sign-up");
            ApiError::Internal
        })?;
    state.users.create(new, hash).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "status": "accepted",
            "message": "sign in with this email and password",
        })),
    ))
}

/// Sign-in: the same 401 for an unknown email and a wrong password, after the same
/// work, so neither the answer nor its time tells which emails have accounts.
async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(login): Json<Login>,
) -> ApiResult<impl IntoResponse> {
    at_most("email", &login.email, limits::EMAIL)?;
    at_most("password", &login.password, limits::PASSWORD)?;
    if let Some(device) = &login.device_id {
        at_most("device_id", device, limits::DEVICE_ID)?;
    }
    rate_limit(
        &state,
        &state.limits.logins,
        &format!("login:{}", client.ip()),
    )
    .await?;
    let user = state.users.by_email(&login.email).await?;
    let password = login.password.clone();
    let user = off_the_runtime(move || match user {
        Some(user) if password::verify(&password, &user.password_hash) => Some(user),
        Some(_) => None,
        None => {
            password::verify_nothing(&password);
            None
        }
    })
    .await?
    .ok_or(ApiError::SignIn)?;
    let mut new = NewSession::new(user.id.to_string()).ip_address(client.ip());
    if let Some(device) = login.device_id {
        new = new.device_id(device);
    }
    if let Some(agent) = headers
        .get(USER_AGENT)
        .and_then(|agent| agent.to_str().ok())
    {
        // Kept, not refused, but only so much of it.
        new = new.device_info(agent.chars().take(limits::USER_AGENT).collect::<String>());
    }
    let session = state.sessions.create(new).await?;
    let expires_at = session
        .expires_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    Ok((
        StatusCode::CREATED,
        Json(LoginResponse {
            token: session.id.as_str().to_owned(),
            user_id: user.id,
            expires_at,
        }),
    ))
}

async fn sign_out(State(state): State<AppState>, rider: Rider) -> ApiResult<StatusCode> {
    state.sessions.delete(&rider.session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn profile(State(state): State<AppState>, rider: Rider) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.users.profile(rider.user_id).await?))
}

/// The riders this rider brought in, directly or through others.
async fn referrals(State(state): State<AppState>, rider: Rider) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.users.referrals(rider.user_id).await?))
}

async fn rename(
    State(state): State<AppState>,
    rider: Rider,
    Json(rename): Json<Rename>,
) -> ApiResult<impl IntoResponse> {
    at_most("name", &rename.name, limits::NAME)?;
    if rename.name.trim().is_empty() {
        return Err(ApiError::BadRequest("a name cannot be empty".into()));
    }
    Ok(Json(state.users.rename(rider.user_id, &rename.name).await?))
}

/// Admins only.
async fn create_driver(
    State(state): State<AppState>,
    _admin: Admin,
    Json(new): Json<NewDriver>,
) -> ApiResult<impl IntoResponse> {
    at_most("name", &new.name, limits::NAME)?;
    at_most("plate", &new.plate, limits::PLATE)?;
    if new.name.trim().is_empty() || new.plate.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "a driver needs a name and a plate".into(),
        ));
    }
    Ok((StatusCode::CREATED, Json(state.drivers.create(new).await?)))
}

#[derive(Debug, Deserialize)]
struct DriverFilter {
    available: Option<bool>,
}

async fn list_drivers(
    State(state): State<AppState>,
    Query(filter): Query<DriverFilter>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.drivers.list(filter.available).await?))
}

/// Ride requests are limited per rider; the answer carries the limit's headers
/// whether it is refused or not.
async fn request_ride(
    State(state): State<AppState>,
    rider: Rider,
    Json(new): Json<NewRide>,
) -> ApiResult<Response> {
    at_most("pickup", &new.pickup, limits::PLACE)?;
    at_most("dropoff", &new.dropoff, limits::PLACE)?;
    let key = format!("rides:request:user:{}", rider.user_id);
    let decision = rate_limit(&state, &state.limits.ride_requests, &key).await?;
    let ride = state.rides.request(rider.user_id, &new).await?;
    let mut response = (StatusCode::CREATED, Json(ride)).into_response();
    add_rate_limit_headers(response.headers_mut(), &decision);
    Ok(response)
}

async fn list_rides(
    State(state): State<AppState>,
    rider: Rider,
    Query(query): Query<RideListQuery>,
) -> ApiResult<impl IntoResponse> {
    // The sort key comes from the client, so it can only name a sortable column.
    let sort = query
        .sort
        .as_deref()
        .map(str::parse::<RideSort>)
        .transpose()?;
    let page = PageRequest::new(
        query.page.unwrap_or(1),
        query.per_page.unwrap_or(PageRequest::DEFAULT_PER_PAGE),
    );
    Ok(Json(
        state.rides.list_for_user(rider.user_id, sort, page).await?,
    ))
}

async fn get_ride(
    State(state): State<AppState>,
    rider: Rider,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    match state.rides.get(id).await? {
        Some(ride) if ride.user_id == rider.user_id => Ok(Json(ride)),
        _ => Err(ApiError::NotFound("ride")),
    }
}

async fn assign_ride(
    State(state): State<AppState>,
    rider: Rider,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    match state.rides.get(id).await? {
        Some(ride) if ride.user_id == rider.user_id => {}
        _ => return Err(ApiError::NotFound("ride")),
    }
    match state.rides.assign(id).await? {
        Dispatch::Assigned(assignment) => Ok(Json(assignment)),
        Dispatch::NotWaiting(ride) => Err(ApiError::Conflict(format!(
            "ride {id} is {}, not waiting for a driver",
            ride.status
        ))),
        Dispatch::NoDriverFree => Err(ApiError::Conflict(
            "no driver is free, retry shortly".into(),
        )),
    }
}

async fn complete_ride(
    State(state): State<AppState>,
    rider: Rider,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    match state.rides.complete(rider.user_id, id).await? {
        Some(ride) => Ok(Json(ride)),
        None => match state.rides.get(id).await? {
            Some(ride) if ride.user_id == rider.user_id => Err(ApiError::Conflict(format!(
                "ride {id} is {}, only an assigned ride can be completed",
                ride.status
            ))),
            _ => Err(ApiError::NotFound("ride")),
        },
    }
}

/// For a load balancer or an orchestrator's readiness probe: the health monitor's last
/// verdict (checked every 5 s), 200 while nothing is down and 503 otherwise, and
/// nothing more (no hosts, no driver messages) to whoever asks.
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let report = state.health.report();
    let status = if report.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(serde_json::json!({ "status": report.status })))
}

/// The whole report (components, problems, latencies, outages), for admins.
async fn health_details(State(state): State<AppState>, _admin: Admin) -> impl IntoResponse {
    health_report(State(state)).await
}

/// The whole report; 200 while nothing is down, 503 otherwise.
async fn health_report(State(state): State<AppState>) -> impl IntoResponse {
    let report = state.health.report();
    let status = if report.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report))
}

/// Prometheus' text format: txova-db's query, pool, cache, lock, rate-limit and
/// health metrics, and the service's request durations.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // Pool gauges are read on demand; refresh them for this scrape.
    let _ = state.db.stats();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
