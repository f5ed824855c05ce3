//! Each backend's plan output, read into [`Plan`]: Postgres' and MariaDB's JSON, and
//! SQLite's `EXPLAIN QUERY PLAN` rows.

use std::time::Duration;

use serde_json::Value;

use super::{Buffers, Plan, PlanNode, unreadable};
use crate::error::{Backend, Error};
use crate::row::Row;

/// Postgres: one row, one `json` column, `[{"Plan": {…}, "Planning Time": ms, …}]`.
pub(super) fn postgres(rows: &[Row]) -> Result<Plan, Error> {
    let text = rows
        .first()
        .and_then(|row| row.text_bytes(0))
        .ok_or_else(|| unreadable("no JSON from EXPLAIN"))?;
    let json: Value = serde_json::from_str(&text).map_err(unreadable)?;
    let top = json
        .get(0)
        .ok_or_else(|| unreadable("an empty EXPLAIN result"))?;
    let root = top
        .get("Plan")
        .ok_or_else(|| unreadable("no \"Plan\" in EXPLAIN's JSON"))?;
    let mut plan = Plan::new(Backend::Postgres, vec![postgres_node(root)]);
    plan.planning_time = millis(top.get("Planning Time"));
    plan.execution_time = millis(top.get("Execution Time"));
    Ok(plan)
}

fn millis(value: Option<&Value>) -> Option<Duration> {
    value
        .and_then(Value::as_f64)
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| Duration::from_secs_f64(ms / 1e3))
}

fn text(node: &Value, key: &str) -> Option<String> {
    node.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn postgres_node(node: &Value) -> PlanNode {
    let operation = text(node, "Node Type").unwrap_or_else(|| "?".to_owned());
    let mut out = PlanNode::new(operation);
    out.full_scan = out.operation == "Seq Scan";
    out.relation = text(node, "Relation Name");
    out.index = text(node, "Index Name");
    // A scan's filter, an index search's condition, a join's.
    out.condition = [
        "Filter",
        "Index Cond",
        "Recheck Cond",
        "Hash Cond",
        "Merge Cond",
        "Join Filter",
    ]
    .iter()
    .filter_map(|key| text(node, key))
    .reduce(|a, b| format!("{a} AND {b}"));
    out.sort_key = node
        .get("Sort Key")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    out.estimated_rows = node.get("Plan Rows").and_then(Value::as_f64);
    out.actual_rows = node.get("Actual Rows").and_then(Value::as_f64);
    out.cost = node.get("Total Cost").and_then(Value::as_f64);
    let blocks = |key| node.get(key).and_then(Value::as_u64);
    out.buffers = match (blocks("Shared Hit Blocks"), blocks("Shared Read Blocks")) {
        (None, None) => None,
        (hit, read) => Some(Buffers {
            hit: hit.unwrap_or(0),
            read: read.unwrap_or(0),
        }),
    };
    out.children = node
        .get("Plans")
        .and_then(Value::as_array)
        .map(|plans| plans.iter().map(postgres_node).collect())
        .unwrap_or_default();
    out
}

/// SQLite: rows of `(id, parent, notused, detail)`, a tree by `parent`.
pub(super) fn sqlite(rows: &[Row]) -> Result<Plan, Error> {
    let mut flat = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.try_get(0)?;
        let parent: i64 = row.try_get(1)?;
        let detail: String = row.try_get(3)?;
        flat.push((id, parent, sqlite_node(&detail)));
    }
    // A common table expression or subquery SQLite computes (`CO-ROUTINE x`,
    // `MATERIALIZE x`) is read by `SCAN x`: a scan of rows the statement made, not of
    // a table an index could serve.
    let computed: Vec<String> = flat
        .iter()
        .filter_map(|(_, _, node)| {
            let op = &node.operation;
            op.strip_prefix("CO-ROUTINE ")
                .or_else(|| op.strip_prefix("MATERIALIZE "))
                .map(|name| name.trim().to_owned())
        })
        .collect();
    for (_, _, node) in &mut flat {
        if node
            .relation
            .as_ref()
            .is_some_and(|relation| computed.contains(relation))
        {
            node.full_scan = false;
        }
    }
    fn children_of(parent: i64, flat: &[(i64, i64, PlanNode)]) -> Vec<PlanNode> {
        flat.iter()
            .filter(|(_, p, _)| *p == parent)
            .map(|(id, _, node)| {
                let mut node = node.clone();
                node.children = children_of(*id, flat);
                node
            })
            .collect()
    }
    Ok(Plan::new(Backend::Sqlite, children_of(0, &flat)))
}

