//! Files and folders only their owner may read: the agent's and the control plane's
//! state (keys, databases, passwords). On Unix a folder is 0700 and a file 0600; a
//! secret another user can read is refused rather than used. Elsewhere the platform's
//! own rules apply and these do nothing more.

use std::io;
use std::path::Path;

/// Creates `dir` (and its parents) if missing, and makes it owner-only.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Makes `file` owner-only, creating it empty first if missing (so that what opens it
/// next, SQLite say, finds it so: SQLite gives its journal the database's mode).
pub fn restrict_file(file: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    drop(options.open(file)?);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Writes `contents` to `file`, owner-only (replacing what was there).
pub fn write_secret(file: &Path, contents: &str) -> io::Result<()> {
    restrict_file(file)?;
    std::fs::write(file, contents)
}

/// Reads a secret from `file`, refusing one that users other than its owner can read
/// (group or others), with what to run. A trailing line ending is not part of it.
pub fn read_secret(file: &Path) -> Result<String, String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} can be read by other users (mode {:o}): a secret must be its owner's alone; run `chmod 600 {}`",
                file.display(),
                mode & 0o777,
                file.display()
            ));
        }
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_and_files_are_the_owners_and_shared_secrets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state/nested");
        create_dir(&state).unwrap();
        assert_eq!(mode(&state), 0o700);
        let db = state.join("store.db");
        restrict_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        std::fs::write(&db, "kept").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        restrict_file(&db).unwrap();
        assert_eq!(
            (mode(&db), std::fs::read_to_string(&db).unwrap().as_str()),
            (0o600, "kept")
        );

        let secret = state.join("password");
        write_secret(&secret, "s3cret \n").unwrap();
        assert_eq!(mode(&secret), 0o600);
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = read_secret(&secret).unwrap_err();
        assert!(refused.contains("chmod 600"), "{refused}");
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            read_secret(&secret).unwrap(),
            "s3cret ",
            "a space is the secret's"
        );
    }
}
