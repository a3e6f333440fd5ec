//! Writing key files: the folder 0700, each file 0600 from the moment it
//! exists, never an existing file replaced, never a half-written key under
//! its final name.
//!
//! The bytes go to a temp file in the same folder, created exclusively
//! (`O_CREAT|O_EXCL`) with mode 0600 and fsynced; it is then published with
//! `link(2)`, which, unlike `rename(2)`, fails if the name exists: atomic
//! and exclusive at once, so two `keys add` of one name cannot both win and
//! a crash leaves either no key or a whole one (plus at worst a dotted temp
//! file, which no key name can collide with).

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;

use rand_core::{OsRng, RngCore};

pub(super) enum WriteError {
    Exists,
    Io(String),
}

/// Writes `bytes` as the new file `path` in `dir` (creating `dir` 0700).
pub(super) fn write_new(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let io = |what: &Path, e: std::io::Error| WriteError::Io(format!("{}: {e}", what.display()));
    ensure_private_dir(dir).map_err(|e| io(dir, e))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut suffix = [0u8; 8];
    OsRng.fill_bytes(&mut suffix);
    let temp = dir.join(format!(".{file_name}.{}.tmp", hex::encode(suffix)));
    let result = write_synced(&temp, bytes)
        .map_err(|e| io(&temp, e))
        .and_then(|()| match fs::hard_link(&temp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(WriteError::Exists),
            // A file system without hard links: the exclusive create alone
            // still never replaces a key; only crash atomicity is lost.
            Err(_) => write_synced(path, bytes).map_err(|e| match e.kind() {
                ErrorKind::AlreadyExists => WriteError::Exists,
                _ => io(path, e),
            }),
        });
    let _ = fs::remove_file(&temp);
    result?;
    // Make the new name durable too; best effort, the key is written.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Creates `path` exclusively, 0600, with `bytes`, flushed to disk.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if written.is_err() {
        let _ = fs::remove_file(path);
    }
    written
}

/// Creates `dir` (and missing parents) 0700, and takes group and other
/// access away from an existing one (older umd created it 0755).
fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let mode = fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(mode & 0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}
