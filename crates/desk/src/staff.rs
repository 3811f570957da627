//! Staff sign-in at the desk, offline: who may work here, in which role, and the password
//! each proves it with. Passwords are kept only as salted Argon2id hashes (PHC strings), so a
//! copied replica does not give the passwords away.
//!
//! Signing in also makes the member of staff the one every op of this desk is recorded
//! under (see [`Desk::initialize`]).

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use frontdesk_domain::Lang;
use frontdesk_domain::patient::FieldError;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use crate::permissions::Action;
use crate::{Desk, DeskError};

/// What a member of staff may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Registers, books, checks in, cancels, reprints.
    Nurse,
    /// Everything a nurse does, plus suspending sessions, overbooking with a reason, slot
    /// sheets, staff and device settings.
    Admin,
}

impl Role {
    /// Stable code, as stored.
    pub fn code(self) -> &'static str {
        match self {
            Role::Nurse => "nurse",
            Role::Admin => "admin",
        }
    }

    /// The inverse of [`Role::code`].
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "nurse" => Some(Role::Nurse),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A member of staff (never with the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staff {
    /// Staff id (工号) they sign in with.
    pub id: String,
    /// Name shown in the app.
    pub display_name: String,
    /// What they may do.
    pub role: Role,
}

/// The demo desk's staff: `(id, display name, role, password)`. Documented in the README;
/// only [`Desk::seed_demo_staff`] uses them.
pub const DEMO_STAFF: &[(&str, &str, Role, &str)] =
    &[("nurse", "王护士", Role::Nurse, "nurse123"), ("admin", "陈主任", Role::Admin, "admin123")];

/// Shortest password accepted.
pub const PASSWORD_MIN_CHARS: usize = 6;

fn field_error(field: &str, code: &str, message: String) -> DeskError {
    DeskError::Invalid(vec![FieldError { field: field.into(), code: code.into(), message }])
}

fn sign_in_failed(lang: Lang) -> DeskError {
    // One answer for an unknown id and a wrong password: the screen does not tell which.
    field_error("password", "sign_in_failed", lang.pick("工号或密码不正确", "Wrong staff id or password").to_string())
}

fn hash_password(password: &str) -> Result<String, DeskError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| DeskError::Corrupt { what: "staff.password_hash", detail: e.to_string() })
}