/// `SCAN rides`, `SEARCH rides USING INDEX ix (a=?)`, `SCAN rides USING COVERING INDEX
/// ix`, `SEARCH rides USING INTEGER PRIMARY KEY (rowid=?)`, `USE TEMP B-TREE FOR ORDER
/// BY`; before SQLite 3.36, `SCAN TABLE rides`.
fn sqlite_node(detail: &str) -> PlanNode {
    let mut words = detail.split(' ');
    let first = words.next().unwrap_or_default();
    if first != "SCAN" && first != "SEARCH" {
        return PlanNode::new(detail);
    }
    let mut node = PlanNode::new(first);
    let mut relation = words.next().unwrap_or_default();
    if relation == "TABLE" {
        relation = words.next().unwrap_or_default();
    }
    node.relation = Some(relation.to_owned()).filter(|r| !r.is_empty());
    let rest = detail.split_once(" USING ").map(|(_, rest)| rest);
    node.index = rest.map(|rest| {
        let rest = rest
            .trim_start_matches("COVERING ")
            .trim_start_matches("INDEX ");
        if rest.starts_with("INTEGER PRIMARY KEY") || rest.starts_with("PRIMARY KEY") {
            "PRIMARY KEY".to_owned()
        } else {
            rest.split([' ', '(']).next().unwrap_or_default().to_owned()
        }
    });
    node.condition = detail
        .find(" (")
        .map(|at| detail[at + 1..].to_owned())
        .filter(|c| c.starts_with('(') && c.ends_with(')'));
    // A SCAN by an index reads the index in order (for ORDER BY), not the table.
    node.full_scan = first == "SCAN" && rest.is_none();
    node
}

/// MariaDB: one row, one text column: `{"query_block": {"nested_loop": [{"table":
/// {…}}, …]}}`, with wrappers (`filesort`, `block-nl-join`, `temporary_table`, …)
/// around tables.
pub(super) fn mariadb(rows: &[Row]) -> Result<Plan, Error> {
    let text: String = rows
        .first()
        .ok_or_else(|| unreadable("no rows from EXPLAIN"))?
        .try_get(0)?;
    let json: Value = serde_json::from_str(&text).map_err(unreadable)?;
    let block = json
        .get("query_block")
        .ok_or_else(|| unreadable("no \"query_block\" in EXPLAIN's JSON"))?;
    let mut plan = Plan::new(Backend::MySql, mariadb_children(block));
    plan.execution_time = millis(block.get("r_total_time_ms"));
    plan.planning_time = millis(
        json.get("query_optimization")
            .and_then(|q| q.get("r_total_time_ms")),
    );
    Ok(plan)
}

