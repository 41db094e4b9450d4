//! Files only their owner may read: the store and its at-rest key, the key rings, the audit
//! file, generated bootstrap secrets. The mode they are created with, and the check on one found
//! already there, are written once here.

use std::fs::{Metadata, OpenOptions};
use std::path::Path;

/// `opts`, set to create files readable and writable by their owner only (0600 on Unix).
pub(crate) fn owner_only(opts: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    opts
}

/// Logs a warning when the file at `path`, described by `meta`, may be read by its group or by
/// others; `what` names it in the message ("key ring file", "store file").
pub(crate) fn warn_if_shared(meta: &Metadata, path: &Path, what: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "{what} is accessible by group or others; chmod 600 it");
        }
    }
    #[cfg(not(unix))]
    let _ = (meta, path, what);
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn files_are_created_for_their_owner_only_however_they_are_opened() {
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let new = dir.path().join("new");
        drop(
            owner_only(OpenOptions::new().write(true).create_new(true))
                .open(&new)
                .unwrap(),
        );
        let appended = dir.path().join("appended");
        drop(
            owner_only(OpenOptions::new().create(true).append(true))
                .open(&appended)
                .unwrap(),
        );
        assert_eq!((mode(&new), mode(&appended)), (0o600, 0o600));
    }
}
