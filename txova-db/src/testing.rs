//! Assertions for tests about what the database is asked to do: how many statements
//! a piece of code runs ([`capture`], [`assert_queries!`](crate::assert_queries)),
//! that none runs once per row ([`deny_n_plus_one`]), and that a plan reads no table
//! whole ([`assert_no_seq_scan`]).
//!
//! A capture sees every statement run by the task that awaits it: its transactions,
//! `#[transactional]` bodies, the source calls of `#[cached]` misses, whatever it
//! awaits on any [`Db`](crate::Db) or executor. Work spawned onto other tasks is not
//! seen. A statement is kept as its SQL text (placeholders, and inline literals
//! replaced by `?`), duration, rows returned and error kind: never its values.
//!
//! ```
//! # async fn demo() -> txova_db::Result<()> {
//! use txova_db::{Db, Table, assert_queries, testing};
//!
//! #[derive(Table)]
//! #[table(name = "riders")]
//! struct Rider { #[column(primary_key)] id: i64, name: String }
//!
//! let db = Db::connect("sqlite::memory:").await?;
//! db.execute("CREATE TABLE riders (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").await?;
//!
//! // Exactly two statements, or the test fails listing the ones that ran.
//! let riders = assert_queries!(2, async {
//!     Rider::insert(&Rider { id: 1, name: "Ana".into() }).execute(&db).await?;
//!     Rider::select().fetch_all(&db).await
//! })?;
//! assert_eq!(riders.len(), 1);
//!
//! // Or look at them.
//! let (_, captured) = testing::capture(Rider::find(&db, 1_i64)).await;
//! assert_eq!(captured.len(), 1);
//! assert!(captured.statements()[0].sql.starts_with("SELECT"));
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Backend, ErrorKind};
use crate::plan::Plan;

tokio::task_local! {
    static CAPTURE: Arc<Capture>;
}

/// One statement a [`capture`] saw.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CapturedStatement {
    /// The SQL text, with inline literals replaced by `?` (bound values are never
    /// in it).
    pub sql: String,
    /// How long it took.
    pub duration: Duration,
    /// The rows it returned, for a statement that returns rows and finished.
    pub rows: Option<usize>,
    /// Why it failed, if it did.
    pub error: Option<ErrorKind>,
    /// Whether it ran inside a transaction.
    pub in_transaction: bool,
}

/// The statements a [`capture`] saw, in the order they finished.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Captured {
    statements: Vec<CapturedStatement>,
}

impl Captured {
    /// How many statements ran.
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// Whether none ran.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The statements, in the order they finished.
    pub fn statements(&self) -> &[CapturedStatement] {
        &self.statements
    }

    /// Each statement's text that ran more than `threshold` times, with its count,
    /// most frequent first: the loops that should be one query.
    pub fn repeated(&self, threshold: usize) -> Vec<(&str, usize)> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for statement in &self.statements {
            *counts.entry(statement.sql.as_str()).or_default() += 1;
        }
        let mut repeated: Vec<_> = counts
            .into_iter()
            .filter(|&(_, runs)| runs > threshold)
            .collect();
        repeated.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        repeated
    }

    /// Panics, naming the statement, if one ran more than `threshold` times.
    #[track_caller]
    pub fn assert_no_n_plus_one(&self, threshold: usize) {
        if let Some((sql, runs)) = self.repeated(threshold).first() {
            panic!(
                "N+1: one statement ran {runs} times (more than {threshold}); load the rows \
                 with one query (`is_in`, a join) instead:\n  {sql}\nall statements:\n{self}"
            );
        }
    }
}

impl fmt::Display for Captured {
    /// One statement a line: its number, duration, rows or error, and SQL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, statement) in self.statements.iter().enumerate() {
            write!(f, "  {:>3}. [{:?}", i + 1, statement.duration)?;
            if let Some(rows) = statement.rows {
                write!(f, ", {rows} rows")?;
            }
            if let Some(error) = statement.error {
                write!(f, ", {error:?}")?;
            }
            if statement.in_transaction {
                write!(f, ", in a transaction")?;
            }
            writeln!(f, "] {}", statement.sql)?;
        }
        Ok(())
    }
}

/// One capture in progress; statements go to it and every capture around it.
#[derive(Debug, Default)]
struct Capture {
    statements: Mutex<Vec<CapturedStatement>>,
    outer: Option<Arc<Capture>>,
}

