//! The one error every command answers with: `{ code, message, fields, suggestion }`. The UI
//! switches on `code` (and on each field's `code`), never on the message text; the message is
//! already in the desk's language.

use frontdesk_desk::DeskError;
use frontdesk_domain::Lang;
use frontdesk_print::PrintError;
use serde::Serialize;
use specta::Type;

use crate::dto::SlotOption;

/// One invalid input field, so a form can mark every bad field at once.
#[derive(Debug, Clone, Serialize, Type, PartialEq, Eq)]
pub struct FieldError {
    /// The form field: `name`, `document_number`, `phone`, …
    pub field: String,
    /// Stable code, e.g. `resident_id_checksum`.
    pub code: String,
    /// What to fix, in the desk's language.
    pub message: String,
}

/// The error of every command.
#[derive(Debug, Clone, Serialize, Type, PartialEq)]
pub struct ApiError {
    /// Stable machine code ([`DeskError::code`], e.g. `not_signed_in` or `forbidden` from the
    /// engine's permissions, or one of the app's own: `print_failed`, `bad_argument`).
    pub code: String,
    /// For people, in the desk's language.
    pub message: String,
    /// Field errors of a form (empty otherwise).
    pub fields: Vec<FieldError>,
    /// A booking refusal's suggested slot, when there is one.
    pub suggestion: Option<Box<SlotOption>>,
}

impl ApiError {
    /// An error of the app itself (not of the engine).
    pub fn app(code: &str, lang: Lang, zh: &str, en: &str) -> ApiError {
        ApiError { code: code.into(), message: lang.pick(zh, en).into(), fields: vec![], suggestion: None }
    }

    /// The engine's error, in `lang`.
    pub fn desk(e: &DeskError, lang: Lang) -> ApiError {
        let fields = match e {
            DeskError::Invalid(fields) => fields
                .iter()
                .map(|f| FieldError { field: f.field.clone(), code: f.code.clone(), message: f.message.clone() })
                .collect(),
            _ => vec![],
        };
        ApiError { code: e.code().into(), message: e.message(lang), fields, suggestion: None }
    }

    /// A sync failure (`offline`, `platform_busy`, `not_enrolled`, the platform's refusal).
    pub fn sync(e: &frontdesk_desk::sync::SyncError, lang: Lang) -> ApiError {
        ApiError { code: e.code().into(), message: e.message(lang), fields: vec![], suggestion: None }
    }

    /// A printer failure.
    pub fn print(e: &PrintError, lang: Lang) -> ApiError {
        ApiError { code: e.code().into(), message: e.message(lang), fields: vec![], suggestion: None }
    }

    /// An argument the UI should never send.
    pub fn bad_argument(lang: Lang, what: &str) -> ApiError {
        ApiError {
            code: "bad_argument".into(),
            message: match lang {
                Lang::Zh => format!("参数无效：{what}"),
                Lang::En => format!("Invalid argument: {what}"),
            },
            fields: vec![],
            suggestion: None,
        }
    }
}
