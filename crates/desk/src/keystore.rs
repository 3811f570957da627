//! The replica's encryption key: 32 random bytes, made when the replica is (or when a plain
//! replica is first encrypted), kept in the OS keychain — the Secret Service on Linux, the
//! Credential Manager on Windows, the Keychain on macOS — and, where there is none (a headless
//! server, CI), in a file beside the replica that only its owner may read. The key never
//! travels: a replica copied without it is unreadable.
//!
//! `FRONTDESK_KEYCHAIN=off` keeps the key in the file even where a keychain exists (the test
//! suites set it, so they never touch a developer's keychain).

use std::path::{Path, PathBuf};

use argon2::password_hash::rand_core::{OsRng, RngCore};

use crate::DeskError;

/// The keychain entry's service name; its user is the replica's path.
const SERVICE: &str = "com.frontdesk.desk";

/// Environment variable: `off` keeps the key in the file beside the replica.
pub const KEYCHAIN_ENV: &str = "FRONTDESK_KEYCHAIN";

/// Where a replica's key is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPlace {
    /// In the OS keychain.
    Keychain,
    /// In this file (owner-only), because no keychain could be used.
    File(PathBuf),
}

/// A replica's key. Its bytes are never printed.
#[derive(Clone)]
pub struct ReplicaKey {
    bytes: [u8; 32],
    /// Where it is kept.
    pub place: KeyPlace,
}

impl std::fmt::Debug for ReplicaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaKey").field("bytes", &"<hidden>").field("place", &self.place).finish()
    }
}

impl ReplicaKey {
    /// The key as SQLCipher takes a raw key: `x'<64 hex digits>'`.
    pub(crate) fn sqlcipher(&self) -> String {
        format!("x'{}'", self.hex())
    }

    fn from_hex(text: &str, place: KeyPlace) -> Option<ReplicaKey> {
        let text = text.trim();
        if text.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(ReplicaKey { bytes, place })
    }

    fn hex(&self) -> String {
        self.bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The file a replica's key is kept in when there is no keychain: `replica.db.key`.
pub fn key_file(replica: &Path) -> PathBuf {
    let mut p = replica.as_os_str().to_owned();
    p.push(".key");
    PathBuf::from(p)
}

/// Whether the keychain is asked here: not with `FRONTDESK_KEYCHAIN=off`, and on Linux only
/// within a session (a session bus to reach the Secret Service on).
pub fn keychain_wanted() -> bool {
    if std::env::var(KEYCHAIN_ENV).is_ok_and(|v| v.trim().eq_ignore_ascii_case("off")) {
        return false;
    }
    // The Secret Service lives on the session bus: without one (a service, a CI runner) there
    // is no keychain to ask, and asking would only wait for a timeout.
    if cfg!(target_os = "linux") {
        return std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    }
    true
}

fn keychain_entry(replica: &Path) -> Option<keyring::Entry> {
    let user = std::fs::canonicalize(replica).unwrap_or_else(|_| replica.to_path_buf());
    keyring::Entry::new(SERVICE, &user.to_string_lossy()).ok()
}

/// The key of the replica at `replica`, if one is kept: the keychain first, then the file.
pub fn find(replica: &Path) -> Result<Option<ReplicaKey>, DeskError> {
    if keychain_wanted()
        && let Some(entry) = keychain_entry(replica)
    {
        // Not there, or no keychain after all: the file may hold it.
        if let Ok(text) = entry.get_password() {
            return ReplicaKey::from_hex(&text, KeyPlace::Keychain)
                .map(Some)
                .ok_or_else(|| DeskError::Corrupt { what: "keychain entry", detail: "not a replica key".into() });
        }
    }
    let file = key_file(replica);
    match std::fs::read_to_string(&file) {
        Ok(text) => ReplicaKey::from_hex(&text, KeyPlace::File(file.clone()))
            .map(Some)
            .ok_or_else(|| DeskError::Corrupt { what: "replica key file", detail: file.display().to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Makes a new random key for the replica at `replica` and keeps it: in the keychain when
/// one can be used, otherwise in the owner-only file beside the replica.
pub fn create(replica: &Path) -> Result<ReplicaKey, DeskError> {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let mut key = ReplicaKey { bytes, place: KeyPlace::Keychain };
    if keychain_wanted()
        && let Some(entry) = keychain_entry(replica)
        && entry.set_password(&key.hex()).is_ok()
    {
        return Ok(key);
    }
    let file = key_file(replica);
    write_private(&file, &key.hex())?;
    key.place = KeyPlace::File(file);
    Ok(key)
}

/// Writes `text` to a new file readable and writable by its owner only.
fn write_private(file: &Path, text: &str) -> Result<(), DeskError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(file)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_key_round_trips_through_its_file_and_is_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let replica = dir.path().join("replica.db");
        let key = ReplicaKey::from_hex(&"ab".repeat(32), KeyPlace::File(key_file(&replica))).unwrap();
        assert_eq!(key.sqlcipher(), format!("x'{}'", "ab".repeat(32)));
        assert!(!format!("{key:?}").contains("abab"));
        assert!(ReplicaKey::from_hex("zz", KeyPlace::Keychain).is_none());
        assert!(ReplicaKey::from_hex(&"g0".repeat(32), KeyPlace::Keychain).is_none());
        write_private(&key_file(&replica), &key.hex()).unwrap();
        let found = ReplicaKey::from_hex(&std::fs::read_to_string(key_file(&replica)).unwrap(), KeyPlace::Keychain);
        assert_eq!(found.unwrap().hex(), key.hex());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_file(&replica)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
