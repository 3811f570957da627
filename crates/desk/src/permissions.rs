//! Who may do what at a desk: the one table both front ends (the desktop app and the
//! `frontdesk` CLI) go through. Every engine call that changes something asks
//! [`Desk::authorize`] first, so a front end cannot forget a check; reads a front end shows to
//! a person ask for [`Action::View`].
//!
//! Not covered: the sync itself (it only carries ops someone was allowed to make), setting up
//! a fresh replica (`init`, the demo), and the first admin of a desk that has no staff yet —
//! whoever may create the replica file may create its first admin.

use frontdesk_domain::Lang;

use crate::DeviceRole;
use crate::staff::{Role, Staff};
use crate::{Desk, DeskError};

/// Something a member of staff does at a desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read the board, patients, bookings, queues, conflicts and settings.
    View,
    /// Register a patient.
    RegisterPatient,
    /// Correct a patient's record.
    EditPatient,
    /// Book a patient into a slot (walk-in or the earliest slot).
    Book,
    /// Book beyond a slot's capacity, with a reason.
    Overbook,
    /// Cancel a booking.
    Cancel,
    /// Check a patient in by their ticket.
    CheckIn,
    /// Call, recall, skip, see or move a patient in the waiting room.
    Queue,
    /// Rebook, cancel or acknowledge a conflict from the inbox.
    ResolveConflict,
    /// Print (or reprint) a ticket or a notice for a patient.
    PrintForPatient,
    /// Give reserved numbers back to the platform early, or ask for more.
    Leases,
    /// Suspend a session (停诊).
    SuspendSession,
    /// Resume a suspended session.
    ResumeSession,
    /// Print a day's slot sheet.
    PrintSheet,
    /// Change the desk's settings (printer, ticket width, language, display).
    ChangeSettings,
    /// Add staff accounts.
    ManageStaff,
    /// Enroll a desk that already has staff with a platform (again).
    Enroll,
}

impl Action {
    /// What it is called in a refusal: "only an admin may …".
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            Action::View => lang.pick("查看本机数据", "see this desk's data"),
            Action::RegisterPatient => lang.pick("登记患者", "register a patient"),
            Action::EditPatient => lang.pick("修改患者信息", "edit a patient"),
            Action::Book => lang.pick("挂号", "book"),
            Action::Overbook => lang.pick("加号", "overbook"),
            Action::Cancel => lang.pick("退号", "cancel a booking"),
            Action::CheckIn => lang.pick("签到", "check a patient in"),
            Action::Queue => lang.pick("叫号", "call patients"),
            Action::ResolveConflict => lang.pick("处理冲突", "resolve a conflict"),
            Action::PrintForPatient => lang.pick("打印挂号单或通知", "print a ticket or notice"),
            Action::Leases => lang.pick("调整预留号", "change reserved numbers"),
            Action::SuspendSession => lang.pick("停诊", "suspend a session"),
            Action::ResumeSession => lang.pick("恢复出诊", "resume a session"),
            Action::PrintSheet => lang.pick("打印号源表", "print the slot sheet"),
            Action::ChangeSettings => lang.pick("修改设置", "change the settings"),
            Action::ManageStaff => lang.pick("管理员工账号", "manage staff accounts"),
            Action::Enroll => lang.pick("将本机接入平台", "enroll this desk with a platform"),
        }
    }
}

impl Role {
    /// Whether this role may do `action`: nurses run the counter, admins also change what
    /// the counter offers (capacity, sessions, settings, staff, the platform it syncs with).
    pub fn may(self, action: Action) -> bool {
        match self {
            Role::Admin => true,
            Role::Nurse => match action {
                Action::View
                | Action::RegisterPatient
                | Action::EditPatient
                | Action::Book
                | Action::Cancel
                | Action::CheckIn
                | Action::Queue
                | Action::ResolveConflict
                | Action::PrintForPatient
                | Action::Leases => true,
                Action::Overbook
                | Action::SuspendSession
                | Action::ResumeSession
                | Action::PrintSheet
                | Action::ChangeSettings
                | Action::ManageStaff
                | Action::Enroll => false,
            },
        }
    }
}

impl Desk {
    /// Who is signed in at this desk (in this process), if anyone.
    pub fn signed_in(&self) -> Option<&Staff> {
        self.session.as_ref()
    }

    /// Signs the member of staff out: every change is refused until someone signs in.
    pub fn sign_out(&mut self) {
        self.session = None;
    }

    /// The signed-in member of staff, if they may do `action`; otherwise
    /// [`DeskError::NotSignedIn`] or [`DeskError::Forbidden`].
    /// A waiting-room display changes nothing, whoever asks ([`DeskError::DisplayOnly`]).
    pub fn authorize(&self, action: Action) -> Result<Staff, DeskError> {
        if action != Action::View && self.role()? == DeviceRole::Display {
            return Err(DeskError::DisplayOnly);
        }
        let staff = self.session.as_ref().ok_or(DeskError::NotSignedIn)?;
        if staff.role.may(action) { Ok(staff.clone()) } else { Err(DeskError::Forbidden { action }) }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use frontdesk_domain::clock::ManualClock;

    use super::*;

    const ALL: [Action; 17] = [
        Action::View,
        Action::RegisterPatient,
        Action::EditPatient,
        Action::Book,
        Action::Overbook,
        Action::Cancel,
        Action::CheckIn,
        Action::Queue,
        Action::ResolveConflict,
        Action::PrintForPatient,
        Action::Leases,
        Action::SuspendSession,
        Action::ResumeSession,
        Action::PrintSheet,
        Action::ChangeSettings,
        Action::ManageStaff,
        Action::Enroll,
    ];

    #[test]
    fn nurses_run_the_counter_admins_everything() {
        let admin_only = [
            Action::Overbook,
            Action::SuspendSession,
            Action::ResumeSession,
            Action::PrintSheet,
            Action::ChangeSettings,
            Action::ManageStaff,
            Action::Enroll,
        ];
        for action in ALL {
            assert!(Role::Admin.may(action), "{action:?}");
            assert_eq!(Role::Nurse.may(action), !admin_only.contains(&action), "{action:?}");
        }
    }

    #[test]
    fn authorize_follows_the_session() {
        let clock = Arc::new(ManualClock::new("2026-11-23T00:30:00Z".parse().unwrap()));
        let mut desk = Desk::open_in_memory(clock).unwrap();
        desk.initialize(None).unwrap();
        desk.seed_demo_staff().unwrap();
        assert!(matches!(desk.authorize(Action::View), Err(DeskError::NotSignedIn)));
        desk.sign_in("nurse", "nurse123", Lang::En).unwrap();
        assert_eq!(desk.authorize(Action::Book).unwrap().id, "nurse");
        let refused = desk.authorize(Action::Overbook).unwrap_err();
        assert_eq!(refused.code(), "forbidden");
        assert_eq!(refused.message(Lang::En), "Only an admin may overbook");
        assert_eq!(refused.message(Lang::Zh), "只有管理员可以加号");
        desk.sign_in("admin", "admin123", Lang::En).unwrap();
        assert_eq!(desk.authorize(Action::Overbook).unwrap().id, "admin");
        // A failed sign-in leaves nobody signed in, not the one before.
        assert!(desk.sign_in("admin", "wrong!", Lang::En).is_err());
        assert!(desk.signed_in().is_none());
        desk.sign_in("admin", "admin123", Lang::En).unwrap();
        desk.sign_out();
        assert_eq!(desk.authorize(Action::Book).unwrap_err().code(), "not_signed_in");
    }
}
