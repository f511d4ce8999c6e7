//! User data: a scenario's tables and generated rows, read and changed through
//! tiberius in the database's context; each committed change moves the database's log,
//! and the workload's transactions write real rows.

use std::time::Duration;

use tiberius::numeric::Numeric;

use super::{error_number, lab_on_manual_clock, rows, run, sa, Client};

const SCENARIO: &str = r#"
[[instance]]
name = "SQL01"
version = "2022 CU13"
edition = "Enterprise"

[[instance.login]]
name = "sa"
password = "Lab-Passw0rd!"
sysadmin = true

[[instance.login]]
name = "reader"
password = "Reader-1"

[[instance.database]]
name = "Sales"
backups = [{ type = "D", hours_ago = 2.0 }]
workload = { log_bytes_per_sec = 65536, transactions_per_sec = 10 }

[[instance.database.table]]
name = "Orders"
rows = 100
columns = [
  { name = "id", type = "int", primary_key = true },
  { name = "customer", type = "nvarchar(40)" },
  { name = "amount", type = "decimal(10,2)" },
  { name = "placed", type = "datetime2" },
  { name = "note", type = "nvarchar(max)", nullable = true },
]

[[instance.database.table]]
name = "inventory.Stock"
rows = 5
columns = [
  { name = "sku", type = "varchar(20)", primary_key = true },
  { name = "qty", type = "int" },
]
"#;

async fn count(client: &mut Client, sql: &str) -> i32 {
    rows(client, sql).await[0].get::<i32, _>(0).unwrap()
}

/// The database's end of log, as sys.dm_db_log_stats shows it (hexadecimal parts).
async fn end_of_log(client: &mut Client) -> u128 {
    let r = rows(
        client,
        "SELECT log_end_lsn FROM sys.dm_db_log_stats(DB_ID('Sales'))",
    )
    .await;
    r[0].get::<&str, _>(0)
        .unwrap()
        .split(':')
        .fold(0, |acc, part| {
            (acc << 32) + u128::from_str_radix(part, 16).unwrap()
        })
}

async fn affected(client: &mut Client, sql: &str) -> u64 {
    client.execute(sql, &[]).await.unwrap().total()
}

#[tokio::test]
async fn declared_tables_hold_their_generated_rows() {
    let (lab, _clock) = lab_on_manual_clock(SCENARIO).await;
    let mut client = sa(&lab).await;
    assert_eq!(
        count(&mut client, "SELECT COUNT(*) FROM Sales.dbo.Orders").await,
        100
    );
    run(&mut client, "USE Sales").await;
    let tables = rows(
        &mut client,
        "SELECT s.name, t.name, p.rows FROM sys.tables t JOIN sys.schemas s ON s.schema_id = t.schema_id
         JOIN sys.partitions p ON p.object_id = t.object_id AND p.index_id = 1 ORDER BY s.name",
    )
    .await;
    let tables: Vec<_> = tables
        .iter()
        .map(|r| {
            (
                r.get::<&str, _>(0).unwrap().to_string(),
                r.get::<&str, _>(1).unwrap().to_string(),
                r.get::<i64, _>(2).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tables,
        [
            ("dbo".to_string(), "Orders".to_string(), 100),
            ("inventory".to_string(), "Stock".to_string(), 5)
        ]
    );
    // Row 7 is the same in every lab that runs this scenario.
    let seven = rows(
        &mut client,
        "SELECT customer, amount, placed FROM dbo.Orders WHERE id = 7",
    )
    .await;
    assert_eq!(seven[0].get::<&str, _>(0), Some("row 7"));
    assert_eq!(
        seven[0].get::<Numeric, _>(1),
        Some(Numeric::new_with_scale(525, 2))
    );
    let sku = rows(&mut client, "SELECT MIN(sku) FROM inventory.Stock").await;
    assert_eq!(sku[0].get::<&str, _>(0), Some("K1"));
    // Names compare without case, as the default collation does.
    assert_eq!(
        count(
            &mut client,
            "SELECT COUNT(*) FROM DBO.ORDERS WHERE CUSTOMER = 'ROW 7'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn changes_are_counted_logged_and_checked() {
    let (lab, _clock) = lab_on_manual_clock(SCENARIO).await;
    let mut client = sa(&lab).await;
    run(&mut client, "USE Sales").await;
    let start = end_of_log(&mut client).await;
    let inserted = affected(
        &mut client,
        "INSERT INTO dbo.Orders (id, customer, amount, placed) VALUES (1000, N'Contoso', 12.50, '2024-05-01')",
    )
    .await;
    assert_eq!(inserted, 1);
    let after_insert = end_of_log(&mut client).await;
    assert!(after_insert > start);
    assert_eq!(
        affected(
            &mut client,
            "UPDATE dbo.Orders SET amount = amount + 1 WHERE id <= 10"
        )
        .await,
        10
    );
    assert_eq!(
        affected(
            &mut client,
            "DELETE FROM dbo.Orders WHERE id > 90 AND id < 1000"
        )
        .await,
        10
    );
    let after_changes = end_of_log(&mut client).await;
    assert!(
        after_changes > after_insert,
        "{after_changes:x} after {after_insert:x}"
    );
    // A statement that changes nothing writes no log.
    let quiet = end_of_log(&mut client).await;
    assert_eq!(
        affected(&mut client, "DELETE FROM dbo.Orders WHERE id = -1").await,
        0
    );
    assert_eq!(end_of_log(&mut client).await, quiet);
    assert_eq!(
        count(&mut client, "SELECT CAST(rows AS int) FROM sys.partitions WHERE object_id = (SELECT object_id FROM sys.tables WHERE name = 'Orders')").await,
        91
    );

    assert_eq!(
        error_number(&mut client, "INSERT INTO dbo.Orders (id, customer, amount, placed) VALUES (1, N'x', 1, '2024-01-01')").await,
        2627
    );
    assert_eq!(
        error_number(
            &mut client,
            "INSERT INTO dbo.Orders (id, amount, placed) VALUES (2000, 1, '2024-01-01')"
        )
        .await,
        515
    );
    // The system views stay read-only.
    assert_eq!(
        error_number(&mut client, "DELETE FROM sys.tables").await,
        259
    );
}

#[tokio::test]
async fn the_workload_writes_real_rows() {
    let (lab, clock) = lab_on_manual_clock(SCENARIO).await;
    let mut client = sa(&lab).await;
    clock.advance(Duration::from_millis(10_050));
    // Ten transactions a second for ten seconds: a hundred more rows, the half
    // transaction carried over.
    assert_eq!(
        count(&mut client, "SELECT COUNT(*) FROM Sales.dbo.Orders").await,
        200
    );
    clock.advance(Duration::from_millis(50));
    assert_eq!(
        count(&mut client, "SELECT COUNT(*) FROM Sales.dbo.Orders").await,
        201
    );
    let last = rows(&mut client, "SELECT MAX(id) FROM Sales.dbo.Orders").await;
    assert_eq!(last[0].get::<i32, _>(0), Some(201));
}
