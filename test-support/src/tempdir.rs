//! A directory of its own under the system temp dir for one test,
//! removed with the guard.
//!
//! ```
//! use test_support::TempDir;
//!
//! let kept;
//! {
//!     let dir = TempDir::new("doc-tempdir");
//!     assert!(dir.is_dir()); // `Deref<Target = Path>`
//!     std::fs::write(dir.join("a.txt"), b"a").unwrap();
//!     kept = dir.path().to_path_buf();
//!
//!     // A path of its own that does not exist yet, for code that must
//!     // create it.
//!     let unborn = TempDir::unborn("doc-tempdir");
//!     assert!(!unborn.exists());
//!     assert_ne!(unborn.path(), dir.path());
//! }
//! assert!(!kept.exists()); // removed on drop, with what was in it
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory named `<tag>-<process id>-<counter>` (in
/// [`std::env::temp_dir`] unless [`TempDir::unborn_in`] says where), unique
/// to this process and call, removed with everything in it when the value
/// is dropped.
///
/// The path is the public field and the [`Deref`](std::ops::Deref) target,
/// so `dir.join("state")`, `&*dir` and `dir.0.clone()` all work. Meant for
/// tests: creating the directory panics on failure, with the path.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new, empty directory named from `tag` (characters other than
    /// ASCII letters, digits, `-`, `_` and `.` become `_`), the process id
    /// and a counter; a stale one of the same name (left by an earlier
    /// process with this id) is removed first.
    ///
    /// # Panics
    ///
    /// When the directory cannot be created.
    pub fn new(tag: &str) -> Self {
        let dir = Self::unborn(tag);
        if let Err(e) = std::fs::create_dir_all(&dir.0) {
            panic!("create the test directory {}: {e}", dir.0.display());
        }
        dir
    }

    /// Like [`TempDir::new`], but the directory is not created: for tests
    /// of code that must create it (and its mode) itself. Whatever is there
    /// at the path when the value is dropped is removed.
    pub fn unborn(tag: &str) -> Self {
        Self::unborn_in(&std::env::temp_dir(), tag)
    }

    /// Like [`TempDir::unborn`], in `base` instead of the system temp dir
    /// (e.g. `/dev/shm` for many synchronous writes).
    pub fn unborn_in(base: &Path, tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let tag: String = tag
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = base.join(format!(
            "{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    /// Removes the directory and everything in it; errors (e.g. it was
    /// never created) are ignored.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::TempDir;

    #[test]
    fn unique_created_and_removed() {
        let a = TempDir::new("ts/../x y");
        let b = TempDir::new("ts/../x y");
        assert_ne!(a.path(), b.path());
        assert_eq!(a.parent(), Some(std::env::temp_dir().as_path()));
        let name = a.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(
            name.starts_with(&format!("ts_.._x_y-{}-", std::process::id())),
            "{name}"
        );
        std::fs::create_dir(a.join("sub")).unwrap();
        std::fs::write(a.join("sub/f"), b"x").unwrap();
        let path = a.0.clone();
        drop(a);
        assert!(!path.exists());
        assert!(b.is_dir());
    }

    #[test]
    fn unborn_is_not_created_but_is_removed() {
        let base = TempDir::new("ts-base");
        let u = TempDir::unborn_in(&base, "ts-unborn");
        assert!(!u.exists());
        assert_eq!(u.parent(), Some(base.path()));
        std::fs::create_dir(&u).unwrap();
        let path = u.0.clone();
        drop(u);
        assert!(!path.exists());
    }
}
