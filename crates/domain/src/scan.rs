//! Scanner payload classification.
//!
//! Keyboard-wedge scanners type what they read into whatever field has the focus, often
//! wrapped in control characters (STX/ETX, CR/LF, TAB, GS, RS, EOT) and sometimes behind an
//! AIM symbology identifier (`]C0` Code 128, `]Q1` QR, `]E0` EAN, `]d2` Data Matrix, …); with
//! a Chinese input method in full-width mode the characters may even arrive full-width.
//! [`classify`] cleans that up and routes the payload, in this order:
//!
//! 1. a ticket code (`FD…`, see [`TicketCode::looks_like`]): a parse failure is a misread
//!    ([`ScanError::MalformedTicket`]), never "unknown";
//! 2. an identity number (18 characters of digits with an optional final `X`, 15 digits, or
//!    3 letters + 12 digits): validated with [`validate_resident_id`]. An 18-character or
//!    letter-prefixed number that fails is [`ScanError::InvalidResidentId`]; 15 digits that
//!    fail may still be a medical-card number;
//! 3. a URL (`…://…`, `www.…`) is refused as [`ScanError::Unknown`]: a link is not a card;
//! 4. an e-health card QR payload: `ehc:…` or `EHC…` followed by at least 8 token characters,
//!    or 24–512 characters of base64/hex/`:._-` with at least one letter and one digit. The
//!    payload is kept exactly as scanned (the platform verifies it);
//! 5. a medical-card number: 6–20 digits, optionally after one or two letters (`MC12345678`);
//! 6. anything else is [`ScanError::Unknown`], showing a printable, truncated rendering.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::Lang;
use crate::document::{DocumentError, ResidentId, fullwidth_to_ascii, normalize_input, validate_resident_id};
use crate::ticket::{TicketCode, TicketCodeError};

/// What a scan was recognised as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Scan {
    /// A queue ticket's code.
    Ticket(TicketCode),
    /// A validated identity number (resident ID, residence permit, foreigner's card).
    ResidentId(ResidentId),
    /// A medical-card (就诊卡) number, upper-cased, separators removed.
    MedicalCard(String),
    /// An e-health card (电子健康卡) QR payload, exactly as scanned (minus surrounding noise).
    EHealthCard(String),
}

impl Scan {
    /// Stable snake_case code of the route: `ticket`, `resident_id`, `medical_card`,
    /// `ehealth_card`.
    pub fn kind_code(&self) -> &'static str {
        match self {
            Scan::Ticket(_) => "ticket",
            Scan::ResidentId(_) => "resident_id",
            Scan::MedicalCard(_) => "medical_card",
            Scan::EHealthCard(_) => "ehealth_card",
        }
    }
}

/// Why a scan could not be used.
///
/// | code | meaning |
/// | --- | --- |
/// | `scan_empty` | nothing but control characters or white space was scanned |
/// | `scan_ticket_malformed` | a ticket code that was misread (wrong check character or shape) |
/// | `scan_resident_id_invalid` | an identity number that fails validation (see [`DocumentError::code`] of the inner error) |
/// | `scan_unknown` | not a ticket, identity number, medical card or e-health card |
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// Nothing was scanned.
    #[error("empty scan")]
    Empty,
    /// Ticket-shaped, but not a valid ticket code: misread or damaged barcode.
    #[error("misread ticket code {shown}")]
    MalformedTicket {
        /// Printable rendering of what was read.
        shown: String,
        /// True when only the check character disagrees (one character misread).
        checksum: bool,
    },
    /// An identity number that does not validate.
    #[error("invalid identity number: {0}")]
    InvalidResidentId(#[source] DocumentError),
    /// Not recognised.
    #[error("unrecognised scan {shown}")]
    Unknown {
        /// Printable rendering of what was scanned: control and invisible characters as
        /// `\xNN`/`\u{…}`, at most 40 characters (cut with `…`).
        shown: String,
    },
}

