//! The master database's master key (mi-link.md §2.1 (b)), which protects the
//! endpoint certificate's private key. Ferry makes a strong password and keeps it in
//! an owner-only file in the agent's state directory before it creates the key, so a
//! crash between the two loses nothing (the next run uses the same password). The
//! password is never logged nor sent off this host.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::Rng;

use crate::sql::{self, plain_literal};
use crate::workflow::{execute, Context, Found, StepError};

pub async fn inspect(ctx: &mut Context<'_>) -> Result<Found, StepError> {
    let q = "master key";
    let exists = sql::positive(
        ctx.conn,
        q,
        "SELECT CAST(COUNT(*) AS int) AS n FROM master.sys.symmetric_keys WHERE symmetric_key_id = 101",
        ctx.timeout,
    )
    .await?;
    Ok(if exists {
        Found::Done("the master database has a master key".into())
    } else if !ctx.encrypted {
        // CREATE MASTER KEY carries its password: not over a connection that is not
        // encrypted after login.
        Found::Blocked(
            "the master database has no master key, and creating one sends its password, which this connection would carry unencrypted (the instance's encryption is not \"required\"): set encryption = \"required\" for the instance in the agent's configuration, or create the master key yourself (CREATE MASTER KEY ENCRYPTION BY PASSWORD = ...), then retry".into(),
        )
    } else {
        Found::Missing(format!(
            "create the master key; its password is kept in {}",
            password_file(ctx).display()
        ))
    })
}

pub async fn apply(ctx: &mut Context<'_>) -> Result<(), StepError> {
    let path = password_file(ctx);
    let password = kept_password(&path)
        .map_err(|e| StepError::Local(format!("master key password {}: {e}", path.display())))?;
    let statement = format!(
        "USE master; CREATE MASTER KEY ENCRYPTION BY PASSWORD = {}",
        plain_literal(&password)
    );
    execute(ctx, "create master key", &statement).await
}

fn password_file(ctx: &Context<'_>) -> PathBuf {
    let server: String = ctx
        .server_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    ctx.state_dir
        .join("master-keys")
        .join(format!("{server}.password"))
}

/// The password in `path`, or a new one written there first (owner-only).
fn kept_password(path: &Path) -> std::io::Result<String> {
    if let Ok(kept) = std::fs::read_to_string(path) {
        if !kept.trim().is_empty() {
            return Ok(kept.trim().to_string());
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    // Upper, lower, digit and symbol, as SQL Server's password policy wants.
    let password: String = (0..32)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .chain("Aa9!".chars())
        .collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(password.as_bytes())?;
    file.sync_all()?;
    Ok(password)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_password_is_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master-keys").join("SQL01.password");
        let first = super::kept_password(&path).unwrap();
        assert!(first.len() >= 32 && first.ends_with("Aa9!"));
        assert_eq!(super::kept_password(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
    }
}
