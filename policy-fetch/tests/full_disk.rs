//! The embedded store on a full filesystem (issue 15 item 6): writes fail
//! while there is no room, with an error each, and work again as soon as
//! there is room, without a restart. The filesystem is a 4 MiB tmpfs
//! mounted by the test (needs root, as in CI); where it cannot be mounted
//! the test says why and stops, unless `MTASTS_REQUIRE_TMPFS=1` (set by
//! `.ci/run`), which makes that a failure.

#![cfg(all(feature = "redb", target_os = "linux"))]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use mta_sts_core::discovery::{CacheEntry, CachedPolicy};
use policy_fetch::store::{RedbStore, Store};

struct Mount(PathBuf);

impl Mount {
    fn tmpfs(size: &str) -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!("mtasts-full-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir(&dir);
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Self(dir))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn entry(domain: &str, mx_count: usize) -> CacheEntry {
    let mut text = String::from("version: STSv1\nmode: enforce\nmax_age: 86400\n");
    for i in 0..mx_count {
        text.push_str(&format!("mx: mx{i}.{domain}\n"));
    }
    CacheEntry {
        domain: domain.to_owned(),
        policy: Some(CachedPolicy {
            id: "1".into(),
            policy: text.parse().unwrap(),
            fetched_at: 1_700_000_000,
        }),
        last_failure: None,
        last_used: 1_700_000_000,
    }
}

/// Fill the filesystem holding `dir` with one file; returns its path.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0x55u8; 64 * 1024];
    loop {
        if f.write_all(&block).is_err() {
            break;
        }
    }
    // Top off the last partial block.
    while f.write_all(&[0]).is_ok() {}
    path
}

#[test]
fn a_full_disk_fails_writes_and_the_store_recovers_when_there_is_room() {
    let mount = match Mount::tmpfs("4m") {
        Ok(m) => m,
        Err(why) if std::env::var_os("MTASTS_REQUIRE_TMPFS").is_none() => {
            eprintln!("skipped: {why}");
            return;
        }
        Err(why) => panic!("MTASTS_REQUIRE_TMPFS is set but {why}"),
    };
    let path = mount.0.join("policies.redb");
    let store = RedbStore::open(&path).unwrap();
    store.put(&entry("before.example", 2)).unwrap();

    let filler = fill(&mount.0);
    let mut failures = 0;
    for i in 0..50 {
        if let Err(e) = store.put(&entry(&format!("d{i}.example"), 200)) {
            failures += 1;
            assert_eq!(e.target, format!("d{i}.example"));
        }
    }
    assert!(failures > 0, "the full disk never failed a write");

    std::fs::remove_file(&filler).unwrap();
    // Room again: writes work without re-opening the store by hand.
    store.put(&entry("after.example", 2)).unwrap();
    let loaded = store.load_all().unwrap();
    let domains: Vec<&str> = loaded.entries.iter().map(|e| e.domain.as_str()).collect();
    assert!(domains.contains(&"before.example"), "{domains:?}");
    assert!(domains.contains(&"after.example"), "{domains:?}");
    assert!(loaded.skipped.is_empty());
    drop(store);
    // And the file opens cleanly after a restart.
    let again = RedbStore::open(&path).unwrap();
    assert!(again.load_all().unwrap().entries.len() >= 2);
}