impl ScanError {
    /// Stable machine code (see the table on [`ScanError`]).
    pub fn code(&self) -> &'static str {
        match self {
            ScanError::Empty => "scan_empty",
            ScanError::MalformedTicket { .. } => "scan_ticket_malformed",
            ScanError::InvalidResidentId(_) => "scan_resident_id_invalid",
            ScanError::Unknown { .. } => "scan_unknown",
        }
    }

    /// A message a nurse understands, in the given language.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            ScanError::Empty => {
                lang.pick("没有读到内容，请重新扫描。", "Nothing was read. Please scan again.").to_string()
            }
            ScanError::MalformedTicket { shown, .. } => match lang {
                Lang::Zh => {
                    format!("挂号小票条码读取有误（{shown}），请重新扫描；如仍不行，请手动输入小票上印的号码。")
                }
                Lang::En => format!(
                    "The ticket barcode was misread ({shown}). Please scan it again, or type \
                     the code printed on the ticket."
                ),
            },
            ScanError::InvalidResidentId(e) => match lang {
                Lang::Zh => format!("扫描到的证件号码无效：{}", e.message(lang)),
                Lang::En => format!("The scanned ID number is not valid: {}", e.message(lang)),
            },
            ScanError::Unknown { shown } => match lang {
                Lang::Zh => format!(
                    "无法识别扫描内容“{shown}”：不是挂号小票、身份证件、就诊卡或电子健康卡。请确认扫描的是正确的条码或二维码。"
                ),
                Lang::En => format!(
                    "Unrecognised scan “{shown}”: it is not a ticket, an ID number, a medical \
                     card or an e-health card. Please check that the right barcode or QR code \
                     was scanned."
                ),
            },
        }
    }
}

/// Longest rendering in [`ScanError::Unknown::shown`], in characters.
pub const SHOWN_MAX_CHARS: usize = 40;

fn is_noise(c: char) -> bool {
    c.is_control()
        || c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
        )
}

/// Length in bytes of an AIM symbology identifier (`]` + symbology letter + modifier) at the
/// start of `s`, or 0.
fn aim_prefix_len(s: &str) -> usize {
    let b = s.as_bytes();
    if b.len() >= 3 && b[0] == b']' && b[1].is_ascii_alphabetic() && b[2].is_ascii_alphanumeric() { 3 } else { 0 }
}

/// Strips control characters, white space and an AIM identifier from the ends of a payload
/// and maps full-width forms to ASCII.
fn clean(raw: &str) -> String {
    let mapped: String = raw.chars().map(fullwidth_to_ascii).collect();
    let mut s = mapped.trim_matches(is_noise);
    let aim = aim_prefix_len(s);
    if aim > 0 {
        s = s[aim..].trim_matches(is_noise);
    }
    s.to_string()
}

/// A printable rendering, at most [`SHOWN_MAX_CHARS`] characters.
fn render(s: &str) -> String {
    let escape = |c: char| -> String {
        if c == '\\' {
            "\\\\".to_string()
        } else if c.is_control() && (c as u32) < 0x100 {
            format!("\\x{:02X}", c as u32)
        } else if c.is_control()
            || matches!(
                c,
                '\u{00AD}'
                    | '\u{200B}'..='\u{200F}'
                    | '\u{2028}'..='\u{202E}'
                    | '\u{2060}'..='\u{2069}'
                    | '\u{FEFF}'
            )
        {
            format!("\\u{{{:X}}}", c as u32)
        } else {
            c.to_string()
        }
    };
    let mut out = String::new();
    let mut count = 0;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let piece = escape(c);
        let n = piece.chars().count();
        // Room for this piece, and for the ellipsis if more follows.
        let reserve = usize::from(chars.peek().is_some());
        if count + n + reserve > SHOWN_MAX_CHARS {
            out.push('…');
            return out;
        }
        count += n;
        out.push_str(&piece);
    }
    out
}

fn is_id_shaped(s: &str) -> bool {
    let b = s.as_bytes();
    match b.len() {
        18 => b[..17].iter().all(u8::is_ascii_digit) && (b[17].is_ascii_digit() || b[17] == b'X'),
        15 => {
            b.iter().all(u8::is_ascii_digit)
                || (b[..3].iter().all(u8::is_ascii_uppercase) && b[3..].iter().all(u8::is_ascii_digit))
        }
        _ => false,
    }
}

