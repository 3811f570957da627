//! Tokens and codes: random, shown once, stored only as SHA-256.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{StoreError, StoreResult};

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> StoreResult<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| StoreError::Internal(format!("os random: {e}")))?;
    Ok(b)
}

/// A random u64.
pub fn random_u64() -> StoreResult<u64> {
    Ok(u64::from_le_bytes(random_bytes::<8>()?))
}

/// A device or admin token: 32 random bytes as hex.
pub fn new_token() -> StoreResult<String> {
    Ok(hex::encode(random_bytes::<32>()?))
}

/// SHA-256 of a secret, as hex: what the database keeps.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.trim().as_bytes()))
}

/// A short enrollment code: 10 Crockford base-32 characters (50 bits) as `XXXXX-XXXXX`.
pub fn new_enroll_code() -> StoreResult<String> {
    let bits = random_u64()?;
    let mut s = String::with_capacity(11);
    for i in 0..10 {
        if i == 5 {
            s.push('-');
        }
        let v = ((bits >> (5 * i)) & 31) as usize;
        s.push(CROCKFORD[v] as char);
    }
    Ok(s)
}

/// The canonical form of a typed enrollment code (case, dashes and spaces ignored).
pub fn normalize_enroll_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

/// Shortest admin token accepted from a file.
pub const MIN_ADMIN_TOKEN: usize = 16;

/// Why an admin token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// The file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// What it holds is too short to be a token.
    #[error("the admin token in {0} is shorter than {MIN_ADMIN_TOKEN} characters")]
    TooShort(PathBuf),
}

/// The admin token a file holds (surrounding white space ignored).
pub fn read_token_file(path: &Path) -> Result<String, TokenFileError> {
    let t = std::fs::read_to_string(path).map_err(|source| TokenFileError::Io { path: path.to_owned(), source })?;
    let t = t.trim().to_string();
    if t.len() < MIN_ADMIN_TOKEN {
        return Err(TokenFileError::TooShort(path.to_owned()));
    }
    Ok(t)
}

/// Writes a fresh admin token to `path` (owner-only on Unix) and returns it. The token goes to a
/// new file first, renamed over the old one: a server reading the file sees the old token or
/// the new one, never half of one.
pub fn write_new_token_file(path: &Path) -> Result<String, TokenFileError> {
    let io = |source| TokenFileError::Io { path: path.to_owned(), source };
    let token = new_token().map_err(|e| io(std::io::Error::other(e.to_string())))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = PathBuf::from(tmp);
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp).map_err(io)?;
        f.write_all(format!("{token}\n").as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(token)
}

/// Compares two hex digests without an early exit.
pub fn digest_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn codes_normalise_and_tokens_hash() {
        let c = new_enroll_code().unwrap();
        assert_eq!(c.len(), 11);
        assert_eq!(normalize_enroll_code(&c.to_lowercase()), c.replace('-', ""));
        let t = new_token().unwrap();
        assert_eq!(t.len(), 64);
        assert!(digest_eq(&hash_secret(&t), &hash_secret(&format!(" {t}\n"))));
        assert!(!digest_eq(&hash_secret("a"), &hash_secret("b")));
    }
}
