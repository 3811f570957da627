//! Identity documents and phone numbers.
//!
//! Everything here takes what a nurse typed (or a scanner typed) and either returns the canonical
//! form or a [`DocumentError`] / [`PhoneError`] that says precisely what is wrong, in Chinese and
//! English, so that nothing the nurse typed has to be thrown away (rule 5).
//!
//! # Identity numbers accepted by [`validate_resident_id`]
//!
//! | shape | kind | notes |
//! | --- | --- | --- |
//! | 18 digits (last may be `X`), first two digits a province-level code | [`DocumentKind::ResidentId`] | GB 11643: 6-digit region, `YYYYMMDD` birth date, 3-digit sequence (odd = male), ISO 7064 MOD 11-2 check character |
//! | the same with region `81`/`82`/`83` | [`DocumentKind::ResidencePermit`] | residence permits of Hong Kong (81), Macao (82) and Taiwan (83) residents, same structure and check |
//! | 15 digits | [`DocumentKind::ResidentId`] | first-generation number: 6-digit region, `YYMMDD` birth date in the 1900s, 3-digit sequence; converted to 18 digits by inserting `19` and computing the check character |
//! | 18 digits starting with `9` | [`DocumentKind::ForeignPermanentResident`] | 2023 foreigners' permanent residence ID card: `9`, 2-digit province of the issuing office, 3-digit numeric nationality code (ISO 3166-1 numeric), `YYYYMMDD`, 3-digit sequence (odd = male), MOD 11-2 check |
//! | 3 letters + 12 digits | [`DocumentKind::ForeignPermanentResident`] | 2004/2017 card: ISO 3166-1 alpha-3 nationality, 4-digit office code (2-digit province + 2 digits), `YYMMDD` birth date, 2-digit sequence; no check character and no sex |
//!
//! Province-level codes accepted for citizens: 11–15, 21–23, 31–37, 41–46, 50–54, 61–65, 71
//! (Taiwan), and 81/82/83 for residence permits. `91` is accepted only on legacy 15-digit
//! numbers: an 18-digit number starting with `9` is a foreigner's card since 2023. Foreigners'
//! cards must name a mainland province (11–65). Birth dates must be real calendar dates, not
//! before 1900 and not after `today`. For the 2-digit year of the old foreigners' card the most
//! recent century that does not put the birth date in the future is taken.

use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::Lang;

/// A person's sex as recorded on an identity document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    /// 女.
    #[serde(rename = "F")]
    Female,
    /// 男.
    #[serde(rename = "M")]
    Male,
}

impl Sex {
    /// Parses `F`/`M`, `女`/`男`, `female`/`male`, `女性`/`男性` (case-insensitive), and the
    /// GB/T 2261.1 codes `2` (female) / `1` (male).
    pub fn parse(s: &str) -> Option<Sex> {
        match s.trim().to_lowercase().as_str() {
            "f" | "女" | "女性" | "female" | "w" | "woman" | "2" => Some(Sex::Female),
            "m" | "男" | "男性" | "male" | "man" | "1" => Some(Sex::Male),
            _ => None,
        }
    }

    /// `F` or `M`, as serialized.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Female => "F",
            Sex::Male => "M",
        }
    }

    /// 女/男, female/male.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Sex::Female => lang.pick("女", "female"),
            Sex::Male => lang.pick("男", "male"),
        }
    }
}

/// The kind of identity document a patient is registered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 居民身份证 (mainland resident identity card).
    ResidentId,
    /// 港澳台居民居住证: residence permit of Hong Kong, Macao and Taiwan residents (18 characters
    /// starting with 81, 82 or 83).
    ResidencePermit,
    /// 外国人永久居留身份证 (foreigners' permanent residence ID card).
    ForeignPermanentResident,
    /// 护照.
    Passport,
    /// Any other document (港澳通行证, 军官证, …): only length-checked.
    Other,
}

impl DocumentKind {
    /// Every kind, in the order a form lists them.
    pub const ALL: [DocumentKind; 5] = [
        DocumentKind::ResidentId,
        DocumentKind::ResidencePermit,
        DocumentKind::ForeignPermanentResident,
        DocumentKind::Passport,
        DocumentKind::Other,
    ];

    /// Stable snake_case code (same as the serde form).
    pub fn code(self) -> &'static str {
        match self {
            DocumentKind::ResidentId => "resident_id",
            DocumentKind::ResidencePermit => "residence_permit",
            DocumentKind::ForeignPermanentResident => "foreign_permanent_resident",
            DocumentKind::Passport => "passport",
            DocumentKind::Other => "other",
        }
    }

    /// The inverse of [`DocumentKind::code`].
    pub fn from_code(code: &str) -> Option<DocumentKind> {
        DocumentKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The document's name as a nurse knows it.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            DocumentKind::ResidentId => lang.pick("居民身份证", "resident ID card"),
            DocumentKind::ResidencePermit => lang.pick("港澳台居民居住证", "Hong Kong/Macao/Taiwan residence permit"),
            DocumentKind::ForeignPermanentResident => {
                lang.pick("外国人永久居留身份证", "foreigner's permanent residence ID card")
            }
            DocumentKind::Passport => lang.pick("护照", "passport"),
            DocumentKind::Other => lang.pick("其他证件", "other document"),
        }
    }

    /// True for the three kinds whose numbers are validated as identity numbers and share one
    /// namespace ([`Document::key`]).
    pub fn is_identity_number(self) -> bool {
        matches!(
            self,
            DocumentKind::ResidentId | DocumentKind::ResidencePermit | DocumentKind::ForeignPermanentResident
        )
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What a character at some position should have been (for [`DocumentError::Character`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CharClass {
    /// A digit 0–9.
    Digit,
    /// A digit or `X` (the check character of an 18-character number).
    DigitOrX,
    /// A Latin letter A–Z.
    Letter,
    /// A Latin letter or a digit.
    LetterOrDigit,
}

impl CharClass {
    fn describe(self, lang: Lang) -> &'static str {
        match self {
            CharClass::Digit => lang.pick("数字", "a digit"),
            CharClass::DigitOrX => lang.pick("数字或 X", "a digit or X"),
            CharClass::Letter => lang.pick("英文字母", "a letter A–Z"),
            CharClass::LetterOrDigit => lang.pick("英文字母或数字", "a letter or a digit"),
        }
    }
}

/// Why a document number was refused.
///
/// | code | meaning |
/// | --- | --- |
/// | `document_empty` | nothing was typed |
/// | `document_length` | wrong number of characters (`found`, expectation depends on `kind`) |
/// | `document_character` | a character that cannot appear at that position |
/// | `document_region` | the province-level code is not a real one |
/// | `document_birth_date` | the birth date part is not a calendar date (month 13, 30 February, …) |
/// | `document_birth_too_early` | the birth date is before 1900 |
/// | `document_birth_future` | the birth date is after today |
/// | `document_checksum` | the MOD 11-2 check character does not match |
/// | `document_passport_no_digit` | a passport number without any digit |
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// Nothing (after removing spaces and separators) was typed.
    #[error("document number is empty")]
    Empty,
    /// Wrong number of characters for the kind of document.
    #[error("{kind} number has {found} characters")]
    Length {
        /// The kind whose length rule was broken.
        kind: DocumentKind,
        /// Characters found after normalisation.
        found: usize,
    },
    /// A character not allowed at that position.
    #[error("character {found:?} at position {position} is not allowed (expected {expected:?})")]
    Character {
        /// 1-based position in the normalised number.
        position: usize,
        /// The offending character.
        found: char,
        /// What belongs there.
        expected: CharClass,
    },
    /// The province-level region code is not a real one.
    #[error("unknown province code {code} at position {position}")]
    Region {
        /// The two digits found.
        code: String,
        /// 1-based position of the first of the two digits.
        position: usize,
    },
    /// The birth-date digits are not a calendar date.
    #[error("birth date {digits} is not a real date")]
    BirthDate {
        /// The digits as found in the number (`YYYYMMDD`, or `YYMMDD` on 15-character numbers).
        digits: String,
    },
    /// The birth date is before 1900.
    #[error("birth date {date} is before 1900")]
    BirthTooEarly {
        /// The decoded birth date.
        date: Date,
    },
    /// The birth date is after today.
    #[error("birth date {date} is in the future")]
    BirthInFuture {
        /// The decoded birth date.
        date: Date,
    },
    /// The check character does not match the first 17 digits.
    #[error("check character should be {expected}, found {found}")]
    Checksum {
        /// The check character computed from the first 17 digits.
        expected: char,
        /// The last character as typed.
        found: char,
    },
    /// A passport number needs at least one digit.
    #[error("passport number contains no digit")]
    PassportNoDigit,
}

fn length_expectation(kind: DocumentKind, lang: Lang) -> &'static str {
    match kind {
        DocumentKind::ResidentId => {
            lang.pick("身份证号应为 18 位（旧版为 15 位）", "An ID number has 18 characters (15 on old cards)")
        }
        DocumentKind::ResidencePermit => {
            lang.pick("居住证号码应为 18 位", "A residence permit number has 18 characters")
        }
        DocumentKind::ForeignPermanentResident => lang.pick(
            "外国人永久居留身份证号码应为 18 位（旧版为 3 个字母加 12 位数字，共 15 位）",
            "A foreigner's permanent residence ID number has 18 characters \
             (old cards: 3 letters and 12 digits, 15 in all)",
        ),
        DocumentKind::Passport => {
            lang.pick("护照号码应为 5 到 17 位字母或数字", "A passport number has 5 to 17 letters or digits")
        }
        DocumentKind::Other => lang.pick("证件号码应为 3 到 32 个字符", "A document number has 3 to 32 characters"),
    }
}

