//! Tokens and codes: random, shown once, stored only as SHA-256.

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
