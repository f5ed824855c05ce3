//! Query plans: what the database will do (or did) for a statement, read from
//! Postgres' `EXPLAIN (FORMAT JSON)`, SQLite's `EXPLAIN QUERY PLAN` and MariaDB's
//! `EXPLAIN FORMAT=JSON` into one tree, with the checks a test wants
//! ([`Plan::uses_index`], [`Plan::seq_scans`]) and index advice for the scans that
//! look like they want one ([`Plan::advice`]).
//!
//! Every builder and [`query`](crate::query()) has `.explain(&db)`, and
//! `.explain_analyze(&db)` where the backend can run a statement and report what it did
//! (Postgres `EXPLAIN ANALYZE`, MariaDB `ANALYZE`).
//!
//! ```
//! # async fn demo() -> txova_db::Result<()> {
//! use txova_db::{Db, Table};
//!
//! #[derive(Table)]
//! #[table(name = "rides")]
//! struct Ride { #[column(primary_key)] id: i64, status: String }
//!
//! let db = Db::connect("sqlite::memory:").await?;
//! db.execute("CREATE TABLE rides (id INTEGER PRIMARY KEY, status TEXT NOT NULL)").await?;
//! let plan = Ride::select().filter(Ride::status.eq("active")).explain(&db).await?;
//! assert_eq!(plan.seq_scans()[0].relation.as_deref(), Some("rides"));
//! assert_eq!(plan.advice()[0].to_string(), r#"CREATE INDEX "rides_status_idx" ON "rides" ("status")"#);
//!
//! db.execute("CREATE INDEX rides_status ON rides (status)").await?;
//! let plan = Ride::select().filter(Ride::status.eq("active")).explain(&db).await?;
//! assert!(plan.uses_index("rides_status"));
//! println!("{plan}"); // SEARCH rides USING INDEX rides_status (status=?)
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

mod advice;
mod parse;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use advice::IndexAdvice;

use crate::error::{Backend, Error};
use crate::executor::Executor;
use crate::types::Param;

/// A statement's plan, as the backend reported it: a tree of [`PlanNode`]s.
///
/// `Display` prints the tree indented, one node a line, then the
/// [`advice`](Self::advice).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Plan {
    /// The backend that planned it.
    pub backend: Backend,
    /// The top of the tree (SQLite may report several).
    pub roots: Vec<PlanNode>,
    /// Whether the statement ran, so nodes have actual rows (`explain_analyze`).
    pub analyzed: bool,
    /// Planning time, where the backend reports it.
    pub planning_time: Option<Duration>,
    /// Execution time, from `explain_analyze` where the backend reports it.
    pub execution_time: Option<Duration>,
    /// The statement's text, which the advice reads filter columns from where the
    /// plan does not name them (SQLite).
    sql: String,
}

/// The shared-buffer blocks a step touched (Postgres `EXPLAIN (ANALYZE, BUFFERS)`):
/// `hit` were in memory, `read` came from the operating system or disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Buffers {
    /// Blocks found in shared buffers.
    pub hit: u64,
    /// Blocks read in.
    pub read: u64,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PlanNode {
    /// What it does, in the backend's words: `Seq Scan`, `Index Scan`, `Hash Join`
    /// (Postgres); `SCAN`, `SEARCH`, `USE TEMP B-TREE FOR ORDER BY` (SQLite);
    /// the access type `ALL`, `ref`, `range`, or `filesort` (MariaDB).
    pub operation: String,
    /// The table it reads, if it reads one (MariaDB names the alias where there is
    /// one).
    pub relation: Option<String>,
    /// The index it uses, if any.
    pub index: Option<String>,
    /// Whether it reads every row of [`relation`](Self::relation): a sequential scan.
    pub full_scan: bool,
    /// The condition it filters rows with or searches an index by, as the backend
    /// prints it (with the values of bound parameters, on Postgres and MariaDB).
    pub condition: Option<String>,
    /// The sort keys, for a sort.
    pub sort_key: Vec<String>,
    /// The rows the planner expected.
    pub estimated_rows: Option<f64>,
    /// The rows it produced, when the statement ran (per loop, on Postgres).
    pub actual_rows: Option<f64>,
    /// The planner's total cost (Postgres).
    pub cost: Option<f64>,
    /// Blocks found in shared buffers and blocks read in, when the statement ran
    /// (Postgres' `BUFFERS`).
    pub buffers: Option<Buffers>,
    /// The steps that feed it.
    pub children: Vec<PlanNode>,
}

impl PlanNode {
    pub(crate) fn new(operation: impl Into<String>) -> Self {
        Self {
            operation: operation.into(),
            relation: None,
            index: None,
            full_scan: false,
            condition: None,
            sort_key: Vec::new(),
            estimated_rows: None,
            actual_rows: None,
            cost: None,
            buffers: None,
            children: Vec::new(),
        }
    }

    /// This node and every node under it, depth first.
    pub fn walk(&self) -> impl Iterator<Item = &PlanNode> {
        let mut stack = vec![self];
        std::iter::from_fn(move || {
            let node = stack.pop()?;
            stack.extend(node.children.iter().rev());
            Some(node)
        })
    }
}

impl Plan {
    /// Every node, depth first.
    pub fn nodes(&self) -> impl Iterator<Item = &PlanNode> {
        self.roots.iter().flat_map(PlanNode::walk)
    }

    /// Whether some step uses the index named `name`.
    pub fn uses_index(&self, name: &str) -> bool {
        self.nodes().any(|node| node.index.as_deref() == Some(name))
    }