/// The nodes inside `value`: a `table` object is a scan; an object under any other key
/// is a step named by its key with the nodes inside it as children; arrays
/// (`nested_loop`) and `query_block` pass their contents through.
fn mariadb_children(value: &Value) -> Vec<PlanNode> {
    let mut out = Vec::new();
    match value {
        Value::Array(items) => {
            for item in items {
                out.extend(mariadb_children(item));
            }
        }
        Value::Object(fields) => {
            for (key, inner) in fields {
                match (key.as_str(), inner) {
                    ("table", Value::Object(_)) => out.push(mariadb_table(inner)),
                    ("query_block" | "nested_loop" | "read_sorted_file", _) => {
                        out.extend(mariadb_children(inner));
                    }
                    (_, Value::Object(_) | Value::Array(_)) => {
                        let children = mariadb_children(inner);
                        if children.is_empty() {
                            continue;
                        }
                        let mut node = PlanNode::new(key.as_str());
                        node.sort_key = text(inner, "sort_key")
                            .map(|keys| keys.split(", ").map(str::to_owned).collect())
                            .unwrap_or_default();
                        node.condition = text(inner, "attached_condition");
                        node.children = children;
                        out.push(node);
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    out
}

fn mariadb_table(table: &Value) -> PlanNode {
    let access = text(table, "access_type").unwrap_or_else(|| "?".to_owned());
    let mut node = PlanNode::new(access);
    node.relation = text(table, "table_name");
    node.index = text(table, "key");
    // `index` reads a whole index; InnoDB's PRIMARY index is the table itself. Rows
    // the statement made (`<derived2>`: a CTE or a subquery in FROM, `<subquery3>`,
    // `<union1,2>`) are no table an index could serve.
    let computed = node.relation.as_deref().is_some_and(|r| r.starts_with('<'));
    node.full_scan = !computed
        && (node.operation == "ALL"
            || (node.operation == "index" && node.index.as_deref() == Some("PRIMARY")));
    node.condition = text(table, "attached_condition");
    node.estimated_rows = table.get("rows").and_then(Value::as_f64);
    node.actual_rows = table.get("r_rows").and_then(Value::as_f64);
    node.children = table
        .as_object()
        .map(|fields| {
            fields
                .iter()
                .filter(|(key, _)| key.as_str() != "table")
                .flat_map(|(_, inner)| match inner {
                    Value::Object(_) | Value::Array(_) => mariadb_children(inner),
                    _ => Vec::new(),
                })
                .collect()
        })
        .unwrap_or_default();
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sqlite_details() {
        let scan = sqlite_node("SCAN rides");
        assert_eq!(
            (
                scan.operation.as_str(),
                scan.relation.as_deref(),
                scan.full_scan
            ),
            ("SCAN", Some("rides"), true)
        );
        let old = sqlite_node("SCAN TABLE rides");
        assert_eq!(old.relation.as_deref(), Some("rides"));
        let search = sqlite_node("SEARCH rides USING INDEX rides_status (status=?)");
        assert_eq!(search.index.as_deref(), Some("rides_status"));
        assert_eq!(search.condition.as_deref(), Some("(status=?)"));
        assert!(!search.full_scan);
        let covering = sqlite_node("SCAN rides USING COVERING INDEX rides_at");
        assert_eq!(covering.index.as_deref(), Some("rides_at"));
        assert!(!covering.full_scan);
        let key = sqlite_node("SEARCH rides USING INTEGER PRIMARY KEY (rowid=?)");
        assert_eq!(key.index.as_deref(), Some("PRIMARY KEY"));
        let temp = sqlite_node("USE TEMP B-TREE FOR ORDER BY");
        assert_eq!(temp.operation, "USE TEMP B-TREE FOR ORDER BY");
        assert!(!temp.full_scan);
    }

    #[test]
    fn reads_mariadb_wrappers() {
        let json: Value = serde_json::from_str(
            r#"{"query_block": {"select_id": 1, "nested_loop": [{"read_sorted_file": {"filesort":
               {"sort_key": "px.n", "table": {"table_name": "px", "access_type": "ALL",
               "rows": 1, "filtered": 100, "attached_condition": "px.s = 'a'"}}}}]}}"#,
        )
        .unwrap();
        let nodes = mariadb_children(json.get("query_block").unwrap());
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].operation, "filesort");
        assert_eq!(nodes[0].sort_key, ["px.n"]);
        let table = &nodes[0].children[0];
        assert_eq!(table.relation.as_deref(), Some("px"));
        assert!(table.full_scan);
        assert_eq!(table.condition.as_deref(), Some("px.s = 'a'"));
    }

    #[test]
    fn reads_postgres_nodes() {
        let json: Value = serde_json::from_str(
            r#"{"Node Type": "Sort", "Sort Key": ["at DESC"], "Plan Rows": 5, "Total Cost": 9.5,
               "Plans": [{"Node Type": "Seq Scan", "Relation Name": "rides", "Plan Rows": 5,
               "Filter": "(status = 'a'::text)", "Actual Rows": 0,
               "Shared Hit Blocks": 3, "Shared Read Blocks": 1}]}"#,
        )
        .unwrap();
        let node = postgres_node(&json);
        assert_eq!(node.sort_key, ["at DESC"]);
        assert_eq!(node.cost, Some(9.5));
        let scan = &node.children[0];
        assert!(scan.full_scan);
        assert_eq!(scan.condition.as_deref(), Some("(status = 'a'::text)"));
        assert_eq!(scan.actual_rows, Some(0.0));
        assert_eq!(scan.buffers, Some(Buffers { hit: 3, read: 1 }));
        assert_eq!(node.buffers, None);
    }
}
