//! The stack directory's lock: one changing command at a time per directory.

use std::path::Path;

/// An exclusive `flock(2)` on `<dir>/lock`, released when dropped (or when the process
/// dies: the kernel drops flocks with the file descriptor, so a killed `up` never leaves
/// the directory locked).
pub(super) struct DirLock {
    /// Never read: it is held for its open descriptor, which is what the flock belongs to
    /// (closing it, by drop or by death, is the unlock).
    _file: std::fs::File,
}

impl DirLock {
    /// Takes the lock, saying so on stderr when another command holds it: a silent wait
    /// behind a slow `up` in another terminal would look like a hang.
    pub(super) fn acquire(dir: &Path) -> anyhow::Result<Self> {
        use std::os::fd::AsRawFd;
        // A separate `lock` file rather than `stack.json` itself: `save` replaces
        // `stack.json` by rename, and a lock on the old inode would lock nothing.
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))?;
        // SAFETY: flock on a descriptor we own; no memory is shared with the kernel.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            eprintln!("    waiting for another bookstore-lab up/down in {}", dir.display());
            // SAFETY: as above; this call blocks until the other holder releases.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(std::io::Error::last_os_error().into());
            }
        }
        Ok(Self { _file: file })
    }
}
