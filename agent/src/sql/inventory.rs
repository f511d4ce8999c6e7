//! Inventory: the instance's identity, version and platform, and its databases.

use std::time::Duration;

use super::{big, int, rows, text, Connection, SqlError};
use ferry_proto::agent::v1::{DatabaseInventory, InstanceInventory};

const SERVER_PROPERTIES: &str = include_str!("queries/server_properties.sql");
const HOST_INFO: &str = include_str!("queries/host_info.sql");
const DATABASES: &str = include_str!("queries/databases.sql");

/// SQL Server 2017 is the first with sys.dm_os_host_info; 2016 runs only on Windows.
const FIRST_WITH_HOST_INFO: i32 = 14;

/// Fills `instance` with what the server says about itself and its databases.
pub async fn collect(
    conn: &mut Connection,
    instance: &mut InstanceInventory,
    timeout: Duration,
) -> Result<(), SqlError> {
    let q = "server_properties";
    let props = rows(conn, q, SERVER_PROPERTIES, timeout).await?;
    let row = props.first().ok_or_else(|| SqlError::Query {
        query: q,
        reason: "no row".into(),
    })?;
    instance.server_name = text(row, q, "server_name")?;
    instance.product_version = text(row, q, "product_version")?;
    instance.major_version = int(row, q, "major_version")?;
    instance.product_level = text(row, q, "product_level")?;
    instance.product_update_level = text(row, q, "product_update_level")?;
    instance.edition = text(row, q, "edition")?;
    instance.engine_edition = int(row, q, "engine_edition")?;
    instance.collation = text(row, q, "collation")?;
    instance.hadr_enabled = int(row, q, "hadr_enabled")? == 1;

    if instance.major_version >= FIRST_WITH_HOST_INFO {
        let q = "host_info";
        let host = rows(conn, q, HOST_INFO, timeout).await?;
        if let Some(row) = host.first() {
            instance.host_platform = text(row, q, "host_platform")?;
            instance.host_distribution = text(row, q, "host_distribution")?;
        }
    } else {
        instance.host_platform = "Windows".into();
    }

    let q = "databases";
    instance.databases = rows(conn, q, DATABASES, timeout)
        .await?
        .iter()
        .map(|row| {
            Ok(DatabaseInventory {
                name: text(row, q, "name")?,
                database_id: int(row, q, "database_id")?,
                state: text(row, q, "state_desc")?,
                recovery_model: text(row, q, "recovery_model_desc")?,
                compatibility_level: int(row, q, "compatibility_level")?,
                size_bytes: big(row, q, "size_bytes")?,
                data_file_count: int(row, q, "data_file_count")?,
                log_file_count: int(row, q, "log_file_count")?,
            })
        })
        .collect::<Result<_, SqlError>>()?;
    Ok(())
}
