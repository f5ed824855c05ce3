//! Pages of results: offset pagination ([`PageRequest`] → [`Page`]) and keyset
//! pagination ([`KeysetRequest`] → [`KeysetPage`]).

use serde::{Deserialize, Serialize};

/// Which page to fetch: `page` counts from 1; `per_page` is clamped to
/// 1..=[`PageRequest::MAX_PER_PAGE`]. Deserializes from query strings such as
/// `?page=2&per_page=50`.
///
/// ```
/// use txova_db::PageRequest;
/// let request = PageRequest::new(3, 20);
/// assert_eq!(request.offset(), 40);
/// assert_eq!(PageRequest::new(0, 100_000).page(), 1);
/// assert_eq!(PageRequest::new(0, 100_000).per_page(), PageRequest::MAX_PER_PAGE);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RawPageRequest")]
pub struct PageRequest {
    page: u32,
    per_page: u32,
}

#[derive(Deserialize)]
struct RawPageRequest {
    #[serde(default = "first_page")]
    page: u32,
    #[serde(default = "default_per_page")]
    per_page: u32,
}

fn first_page() -> u32 {
    1
}

fn default_per_page() -> u32 {
    PageRequest::DEFAULT_PER_PAGE
}

impl From<RawPageRequest> for PageRequest {
    fn from(raw: RawPageRequest) -> Self {
        Self::new(raw.page, raw.per_page)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::new(1, Self::DEFAULT_PER_PAGE)
    }
}

impl PageRequest {
    /// Items per page when none is asked for.
    pub const DEFAULT_PER_PAGE: u32 = 20;
    /// The largest page a request may ask for.
    pub const MAX_PER_PAGE: u32 = 1000;

    /// The same request with at most `max` items per page: an endpoint's own cap.
    ///
    /// ```
    /// use txova_db::PageRequest;
    /// assert_eq!(PageRequest::new(2, 500).capped_at(100).per_page(), 100);
    /// ```
    pub fn capped_at(mut self, max: u32) -> Self {
        self.per_page = self.per_page.min(max.max(1));
        self
    }

    /// Page `page` (from 1) of `per_page` items, both clamped into range.
    pub fn new(page: u32, per_page: u32) -> Self {
        Self {
            page: page.max(1),
            per_page: per_page.clamp(1, Self::MAX_PER_PAGE),
        }
    }

    /// The page number, from 1.
    pub fn page(&self) -> u32 {
        self.page
    }

    /// Items per page.
    pub fn per_page(&self) -> u32 {
        self.per_page
    }

    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.per_page)
    }
}

/// One page of results and where it sits in the whole.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// # use txova_db::Table;
/// # #[derive(Table, Debug)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key, generated)] id: i64, status: String, #[column(sortable)] fare_cents: i64, driver_id: Option<i64> }
///
/// use txova_db::{Db, PageRequest};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE rides (id INTEGER PRIMARY KEY, status TEXT, fare_cents BIGINT, driver_id BIGINT)").await?;
/// for fare in [900, 1500, 700] {
///     txova_db::query("INSERT INTO rides (status, fare_cents) VALUES ('requested', $1)")
///         .bind(fare)
///         .execute(&db)
///         .await?;
/// }
/// let page = Ride::select()
///     .order_by(RideSort::FareCentsDesc)
///     .paginate(&db, PageRequest::new(1, 2))
///     .await?;
/// assert_eq!(page.total, 3);
/// assert_eq!(page.total_pages(), 2);
/// assert!(page.has_next());
/// assert_eq!(page.items.iter().map(|r| r.fare_cents).collect::<Vec<_>>(), [1500, 900]);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Rows in all pages.
    pub total: u64,
    /// This page's number, from 1.
    pub page: u32,
    /// The page size asked for.
    pub per_page: u32,
}

impl<T> Page<T> {
    /// How many pages there are.
    pub fn total_pages(&self) -> u64 {
        self.total.div_ceil(u64::from(self.per_page.max(1)))
    }

    /// Whether a later page exists.
    pub fn has_next(&self) -> bool {
        u64::from(self.page) < self.total_pages()
    }
}