/// Runs `work`, and returns its output with every statement it ran on this task.
pub async fn capture<F: Future>(work: F) -> (F::Output, Captured) {
    let capture = Arc::new(Capture {
        statements: Mutex::new(Vec::new()),
        outer: CAPTURE.try_with(Arc::clone).ok(),
    });
    let output = CAPTURE.scope(Arc::clone(&capture), work).await;
    let statements = match capture.statements.lock() {
        Ok(mut statements) => std::mem::take(&mut *statements),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    (output, Captured { statements })
}

/// Runs `work` and panics if one statement ran more than `threshold` times in it:
/// the N+1 detector of [`DbConfig::n_plus_one_threshold`](crate::DbConfig), failing
/// a test where the service only warns.
///
/// ```should_panic
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, query, testing};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// testing::deny_n_plus_one(3, async {
///     for id in 0..5 {
///         query("SELECT ?").bind(id).fetch_one(&db).await?; // the 4th run fails the test
///     }
///     Ok::<_, txova_db::Error>(())
/// })
/// .await?;
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
pub async fn deny_n_plus_one<F: Future>(threshold: usize, work: F) -> F::Output {
    let (output, captured) = capture(work).await;
    captured.assert_no_n_plus_one(threshold);
    output
}

/// Panics, printing the plan and its advice, if it reads the whole of `table`.
///
/// ```should_panic
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, Table, testing};
///
/// #[derive(Table)]
/// #[table(name = "rides")]
/// struct Ride { #[column(primary_key)] id: i64, status: String }
///
/// let db = Db::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE rides (id INTEGER PRIMARY KEY, status TEXT NOT NULL)").await?;
/// let plan = Ride::select().filter(Ride::status.eq("open")).explain(&db).await?;
/// testing::assert_no_seq_scan(&plan, "rides"); // no index on status: panics
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[track_caller]
pub fn assert_no_seq_scan(plan: &Plan, table: &str) {
    assert!(
        !plan.scans_sequentially(table),
        "the plan reads all of `{table}`:\n{plan}"
    );
}

/// Notes a finished statement in the task's captures, if any (from `Db::observe`).
pub(crate) fn record(
    sql: &str,
    backend: Backend,
    duration: Duration,
    rows: Option<usize>,
    error: Option<ErrorKind>,
    in_transaction: bool,
) {
    let Ok(capture) = CAPTURE.try_with(Arc::clone) else {
        return;
    };
    let statement = CapturedStatement {
        sql: crate::sql::summary::redact(sql, backend).into_owned(),
        duration,
        rows,
        error,
        in_transaction,
    };
    let mut at = Some(&capture);
    while let Some(capture) = at {
        match capture.statements.lock() {
            Ok(mut statements) => statements.push(statement.clone()),
            Err(poisoned) => poisoned.into_inner().push(statement.clone()),
        }
        at = capture.outer.as_ref();
    }
}

/// Asserts that a block runs exactly `$n` statements on this task, and evaluates to
/// the block's value; the failure lists the statements that ran. Use it in an
/// `async` test. The block runs as an `async` block, so `?` inside it would return
/// from that block: give `async { …; Ok(value) }` instead, and apply `?` to what the
/// macro returns.
///
/// ```
/// # async fn demo() -> txova_db::Result<()> {
/// use txova_db::{Db, assert_queries, query};
///
/// let db = Db::connect("sqlite::memory:").await?;
/// let one = assert_queries!(1, {
///     query("SELECT 1").fetch_one(&db).await.expect("one row")
/// });
/// assert_eq!(one.try_get::<i64>(0)?, 1);
/// // With `?` inside:
/// let two: i64 = assert_queries!(2, async {
///     query("SELECT 1").execute(&db).await?;
///     query("SELECT 2").fetch_one(&db).await?.try_get(0)
/// })?;
/// assert_eq!(two, 2);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[macro_export]
macro_rules! assert_queries {
    ($n:expr, async $($future:tt)+) => {
        $crate::assert_queries!(@capture $n, async $($future)+)
    };
    ($n:expr, $body:block) => {
        $crate::assert_queries!(@capture $n, async $body)
    };
    (@capture $n:expr, $future:expr) => {{
        let (output, captured) = $crate::testing::capture($future).await;
        let expected: usize = $n;
        assert!(
            captured.len() == expected,
            "expected {} statement(s), {} ran:\n{}",
            expected,
            captured.len(),
            captured
        );
        output
    }};
}