/// Explains why `digits` (YYYYMMDD or YYMMDD) is not a date.
fn birth_date_problem(digits: &str, lang: Lang) -> String {
    let n = digits.len();
    let num = |s: &str| s.parse::<i32>().ok();
    let (year, month, day) = if n >= 6 {
        (num(&digits[..n - 4]), num(&digits[n - 4..n - 2]), num(&digits[n - 2..]))
    } else {
        (None, None, None)
    };
    match (year, month, day) {
        (_, Some(m), _) if !(1..=12).contains(&m) => match lang {
            Lang::Zh => format!("没有 {m} 月"),
            Lang::En => format!("there is no month {m}"),
        },
        (Some(y), Some(2), Some(29)) if n == 8 => match lang {
            Lang::Zh => format!("{y} 年不是闰年，2 月没有 29 日"),
            Lang::En => format!("{y} is not a leap year, so February has no 29th"),
        },
        (_, Some(m), Some(d)) => match lang {
            Lang::Zh => format!("{m} 月没有 {d} 日"),
            Lang::En => format!("month {m} has no day {d}"),
        },
        _ => lang.pick("日期无法识别", "it cannot be read").to_string(),
    }
}

impl DocumentError {
    /// Stable machine code (see the table on [`DocumentError`]).
    pub fn code(&self) -> &'static str {
        match self {
            DocumentError::Empty => "document_empty",
            DocumentError::Length { .. } => "document_length",
            DocumentError::Character { .. } => "document_character",
            DocumentError::Region { .. } => "document_region",
            DocumentError::BirthDate { .. } => "document_birth_date",
            DocumentError::BirthTooEarly { .. } => "document_birth_too_early",
            DocumentError::BirthInFuture { .. } => "document_birth_future",
            DocumentError::Checksum { .. } => "document_checksum",
            DocumentError::PassportNoDigit => "document_passport_no_digit",
        }
    }

    /// A message a nurse understands, in the given language.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            DocumentError::Empty => lang.pick("请输入证件号码。", "Please enter the document number.").to_string(),
            DocumentError::Length { kind, found } => match lang {
                Lang::Zh => format!("证件号码位数不对：{}，输入的是 {found} 位。", length_expectation(*kind, lang)),
                Lang::En => format!(
                    "The document number has the wrong length: {}, but {found} were entered.",
                    length_expectation(*kind, lang)
                ),
            },
            DocumentError::Character { position, found, expected } => {
                let shown = printable_char(*found);
                match lang {
                    Lang::Zh => {
                        format!("证件号码第 {position} 位的“{shown}”不正确：这一位应为{}。", expected.describe(lang))
                    }
                    Lang::En => format!(
                        "Character {position} of the document number, “{shown}”, is not allowed: \
                         it should be {}.",
                        expected.describe(lang)
                    ),
                }
            }
            DocumentError::Region { code, position } => match lang {
                Lang::Zh => {
                    format!("证件号码第 {position}–{} 位“{code}”不是有效的省级行政区代码，请核对号码。", position + 1)
                }
                Lang::En => format!(
                    "Characters {position}–{} of the document number, “{code}”, are not a valid \
                     province code. Please check the number.",
                    position + 1
                ),
            },
            DocumentError::BirthDate { digits } => match lang {
                Lang::Zh => format!(
                    "证件号码中的出生日期 {digits} 不是有效日期（{}），请核对号码。",
                    birth_date_problem(digits, lang)
                ),
                Lang::En => format!(
                    "The birth date in the document number, {digits}, is not a real date ({}). \
                     Please check the number.",
                    birth_date_problem(digits, lang)
                ),
            },
            DocumentError::BirthTooEarly { date } => match lang {
                Lang::Zh => {
                    format!("证件号码中的出生日期 {date} 早于 1900 年，不可能正确，请核对号码。")
                }
                Lang::En => format!(
                    "The birth date in the document number, {date}, is before 1900 and cannot be \
                     right. Please check the number."
                ),
            },
            DocumentError::BirthInFuture { date } => match lang {
                Lang::Zh => {
                    format!("证件号码中的出生日期 {date} 晚于今天，不可能正确，请核对号码。")
                }
                Lang::En => format!(
                    "The birth date in the document number, {date}, is after today and cannot be \
                     right. Please check the number."
                ),
            },
            DocumentError::Checksum { expected, found } => {
                let found = printable_char(*found);
                match lang {
                    Lang::Zh => format!(
                        "身份证号校验位不正确：按前 17 位计算，最后一位应为 {expected}，输入的是 \
                         {found}。请逐位核对整个号码，多半是前面某一位输错了。"
                    ),
                    Lang::En => format!(
                        "The ID number's check character is wrong: from the first 17 digits the \
                         last character should be {expected}, not {found}. Please check every \
                         digit: usually an earlier digit was mistyped."
                    ),
                }
            }
            DocumentError::PassportNoDigit => lang
                .pick(
                    "护照号码中应至少有一位数字，请核对号码。",
                    "A passport number contains at least one digit. Please check the number.",
                )
                .to_string(),
        }
    }
}

/// Shows a character safely inside a message (control and invisible characters as `\u{…}`).
fn printable_char(c: char) -> String {
    if c.is_control() || is_invisible(c) { format!("\\u{{{:04X}}}", c as u32) } else { c.to_string() }
}

fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Maps full-width ASCII forms (`０`–`９`, `Ａ`–`Ｚ`, `ａ`–`ｚ`, `－`, …) and the ideographic
/// space to their ASCII counterparts.
pub(crate) fn fullwidth_to_ascii(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || is_invisible(c)
        || matches!(c, '-' | '_' | '.' | '·' | '・' | '･' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

/// Normalises a typed document number: full-width digits and letters become ASCII; spaces,
/// hyphens, dashes, dots, underscores, middle dots, control and invisible characters are removed;
/// ASCII letters are upper-cased (so a typed `x` check character becomes `X`).
pub fn normalize_input(s: &str) -> String {
    s.chars().map(fullwidth_to_ascii).filter(|&c| !is_separator(c)).map(|c| c.to_ascii_uppercase()).collect()
}

/// A validated identity number (resident ID, residence permit, or foreigner's permanent
/// residence ID) and what it encodes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResidentId {
    /// Canonical number: 18 characters (15-digit legacy numbers are converted), except the
    /// 15-character 2004/2017 foreigners' card, which has no 18-character form.
    pub number: String,
    /// Which of the three identity documents the number belongs to.
    pub kind: DocumentKind,
    /// Date of birth encoded in the number.
    pub birth_date: Date,
    /// Sex encoded in the number (odd sequence digit = male); `None` on the 15-character
    /// foreigners' card, which does not encode it.
    pub sex: Option<Sex>,
    /// Six-digit region code: the address code for citizens and permits; for foreigners'
    /// cards the issuing province (`PP0000`, or `PPCC00` on old cards).
    pub region: String,
    /// Nationality on foreigners' cards: the 3-digit ISO 3166-1 numeric code (2023 cards) or
    /// the 3-letter alpha-3 code (old cards); `None` otherwise.
    pub nationality: Option<String>,
    /// True when a legacy 15-digit number was converted to 18 digits.
    pub converted_from_15: bool,
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// The ISO 7064 MOD 11-2 check character for the first 17 digits of an identity number, or
/// `None` if `body` is not exactly 17 ASCII digits.
pub fn check_character(body: &str) -> Option<char> {
    let bytes = body.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = bytes.iter().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    Some(CHECK_CHARS[(sum % 11) as usize])
}

/// Province-level codes of mainland China (excluding Taiwan, Hong Kong and Macao).
fn is_mainland_province(code: u32) -> bool {
    matches!(code, 11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65)
}

fn two_digits(s: &str, at: usize) -> u32 {
    s.get(at..at + 2).and_then(|d| d.parse().ok()).unwrap_or(0)
}

fn parse_date(year: &str, month: &str, day: &str) -> Option<Date> {
    let y: i16 = year.parse().ok()?;
    let m: i8 = month.parse().ok()?;
    let d: i8 = day.parse().ok()?;
    Date::new(y, m, d).ok()
}

fn check_birth(date: Date, today: Date) -> Result<Date, DocumentError> {
    if date.year() < 1900 {
        Err(DocumentError::BirthTooEarly { date })
    } else if date > today {
        Err(DocumentError::BirthInFuture { date })
    } else {
        Ok(date)
    }
}

/// Checks each character against `class_at(position)`; returns the first offender.
fn check_chars(s: &str, class_at: impl Fn(usize) -> CharClass) -> Result<(), DocumentError> {
    for (i, c) in s.chars().enumerate() {
        let expected = class_at(i);
        let ok = match expected {
            CharClass::Digit => c.is_ascii_digit(),
            CharClass::DigitOrX => c.is_ascii_digit() || c == 'X',
            CharClass::Letter => c.is_ascii_uppercase(),
            CharClass::LetterOrDigit => c.is_ascii_uppercase() || c.is_ascii_digit(),
        };
        if !ok {
            return Err(DocumentError::Character { position: i + 1, found: c, expected });
        }
    }
    Ok(())
}

fn sex_from_digit(d: u8) -> Sex {
    if (d - b'0') % 2 == 1 { Sex::Male } else { Sex::Female }
}

/// Validates a resident ID, residence permit or foreigner's permanent residence ID number
/// (see the module documentation for the shapes accepted). `today` bounds the birth date.
pub fn validate_resident_id(input: &str, today: Date) -> Result<ResidentId, DocumentError> {
    let s = normalize_input(input);
    if s.is_empty() {
        return Err(DocumentError::Empty);
    }
    let n = s.chars().count();
    if n >= 3 && s.chars().take(3).all(|c| c.is_ascii_uppercase()) {
        return validate_foreign_old(&s, today);
    }
    // Digits everywhere; X only as the last character of an 18-character number.
    check_chars(&s, |i| if i == 17 && n == 18 { CharClass::DigitOrX } else { CharClass::Digit })?;
    match n {
        18 => validate_18(&s, today),
        15 => validate_15(&s, today),
        found => Err(DocumentError::Length { kind: DocumentKind::ResidentId, found }),
    }
}

fn validate_18(s: &str, today: Date) -> Result<ResidentId, DocumentError> {
    let bytes = s.as_bytes();
    let (kind, region, nationality) = if bytes[0] == b'9' {
        let province = two_digits(s, 1);
        if !is_mainland_province(province) {
            return Err(DocumentError::Region { code: s[1..3].to_string(), position: 2 });
        }
        (DocumentKind::ForeignPermanentResident, format!("{}0000", &s[1..3]), Some(s[3..6].to_string()))
    } else {
        let province = two_digits(s, 0);
        let kind = match province {
            81..=83 => DocumentKind::ResidencePermit,
            p if is_mainland_province(p) || p == 71 => DocumentKind::ResidentId,
            _ => {
                return Err(DocumentError::Region { code: s[..2].to_string(), position: 1 });
            }
        };
        (kind, s[..6].to_string(), None)
    };
    let birth = parse_date(&s[6..10], &s[10..12], &s[12..14])
        .ok_or_else(|| DocumentError::BirthDate { digits: s[6..14].to_string() })?;
    let birth_date = check_birth(birth, today)?;
    let found = char::from(bytes[17]);
    if let Some(expected) = check_character(&s[..17])
        && expected != found
    {
        return Err(DocumentError::Checksum { expected, found });
    }
    Ok(ResidentId {
        number: s.to_string(),
        kind,
        birth_date,
        sex: Some(sex_from_digit(bytes[16])),
        region,
        nationality,
        converted_from_15: false,
    })
}

fn validate_15(s: &str, today: Date) -> Result<ResidentId, DocumentError> {
    let province = two_digits(s, 0);
    if !(is_mainland_province(province) || province == 71 || province == 91) {
        return Err(DocumentError::Region { code: s[..2].to_string(), position: 1 });
    }
    let birth = parse_date(&format!("19{}", &s[6..8]), &s[8..10], &s[10..12])
        .ok_or_else(|| DocumentError::BirthDate { digits: s[6..12].to_string() })?;
    let birth_date = check_birth(birth, today)?;
    let body = format!("{}19{}", &s[..6], &s[6..15]);
    let check = check_character(&body).unwrap_or('0');
    Ok(ResidentId {
        number: format!("{body}{check}"),
        kind: DocumentKind::ResidentId,
        birth_date,
        sex: Some(sex_from_digit(s.as_bytes()[14])),
        region: s[..6].to_string(),
        nationality: None,
        converted_from_15: true,
    })
}

/// The 2004/2017 foreigners' card: `AAA` + `PPCC` + `YYMMDD` + `NN`.
fn validate_foreign_old(s: &str, today: Date) -> Result<ResidentId, DocumentError> {
    check_chars(s, |i| if i < 3 { CharClass::Letter } else { CharClass::Digit })?;
    let n = s.len();
    if n != 15 {
        return Err(DocumentError::Length { kind: DocumentKind::ForeignPermanentResident, found: n });
    }
    if !is_mainland_province(two_digits(s, 3)) {
        return Err(DocumentError::Region { code: s[3..5].to_string(), position: 4 });
    }
    let (yy, mm, dd) = (&s[7..9], &s[9..11], &s[11..13]);
    let recent = parse_date(&format!("20{yy}"), mm, dd).filter(|d| *d <= today);
    let birth = recent
        .or_else(|| parse_date(&format!("19{yy}"), mm, dd))
        .ok_or_else(|| DocumentError::BirthDate { digits: s[7..13].to_string() })?;
    let birth_date = check_birth(birth, today)?;
    Ok(ResidentId {
        number: s.to_string(),
        kind: DocumentKind::ForeignPermanentResident,
        birth_date,
        sex: None,
        region: format!("{}00", &s[3..7]),
        nationality: Some(s[..3].to_string()),
        converted_from_15: false,
    })
}

/// Validates a passport number: after normalisation 5–17 letters A–Z or digits, with at least
/// one digit. Returns the normalised number.
pub fn validate_passport(input: &str) -> Result<String, DocumentError> {
    let s = normalize_input(input);
    if s.is_empty() {
        return Err(DocumentError::Empty);
    }
    check_chars(&s, |_| CharClass::LetterOrDigit)?;
    let n = s.len();
    if !(5..=17).contains(&n) {
        return Err(DocumentError::Length { kind: DocumentKind::Passport, found: n });
    }
    if !s.bytes().any(|b| b.is_ascii_digit()) {
        return Err(DocumentError::PassportNoDigit);
    }
    Ok(s)
}

/// A validated identity document: what a patient record stores.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Document {
    /// The kind, as detected from the number for identity numbers.
    pub kind: DocumentKind,
    /// The canonical number.
    pub number: String,
}

impl Document {
    /// The string two desks compare to recognise the same person (rule 6). The three identity
    /// kinds share the `id:` namespace (a number is unique across them, and a nurse may pick
    /// the wrong one of the three); passports use `passport:`, other documents `other:`.
    pub fn key(&self) -> String {
        let ns = if self.kind.is_identity_number() { "id" } else { self.kind.code() };
        format!("{ns}:{}", self.number)
    }
}

/// Validates a document of the declared kind. The three identity kinds are validated alike
/// and the kind is taken from the number itself: a number declared as a resident ID that
/// starts with 81 comes back as a [`DocumentKind::ResidencePermit`], and so on (the number
/// says unambiguously what it is, so a wrong choice in a drop-down loses nothing).
/// `Other` documents only need 3–32 characters after normalisation.
pub fn validate_document(kind: DocumentKind, input: &str, today: Date) -> Result<Document, DocumentError> {
    match kind {
        DocumentKind::ResidentId | DocumentKind::ResidencePermit | DocumentKind::ForeignPermanentResident => {
            let id = validate_resident_id(input, today)?;
            Ok(Document { kind: id.kind, number: id.number })
        }
        DocumentKind::Passport => Ok(Document { kind, number: validate_passport(input)? }),
        DocumentKind::Other => {
            let s = normalize_input(input);
            let n = s.chars().count();
            if n == 0 {
                Err(DocumentError::Empty)
            } else if !(3..=32).contains(&n) {
                Err(DocumentError::Length { kind, found: n })
            } else {
                Ok(Document { kind, number: s })
            }
        }
    }
}

/// Why a phone number was refused.
///
/// | code | meaning |
/// | --- | --- |
/// | `phone_empty` | nothing was typed |
/// | `phone_character` | a character that is not a digit (or a leading `+`) |
/// | `phone_mobile_length` | starts like a mobile number (`1…`) but does not have 11 digits |
/// | `phone_mobile_prefix` | 11 digits starting `10`, `11` or `12`: not a mobile number |
/// | `phone_landline_length` | area code found but the local number is not 7–8 digits |
/// | `phone_area_code_missing` | a 7–8 digit local number without its area code |
/// | `phone_hk_macao_length` | a +852/+853 number without exactly 8 digits |
/// | `phone_country` | an international number outside mainland China, Hong Kong and Macao |
/// | `phone_format` | anything else |
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing was typed.
    #[error("phone number is empty")]
    Empty,
    /// A character that cannot appear in a phone number.
    #[error("character {found:?} at position {position} is not allowed in a phone number")]
    Character {
        /// 1-based position after removing spaces, hyphens and parentheses.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// A mobile number (starting with 1) without 11 digits.
    #[error("mobile number has {found} digits, expected 11")]
    MobileLength {
        /// Digits found (without country prefix).
        found: usize,
    },
    /// 11 digits starting `10`/`11`/`12`.
    #[error("{prefix} is not a mobile number prefix")]
    MobilePrefix {
        /// The first two digits.
        prefix: String,
    },
    /// The local part of a landline number is not 7–8 digits.
    #[error("landline number after area code {area} has {found} digits, expected 7 or 8")]
    LandlineLength {
        /// The area code, with its leading 0.
        area: String,
        /// Digits after the area code.
        found: usize,
    },
    /// A landline number typed without its area code.
    #[error("landline number without area code")]
    AreaCodeMissing {
        /// Digits found.
        found: usize,
    },
    /// A Hong Kong or Macao number without 8 digits.
    #[error("+{country} number has {found} digits, expected 8")]
    HkMacaoLength {
        /// `852` or `853`.
        country: String,
        /// Digits found after the country code.
        found: usize,
    },
    /// An international number that is not from mainland China, Hong Kong or Macao.
    #[error("unsupported international number {number}")]
    Country {
        /// The digits as typed, with `+`.
        number: String,
    },
    /// Not recognisable as a phone number.
    #[error("not a phone number ({found} digits)")]
    Format {
        /// Digits found.
        found: usize,
    },
}

impl PhoneError {
    /// Stable machine code (see the table on [`PhoneError`]).
    pub fn code(&self) -> &'static str {
        match self {
            PhoneError::Empty => "phone_empty",
            PhoneError::Character { .. } => "phone_character",
            PhoneError::MobileLength { .. } => "phone_mobile_length",
            PhoneError::MobilePrefix { .. } => "phone_mobile_prefix",
            PhoneError::LandlineLength { .. } => "phone_landline_length",
            PhoneError::AreaCodeMissing { .. } => "phone_area_code_missing",
            PhoneError::HkMacaoLength { .. } => "phone_hk_macao_length",
            PhoneError::Country { .. } => "phone_country",
            PhoneError::Format { .. } => "phone_format",
        }
    }

    /// A message a nurse understands, in the given language.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            PhoneError::Empty => lang.pick("请输入电话号码。", "Please enter the phone number.").to_string(),
            PhoneError::Character { position, found } => {
                let shown = printable_char(*found);
                match lang {
                    Lang::Zh => format!(
                        "电话号码第 {position} 位的“{shown}”不正确：电话号码只能包含数字（国际号码可以 + 开头）。"
                    ),
                    Lang::En => format!(
                        "Character {position} of the phone number, “{shown}”, is not allowed: a \
                         phone number has only digits (and a leading + for international numbers)."
                    ),
                }
            }
            PhoneError::MobileLength { found } => match lang {
                Lang::Zh => format!("手机号码应为 11 位，输入的是 {found} 位。"),
                Lang::En => format!("A mobile number has 11 digits, but {found} were entered."),
            },
            PhoneError::MobilePrefix { prefix } => match lang {
                Lang::Zh => {
                    format!("手机号码不会以 {prefix} 开头（应为 13–19 开头），请核对号码。")
                }
                Lang::En => format!(
                    "Mobile numbers do not start with {prefix} (they start with 13 to 19). \
                     Please check the number."
                ),
            },
            PhoneError::LandlineLength { area, found } => match lang {
                Lang::Zh => {
                    format!("固定电话区号 {area} 之后应为 7 或 8 位号码，输入的是 {found} 位。")
                }
                Lang::En => format!(
                    "After the area code {area} a landline number has 7 or 8 digits, but {found} \
                     were entered."
                ),
            },
            PhoneError::AreaCodeMissing { .. } => lang
                .pick(
                    "固定电话请加上区号，例如 010-12345678 或 0755-1234567。",
                    "Please add the area code to the landline number, e.g. 010-12345678 or \
                     0755-1234567.",
                )
                .to_string(),
            PhoneError::HkMacaoLength { country, found } => {
                let place =
                    if country == "853" { lang.pick("澳门", "Macao") } else { lang.pick("香港", "Hong Kong") };
                match lang {
                    Lang::Zh => {
                        format!("{place}电话号码（+{country}）应为 8 位，输入的是 {found} 位。")
                    }
                    Lang::En => format!("A {place} number (+{country}) has 8 digits, but {found} were entered."),
                }
            }
            PhoneError::Country { number } => match lang {
                Lang::Zh => {
                    format!("暂不支持该国际号码 {number}：只接受中国大陆手机或固话、香港（+852）和澳门（+853）号码。")
                }
                Lang::En => format!(
                    "The international number {number} is not supported: only mainland Chinese \
                     mobile or landline numbers and Hong Kong (+852) or Macao (+853) numbers \
                     are accepted."
                ),
            },
            PhoneError::Format { found } => match lang {
                Lang::Zh => format!("无法识别的电话号码（{found} 位数字）：手机号为 11 位，固话为区号加 7–8 位号码。"),
                Lang::En => format!(
                    "This is not a recognisable phone number ({found} digits): a mobile number \
                     has 11 digits, a landline is an area code and 7–8 digits."
                ),
            },
        }
    }
}

