//! The exact SQL the builders write, for Postgres, SQLite and MySQL/MariaDB.

use txova_db::{Backend, Direction, Select, Table, count, sum};

use crate::builder::{Driver, Person, Referred, Ride, User};

fn sql(statement: txova_db::sql::Statement) -> String {
    statement.sql().to_owned()
}

const USER_COLUMNS: &str = r#""users"."id", "users"."name", "users"."email_address", "users"."status", "users"."age", "users"."score", "users"."nickname""#;
const MYSQL_USER_COLUMNS: &str = "`users`.`id`, `users`.`name`, `users`.`email_address`, `users`.`status`, `users`.`age`, `users`.`score`, `users`.`nickname`";

#[test]
fn select_with_filters_order_and_limit() {
    let query = User::select()
        .filter(User::status.eq("active") & User::age.ge(18))
        .filter(User::nickname.is_null() | User::name.is_in(["Ana", "Rui"]))
        .order_by(User::age.desc())
        .limit(10)
        .offset(20);
    assert_eq!(
        sql(query.to_sql_for(Backend::Postgres)),
        format!(
            r#"SELECT {USER_COLUMNS} FROM "users" WHERE ("users"."status" = $1 AND "users"."age" >= $2 AND ("users"."nickname" IS NULL OR "users"."name" = ANY($3))) ORDER BY "users"."age" DESC LIMIT 10 OFFSET 20"#
        )
    );
    assert_eq!(
        sql(query.to_sql_for(Backend::Sqlite)),
        format!(
            r#"SELECT {USER_COLUMNS} FROM "users" WHERE ("users"."status" = ? AND "users"."age" >= ? AND ("users"."nickname" IS NULL OR "users"."name" IN (?, ?))) ORDER BY "users"."age" DESC LIMIT 10 OFFSET 20"#
        )
    );
    assert_eq!(
        sql(query.to_sql_for(Backend::MySql)),
        format!(
            "SELECT {MYSQL_USER_COLUMNS} FROM `users` WHERE (`users`.`status` = ? AND `users`.`age` >= ? AND (`users`.`nickname` IS NULL OR `users`.`name` IN (?, ?))) ORDER BY `users`.`age` DESC LIMIT 10 OFFSET 20"
        )
    );
    assert_eq!(
        query.to_sql().params(),
        [r#""active""#, "18", r#"["Ana", "Rui"]"#]
    );
}

#[test]
fn like_ilike_between_and_negation_per_dialect() {
    let query = User::select().columns(User::id).filter(
        User::name.like("A%") & User::email.ilike("%@EXAMPLE.COM") & !User::age.between(1, 9),
    );
    assert_eq!(
        sql(query.to_sql_for(Backend::Postgres)),
        r#"SELECT "users"."id" FROM "users" WHERE ("users"."name" LIKE $1 AND "users"."email_address" ILIKE $2 AND NOT ("users"."age" BETWEEN $3 AND $4))"#
    );
    let sqlite = query.to_sql_for(Backend::Sqlite);
    assert_eq!(
        sqlite.sql(),
        r#"SELECT "users"."id" FROM "users" WHERE ("users"."name" GLOB ? AND lower("users"."email_address") LIKE lower(?) ESCAPE '\' AND NOT ("users"."age" BETWEEN ? AND ?))"#
    );
    assert_eq!(sqlite.params()[0], r#""A*""#);
    // MySQL's LIKE follows the column's collation (case-insensitive by default);
    // ILIKE is spelt with lower() on both sides.
    let mysql = query.to_sql_for(Backend::MySql);
    assert_eq!(
        mysql.sql(),
        "SELECT `users`.`id` FROM `users` WHERE (`users`.`name` LIKE ? AND lower(`users`.`email_address`) LIKE lower(?) AND NOT (`users`.`age` BETWEEN ? AND ?))"
    );
    assert_eq!(mysql.params()[0], r#""A%""#);
}

#[test]
fn empty_in_lists_are_constants() {
    let none: [i64; 0] = [];
    assert!(sql(User::select().filter(User::id.is_in(none)).to_sql()).ends_with("WHERE 1 = 0"));
    assert!(
        sql(User::select().filter(User::id.not_in(none)).to_sql()).ends_with(r#"FROM "users""#)
    );
    let always_true_but_age = User::select().filter(User::id.not_in(none) & User::age.eq(3));
    assert!(sql(always_true_but_age.to_sql()).ends_with(r#"WHERE "users"."age" = $1"#));
}

#[test]
fn offset_without_limit_and_locks_per_dialect() {
    let query = User::select()
        .columns(User::id)
        .offset(5)
        .for_update()
        .skip_locked();
    assert_eq!(
        sql(query.to_sql_for(Backend::Postgres)),
        r#"SELECT "users"."id" FROM "users" OFFSET 5 FOR UPDATE SKIP LOCKED"#
    );
    assert_eq!(
        sql(query.to_sql_for(Backend::Sqlite)),
        "/* SKIP LOCKED is not supported on sqlite */"
    );
    let plain_lock = User::select().columns(User::id).offset(5).for_share();
    assert_eq!(
        sql(plain_lock.to_sql_for(Backend::Sqlite)),
        r#"SELECT "users"."id" FROM "users" LIMIT -1 OFFSET 5"#
    );
    let share_nowait = plain_lock.nowait();
    assert!(sql(share_nowait.to_sql()).ends_with("FOR SHARE NOWAIT"));
    // MySQL has no OFFSET without LIMIT: the largest LIMIT stands in. MariaDB has no
    // FOR SHARE: both servers take LOCK IN SHARE MODE.
    assert_eq!(
        sql(query.to_sql_for(Backend::MySql)),
        "SELECT `users`.`id` FROM `users` LIMIT 18446744073709551615 OFFSET 5 FOR UPDATE SKIP LOCKED"
    );
    assert_eq!(
        sql(share_nowait.to_sql_for(Backend::MySql)),
        "SELECT `users`.`id` FROM `users` LIMIT 18446744073709551615 OFFSET 5 LOCK IN SHARE MODE NOWAIT"
    );
}

#[test]
fn joins_aggregates_group_by_having() {
    let query = User::select()
        .inner_join(User::id, Ride::user_id)
        .columns((User::name, count(), sum(Ride::fare_cents)))
        .filter(Ride::status.eq("completed"))
        .group_by(User::name)
        .having(count().gt(2))
        .order_by(User::name.asc());
    assert_eq!(
        sql(query.to_sql()),
        r#"SELECT "users"."name", COUNT(*), CAST(SUM("rides"."fare_cents") AS BIGINT) FROM "users" INNER JOIN "rides" ON "users"."id" = "rides"."user_id" WHERE "rides"."status" = $1 GROUP BY "users"."name" HAVING COUNT(*) > $2 ORDER BY "users"."name" ASC"#
    );
    assert_eq!(
        sql(query.to_sql_for(Backend::MySql)),
        "SELECT `users`.`name`, COUNT(*), CAST(SUM(`rides`.`fare_cents`) AS SIGNED) FROM `users` INNER JOIN `rides` ON `users`.`id` = `rides`.`user_id` WHERE `rides`.`status` = ? GROUP BY `users`.`name` HAVING COUNT(*) > ? ORDER BY `users`.`name` ASC"
    );
    let left = User::select()
        .left_join(User::id, Ride::user_id)
        .columns((User::id, Ride::id));
    assert!(
        sql(left.to_sql()).contains(r#"LEFT JOIN "rides" ON "users"."id" = "rides"."user_id""#)
    );
}

#[test]
fn outer_compound_and_three_table_joins_per_dialect() {
    let query = User::select()
        .left_join_on::<Ride>(|on| {
            on.eq(User::id, Ride::user_id)
                .and(Ride::status.eq("completed") | Ride::status.eq("assigned"))
        })
        .right_join(Ride::driver_id, Driver::id)
        .columns((Driver::name, User::name, Ride::fare_cents))
        .filter(Driver::city.eq("Beira").or_across(User::name.eq("Ana")));
    assert_eq!(
        sql(query.to_sql_for(Backend::Postgres)),
        r#"SELECT "drivers"."name", "users"."name", "rides"."fare_cents" FROM "users" LEFT JOIN "rides" ON ("users"."id" = "rides"."user_id" AND ("rides"."status" = $1 OR "rides"."status" = $2)) RIGHT JOIN "drivers" ON "rides"."driver_id" = "drivers"."id" WHERE ("drivers"."city" = $3 OR "users"."name" = $4)"#
    );
    assert_eq!(
        sql(query.to_sql_for(Backend::Sqlite)),
        r#"SELECT "drivers"."name", "users"."name", "rides"."fare_cents" FROM "users" LEFT JOIN "rides" ON ("users"."id" = "rides"."user_id" AND ("rides"."status" = ? OR "rides"."status" = ?)) RIGHT JOIN "drivers" ON "rides"."driver_id" = "drivers"."id" WHERE ("drivers"."city" = ? OR "users"."name" = ?)"#
    );
    assert_eq!(
        sql(query.to_sql_for(Backend::MySql)),
        "SELECT `drivers`.`name`, `users`.`name`, `rides`.`fare_cents` FROM `users` LEFT JOIN `rides` ON (`users`.`id` = `rides`.`user_id` AND (`rides`.`status` = ? OR `rides`.`status` = ?)) RIGHT JOIN `drivers` ON `rides`.`driver_id` = `drivers`.`id` WHERE (`drivers`.`city` = ? OR `users`.`name` = ?)"
    );
    assert_eq!(
        query.to_sql().params(),
        [r#""completed""#, r#""assigned""#, r#""Beira""#, r#""Ana""#]
    );

    let full = Ride::select()
        .full_join_on::<Driver>(|on| on.eq(Ride::driver_id, Driver::id))
        .columns((Ride::id, Driver::id));
    assert_eq!(
        sql(full.to_sql_for(Backend::Postgres)),
        r#"SELECT "rides"."id", "drivers"."id" FROM "rides" FULL JOIN "drivers" ON "rides"."driver_id" = "drivers"."id""#
    );
    assert_eq!(
        sql(full.to_sql_for(Backend::Sqlite)),
        r#"SELECT "rides"."id", "drivers"."id" FROM "rides" FULL JOIN "drivers" ON "rides"."driver_id" = "drivers"."id""#
    );
    let mysql = sql(full.to_sql_for(Backend::MySql));
    assert!(
        mysql.starts_with("/* ") && mysql.contains("FULL JOIN"),
        "{mysql}"
    );

    // An ON of values only (no column equality) is a filtered cross join.
    let cross = Ride::select()
        .inner_join_on::<Driver>(|on| on.and(Driver::city.eq("Maputo")))
        .columns((Ride::id, Driver::id));
    assert_eq!(
        sql(cross.to_sql()),
        r#"SELECT "rides"."id", "drivers"."id" FROM "rides" INNER JOIN "drivers" ON "drivers"."city" = $1"#
    );
    let cross_all = Ride::select()
        .inner_join_on::<Driver>(|on| on)
        .columns((Ride::id, Driver::id));
    assert!(sql(cross_all.to_sql()).ends_with(r#"INNER JOIN "drivers" ON 1 = 1"#));
}

txova_db::alias!(Earlier);

#[test]
fn aliases_per_dialect() {
    use txova_db::table::Aliased;
    let query = Ride::select()
        .left_join_on::<Aliased<Ride, Earlier>>(|on| {
            on.eq(Ride::user_id, Ride::user_id.of::<Earlier>())
                .and(Ride::id.of::<Earlier>().lt_column(Ride::id))
        })
        .columns((Ride::id, Ride::id.of::<Earlier>()))
        .filter(Ride::status.of::<Earlier>().eq("completed"))
        .order_by(Ride::id.of::<Earlier>().desc());
    assert_eq!(
        sql(query.to_sql_for(Backend::Postgres)),
        r#"SELECT "rides"."id", "earlier"."id" FROM "rides" LEFT JOIN "rides" AS "earlier" ON ("rides"."user_id" = "earlier"."user_id" AND "earlier"."id" < "rides"."id") WHERE "earlier"."status" = $1 ORDER BY "earlier"."id" DESC"#
    );
    assert_eq!(
        sql(query.to_sql_for(Backend::Sqlite)),
        r#"SELECT "rides"."id", "earlier"."id" FROM "rides" LEFT JOIN "rides" AS "earlier" ON ("rides"."user_id" = "earlier"."user_id" AND "earlier"."id" < "rides"."id") WHERE "earlier"."status" = ? ORDER BY "earlier"."id" DESC"#
    );
    assert_eq!(
        sql(query.to_sql_for(Backend::MySql)),
        "SELECT `rides`.`id`, `earlier`.`id` FROM `rides` LEFT JOIN `rides` AS `earlier` ON (`rides`.`user_id` = `earlier`.`user_id` AND `earlier`.`id` < `rides`.`id`) WHERE `earlier`.`status` = ? ORDER BY `earlier`.`id` DESC"
    );
    let aliased = Select::<Aliased<Ride, Earlier>, Ride>::aliased()
        .filter(Ride::id.of::<Earlier>().eq(7))
        .order_by_name("id", Direction::Asc);
    assert!(aliased.is_err(), "id is not a sortable column of rides");
    let aliased =
        Select::<Aliased<Ride, Earlier>, Ride>::aliased().filter(Ride::id.of::<Earlier>().eq(7));
    assert_eq!(
        sql(aliased.to_sql_for(Backend::MySql)),
        "SELECT `earlier`.`id`, `earlier`.`user_id`, `earlier`.`driver_id`, `earlier`.`fare_cents`, `earlier`.`status` FROM `rides` AS `earlier` WHERE `earlier`.`id` = ?"
    );
}

#[test]
fn common_table_expressions_per_dialect() {
    let tree = txova_db::select::Cte::<Referred>::recursive(
        Person::select()
            .columns((Person::id, Person::name))
            .filter(Person::referrer_id.eq(1)),
        Person::select()
            .inner_join(Person::referrer_id, Referred::id)
            .columns((Person::id, Person::name)),
    );
    let query = Referred::select()
        .with(tree)
        .filter(Referred::name.ne("Dan"))
        .limit(5);
    assert_eq!(
        sql(query.to_sql_for(Backend::Postgres)),
        r#"WITH RECURSIVE "referred" ("id", "name") AS (SELECT "people"."id", "people"."name" FROM "people" WHERE "people"."referrer_id" = $1 UNION ALL SELECT "people"."id", "people"."name" FROM "people" INNER JOIN "referred" ON "people"."referrer_id" = "referred"."id") SELECT "referred"."id", "referred"."name" FROM "referred" WHERE "referred"."name" <> $2 LIMIT 5"#
    );
    assert_eq!(
        sql(query.to_sql_for(Backend::Sqlite)),
        r#"WITH RECURSIVE "referred" ("id", "name") AS (SELECT "people"."id", "people"."name" FROM "people" WHERE "people"."referrer_id" = ? UNION ALL SELECT "people"."id", "people"."name" FROM "people" INNER JOIN "referred" ON "people"."referrer_id" = "referred"."id") SELECT "referred"."id", "referred"."name" FROM "referred" WHERE "referred"."name" <> ? LIMIT 5"#
    );
    assert_eq!(
        sql(query.to_sql_for(Backend::MySql)),
        "WITH RECURSIVE `referred` (`id`, `name`) AS (SELECT `people`.`id`, `people`.`name` FROM `people` WHERE `people`.`referrer_id` = ? UNION ALL SELECT `people`.`id`, `people`.`name` FROM `people` INNER JOIN `referred` ON `people`.`referrer_id` = `referred`.`id`) SELECT `referred`.`id`, `referred`.`name` FROM `referred` WHERE `referred`.`name` <> ? LIMIT 5"
    );
    assert_eq!(query.to_sql().params(), ["Some(1)", r#""Dan""#]);

    // Through a subquery, the WITH goes along, and the placeholders number on.
    let delete = Person::delete().filter(
        Person::name.eq("x")
            & Person::id.is_in_query(
                Referred::select()
                    .with(txova_db::select::Cte::<Referred>::new(
                        Person::select()
                            .columns((Person::id, Person::name))
                            .filter(Person::referrer_id.eq(2)),
                    ))
                    .columns(Referred::id),
            ),
    );
    assert_eq!(
        sql(delete.to_sql()),
        r#"DELETE FROM "people" WHERE ("people"."name" = $1 AND "people"."id" IN (WITH "referred" ("id", "name") AS (SELECT "people"."id", "people"."name" FROM "people" WHERE "people"."referrer_id" = $2) SELECT "referred"."id" FROM "referred"))"#
    );
}

#[test]
fn insert_upsert_update_delete() {
    let ana = User {
        id: 0,
        name: "Ana".into(),
        email: "ana@example.com".into(),
        status: "active".into(),
        age: 30,
        score: 1.0,
        nickname: None,
        loaded_from_cache: true,
    };
    let insert_columns = r#""name", "email_address", "status", "age", "score", "nickname""#;
    // Postgres takes many rows as one array per column; SQLite as VALUES lists.
    let many = User::insert_many([&ana, &ana]);
    assert_eq!(
        sql(many.to_sql()),
        format!(
            r#"INSERT INTO "users" ({insert_columns}) SELECT * FROM UNNEST($1, $2, $3, $4, $5, $6)"#
        )
    );
    assert_eq!(many.to_sql().params()[0], "[2 values]");
    assert_eq!(
        many.to_sql_for(Backend::Sqlite)[0].sql(),
        format!(
            r#"INSERT INTO "users" ({insert_columns}) VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)"#
        )
    );
    assert_eq!(
        sql(User::insert(&ana)
            .on_conflict_do_nothing()
            .returning()
            .to_sql()),
        format!(
            r#"INSERT INTO "users" ({insert_columns}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING "id", "name", "email_address", "status", "age", "score", "nickname""#
        )
    );
    let upsert = User::insert(&ana)
        .on_conflict([User::email])
        .do_update((User::name, User::age));
    assert!(sql(upsert.to_sql()).ends_with(
        r#"ON CONFLICT ("email_address") DO UPDATE SET "name" = EXCLUDED."name", "age" = EXCLUDED."age""#
    ));
    // MySQL: VALUES lists for many rows; the conflict target is whichever unique key
    // the row hits; DO NOTHING is INSERT IGNORE.
    let mysql_columns = "`name`, `email_address`, `status`, `age`, `score`, `nickname`";
    assert_eq!(
        many.to_sql_for(Backend::MySql)[0].sql(),
        format!(
            "INSERT INTO `users` ({mysql_columns}) VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)"
        )
    );
    assert_eq!(
        upsert.to_sql_for(Backend::MySql)[0].sql(),
        format!(
            "INSERT INTO `users` ({mysql_columns}) VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE `name` = VALUES(`name`), `age` = VALUES(`age`)"
        )
    );
    assert_eq!(
        User::insert(&ana)
            .on_conflict_do_nothing()
            .to_sql_for(Backend::MySql)[0]
            .sql(),
        format!("INSERT IGNORE INTO `users` ({mysql_columns}) VALUES (?, ?, ?, ?, ?, ?)")
    );
    assert_eq!(
        sql(User::update()
            .set(User::age, 31)
            .filter(User::id.eq(7))
            .to_sql_for(Backend::MySql)),
        "UPDATE `users` SET `age` = ? WHERE `users`.`id` = ?"
    );
    assert_eq!(
        sql(User::delete()
            .filter(User::age.lt(18))
            .to_sql_for(Backend::MySql)),
        "DELETE FROM `users` WHERE `users`.`age` < ?"
    );
    assert_eq!(
        sql(User::update()
            .set(User::age, 31)
            .filter(User::id.eq(7))
            .to_sql_for(Backend::Sqlite)),
        r#"UPDATE "users" SET "age" = ? WHERE "users"."id" = ?"#
    );
    assert_eq!(
        sql(User::update().set(User::status, "gone").all_rows().to_sql()),
        r#"UPDATE "users" SET "status" = $1"#
    );
    assert_eq!(
        sql(User::delete().filter(User::age.lt(18)).to_sql()),
        r#"DELETE FROM "users" WHERE "users"."age" < $1"#
    );
}

#[test]
fn untyped_builder_quotes_and_renumbers() {
    let query = Select::from("audit log")
        .columns(["who", "what \"quoted\""])
        .expect("lenient")
        .filter_raw("at > ? AND note <> '?'", 5_i64)
        .filter_raw("kind = ?", "login")
        .order_by_name("at", Direction::Desc)
        .expect("lenient");
    assert_eq!(
        sql(query.to_sql()),
        r#"SELECT "audit log"."who", "audit log"."what ""quoted""" FROM "audit log" WHERE ((at > $1 AND note <> '?') AND (kind = $2)) ORDER BY "audit log"."at" DESC"#
    );
    assert_eq!(
        sql(query.to_sql_for(Backend::MySql)),
        r#"SELECT `audit log`.`who`, `audit log`.`what "quoted"` FROM `audit log` WHERE ((at > ? AND note <> '?') AND (kind = ?)) ORDER BY `audit log`.`at` DESC"#
    );
}

#[test]
fn subqueries_in_and_exists_per_dialect() {
    // Users with a completed ride over 1000 cents; users without any ride; the
    // placeholders continue across the nesting.
    let query = User::select()
        .columns(User::id)
        .filter(User::status.eq("active"))
        .filter(
            User::id.is_in_query(
                Ride::select()
                    .columns(Ride::user_id)
                    .filter(Ride::status.eq("completed") & Ride::fare_cents.gt(1000)),
            ),
        )
        .filter(txova_db::not_exists(
            Ride::select()
                .correlate::<User>()
                .columns(Ride::id)
                .filter(Ride::user_id.eq_column(User::id))
                .filter(Ride::status.eq("requested")),
        ));
    assert_eq!(
        sql(query.to_sql_for(Backend::Postgres)),
        r#"SELECT "users"."id" FROM "users" WHERE ("users"."status" = $1 AND "users"."id" IN (SELECT "rides"."user_id" FROM "rides" WHERE ("rides"."status" = $2 AND "rides"."fare_cents" > $3)) AND NOT EXISTS (SELECT "rides"."id" FROM "rides" WHERE ("rides"."user_id" = "users"."id" AND "rides"."status" = $4)))"#
    );
    assert_eq!(
        sql(query.to_sql_for(Backend::Sqlite)),
        r#"SELECT "users"."id" FROM "users" WHERE ("users"."status" = ? AND "users"."id" IN (SELECT "rides"."user_id" FROM "rides" WHERE ("rides"."status" = ? AND "rides"."fare_cents" > ?)) AND NOT EXISTS (SELECT "rides"."id" FROM "rides" WHERE ("rides"."user_id" = "users"."id" AND "rides"."status" = ?)))"#
    );
    assert_eq!(
        sql(query.to_sql_for(Backend::MySql)),
        "SELECT `users`.`id` FROM `users` WHERE (`users`.`status` = ? AND `users`.`id` IN (SELECT `rides`.`user_id` FROM `rides` WHERE (`rides`.`status` = ? AND `rides`.`fare_cents` > ?)) AND NOT EXISTS (SELECT `rides`.`id` FROM `rides` WHERE (`rides`.`user_id` = `users`.`id` AND `rides`.`status` = ?)))"
    );
    assert_eq!(
        query.to_sql().params(),
        [r#""active""#, r#""completed""#, "1000", r#""requested""#]
    );
    // A subquery that locks rows is refused, by name.
    let locking = User::select()
        .filter(User::id.not_in_query(Ride::select().columns(Ride::user_id).for_update()));
    assert!(
        locking
            .to_sql()
            .sql()
            .contains("a subquery cannot lock rows"),
        "{}",
        locking.to_sql().sql()
    );
}

#[test]
fn scalar_subqueries_per_dialect() {
    let query = User::select()
        .columns((
            User::name,
            txova_db::scalar(
                Ride::select()
                    .correlate::<User>()
                    .columns(count())
                    .filter(Ride::user_id.eq_column(User::id))
                    .filter(Ride::status.eq("completed")),
            ),
        ))
        .filter(User::id.ge_query(Ride::select().columns(txova_db::min(Ride::fare_cents))))
        .filter(User::status.eq("active"));
    assert_eq!(
        sql(query.to_sql_for(Backend::Postgres)),
        r#"SELECT "users"."name", (SELECT COUNT(*) FROM "rides" WHERE ("rides"."user_id" = "users"."id" AND "rides"."status" = $1)) FROM "users" WHERE ("users"."id" >= (SELECT MIN("rides"."fare_cents") FROM "rides") AND "users"."status" = $2)"#
    );
    assert_eq!(
        sql(query.to_sql_for(Backend::MySql)),
        "SELECT `users`.`name`, (SELECT COUNT(*) FROM `rides` WHERE (`rides`.`user_id` = `users`.`id` AND `rides`.`status` = ?)) FROM `users` WHERE (`users`.`id` >= (SELECT MIN(`rides`.`fare_cents`) FROM `rides`) AND `users`.`status` = ?)"
    );
    assert_eq!(query.to_sql().params(), [r#""completed""#, r#""active""#]);
}

/// Names holding quote characters: the select list rendered by the derive doubles them
/// as the runtime does for every other identifier.
#[derive(Debug, Clone, txova_db::Table)]
#[table(name = "odd\"table`s")]
pub struct OddNames {
    #[column(primary_key)]
    pub id: i64,
    #[column(name = "say \"hi\" `now`")]
    pub greeting: String,
}

#[test]
fn a_derived_select_list_quotes_names_as_the_runtime_does() {
    let whole = OddNames::select();
    let spelled_out = OddNames::select().columns((OddNames::id, OddNames::greeting));
    for backend in [Backend::Postgres, Backend::Sqlite, Backend::MySql] {
        assert_eq!(
            sql(whole.to_sql_for(backend)),
            sql(spelled_out.to_sql_for(backend)),
            "{backend:?}"
        );
    }
    assert_eq!(
        sql(whole.to_sql_for(Backend::Postgres)),
        r#"SELECT "odd""table`s"."id", "odd""table`s"."say ""hi"" `now`" FROM "odd""table`s""#
    );
    assert_eq!(
        sql(whole.to_sql_for(Backend::MySql)),
        r#"SELECT `odd"table``s`.`id`, `odd"table``s`.`say "hi" ``now``` FROM `odd"table``s`"#
    );
}
