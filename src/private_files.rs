//! Files that hold secrets (the SQLite database, the key-encryption key). The server makes them readable by
//! their owner alone; one made by an earlier release, or copied in, keeps the mode it has, so it is named in a
//! warning at start when others may read it.
use std::path::Path;

/// The permission bits of `path` that let its group or other users in, if any (always `None` off Unix).
pub fn open_to_others(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o077;
        (mode != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Warns when `path`, which holds `what`, may be read or written by other users than its owner.
pub fn warn_if_open(path: &Path, what: &str) {
    if let Some(bits) = open_to_others(path) {
        tracing::warn!(
            path = %path.display(),
            group_and_other_bits = format!("{bits:03o}"),
            "{what} can be read by other users than its owner; `chmod 600` it"
        );
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_others_may_read_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, b"x").unwrap();
        for (mode, open) in [(0o600, None), (0o644, Some(0o044)), (0o640, Some(0o040)), (0o602, Some(0o002))] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(open_to_others(&path), open, "{mode:o}");
        }
        assert_eq!(open_to_others(&dir.path().join("missing")), None);
    }
}