fn phone_mobile(d: &str) -> Result<String, PhoneError> {
    if d.len() != 11 {
        return Err(PhoneError::MobileLength { found: d.len() });
    }
    if !matches!(d.as_bytes()[1], b'3'..=b'9') {
        return Err(PhoneError::MobilePrefix { prefix: d[..2].to_string() });
    }
    Ok(d.to_string())
}

/// `d` starts with the trunk `0`. Area codes are 010 and 02x (two digits after the 0) or
/// three digits after the 0 everywhere else.
fn phone_landline(d: &str) -> Result<String, PhoneError> {
    let area_len = if d.starts_with("010") || d.starts_with("02") { 3 } else { 4 };
    if d.len() <= area_len {
        return Err(PhoneError::Format { found: d.len() });
    }
    let (area, local) = d.split_at(area_len);
    if !(7..=8).contains(&local.len()) {
        return Err(PhoneError::LandlineLength { area: area.to_string(), found: local.len() });
    }
    Ok(format!("{area}-{local}"))
}

fn phone_hk_macao(country: &str, d: &str) -> Result<String, PhoneError> {
    if d.len() != 8 {
        return Err(PhoneError::HkMacaoLength { country: country.to_string(), found: d.len() });
    }
    Ok(format!("+{country}{d}"))
}