    /// The steps that read a whole table.
    pub fn seq_scans(&self) -> Vec<&PlanNode> {
        self.nodes().filter(|node| node.full_scan).collect()
    }

    /// Whether some step reads the whole of `table`.
    pub fn scans_sequentially(&self, table: &str) -> bool {
        self.seq_scans()
            .iter()
            .any(|node| node.relation.as_deref() == Some(table))
    }

    /// Indexes that would serve this statement's full scans; see [`IndexAdvice`] for
    /// the rule.
    pub fn advice(&self) -> Vec<IndexAdvice> {
        advice::advise(self)
    }

    /// The plan with every condition's literals replaced by `?` (as for logs: bound
    /// values appear in Postgres' and MariaDB's conditions).
    pub(crate) fn redacted(mut self) -> Self {
        fn redact(node: &mut PlanNode, backend: Backend) {
            if let Some(condition) = &mut node.condition {
                *condition = crate::sql::summary::redact(condition, backend).into_owned();
            }
            for key in &mut node.sort_key {
                *key = crate::sql::summary::redact(key, backend).into_owned();
            }
            for child in &mut node.children {
                redact(child, backend);
            }
        }
        for root in &mut self.roots {
            redact(root, self.backend);
        }
        self
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn write_node(f: &mut fmt::Formatter<'_>, node: &PlanNode, depth: usize) -> fmt::Result {
            write!(f, "{:indent$}{}", "", node.operation, indent = depth * 2)?;
            if let Some(relation) = &node.relation {
                write!(f, " on {relation}")?;
            }
            if let Some(index) = &node.index {
                write!(f, " using {index}")?;
            }
            let mut numbers = Vec::new();
            if let Some(cost) = node.cost {
                numbers.push(format!("cost={cost:.2}"));
            }
            if let Some(rows) = node.estimated_rows {
                numbers.push(format!("rows={rows}"));
            }
            if let Some(rows) = node.actual_rows {
                numbers.push(format!("actual rows={rows}"));
            }
            if let Some(buffers) = node.buffers {
                numbers.push(format!("buffers hit={} read={}", buffers.hit, buffers.read));
            }
            if !numbers.is_empty() {
                write!(f, " ({})", numbers.join(" "))?;
            }
            if let Some(condition) = &node.condition {
                write!(f, " where {condition}")?;
            }
            if !node.sort_key.is_empty() {
                write!(f, " by {}", node.sort_key.join(", "))?;
            }
            writeln!(f)?;
            for child in &node.children {
                write_node(f, child, depth + 1)?;
            }
            Ok(())
        }
        for root in &self.roots {
            write_node(f, root, 0)?;
        }
        if let Some(time) = self.planning_time {
            writeln!(f, "planning: {time:?}")?;
        }
        if let Some(time) = self.execution_time {
            writeln!(f, "execution: {time:?}")?;
        }
        for advice in self.advice() {
            writeln!(f, "advice: {advice}")?;
        }
        Ok(())
    }
}

/// Explains `sql` with `params` on `exec`: `analyze` runs it (see the builders'
/// `explain_analyze`).
pub(crate) async fn explain<E: Executor>(
    exec: &E,
    sql: &str,
    params: &[Arc<dyn Param + '_>],
    analyze: bool,
) -> Result<Plan, Error> {
    let backend = exec.backend();
    let explain = match (backend, analyze) {
        (Backend::Postgres, false) => format!("EXPLAIN (FORMAT JSON) {sql}"),
        (Backend::Postgres, true) => format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}"),
        (Backend::Sqlite, false) => format!("EXPLAIN QUERY PLAN {sql}"),
        (Backend::MySql, false) => format!("EXPLAIN FORMAT=JSON {sql}"),
        // MariaDB's ANALYZE; MySQL answers it with a syntax error, said plainly below.
        (Backend::MySql, true) => format!("ANALYZE FORMAT=JSON {sql}"),
        (Backend::Sqlite, true) => {
            return Err(Error::Unsupported {
                feature: "EXPLAIN ANALYZE",
                backend,
            });
        }
    };
    let rows = exec.fetch_all_statement(&explain, params).await;
    let rows = match rows {
        Err(err)
            if analyze
                && backend == Backend::MySql
                && matches!(err.code(), Some("1064" | "42000")) =>
        {
            return Err(Error::Unsupported {
                feature: "EXPLAIN ANALYZE (MariaDB's ANALYZE FORMAT=JSON)",
                backend,
            });
        }
        rows => rows?,
    };
    let mut plan = match backend {
        Backend::Postgres => parse::postgres(&rows)?,
        Backend::Sqlite => parse::sqlite(&rows)?,
        Backend::MySql => parse::mariadb(&rows)?,
    };
    plan.analyzed = analyze;
    plan.sql = sql.to_owned();
    Ok(plan)
}

impl Plan {
    pub(crate) fn new(backend: Backend, roots: Vec<PlanNode>) -> Self {
        Self {
            backend,
            roots,
            analyzed: false,
            planning_time: None,
            execution_time: None,
            sql: String::new(),
        }
    }

    pub(crate) fn sql(&self) -> &str {
        &self.sql
    }
}

/// A plan that could not be read: the backend's output was not what its documented
/// format promises.
pub(crate) fn unreadable(what: impl fmt::Display) -> Error {
    Error::InvalidQuery {
        reason: format!("the query plan could not be read: {what}"),
    }
}
