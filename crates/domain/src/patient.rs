//! Patients (患者): validation of what a nurse typed (rule 5) and the identity key that makes
//! the same person registered at two desks one patient after sync (rule 6).

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::Lang;
use crate::document::{Document, DocumentKind, Sex, validate_document, validate_phone};
use crate::schedule::{PatientId, SiteId};

/// A registered patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patient {
    /// Platform-wide id (UUIDv7 minted by whoever registered the patient first).
    pub id: PatientId,
    /// The site whose register the patient is in.
    pub site_id: SiteId,
    /// Full name.
    pub name: String,
    /// Sex.
    pub sex: Option<Sex>,
    /// Birth date.
    pub birth_date: Option<Date>,
    /// Identity document (normalised).
    pub document: Document,
    /// Phone (canonical form).
    pub phone: Option<String>,
    /// Medical-card number (就诊卡号).
    pub medical_card: Option<String>,
    /// E-health card id (电子健康卡), an opaque token.
    pub ehealth_card: Option<String>,
}

impl Patient {
    /// The key under which two registrations are the same person (rule 6).
    pub fn identity_key(&self) -> String {
        self.document.key()
    }
}

/// What a nurse typed to register or update a patient, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientInput {
    /// Full name.
    pub name: String,
    /// Document kind; a resident ID when absent.
    pub document_kind: Option<DocumentKind>,
    /// Document number as typed.
    pub document_number: String,
    /// `F`/`M`/`女`/`男`, or empty to derive it from a resident ID.
    pub sex: Option<String>,
    /// `YYYY-MM-DD`, or empty to derive it from a resident ID.
    pub birth_date: Option<String>,
    /// Phone as typed.
    pub phone: Option<String>,
    /// Medical-card number.
    pub medical_card: Option<String>,
    /// E-health card id.
    pub ehealth_card: Option<String>,
}

/// One field's problem: the field, a stable code and a message in the asked language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The input field, e.g. `document_number`.
    pub field: String,
    /// Stable machine code, e.g. `document_checksum`.
    pub code: String,
    /// A message a nurse understands.
    pub message: String,
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Validates every field and gives back the patient, or every field's problem at once (so a
/// form can mark them all; nothing typed is thrown away by the caller).
pub fn validate_patient(
    id: PatientId,
    site_id: SiteId,
    input: &PatientInput,
    today: Date,
    lang: Lang,
) -> Result<Patient, Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = input.name.split_whitespace().collect::<Vec<_>>().join(" ");
    let name_len = name.chars().count();
    if name_len == 0 {
        errors.push(FieldError {
            field: "name".into(),
            code: "name_missing".into(),
            message: lang.pick("请输入姓名", "Enter the patient's name").into(),
        });
    } else if name_len > 50 || name.chars().any(char::is_control) {
        errors.push(FieldError {
            field: "name".into(),
            code: "name_invalid".into(),
            message: lang.pick("姓名过长或含有无效字符", "The name is too long or has invalid characters").into(),
        });
    }
    let kind = input.document_kind.unwrap_or(DocumentKind::ResidentId);
    let document = match validate_document(kind, &input.document_number, today) {
        Ok(d) => Some(d),
        Err(e) => {
            errors.push(FieldError {
                field: "document_number".into(),
                code: e.code().into(),
                message: e.message(lang),
            });
            None
        }
    };
    let derived = document.as_ref().and_then(|d| crate::document::validate_resident_id(&d.number, today).ok());
    let sex = match non_empty(&input.sex) {
        None => derived.as_ref().and_then(|r| r.sex),
        Some(s) => match Sex::parse(s) {
            Some(sex) => Some(sex),
            None => {
                errors.push(FieldError {
                    field: "sex".into(),
                    code: "sex_invalid".into(),
                    message: lang.pick("性别应为 男/女（M/F）", "Sex must be F or M").into(),
                });
                None
            }
        },
    };
    let birth_date = match non_empty(&input.birth_date) {
        None => derived.as_ref().map(|r| r.birth_date),
        Some(s) => match s.parse::<Date>() {
            Ok(d) if d <= today => Some(d),
            Ok(_) => {
                errors.push(FieldError {
                    field: "birth_date".into(),
                    code: "birth_date_future".into(),
                    message: lang.pick("出生日期不能晚于今天", "The birth date cannot be in the future").into(),
                });
                None
            }
            Err(_) => {
                errors.push(FieldError {
                    field: "birth_date".into(),
                    code: "birth_date_invalid".into(),
                    message: lang
                        .pick(
                            "出生日期格式应为 YYYY-MM-DD 且是真实日期",
                            "The birth date must be a real date as YYYY-MM-DD",
                        )
                        .into(),
                });
                None
            }
        },
    };
    let phone = match non_empty(&input.phone) {
        None => None,
        Some(p) => match validate_phone(p) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.push(FieldError { field: "phone".into(), code: e.code().into(), message: e.message(lang) });
                None
            }
        },
    };
    let medical_card = non_empty(&input.medical_card).map(crate::document::normalize_input);
    if let Some(card) = &medical_card
        && (card.len() > 32 || !card.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        errors.push(FieldError {
            field: "medical_card".into(),
            code: "medical_card_invalid".into(),
            message: lang
                .pick(
                    "就诊卡号只能包含字母和数字，最长 32 位",
                    "The medical-card number must be letters and digits, at most 32",
                )
                .into(),
        });
    }
    match document {
        Some(document) if errors.is_empty() => Ok(Patient {
            id,
            site_id,
            name,
            sex,
            birth_date,
            document,
            phone,
            medical_card,
            ehealth_card: non_empty(&input.ehealth_card).map(str::to_string),
        }),
        _ => Err(errors),
    }
}
