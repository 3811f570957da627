//! Device enrollment (`POST /v1/devices/enroll`) and the device list of the admin API.

use frontdesk_domain::schedule::{DeviceId, Site, SiteId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What an enrolled device may do. A code is issued for one role; the device keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceRole {
    /// A front desk: registers, books, checks in, calls, syncs both ways.
    #[default]
    Desk,
    /// A waiting-room display PC (protocol 3): reads the site's change log (pull, live-board
    /// waits) and nothing else — no push, no leases.
    Display,
}

impl DeviceRole {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            DeviceRole::Desk => "desk",
            DeviceRole::Display => "display",
        }
    }

    /// From its code.
    pub fn parse(s: &str) -> Option<DeviceRole> {
        match s {
            "desk" => Some(DeviceRole::Desk),
            "display" => Some(DeviceRole::Display),
            _ => None,
        }
    }
}

/// A desk trades a one-time enrollment code for a device token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The code an admin issued (`frontdesk-central enroll-code --site …`).
    pub code: String,
    /// A name for the device, e.g. `挂号窗口 1`.
    #[serde(default)]
    pub name: Option<String>,
}

/// The device's identity and credentials. Its `Debug` output leaves the token out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// The id the platform gave the device.
    pub device_id: DeviceId,
    /// The site the device belongs to.
    pub site: Site,
    /// The bearer token for every desk endpoint (shown once; the platform keeps only its hash).
    pub token: String,
    /// What the device may do (the code's role).
    #[serde(default)]
    pub role: DeviceRole,
}

impl std::fmt::Debug for EnrollResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollResponse")
            .field("device_id", &self.device_id)
            .field("site", &self.site)
            .field("token", &"(hidden)")
            .field("role", &self.role)
            .finish()
    }
}

/// An enrollment code, as issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollCode {
    /// The one-time code.
    pub code: String,
    /// The site a device enrolled with it belongs to.
    pub site_id: SiteId,
    /// After this instant the code is refused.
    pub expires_at: Timestamp,
    /// The role a device enrolled with it gets.
    #[serde(default)]
    pub role: DeviceRole,
}

/// Asks for a new enrollment code (admin API).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollCodeRequest {
    /// How long the code stays valid, in hours (default 24).
    #[serde(default)]
    pub ttl_hours: Option<u32>,
    /// The role of the device it enrolls (a desk unless said).
    #[serde(default)]
    pub role: Option<DeviceRole>,
}

/// An enrolled device and its sync health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// The device.
    pub id: DeviceId,
    /// Its site.
    pub site_id: SiteId,
    /// Its name.
    pub name: String,
    /// What it may do.
    #[serde(default)]
    pub role: DeviceRole,
    /// When it enrolled.
    pub enrolled_at: Timestamp,
    /// When it was revoked, if it was.
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
    /// Its last push or pull.
    #[serde(default)]
    pub last_sync_at: Option<Timestamp>,
    /// The cursor it last pulled up to.
    pub last_pull_cursor: u64,
    /// How many change-log positions the site's log is ahead of that cursor.
    pub behind: u64,
    /// The highest op sequence number of the device the platform has settled.
    pub settled_seq: u64,
}

/// `GET /v1/admin/devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceList {
    /// The devices.
    pub devices: Vec<DeviceInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enroll_answer_never_shows_its_token_in_debug_output() {
        let token = "5f1c0e6b2a9d4c3e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e".to_string();
        let r = EnrollResponse {
            device_id: DeviceId("01J0DESK".into()),
            site: Site {
                id: SiteId("demo".into()),
                name: "城西社区卫生服务中心".into(),
                timezone: "Asia/Shanghai".into(),
            },
            token: token.clone(),
            role: DeviceRole::Desk,
        };
        let shown = format!("{r:?} {r:#?}");
        assert!(!shown.contains(&token), "{shown}");
        assert!(shown.contains("01J0DESK") && shown.contains("(hidden)"), "{shown}");
    }
}