fn looks_like_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    lower.contains("://") || lower.starts_with("www.")
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | ':' | '.' | '_' | '-')
}

const EHC_MIN_TOKEN: usize = 8;
const EHC_MIN_BARE: usize = 24;
const EHC_MAX: usize = 512;

fn ehealth_token(s: &str) -> Option<String> {
    if s.len() > EHC_MAX || !s.chars().all(is_token_char) {
        return None;
    }
    let prefixed =
        if s.len() > 4 && s[..4].eq_ignore_ascii_case("ehc:") { Some(&s[4..]) } else { s.strip_prefix("EHC") };
    if let Some(body) = prefixed {
        return (body.len() >= EHC_MIN_TOKEN).then(|| s.to_string());
    }
    let has_letter = s.chars().any(|c| c.is_ascii_alphabetic());
    let has_digit = s.chars().any(|c| c.is_ascii_digit());
    (s.len() >= EHC_MIN_BARE && has_letter && has_digit).then(|| s.to_string())
}

fn medical_card(s: &str) -> Option<String> {
    let letters = s.bytes().take_while(u8::is_ascii_uppercase).count();
    let digits = &s[letters..];
    (letters <= 2 && (6..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.to_string())
}

/// Classifies what a scanner typed (see the module documentation for the routes). `today`
/// bounds birth dates in identity numbers.
pub fn classify(raw: &str, today: Date) -> Result<Scan, ScanError> {
    let payload = clean(raw);
    if payload.is_empty() {
        return Err(ScanError::Empty);
    }
    // Separators and case removed: what IDs, tickets and card numbers are compared as.
    let compact = normalize_input(&payload);
    if TicketCode::looks_like(&compact) {
        return TicketCode::parse(&compact).map(Scan::Ticket).map_err(|e| ScanError::MalformedTicket {
            shown: render(&compact),
            checksum: e == TicketCodeError::Checksum,
        });
    }
    if is_id_shaped(&compact) {
        match validate_resident_id(&compact, today) {
            Ok(id) => return Ok(Scan::ResidentId(id)),
            Err(e) if compact.len() == 18 || compact.as_bytes()[0].is_ascii_uppercase() => {
                return Err(ScanError::InvalidResidentId(e));
            }
            // 15 digits that are no ID number: perhaps a medical card.
            Err(_) => {}
        }
    }
    if looks_like_url(&payload) {
        return Err(ScanError::Unknown { shown: render(&payload) });
    }
    if let Some(token) = ehealth_token(&payload) {
        return Ok(Scan::EHealthCard(token));
    }
    if let Some(card) = medical_card(&compact) {
        return Ok(Scan::MedicalCard(card));
    }
    Err(ScanError::Unknown { shown: render(&payload) })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::document::{DocumentKind, check_character};
    use jiff::civil::date;

    const TODAY: Date = date(2025, 6, 15);

    fn ticket() -> TicketCode {
        TicketCode::from_random(0x0123_4567_89AB)
    }

    fn id18(body: &str) -> String {
        format!("{body}{}", check_character(body).unwrap())
    }

    #[test]
    fn routes() {
        let t = ticket();
        let code = t.as_str().to_string();
        let id = "11010519491231002X";
        let legacy = "610104620927690";
        let token = "6A1F0C3E9B7D4A2E8F1C0B3D5E7A9C1B:1:0:2025";
        let cases: Vec<(String, &str)> = vec![
            (code.clone(), "ticket"),
            (code.to_lowercase(), "ticket"),
            (format!("\u{2}{code}\u{3}\r\n"), "ticket"),
            (format!("]C0{code}\r"), "ticket"),
            (format!("\t]C1{code}\n"), "ticket"),
            (code.chars().map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap()).collect(), "ticket"),
            (id.into(), "resident_id"),
            ("11010519491231002x".into(), "resident_id"),
            (format!("\u{2}{id}\u{3}"), "resident_id"),
            (format!("]Q1{id}\r\n"), "resident_id"),
            (format!("\u{1e}{id}\u{4}"), "resident_id"),
            (legacy.into(), "resident_id"),
            ("932682198501010017".into(), "resident_id"),
            ("810000199408230021".into(), "resident_id"),
            ("KAZ110090123105".into(), "resident_id"),
            ("123456".into(), "medical_card"),
            ("12345678901234567890".into(), "medical_card"),
            ("MC12345678".into(), "medical_card"),
            ("mc12345678".into(), "medical_card"),
            ("A0012345".into(), "medical_card"),
            ("]E00012345678905\r".into(), "medical_card"),
            // 15 digits that are not a valid ID number (month 13): a medical card
            ("110105491331001".into(), "medical_card"),
            (token.into(), "ehealth_card"),
            (format!("]Q1{token}\r\n"), "ehealth_card"),
            ("ehc:9f86d081884c7d65".into(), "ehealth_card"),
            ("EHC12345678ABCDEF".into(), "ehealth_card"),
            ("bXlfZWhlYWx0aF9jYXJkX3Rva2VuXzEyMzQ1Ng==".into(), "ehealth_card"),
        ];
        for (raw, kind) in cases {
            let scan = classify(&raw, TODAY).unwrap_or_else(|e| panic!("{raw:?}: {e:?}"));
            assert_eq!(scan.kind_code(), kind, "{raw:?}");
        }
    }

    #[test]
    fn routed_values_are_canonical() {
        let t = ticket();
        assert_eq!(classify(&format!("]C0{}\r\n", t.as_str().to_lowercase()), TODAY), Ok(Scan::Ticket(t)));
        match classify("\u{2}11010519491231002x\u{3}", TODAY) {
            Ok(Scan::ResidentId(id)) => {
                assert_eq!(id.number, "11010519491231002X");
                assert_eq!(id.kind, DocumentKind::ResidentId);
            }
            other => panic!("{other:?}"),
        }
        match classify("610104620927690", TODAY) {
            Ok(Scan::ResidentId(id)) => {
                assert!(id.converted_from_15);
                assert_eq!(id.number, id18("61010419620927690"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(classify(" mc 1234-5678 ", TODAY), Ok(Scan::MedicalCard("MC12345678".into())));
        assert_eq!(classify("\r\nehc:AbC123xyz789\r\n", TODAY), Ok(Scan::EHealthCard("ehc:AbC123xyz789".into())));
    }

    #[test]
    fn errors() {
        let t = ticket();
        let code = t.as_str();
        // One character misread.
        let mut misread: Vec<u8> = code.as_bytes().to_vec();
        misread[5] = if misread[5] == b'7' { b'8' } else { b'7' };
        let misread = String::from_utf8(misread).unwrap();
        match classify(&misread, TODAY) {
            Err(ScanError::MalformedTicket { checksum: true, shown }) => assert_eq!(shown, misread),
            other => panic!("{other:?}"),
        }
        // Truncated ticket, and a ticket with a character outside the alphabet.
        assert!(matches!(classify(&code[..10], TODAY), Err(ScanError::MalformedTicket { checksum: false, .. })));
        assert!(matches!(
            classify(&format!("{}U", &code[..12]), TODAY),
            Err(ScanError::MalformedTicket { checksum: false, .. })
        ));

        // 18 digits with a bad check digit: an invalid ID, not a medical card.
        assert_eq!(
            classify("110105194912310023", TODAY),
            Err(ScanError::InvalidResidentId(DocumentError::Checksum { expected: 'X', found: '3' }))
        );
        assert!(matches!(
            classify(&id18("11010120300101001"), TODAY),
            Err(ScanError::InvalidResidentId(DocumentError::BirthInFuture { .. }))
        ));
        assert!(matches!(
            classify("KAZ990090123105", TODAY),
            Err(ScanError::InvalidResidentId(DocumentError::Region { .. }))
        ));

        let unknown = |raw: &str| match classify(raw, TODAY) {
            Err(ScanError::Unknown { shown }) => shown,
            other => panic!("{raw:?}: {other:?}"),
        };
        assert_eq!(unknown("张三"), "张三");
        let url = "https://example.com/ehc?token=6A1F0C3E9B7D4A2E8F1C";
        assert_eq!(unknown(url), format!("{}…", &url[..39]));
        assert!(unknown("http://x.y/abcdefabcdefabcdefabcdef0123").starts_with("http://"));
        assert_eq!(unknown("www.example.com"), "www.example.com");
        assert_eq!(unknown("12345"), "12345");
        assert_eq!(unknown("ABC123456"), "ABC123456");
        assert_eq!(unknown("123456789012345678901"), "123456789012345678901");
        assert_eq!(unknown("ehc:short"), "ehc:short");
        assert_eq!(unknown("abc\u{1d}def"), "abc\\x1Ddef");
        assert_eq!(unknown("a\u{202E}b"), "a\\u{202E}b");
        assert_eq!(unknown("a\\b"), "a\\\\b");
        let words = "only letters no digits at all here really";
        assert_eq!(unknown(words), format!("{}…", &words[..39]));
        let exactly_40 = "abcdefghij abcdefghij abcdefghij abcdefg";
        assert_eq!(unknown(exactly_40), exactly_40);

        // 2,000 characters of garbage: unknown, and shown short.
        let garbage: String = (0..2000).map(|i| char::from(b'!' + (i * 7 % 90) as u8)).collect();
        let shown = unknown(&garbage);
        assert!(shown.chars().count() <= SHOWN_MAX_CHARS, "{shown}");
        assert!(shown.ends_with('…'));
        // 2,000 characters of token alphabet: too long for an e-health card.
        let long_token: String = "a1b2".repeat(500);
        assert!(unknown(&long_token).chars().count() <= SHOWN_MAX_CHARS);
        // Control characters inside a long payload are escaped without breaking the limit.
        let shown = unknown(&"\u{1d}x".repeat(100));
        assert!(shown.chars().count() <= SHOWN_MAX_CHARS, "{shown}");
        assert!(shown.starts_with("x\\x1Dx\\x1Dx"), "{shown}");

        for raw in ["", "   ", "\u{2}\u{3}\r\n\t\u{1d}\u{1e}\u{4}", "]C0\r\n", "\u{3000}\u{FEFF}"] {
            assert_eq!(classify(raw, TODAY), Err(ScanError::Empty), "{raw:?}");
        }
    }

    #[test]
    fn error_codes_and_messages() {
        let errors = [
            ScanError::Empty,
            ScanError::MalformedTicket { shown: "FD123".into(), checksum: true },
            ScanError::InvalidResidentId(DocumentError::Checksum { expected: 'X', found: '3' }),
            ScanError::Unknown { shown: "abc".into() },
        ];
        let codes: Vec<&str> = errors.iter().map(ScanError::code).collect();
        assert_eq!(codes, ["scan_empty", "scan_ticket_malformed", "scan_resident_id_invalid", "scan_unknown"]);
        assert!(errors[1].message(Lang::Zh).contains("重新扫描"));
        assert!(errors[1].message(Lang::En).contains("scan it again"));
        assert!(errors[2].message(Lang::Zh).contains("最后一位应为 X"));
        assert!(errors[3].message(Lang::En).contains("“abc”"));
    }

    #[test]
    fn scan_serializes_with_its_kind() {
        let json = serde_json::to_value(Scan::MedicalCard("MC1234567".into())).unwrap();
        assert_eq!(json, serde_json::json!({"kind": "medical_card", "value": "MC1234567"}));
        let t = ticket();
        let json = serde_json::to_value(Scan::Ticket(t.clone())).unwrap();
        assert_eq!(json["kind"], "ticket");
        assert_eq!(serde_json::from_value::<Scan>(json).unwrap(), Scan::Ticket(t));
    }

    proptest::proptest! {
        #[test]
        fn classify_never_panics(s in proptest::prelude::any::<String>()) {
            match classify(&s, TODAY) {
                Err(ScanError::Unknown { shown }) | Err(ScanError::MalformedTicket { shown, .. }) => {
                    proptest::prop_assert!(shown.chars().count() <= SHOWN_MAX_CHARS);
                    proptest::prop_assert!(!shown.chars().any(char::is_control));
                }
                _ => {}
            }
        }

        #[test]
        fn classify_never_panics_on_scanner_noise(
            s in "[\\x00-\\x1f\\]A-Za-z0-9 :/._=+-]{0,64}"
        ) {
            let _ = classify(&s, TODAY);
        }
    }
}
