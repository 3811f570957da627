//! Ticket codes: the code printed as a barcode on every queue ticket (rule 7: unique
//! platform-wide). Desks mint codes offline, so a code is random rather than sequential; the
//! central platform refuses a code that is already taken (`ticket_code_taken`) and the desk
//! mints another. A check character catches misreads and typing errors before any lookup.
//!
//! Format: `FD` + 10 Crockford base-32 characters (50 random bits) + 1 check character
//! (Luhn mod 32 over the 10 characters), e.g. `FD7K2M9QX4RT8`.

use std::fmt;

use serde::{Deserialize, Serialize};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// The fixed prefix of every ticket code.
pub const PREFIX: &str = "FD";
const BODY_LEN: usize = 10;
/// Length of a ticket code including prefix and check character.
pub const CODE_LEN: usize = PREFIX.len() + BODY_LEN + 1;

/// A well-formed ticket code (prefix, body and check character verified).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TicketCode(String);

/// Why a string is not a ticket code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketCodeError {
    /// Not of the ticket shape at all (wrong prefix, length or characters).
    #[error("not a ticket code")]
    Format,
    /// Ticket-shaped, but the check character does not match: a misread or a typo.
    #[error("ticket code check character does not match")]
    Checksum,
}

fn value_of(c: u8) -> Option<u32> {
    let c = match c.to_ascii_uppercase() {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        other => other,
    };
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

fn check_char(values: &[u32]) -> u8 {
    // Luhn mod N (N = 32), processing from the rightmost character.
    let n = 32;
    let mut sum = 0;
    let mut factor = 2;
    for &v in values.iter().rev() {
        let addend = factor * v;
        sum += addend / n + addend % n;
        factor = if factor == 2 { 1 } else { 2 };
    }
    let check = (n - (sum % n)) % n;
    ALPHABET[check as usize]
}

impl TicketCode {
    /// Mints a code from 50 random bits supplied by the caller (the domain does no I/O).
    pub fn from_random(bits: u64) -> TicketCode {
        let mut values = [0u32; BODY_LEN];
        for (i, v) in values.iter_mut().enumerate() {
            *v = ((bits >> (5 * (BODY_LEN - 1 - i))) & 31) as u32;
        }
        let mut s = String::with_capacity(CODE_LEN);
        s.push_str(PREFIX);
        for v in values {
            s.push(ALPHABET[v as usize] as char);
        }
        s.push(check_char(&values) as char);
        TicketCode(s)
    }

    /// Parses a typed or scanned code: case-insensitive, surrounding white space ignored,
    /// Crockford's look-alikes (`O`→`0`, `I`/`L`→`1`) accepted.
    pub fn parse(input: &str) -> Result<TicketCode, TicketCodeError> {
        let t = input.trim();
        if t.len() != CODE_LEN || !t.is_ascii() || !t[..2].eq_ignore_ascii_case(PREFIX) {
            return Err(TicketCodeError::Format);
        }
        let bytes = t.as_bytes();
        let mut values = [0u32; BODY_LEN];
        for (i, v) in values.iter_mut().enumerate() {
            *v = value_of(bytes[2 + i]).ok_or(TicketCodeError::Format)?;
        }
        let check = value_of(bytes[CODE_LEN - 1]).ok_or(TicketCodeError::Format)?;
        if ALPHABET[check as usize] != check_char(&values) {
            return Err(TicketCodeError::Checksum);
        }
        let mut s = String::with_capacity(CODE_LEN);
        s.push_str(PREFIX);
        for v in values {
            s.push(ALPHABET[v as usize] as char);
        }
        s.push(ALPHABET[check as usize] as char);
        Ok(TicketCode(s))
    }

    /// True when the input looks like an attempt at a ticket code (prefix `FD`, about the
    /// right length), so a failed parse should be reported as a bad ticket, not as unknown.
    pub fn looks_like(input: &str) -> bool {
        let t = input.trim();
        t.len() >= 8 && t.len() <= CODE_LEN + 3 && t.is_ascii() && t[..2].eq_ignore_ascii_case(PREFIX)
    }

    /// The canonical text of the code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TicketCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TicketCode {
    type Error = TicketCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        TicketCode::parse(&s)
    }
}

impl From<TicketCode> for String {
    fn from(c: TicketCode) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_codes_parse_back() {
        for bits in [0u64, 1, 0x3_FFFF_FFFF_FFFF, 0x1234_5678_9ABC, u64::MAX] {
            let c = TicketCode::from_random(bits);
            assert_eq!(c.as_str().len(), CODE_LEN);
            assert_eq!(TicketCode::parse(c.as_str()), Ok(c.clone()));
            assert_eq!(TicketCode::parse(&c.as_str().to_lowercase()), Ok(c.clone()));
        }
    }

    #[test]
    fn single_character_errors_are_caught() {
        let c = TicketCode::from_random(0x0ABC_DEF0_1234);
        let s = c.as_str();
        for i in 2..CODE_LEN {
            for &a in ALPHABET.iter() {
                if a == s.as_bytes()[i] {
                    continue;
                }
                let mut b = s.as_bytes().to_vec();
                b[i] = a;
                let t = String::from_utf8(b).unwrap_or_default();
                assert!(TicketCode::parse(&t).is_err(), "{t} should fail");
            }
        }
    }

    #[test]
    fn adjacent_swaps_are_caught() {
        let c = TicketCode::from_random(0x2F0C_1D3E_5A77);
        let s = c.as_str().as_bytes().to_vec();
        for i in 2..CODE_LEN - 1 {
            if s[i] == s[i + 1] {
                continue;
            }
            let mut b = s.clone();
            b.swap(i, i + 1);
            let t = String::from_utf8(b).unwrap_or_default();
            assert!(TicketCode::parse(&t).is_err(), "{t} should fail");
        }
    }

    #[test]
    fn shape_errors() {
        assert_eq!(TicketCode::parse("hello"), Err(TicketCodeError::Format));
        assert_eq!(TicketCode::parse("XX0000000000A"), Err(TicketCodeError::Format));
        assert_eq!(TicketCode::parse("FD00000000U00"), Err(TicketCodeError::Format));
        assert!(TicketCode::looks_like("FD12345678"));
        assert!(!TicketCode::looks_like("110101199003077777"));
    }
}