/// Which keyset page to fetch: rows after the cursor `after` (none: from the start).
///
/// ```
/// use txova_db::KeysetRequest;
///
/// // The first page, then the one after the last id a client saw (`?after=40`).
/// let first: KeysetRequest<i64> = KeysetRequest::first(20);
/// assert_eq!(first.after, None);
/// let next = KeysetRequest::after(40_i64, 20);
/// assert_eq!((next.after, next.limit), (Some(40), 20));
///
/// // From a query string: the limit is clamped like `PageRequest`'s `per_page`, and an
/// // endpoint may cap it lower.
/// let asked: KeysetRequest<i64> = serde_json::from_str(r#"{"limit": 100000000}"#).unwrap();
/// assert_eq!(asked.limit, KeysetRequest::<i64>::MAX_LIMIT);
/// assert_eq!(asked.capped_at(50).limit, 50);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawKeysetRequest<K>")]
#[serde(bound(deserialize = "K: Deserialize<'de>"))]
pub struct KeysetRequest<K> {
    /// The previous page's [`KeysetPage::next`].
    pub after: Option<K>,
    /// At most this many rows, 1..=[`MAX_LIMIT`](Self::MAX_LIMIT) (a larger value set
    /// here is clamped when the page is fetched).
    pub limit: u32,
}

#[derive(Deserialize)]
struct RawKeysetRequest<K> {
    #[serde(default = "none")]
    after: Option<K>,
    #[serde(default = "default_per_page")]
    limit: u32,
}

fn none<K>() -> Option<K> {
    None
}

impl<K> From<RawKeysetRequest<K>> for KeysetRequest<K> {
    fn from(raw: RawKeysetRequest<K>) -> Self {
        Self {
            after: raw.after,
            limit: raw.limit.clamp(1, Self::MAX_LIMIT),
        }
    }
}

impl<K> KeysetRequest<K> {
    /// The largest page a request may ask for (as [`PageRequest::MAX_PER_PAGE`]).
    pub const MAX_LIMIT: u32 = PageRequest::MAX_PER_PAGE;

    /// The first page of `limit` rows (clamped into 1..=[`MAX_LIMIT`](Self::MAX_LIMIT)).
    pub fn first(limit: u32) -> Self {
        Self {
            after: None,
            limit: limit.clamp(1, Self::MAX_LIMIT),
        }
    }

    /// The page after `cursor`, of `limit` rows (clamped likewise).
    pub fn after(cursor: K, limit: u32) -> Self {
        Self {
            after: Some(cursor),
            limit: limit.clamp(1, Self::MAX_LIMIT),
        }
    }

    /// The same request with at most `max` rows: an endpoint's own cap.
    pub fn capped_at(mut self, max: u32) -> Self {
        self.limit = self.limit.min(max.max(1));
        self
    }

    /// The limit as fetched: clamped into 1..=[`MAX_LIMIT`](Self::MAX_LIMIT), however
    /// the field was set.
    pub(crate) fn effective_limit(&self) -> u32 {
        self.limit.clamp(1, Self::MAX_LIMIT)
    }
}

/// One keyset page: its rows and the cursor of the next page (`None` on the last).
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// # use txova_db::Table;
/// # #[derive(Table, Debug)] #[table(name = "rides")]
/// # struct Ride { #[column(primary_key, generated)] id: i64, status: String, #[column(sortable)] fare_cents: i64, driver_id: Option<i64> }
///
/// use txova_db::{Db, Direction, KeysetRequest};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE rides (id INTEGER PRIMARY KEY, status TEXT, fare_cents BIGINT, driver_id BIGINT)").await?;
/// for _ in 0..5 {
///     db.execute("INSERT INTO rides (status, fare_cents) VALUES ('requested', 100)").await?;
/// }
/// let mut request = KeysetRequest::first(2);
/// let mut seen = Vec::new();
/// loop {
///     let page = Ride::select().keyset(&db, Ride::id, Direction::Asc, request).await?;
///     seen.extend(page.items.iter().map(|ride| ride.id));
///     match page.next {
///         Some(cursor) => request = KeysetRequest::after(cursor, 2),
///         None => break,
///     }
/// }
/// assert_eq!(seen, [1, 2, 3, 4, 5]);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeysetPage<T, K> {
    /// The rows.
    pub items: Vec<T>,
    /// Pass as [`KeysetRequest::after`] for the next page.
    pub next: Option<K>,
}