/// A national (mainland) number, with or without its trunk 0 after an international prefix.
fn phone_national(d: &str, after_country_code: bool) -> Result<String, PhoneError> {
    match d.as_bytes().first() {
        // After +86 the trunk 0 is dropped, so Beijing (10…) looks like a mobile number.
        Some(b'1') if after_country_code && d.starts_with("10") => phone_landline(&format!("0{d}")),
        Some(b'1') => phone_mobile(d),
        Some(b'0') => phone_landline(d),
        Some(b'2'..=b'9') if after_country_code => phone_landline(&format!("0{d}")),
        Some(b'2'..=b'9') if (7..=8).contains(&d.len()) => Err(PhoneError::AreaCodeMissing { found: d.len() }),
        _ => Err(PhoneError::Format { found: d.len() }),
    }
}

/// Validates a phone number and returns its canonical form:
///
/// * mainland mobile: `1[3-9]` + 9 digits → 11 digits (`13812345678`); a `+86`, `0086` or
///   `86` prefix is dropped;
/// * mainland landline: `0` + 2–3 digit area code + 7–8 digits → `0AA-NNNNNNNN`
///   (`010-12345678`, `0755-1234567`); `+86 755 …` (without the trunk 0) is accepted too;
/// * Hong Kong and Macao: `+852`/`+853` (or `00852`, `852…` with 11 digits) + 8 digits →
///   `+852XXXXXXXX`.
///
/// Full-width digits, spaces, hyphens, dots and parentheses are ignored.
pub fn validate_phone(input: &str) -> Result<String, PhoneError> {
    let s: String = input
        .chars()
        .map(fullwidth_to_ascii)
        .filter(|&c| !(is_separator(c) || matches!(c, '(' | ')' | '（' | '）')))
        .collect();
    if s.is_empty() {
        return Err(PhoneError::Empty);
    }
    let (plus, digits) = match s.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, s.as_str()),
    };
    for (i, c) in digits.chars().enumerate() {
        if !c.is_ascii_digit() {
            return Err(PhoneError::Character { position: i + 1 + usize::from(plus), found: c });
        }
    }
    let international = if plus { Some(digits) } else { digits.strip_prefix("00") };
    if let Some(intl) = international {
        return if let Some(rest) = intl.strip_prefix("86") {
            phone_national(rest, true)
        } else if let Some(rest) = intl.strip_prefix("852") {
            phone_hk_macao("852", rest)
        } else if let Some(rest) = intl.strip_prefix("853") {
            phone_hk_macao("853", rest)
        } else if intl.is_empty() {
            Err(PhoneError::Format { found: 0 })
        } else {
            Err(PhoneError::Country { number: format!("+{intl}") })
        };
    }
    if digits.len() == 13 && digits.starts_with("861") {
        return phone_mobile(&digits[2..]);
    }
    if digits.len() == 11 {
        if let Some(rest) = digits.strip_prefix("852") {
            return phone_hk_macao("852", rest);
        }
        if let Some(rest) = digits.strip_prefix("853") {
            return phone_hk_macao("853", rest);
        }
    }
    phone_national(digits, false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const TODAY: Date = date(2025, 6, 15);

    /// Independent check-character computation: weights are 2^(17-i) mod 11, and the check
    /// value is (12 - sum mod 11) mod 11, 10 written as X.
    fn reference_check(body: &str) -> char {
        let sum: u64 = body.bytes().enumerate().map(|(i, b)| u64::from(b - b'0') * ((1u64 << (17 - i)) % 11)).sum();
        match (12 - sum % 11) % 11 {
            10 => 'X',
            v => char::from(b'0' + v as u8),
        }
    }

    /// Builds a valid 18-character number from its parts.
    fn make(region: &str, birth: &str, seq: &str) -> String {
        let body = format!("{region}{birth}{seq}");
        assert_eq!(body.len(), 17, "{body}");
        format!("{body}{}", reference_check(&body))
    }

    fn err(input: &str) -> DocumentError {
        validate_resident_id(input, TODAY).expect_err(input)
    }

    #[test]
    fn check_character_matches_reference_and_published_examples() {
        assert_eq!(check_character("11010519491231002"), Some('X'));
        assert_eq!(check_character("44052418800101001"), Some('4'));
        assert_eq!(check_character("93268219850101001"), Some('7'));
        assert_eq!(check_character("1101051949123100"), None);
        assert_eq!(check_character("1101051949123100A"), None);
        for body in [
            "11010519491231002",
            "44052418800101001",
            "11010119900307757",
            "81000019940823002",
            "00000000000000000",
            "99999999999999999",
        ] {
            assert_eq!(check_character(body), Some(reference_check(body)), "{body}");
        }
    }

    #[test]
    fn valid_numbers() {
        struct Case {
            input: String,
            number: String,
            kind: DocumentKind,
            birth: Date,
            sex: Option<Sex>,
            region: &'static str,
            nationality: Option<&'static str>,
            from_15: bool,
        }
        let legacy = "610104620927690";
        let legacy18 = make("610104", "19620927", "690");
        let cases = [
            Case {
                input: "11010519491231002X".into(),
                number: "11010519491231002X".into(),
                kind: DocumentKind::ResidentId,
                birth: date(1949, 12, 31),
                sex: Some(Sex::Female),
                region: "110105",
                nationality: None,
                from_15: false,
            },
            // lower-case x, spaces, hyphens
            Case {
                input: " 110105 1949-1231 002x ".into(),
                number: "11010519491231002X".into(),
                kind: DocumentKind::ResidentId,
                birth: date(1949, 12, 31),
                sex: Some(Sex::Female),
                region: "110105",
                nationality: None,
                from_15: false,
            },
            // full-width digits and letter
            Case {
                input: "１１０１０５１９４９１２３１００２ｘ".into(),
                number: "11010519491231002X".into(),
                kind: DocumentKind::ResidentId,
                birth: date(1949, 12, 31),
                sex: Some(Sex::Female),
                region: "110105",
                nationality: None,
                from_15: false,
            },
            Case {
                input: make("440305", "20000229", "131"),
                number: make("440305", "20000229", "131"),
                kind: DocumentKind::ResidentId,
                birth: date(2000, 2, 29),
                sex: Some(Sex::Male),
                region: "440305",
                nationality: None,
                from_15: false,
            },
            Case {
                input: make("710000", "19800101", "011"),
                number: make("710000", "19800101", "011"),
                kind: DocumentKind::ResidentId,
                birth: date(1980, 1, 1),
                sex: Some(Sex::Male),
                region: "710000",
                nationality: None,
                from_15: false,
            },
            // born today
            Case {
                input: make("310101", "20250615", "002"),
                number: make("310101", "20250615", "002"),
                kind: DocumentKind::ResidentId,
                birth: TODAY,
                sex: Some(Sex::Female),
                region: "310101",
                nationality: None,
                from_15: false,
            },
            // published sample numbers of the residence permits
            Case {
                input: "810000199408230021".into(),
                number: "810000199408230021".into(),
                kind: DocumentKind::ResidencePermit,
                birth: date(1994, 8, 23),
                sex: Some(Sex::Female),
                region: "810000",
                nationality: None,
                from_15: false,
            },
            Case {
                input: make("820000", "19850505", "013"),
                number: make("820000", "19850505", "013"),
                kind: DocumentKind::ResidencePermit,
                birth: date(1985, 5, 5),
                sex: Some(Sex::Male),
                region: "820000",
                nationality: None,
                from_15: false,
            },
            Case {
                input: "830000199201300022".into(),
                number: "830000199201300022".into(),
                kind: DocumentKind::ResidencePermit,
                birth: date(1992, 1, 30),
                sex: Some(Sex::Female),
                region: "830000",
                nationality: None,
                from_15: false,
            },
            // 2023 foreigners' card: 9 + Jiangsu (32) + Saudi Arabia (682)
            Case {
                input: "932682198501010017".into(),
                number: "932682198501010017".into(),
                kind: DocumentKind::ForeignPermanentResident,
                birth: date(1985, 1, 1),
                sex: Some(Sex::Male),
                region: "320000",
                nationality: Some("682"),
                from_15: false,
            },
            // 2004/2017 foreigners' card: KAZ + 1100 + 901231 + 05
            Case {
                input: "kaz110090123105".into(),
                number: "KAZ110090123105".into(),
                kind: DocumentKind::ForeignPermanentResident,
                birth: date(1990, 12, 31),
                sex: None,
                region: "110000",
                nationality: Some("KAZ"),
                from_15: false,
            },
            // 2-digit year: 2010 when that is not in the future
            Case {
                input: "USA310110010112".into(),
                number: "USA310110010112".into(),
                kind: DocumentKind::ForeignPermanentResident,
                birth: date(2010, 1, 1),
                sex: None,
                region: "310100",
                nationality: Some("USA"),
                from_15: false,
            },
            // … and 1930 when 2030 would be
            Case {
                input: "GBR440130070401".into(),
                number: "GBR440130070401".into(),
                kind: DocumentKind::ForeignPermanentResident,
                birth: date(1930, 7, 4),
                sex: None,
                region: "440100",
                nationality: Some("GBR"),
                from_15: false,
            },
            Case {
                input: legacy.into(),
                number: legacy18.clone(),
                kind: DocumentKind::ResidentId,
                birth: date(1962, 9, 27),
                sex: Some(Sex::Female),
                region: "610104",
                nationality: None,
                from_15: true,
            },
            Case {
                input: "130503 670401 001".into(),
                number: make("130503", "19670401", "001"),
                kind: DocumentKind::ResidentId,
                birth: date(1967, 4, 1),
                sex: Some(Sex::Male),
                region: "130503",
                nationality: None,
                from_15: true,
            },
        ];
        for c in cases {
            let id = validate_resident_id(&c.input, TODAY).unwrap_or_else(|e| panic!("{}: {e:?}", c.input));
            assert_eq!(id.number, c.number, "{}", c.input);
            assert_eq!(id.kind, c.kind, "{}", c.input);
            assert_eq!(id.birth_date, c.birth, "{}", c.input);
            assert_eq!(id.sex, c.sex, "{}", c.input);
            assert_eq!(id.region, c.region, "{}", c.input);
            assert_eq!(id.nationality.as_deref(), c.nationality, "{}", c.input);
            assert_eq!(id.converted_from_15, c.from_15, "{}", c.input);
            // The canonical number validates to itself.
            assert_eq!(validate_resident_id(&id.number, TODAY).map(|i| i.number), Ok(id.number));
        }
    }

    #[test]
    fn invalid_numbers() {
        let cases: Vec<(String, DocumentError)> = vec![
            ("".into(), DocumentError::Empty),
            (" - ".into(), DocumentError::Empty),
            ("11010519491231002".into(), DocumentError::Length { kind: DocumentKind::ResidentId, found: 17 }),
            (
                "11010519491231002X1".into(),
                DocumentError::Character { position: 18, found: 'X', expected: CharClass::Digit },
            ),
            ("1101051949123100211".into(), DocumentError::Length { kind: DocumentKind::ResidentId, found: 19 }),
            ("1101051949123100".into(), DocumentError::Length { kind: DocumentKind::ResidentId, found: 16 }),
            (
                "1101O5194912310O2X".into(),
                DocumentError::Character { position: 5, found: 'O', expected: CharClass::Digit },
            ),
            (
                "11010519491231002Y".into(),
                DocumentError::Character { position: 18, found: 'Y', expected: CharClass::DigitOrX },
            ),
            (
                "110105194912310X2X".into(),
                DocumentError::Character { position: 16, found: 'X', expected: CharClass::Digit },
            ),
            (
                "11010519491231身002X".into(),
                DocumentError::Character { position: 15, found: '身', expected: CharClass::Digit },
            ),
            (
                "11010519491231003X".into(),
                DocumentError::Checksum { expected: reference_check("11010519491231003"), found: 'X' },
            ),
            ("110105194912310023".into(), DocumentError::Checksum { expected: 'X', found: '3' }),
            // leap days and impossible dates (check digits made right so only the date is wrong)
            (make("110101", "19000229", "123"), DocumentError::BirthDate { digits: "19000229".into() }),
            (make("110101", "20230229", "123"), DocumentError::BirthDate { digits: "20230229".into() }),
            (make("110101", "19901301", "123"), DocumentError::BirthDate { digits: "19901301".into() }),
            (make("110101", "19900132", "123"), DocumentError::BirthDate { digits: "19900132".into() }),
            (make("110101", "19900431", "123"), DocumentError::BirthDate { digits: "19900431".into() }),
            (make("110101", "19900001", "123"), DocumentError::BirthDate { digits: "19900001".into() }),
            (make("110101", "20250616", "123"), DocumentError::BirthInFuture { date: date(2025, 6, 16) }),
            (make("110101", "20990101", "123"), DocumentError::BirthInFuture { date: date(2099, 1, 1) }),
            // the GB 11643 sample number: a correct check digit but born in 1880
            ("440524188001010014".into(), DocumentError::BirthTooEarly { date: date(1880, 1, 1) }),
            // regions
            (make("000000", "19900101", "123"), DocumentError::Region { code: "00".into(), position: 1 }),
            (make("160000", "19900101", "123"), DocumentError::Region { code: "16".into(), position: 1 }),
            (make("840000", "19900101", "123"), DocumentError::Region { code: "84".into(), position: 1 }),
            (make("910000", "19900101", "123"), DocumentError::Region { code: "10".into(), position: 2 }),
            (make("971682", "19900101", "123"), DocumentError::Region { code: "71".into(), position: 2 }),
            ("810000199408230022".into(), DocumentError::Checksum { expected: '1', found: '2' }),
            ("932682198501010018".into(), DocumentError::Checksum { expected: '7', found: '8' }),
            // legacy 15 digits
            (
                "61010462092769X".into(),
                DocumentError::Character { position: 15, found: 'X', expected: CharClass::Digit },
            ),
            ("990104620927690".into(), DocumentError::Region { code: "99".into(), position: 1 }),
            ("810104620927690".into(), DocumentError::Region { code: "81".into(), position: 1 }),
            ("610104000229690".into(), DocumentError::BirthDate { digits: "000229".into() }),
            // old foreigners' cards
            (
                "KAZ11009012310".into(),
                DocumentError::Length { kind: DocumentKind::ForeignPermanentResident, found: 14 },
            ),
            (
                "KAZ1100901231O5".into(),
                DocumentError::Character { position: 14, found: 'O', expected: CharClass::Digit },
            ),
            ("KAZ990090123105".into(), DocumentError::Region { code: "99".into(), position: 4 }),
            ("KAZ110090023105".into(), DocumentError::BirthDate { digits: "900231".into() }),
            ("KAZ110001022905".into(), DocumentError::BirthDate { digits: "010229".into() }),
            // a passport number in the ID field
            ("E12345678".into(), DocumentError::Character { position: 1, found: 'E', expected: CharClass::Digit }),
        ];
        for (input, expected) in cases {
            assert_eq!(err(&input), expected, "{input}");
        }
    }

    #[test]
    fn leap_day_of_2000_on_old_foreign_card() {
        let id = validate_resident_id("FRA110000022905", TODAY).unwrap();
        assert_eq!(id.birth_date, date(2000, 2, 29));
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalize_input(" １１０ １０５-19491231 002ｘ\t"), "11010519491231002X");
        assert_eq!(normalize_input("e１２３４５６７８"), "E12345678");
        assert_eq!(normalize_input("a·b_c.d—e\u{200B}f"), "ABCDEF");
        assert_eq!(normalize_input("　"), "");
    }

    #[test]
    fn sex_parsing() {
        for (s, sex) in [
            ("F", Some(Sex::Female)),
            ("m", Some(Sex::Male)),
            ("女", Some(Sex::Female)),
            ("男", Some(Sex::Male)),
            (" Female ", Some(Sex::Female)),
            ("2", Some(Sex::Female)),
            ("1", Some(Sex::Male)),
            ("x", None),
            ("", None),
        ] {
            assert_eq!(Sex::parse(s), sex, "{s}");
        }
        assert_eq!(serde_json::to_string(&Sex::Female).unwrap(), "\"F\"");
        assert_eq!(serde_json::from_str::<Sex>("\"M\"").unwrap(), Sex::Male);
    }

    #[test]
    fn kinds_round_trip() {
        for k in DocumentKind::ALL {
            assert_eq!(DocumentKind::from_code(k.code()), Some(k));
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.code()));
        }
    }

    #[test]
    fn passports() {
        assert_eq!(validate_passport("e1234 5678"), Ok("E12345678".into()));
        assert_eq!(validate_passport("ｇ１２３４５６７８"), Ok("G12345678".into()));
        assert_eq!(validate_passport("12345"), Ok("12345".into()));
        assert_eq!(validate_passport(""), Err(DocumentError::Empty));
        assert_eq!(validate_passport("E123"), Err(DocumentError::Length { kind: DocumentKind::Passport, found: 4 }));
        assert_eq!(
            validate_passport("E123456789012345678"),
            Err(DocumentError::Length { kind: DocumentKind::Passport, found: 19 })
        );
        assert_eq!(validate_passport("ABCDEFG"), Err(DocumentError::PassportNoDigit));
        assert_eq!(
            validate_passport("E1234#678"),
            Err(DocumentError::Character { position: 6, found: '#', expected: CharClass::LetterOrDigit })
        );
    }

    #[test]
    fn documents_and_keys() {
        let d = validate_document(DocumentKind::ResidentId, "11010519491231002x", TODAY).unwrap();
        assert_eq!(d.kind, DocumentKind::ResidentId);
        assert_eq!(d.key(), "id:11010519491231002X");
        // Declared as resident ID, the number says residence permit.
        let d = validate_document(DocumentKind::ResidentId, "810000199408230021", TODAY).unwrap();
        assert_eq!(d.kind, DocumentKind::ResidencePermit);
        assert_eq!(d.key(), "id:810000199408230021");
        let d = validate_document(DocumentKind::ResidencePermit, "932682198501010017", TODAY).unwrap();
        assert_eq!(d.kind, DocumentKind::ForeignPermanentResident);
        // 15 and 18 digits of the same person share a key.
        let a = validate_document(DocumentKind::ResidentId, "610104620927690", TODAY).unwrap();
        let b = validate_document(DocumentKind::ResidentId, &a.number, TODAY).unwrap();
        assert_eq!(a.key(), b.key());
        let p = validate_document(DocumentKind::Passport, "e12345678", TODAY).unwrap();
        assert_eq!(p.key(), "passport:E12345678");
        let o = validate_document(DocumentKind::Other, " h-1234 5678 ", TODAY).unwrap();
        assert_eq!(o.key(), "other:H12345678");
        assert_eq!(
            validate_document(DocumentKind::Other, "ab", TODAY),
            Err(DocumentError::Length { kind: DocumentKind::Other, found: 2 })
        );
        assert_eq!(validate_document(DocumentKind::Other, "  ", TODAY), Err(DocumentError::Empty));
        assert_eq!(
            validate_document(DocumentKind::ForeignPermanentResident, "11010519491231003X", TODAY),
            Err(DocumentError::Checksum { expected: reference_check("11010519491231003"), found: 'X' })
        );
    }

    #[test]
    fn messages_are_specific() {
        let e = err("110105194912310023");
        assert_eq!(e.code(), "document_checksum");
        let zh = e.message(Lang::Zh);
        assert!(zh.contains("最后一位应为 X") && zh.contains("输入的是 3"), "{zh}");
        let en = e.message(Lang::En);
        assert!(en.contains("should be X, not 3"), "{en}");

        let e = err("11010519491231002");
        assert!(e.message(Lang::Zh).contains("输入的是 17 位"));
        assert!(e.message(Lang::En).contains("17 were entered"));

        let e = err(&make("110101", "19000229", "123"));
        assert!(e.message(Lang::Zh).contains("1900 年不是闰年"), "{}", e.message(Lang::Zh));
        assert!(e.message(Lang::En).contains("1900 is not a leap year"));
        let e = err(&make("110101", "19901301", "123"));
        assert!(e.message(Lang::Zh).contains("没有 13 月"));
        assert!(e.message(Lang::En).contains("no month 13"));
        let e = err(&make("110101", "19900431", "123"));
        assert!(e.message(Lang::Zh).contains("4 月没有 31 日"));

        let e = err("1101O5194912310O2X");
        assert!(e.message(Lang::Zh).contains("第 5 位的“O”"), "{}", e.message(Lang::Zh));
        assert!(e.message(Lang::En).contains("Character 5"));

        // A control character a scanner slipped in is dropped, not reported.
        assert!(validate_resident_id("11010519491231\u{7}002X", TODAY).is_ok());

        for e in [
            DocumentError::Empty,
            DocumentError::Length { kind: DocumentKind::Other, found: 40 },
            DocumentError::Character { position: 1, found: '\u{202E}', expected: CharClass::Digit },
            DocumentError::Region { code: "99".into(), position: 1 },
            DocumentError::BirthDate { digits: "x".into() },
            DocumentError::BirthTooEarly { date: date(1880, 1, 1) },
            DocumentError::BirthInFuture { date: date(2030, 1, 1) },
            DocumentError::PassportNoDigit,
        ] {
            assert!(e.code().starts_with("document_"));
            for lang in [Lang::Zh, Lang::En] {
                let m = e.message(lang);
                assert!(!m.is_empty() && !m.contains('\u{202E}'), "{m}");
            }
        }
    }

    #[test]
    fn phones() {
        let ok = [
            ("13812345678", "13812345678"),
            ("138 1234 5678", "13812345678"),
            ("138-1234-5678", "13812345678"),
            ("１３８１２３４５６７８", "13812345678"),
            ("+86 138 1234 5678", "13812345678"),
            ("+8613812345678", "13812345678"),
            ("0086 13812345678", "13812345678"),
            ("8613812345678", "13812345678"),
            ("19912345678", "19912345678"),
            ("010-12345678", "010-12345678"),
            ("01012345678", "010-12345678"),
            ("(010) 1234 5678", "010-12345678"),
            ("（０２１）６１２３４５６７", "021-61234567"),
            ("0755-12345678", "0755-12345678"),
            ("07551234567", "0755-1234567"),
            ("0571 8888 6666", "0571-88886666"),
            ("+86 755 1234 5678", "0755-12345678"),
            ("+86 10 1234 5678", "010-12345678"),
            ("+852 9123 4567", "+85291234567"),
            ("00852-91234567", "+85291234567"),
            ("85291234567", "+85291234567"),
            ("+853 6612 3456", "+85366123456"),
        ];
        for (input, want) in ok {
            assert_eq!(validate_phone(input).as_deref(), Ok(want), "{input}");
        }
        let bad = [
            ("", PhoneError::Empty),
            (" - ", PhoneError::Empty),
            ("1381234567", PhoneError::MobileLength { found: 10 }),
            ("138123456789", PhoneError::MobileLength { found: 12 }),
            ("12812345678", PhoneError::MobilePrefix { prefix: "12".into() }),
            ("10012345678", PhoneError::MobilePrefix { prefix: "10".into() }),
            ("138a2345678", PhoneError::Character { position: 4, found: 'a' }),
            ("+86+13812345678", PhoneError::Character { position: 4, found: '+' }),
            ("62345678", PhoneError::AreaCodeMissing { found: 8 }),
            ("2345678", PhoneError::AreaCodeMissing { found: 7 }),
            ("12345678", PhoneError::MobileLength { found: 8 }),
            ("010-123456", PhoneError::LandlineLength { area: "010".into(), found: 6 }),
            ("0755-123456789", PhoneError::LandlineLength { area: "0755".into(), found: 9 }),
            ("+852 1234567", PhoneError::HkMacaoLength { country: "852".into(), found: 7 }),
            ("+1 202 555 0100", PhoneError::Country { number: "+12025550100".into() }),
            ("0044 20 7946 0958", PhoneError::Country { number: "+442079460958".into() }),
            ("+", PhoneError::Format { found: 0 }),
            ("12", PhoneError::MobileLength { found: 2 }),
            ("923", PhoneError::Format { found: 3 }),
            ("075", PhoneError::Format { found: 3 }),
        ];
        for (input, want) in bad {
            let e = validate_phone(input).expect_err(input);
            assert_eq!(e, want, "{input}");
            assert!(e.code().starts_with("phone_"));
            assert!(!e.message(Lang::Zh).is_empty() && !e.message(Lang::En).is_empty());
        }
    }

    proptest::proptest! {
        #[test]
        fn validators_never_panic(s in "\\PC{0,40}") {
            let _ = validate_resident_id(&s, TODAY);
            let _ = validate_passport(&s);
            let _ = validate_phone(&s);
            for k in DocumentKind::ALL {
                let _ = validate_document(k, &s, TODAY);
            }
        }

        #[test]
        fn digit_strings_never_panic(s in "[0-9X]{14,19}") {
            let _ = validate_resident_id(&s, TODAY);
        }

        #[test]
        fn valid_numbers_validate(
            region in proptest::sample::select(vec!["110101", "440305", "650102", "810000"]),
            days in 0i32..40_000,
            seq in 0u32..1000,
        ) {
            let birth = date(1910, 1, 1).checked_add(jiff::Span::new().days(days)).unwrap();
            proptest::prop_assume!(birth <= TODAY);
            let digits = format!("{:04}{:02}{:02}", birth.year(), birth.month(), birth.day());
            let number = make(region, &digits, &format!("{seq:03}"));
            let id = validate_resident_id(&number, TODAY).unwrap();
            proptest::prop_assert_eq!(id.birth_date, birth);
            proptest::prop_assert_eq!(id.number, number);
        }
    }
}