fn valid_staff_id(id: &str) -> bool {
    (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl Desk {
    /// Adds a member of staff who can then sign in offline. Every bad field is reported at
    /// once; nothing is written on an error. An admin adds staff ([`Action::ManageStaff`]);
    /// a desk without an admin yet takes its first admin from whoever set the desk up (they
    /// hold the replica file: nothing here could stop them anyway).
    pub fn add_staff(
        &mut self,
        id: &str,
        display_name: &str,
        role: Role,
        password: &str,
        lang: Lang,
    ) -> Result<Staff, DeskError> {
        // Anyone but the first admin needs an admin to add them.
        if role != Role::Admin || self.has_admin()? {
            self.authorize(Action::ManageStaff)?;
        }
        self.insert_staff(id, display_name, role, password, lang)
    }

    /// Whether an active admin can sign in here.
    pub fn has_admin(&self) -> Result<bool, DeskError> {
        Ok(self.conn().query_row(
            "SELECT EXISTS (SELECT 1 FROM staff WHERE role = 'admin' AND active = 1)",
            [],
            |r| r.get(0),
        )?)
    }

    fn insert_staff(
        &mut self,
        id: &str,
        display_name: &str,
        role: Role,
        password: &str,
        lang: Lang,
    ) -> Result<Staff, DeskError> {
        let id = id.trim();
        let display_name = display_name.trim();
        let mut errors = Vec::new();
        if !valid_staff_id(id) {
            errors.push(FieldError {
                field: "staff_id".into(),
                code: "staff_id_invalid".into(),
                message: lang
                    .pick("工号为 1–32 位字母、数字或 _ - .", "A staff id is 1–32 letters, digits or _ - .")
                    .into(),
            });
        }
        if display_name.is_empty() {
            errors.push(FieldError {
                field: "name".into(),
                code: "name_missing".into(),
                message: lang.pick("请填写姓名", "Enter a name").into(),
            });
        }
        if password.chars().count() < PASSWORD_MIN_CHARS {
            errors.push(FieldError {
                field: "password".into(),
                code: "password_too_short".into(),
                message: match lang {
                    Lang::Zh => format!("密码至少 {PASSWORD_MIN_CHARS} 位"),
                    Lang::En => format!("A password has at least {PASSWORD_MIN_CHARS} characters"),
                },
            });
        }
        if !errors.is_empty() {
            return Err(DeskError::Invalid(errors));
        }
        let hash = hash_password(password)?;
        let now = self.clock().now().to_string();
        let tx = self.conn_mut().transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM staff WHERE id = ?1)", [id], |r| r.get(0))?;
        if exists {
            return Err(field_error(
                "staff_id",
                "staff_id_taken",
                lang.pick("该工号已存在", "This staff id is already taken").into(),
            ));
        }
        tx.execute(
            "INSERT INTO staff (id, display_name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, display_name, role.code(), hash, now],
        )?;
        tx.commit()?;
        Ok(Staff { id: id.into(), display_name: display_name.into(), role })
    }

    /// Checks a staff id and password against this desk's staff (no network needed) and signs
    /// that person in: what they may do is asked of [`Desk::authorize`], and the ops they make
    /// are recorded under them. A failed sign-in signs out whoever was signed in.
    pub fn sign_in(&mut self, id: &str, password: &str, lang: Lang) -> Result<Staff, DeskError> {
        self.session = None;
        // A desk not set up yet says so, rather than that the password is wrong.
        self.device()?;
        let id = id.trim();
        let row: Option<(String, String, String)> = self
            .conn()
            .query_row("SELECT display_name, role, password_hash FROM staff WHERE id = ?1 AND active = 1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let Some((display_name, role, hash)) = row else {
            return Err(sign_in_failed(lang));
        };
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| DeskError::Corrupt { what: "staff.password_hash", detail: e.to_string() })?;
        if Argon2::default().verify_password(password.as_bytes(), &parsed).is_err() {
            return Err(sign_in_failed(lang));
        }
        let role = Role::parse(&role).ok_or_else(|| DeskError::Corrupt { what: "staff.role", detail: role.clone() })?;
        self.initialize(Some(id))?;
        let staff = Staff { id: id.into(), display_name, role };
        self.session = Some(staff.clone());
        Ok(staff)
    }

    /// Everyone who may sign in here, by id.
    pub fn staff(&self) -> Result<Vec<Staff>, DeskError> {
        let mut stmt =
            self.conn().prepare_cached("SELECT id, display_name, role FROM staff WHERE active = 1 ORDER BY id")?;
        let rows = stmt
            .query_and_then([], |r| {
                let role: String = r.get(2)?;
                Ok::<_, DeskError>(Staff {
                    id: r.get(0)?,
                    display_name: r.get(1)?,
                    role: Role::parse(&role).ok_or_else(|| DeskError::Corrupt { what: "staff.role", detail: role })?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Adds the demo staff ([`DEMO_STAFF`]) when the desk has no staff yet; returns how many
    /// were added.
    pub fn seed_demo_staff(&mut self) -> Result<usize, DeskError> {
        let count: i64 = self.conn().query_row("SELECT count(*) FROM staff", [], |r| r.get(0))?;
        if count > 0 {
            return Ok(0);
        }
        for (id, name, role, password) in DEMO_STAFF {
            self.insert_staff(id, name, *role, password, Lang::En)?;
        }
        Ok(DEMO_STAFF.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use frontdesk_domain::clock::ManualClock;

    use super::*;

    fn desk() -> Desk {
        let clock = Arc::new(ManualClock::new("2026-11-23T00:30:00Z".parse().unwrap()));
        let mut desk = Desk::open_in_memory(clock).unwrap();
        desk.initialize(None).unwrap();
        desk
    }

    #[test]
    fn demo_staff_sign_in_and_become_the_desk_staff() {
        let mut desk = desk();
        assert_eq!(desk.seed_demo_staff().unwrap(), 2);
        assert_eq!(desk.seed_demo_staff().unwrap(), 0);
        let admin = desk.sign_in("admin", "admin123", Lang::En).unwrap();
        assert_eq!(admin.role, Role::Admin);
        assert_eq!(desk.device().unwrap().staff_id.as_str(), "admin");
        let nurse = desk.sign_in(" nurse ", "nurse123", Lang::Zh).unwrap();
        assert_eq!(nurse.role, Role::Nurse);
        assert_eq!(desk.staff().unwrap().len(), 2);
    }

    #[test]
    fn wrong_password_and_unknown_id_look_the_same() {
        let mut desk = desk();
        desk.seed_demo_staff().unwrap();
        let a = desk.sign_in("nurse", "wrong!", Lang::En).unwrap_err();
        let b = desk.sign_in("nobody", "nurse123", Lang::En).unwrap_err();
        assert_eq!(a.message(Lang::En), b.message(Lang::En));
        assert!(matches!(a, DeskError::Invalid(ref f) if f[0].code == "sign_in_failed"));
        assert_eq!(desk.device().unwrap().staff_id.as_str(), "desk");
    }

    #[test]
    fn hashes_are_salted_and_not_the_password() {
        let mut desk = desk();
        desk.add_staff("a", "A", Role::Admin, "same-password", Lang::En).unwrap();
        desk.sign_in("a", "same-password", Lang::En).unwrap();
        desk.add_staff("b", "B", Role::Nurse, "same-password", Lang::En).unwrap();
        let hashes: Vec<String> = desk
            .conn()
            .prepare("SELECT password_hash FROM staff ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_ne!(hashes[0], hashes[1]);
        assert!(hashes.iter().all(|h| h.starts_with("$argon2id$") && !h.contains("same-password")));
    }

    #[test]
    fn bad_staff_fields_are_all_reported() {
        let mut desk = desk();
        let err = desk.add_staff("bad id!", " ", Role::Admin, "123", Lang::En).unwrap_err();
        let DeskError::Invalid(fields) = err else { panic!("expected field errors") };
        let codes: Vec<&str> = fields.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["staff_id_invalid", "name_missing", "password_too_short"]);
        desk.add_staff("x", "X", Role::Admin, "123456", Lang::En).unwrap();
        desk.sign_in("x", "123456", Lang::En).unwrap();
        let err = desk.add_staff("x", "Y", Role::Nurse, "123456", Lang::En).unwrap_err();
        assert!(matches!(err, DeskError::Invalid(ref f) if f[0].code == "staff_id_taken"));
    }

    #[test]
    fn the_first_admin_needs_nobody_then_only_admins_add_staff() {
        let mut desk = desk();
        // No admin yet: a nurse cannot come first, an admin can.
        let err = desk.add_staff("n", "N", Role::Nurse, "123456", Lang::En).unwrap_err();
        assert_eq!(err.code(), "not_signed_in");
        desk.add_staff("boss", "Boss", Role::Admin, "123456", Lang::En).unwrap();
        // Now there is one: a second admin needs a signed-in admin, a nurse cannot add anyone.
        assert_eq!(desk.add_staff("boss2", "B2", Role::Admin, "123456", Lang::En).unwrap_err().code(), "not_signed_in");
        desk.sign_in("boss", "123456", Lang::En).unwrap();
        desk.add_staff("n", "N", Role::Nurse, "123456", Lang::En).unwrap();
        desk.sign_in("n", "123456", Lang::En).unwrap();
        let err = desk.add_staff("m", "M", Role::Nurse, "123456", Lang::En).unwrap_err();
        assert_eq!(err.code(), "forbidden");
        assert_eq!(err.message(Lang::En), "Only an admin may manage staff accounts");
        assert_eq!(desk.staff().unwrap().len(), 2);
    }
}
