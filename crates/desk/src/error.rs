//! The desk engine's one error type. Every variant has a stable code the app and the CLI
//! switch on, a message in both languages, and a class that decides the CLI's exit code.

use frontdesk_domain::Lang;
use frontdesk_domain::booking::Refusal;
use frontdesk_domain::patient::FieldError;
use frontdesk_domain::queue::QueueError;
use frontdesk_domain::scan::ScanError;

/// What kind of failure an error is, for exit codes and for how the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The input was wrong; the user can fix it (exit 2).
    Invalid,
    /// A booking rule refused (exit 3).
    Refused,
    /// Something broke that the user cannot fix by typing differently (exit 1).
    Internal,
}

/// Everything the desk engine can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// One or more fields are invalid; nothing was written.
    #[error("invalid input: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.code)).collect::<Vec<_>>().join(", "))]
    Invalid(Vec<FieldError>),
    /// A booking rule refused; nothing was written.
    #[error("refused: {}", .0.error.code())]
    Refused(Refusal),
    /// A waiting-room queue rule refused (`nobody_waiting`, `not_waiting`, `not_called`,
    /// `not_in_queue`, …); nothing was written.
    #[error("queue: {}", .0.code())]
    Queue(QueueError),
    /// A scanned payload could not be used.
    #[error("scan: {}", .0.code())]
    Scan(ScanError),
    /// A ticket code that no booking here holds (rule 7).
    #[error("unknown ticket {code}")]
    TicketUnknown {
        /// The code, as read.
        code: String,
    },
    /// Something named by id does not exist here.
    #[error("{entity} {id} not found")]
    NotFound {
        /// `patient`, `booking`, `slot`, `department`, `provider`, `session`.
        entity: &'static str,
        /// The id or code given.
        id: String,
    },
    /// A patient with the same document is already registered (rule 6: one patient per
    /// document).
    #[error("patient with this document already exists: {id}")]
    PatientExists {
        /// The existing patient's id.
        id: String,
        /// Their name, so the nurse can tell at once.
        name: String,
    },
    /// The replica has not been created yet.
    #[error("the desk is not initialised")]
    NotInitialized,
    /// The database failed.
    #[error("storage: {0}")]
    Storage(#[from] rusqlite::Error),
    /// The schema could not be brought up to date.
    #[error("schema migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// Stored data could not be read back.
    #[error("corrupt data in {what}: {detail}")]
    Corrupt {
        /// Which table or field.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// Reading or writing the data directory failed.
    #[error("file system: {0}")]
    Io(#[from] std::io::Error),
    /// This device is enrolled as a waiting-room display: it shows the site's queues and
    /// changes nothing.
    #[error("this device is a display")]
    DisplayOnly,
    /// The replica is encrypted and its key is neither in the keychain nor in the key file.
    #[error("the key of {} is missing", replica.display())]
    ReplicaKeyMissing {
        /// The replica file.
        replica: std::path::PathBuf,
        /// Whether the keychain was asked (not: no session bus here, or `FRONTDESK_KEYCHAIN=off`).
        keychain_asked: bool,
    },
    /// The key found does not open the replica.
    #[error("the key does not open {}", replica.display())]
    ReplicaKeyWrong {
        /// The replica file.
        replica: std::path::PathBuf,
    },
    /// Nobody is signed in at this desk; a change needs a member of staff.
    #[error("not signed in")]
    NotSignedIn,
    /// The signed-in member of staff may not do this (see [`crate::permissions`]).
    #[error("forbidden: {action:?}")]
    Forbidden {
        /// What was asked.
        action: crate::permissions::Action,
    },
    /// A document could not be rendered or printed (the ticket can be printed again).
    #[error("print: {code}")]
    Print {
        /// The print crate's stable code (`printer_not_found`, `printer_unreachable`, …).
        code: &'static str,
        /// Its message, in the language asked for.
        message: String,
    },
}

impl DeskError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            // Each field's own code is in the field errors.
            DeskError::Invalid(_) => "invalid_input",
            DeskError::Refused(r) => r.error.code(),
            DeskError::Queue(e) => e.code(),
            DeskError::Scan(e) => e.code(),
            DeskError::TicketUnknown { .. } => "ticket_unknown",
            DeskError::NotFound { .. } => "not_found",
            DeskError::PatientExists { .. } => "patient_exists",
            DeskError::NotInitialized => "not_initialized",
            DeskError::DisplayOnly => "display_only",
            DeskError::NotSignedIn => "not_signed_in",
            DeskError::ReplicaKeyMissing { .. } => "replica_key_missing",
            DeskError::ReplicaKeyWrong { .. } => "replica_key_wrong",
            DeskError::Forbidden { .. } => "forbidden",
            DeskError::Storage(_) | DeskError::Migration(_) | DeskError::Corrupt { .. } => "storage_error",
            DeskError::Io(_) => "io_error",
            DeskError::Print { code, .. } => code,
        }
    }

    /// How the CLI exits and the UI presents it.
    pub fn class(&self) -> ErrorClass {
        match self {
            DeskError::Invalid(_)
            | DeskError::Scan(_)
            | DeskError::NotFound { .. }
            | DeskError::PatientExists { .. }
            | DeskError::NotInitialized => ErrorClass::Invalid,
            DeskError::Refused(_)
            | DeskError::Queue(_)
            | DeskError::TicketUnknown { .. }
            | DeskError::DisplayOnly
            | DeskError::NotSignedIn
            | DeskError::Forbidden { .. } => ErrorClass::Refused,
            DeskError::Storage(_)
            | DeskError::Migration(_)
            | DeskError::Corrupt { .. }
            | DeskError::Io(_)
            | DeskError::Print { .. }
            | DeskError::ReplicaKeyMissing { .. }
            | DeskError::ReplicaKeyWrong { .. } => ErrorClass::Internal,
        }
    }

    /// A message for people, in `lang`. Field errors list every field.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            DeskError::Invalid(errors) => errors
                .iter()
                .map(|e| format!("{}: {}", field_label(&e.field, lang), e.message))
                .collect::<Vec<_>>()
                .join("\n"),
            DeskError::Refused(r) => r.error.message(lang),
            DeskError::Queue(e) => e.message(lang),
            DeskError::Scan(e) => e.message(lang),
            DeskError::TicketUnknown { code } => match lang {
                Lang::Zh => format!("找不到挂号单 {code}：本机没有这张挂号单的记录，请核对是否为本院挂号单"),
                Lang::En => {
                    format!("Unknown ticket {code}: no booking here holds it; check that it is this clinic's ticket")
                }
            },
            DeskError::NotFound { entity, id } => {
                let what = match *entity {
                    "patient" => lang.pick("患者", "patient"),
                    "booking" => lang.pick("挂号", "booking"),
                    "slot" => lang.pick("号源", "slot"),
                    "department" => lang.pick("科室", "department"),
                    "provider" => lang.pick("医生", "provider"),
                    "session" => lang.pick("出诊时段", "session"),
                    _ => lang.pick("记录", "record"),
                };
                match lang {
                    Lang::Zh => format!("找不到{what}：{id}"),
                    Lang::En => format!("No {what} {id}"),
                }
            }
            DeskError::PatientExists { id, name } => match lang {
                Lang::Zh => format!("该证件号已登记为患者 {name}（{id}），无需重复建档"),
                Lang::En => format!("This document is already registered to {name} ({id}); no new record needed"),
            },
            DeskError::NotInitialized => lang
                .pick(
                    "本机尚未初始化：请先运行 frontdesk init（或 frontdesk init --demo）",
                    "This desk is not set up yet: run `frontdesk init` (or `frontdesk init --demo`) first",
                )
                .to_string(),
            DeskError::DisplayOnly => lang
                .pick(
                    "本机接入为候诊屏：只显示候诊叫号，不能挂号、签到或叫号。需要在本机办理业务请用挂号窗口的接入码重新接入",
                    "This PC is enrolled as a waiting-room display: it shows the queues and cannot book, check in or \
                     call. To work at it, enroll it again with a front-desk enrollment code",
                )
                .to_string(),
            DeskError::ReplicaKeyMissing { replica, keychain_asked: false } => match lang {
                Lang::Zh => format!(
                    "本机数据已加密，{key} 里没有它的密钥，而此处无法访问系统钥匙串（没有桌面会话，或设置了 \
                     FRONTDESK_KEYCHAIN=off）：请在创建它的那个桌面会话里再运行一次。若密钥确已丢失，请把 {file} \
                     移到别处保存，再重新接入平台；只有删除该文件，其中尚未同步的操作才会丢失",
                    key = crate::keystore::key_file(replica).display(),
                    file = replica.display()
                ),
                Lang::En => format!(
                    "This desk's data is encrypted, its key is not in {key}, and the keychain cannot be reached \
                     from here (no desktop session, or FRONTDESK_KEYCHAIN=off): run this again in the desktop \
                     session it was set up in. If the key is really gone, move {file} aside and enroll the desk \
                     again; operations not yet synced are lost only if the file is deleted",
                    key = crate::keystore::key_file(replica).display(),
                    file = replica.display()
                ),
            },
            DeskError::ReplicaKeyMissing { replica, keychain_asked: true } => match lang {
                Lang::Zh => format!(
                    "本机数据已加密，但找不到它的密钥（系统钥匙串和 {key} 里都没有）：无法打开 {file}。\
                     请把该文件移到别处保存（找回密钥后仍可打开），再重新接入平台；\
                     只有删除该文件，其中尚未同步的操作才会丢失",
                    key = crate::keystore::key_file(replica).display(),
                    file = replica.display()
                ),
                Lang::En => format!(
                    "This desk's data is encrypted and its key is gone (not in the keychain, not in {key}): \
                     {file} cannot be opened. Move that file aside (it opens again if the key is found) \
                     and enroll the desk again; operations not yet synced are lost only if the file is deleted",
                    key = crate::keystore::key_file(replica).display(),
                    file = replica.display()
                ),
            },
            DeskError::ReplicaKeyWrong { replica } => match lang {
                Lang::Zh => format!(
                    "找到的密钥打不开 {}：文件可能来自另一台电脑，或已损坏。请勿删除它，联系管理员",
                    replica.display()
                ),
                Lang::En => format!(
                    "The key found does not open {}: the file may come from another PC, or be damaged. \
                     Keep it and ask an admin",
                    replica.display()
                ),
            },
            DeskError::NotSignedIn => lang.pick("请先登录：此操作需要员工工号和密码", "Sign in first: this needs a staff id and password").to_string(),
            DeskError::Forbidden { action } => match lang {
                Lang::Zh => format!("只有管理员可以{}", action.label(lang)),
                Lang::En => format!("Only an admin may {}", action.label(lang)),
            },
            DeskError::Storage(e) => match lang {
                Lang::Zh => format!("本地数据库出错：{e}"),
                Lang::En => format!("Local database error: {e}"),
            },
            DeskError::Migration(e) => match lang {
                Lang::Zh => format!("本地数据库升级失败：{e}"),
                Lang::En => format!("Could not upgrade the local database: {e}"),
            },
            DeskError::Corrupt { what, detail } => match lang {
                Lang::Zh => format!("本地数据损坏（{what}）：{detail}"),
                Lang::En => format!("Corrupt local data in {what}: {detail}"),
            },
            DeskError::Io(e) => match lang {
                Lang::Zh => format!("读写数据目录失败：{e}"),
                Lang::En => format!("Could not read or write the data directory: {e}"),
            },
            DeskError::Print { message, .. } => message.clone(),
        }
    }
}

/// The label of an input field, as a nurse knows it.
pub fn field_label(field: &str, lang: Lang) -> &'static str {
    match field {
        "name" => lang.pick("姓名", "name"),
        "document_number" => lang.pick("证件号", "document number"),
        "document_kind" => lang.pick("证件类型", "document type"),
        "sex" => lang.pick("性别", "sex"),
        "birth_date" => lang.pick("出生日期", "birth date"),
        "phone" => lang.pick("手机号", "phone"),
        "medical_card" => lang.pick("就诊卡号", "medical card"),
        "ehealth_card" => lang.pick("电子健康卡", "e-health card"),
        "date" => lang.pick("日期", "date"),
        "staff_id" => lang.pick("工号", "staff id"),
        "password" => lang.pick("密码", "password"),
        "reason" => lang.pick("原因", "reason"),
        _ => lang.pick("输入", "input"),
    }
}
