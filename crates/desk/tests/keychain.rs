//! The replica's key in a real OS keychain: a private D-Bus session with GNOME Keyring's
//! Secret Service on it (Debian's `gnome-keyring`), and the `frontdesk` binary on that bus.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Child processes stopped however the test ends.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `frontdesk` on the session bus `bus` (`None`: outside any session, as over SSH).
fn frontdesk(bus: Option<&str>, data: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_frontdesk"));
    match bus {
        Some(bus) => cmd.env("DBUS_SESSION_BUS_ADDRESS", bus),
        None => cmd.env_remove("DBUS_SESSION_BUS_ADDRESS"),
    };
    cmd.arg("--data-dir")
        .arg(data)
        .args(args)
        .args(["--lang", "en"])
        .env("FRONTDESK_NOW", "2026-11-22T23:30:00Z")
        .env_remove("FRONTDESK_KEYCHAIN")
        .env("FRONTDESK_STAFF", "admin")
        .env("FRONTDESK_PASSWORD", "admin123")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn with_a_keychain_the_key_lives_there_and_not_beside_the_replica() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let socket = dir.path().join("bus");
    let bus = format!("unix:path={}", socket.display());
    let mut children = Children(Vec::new());
    children.0.push(
        Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--address", &bus])
            .stdout(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian's dbus-daemon)"),
    );
    wait_for("the session bus", Duration::from_secs(10), || socket.exists());
    let mut keyring = Command::new("gnome-keyring-daemon")
        .args(["--foreground", "--components=secrets", "--unlock"])
        .env("DBUS_SESSION_BUS_ADDRESS", &bus)
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_RUNTIME_DIR", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gnome-keyring-daemon (Debian's gnome-keyring)");
    // The login keyring's password, on standard input.
    keyring.stdin.take().unwrap().write_all(b"test-password").unwrap();
    children.0.push(keyring);
    wait_for("the Secret Service on the bus", Duration::from_secs(15), || {
        let out = Command::new("dbus-send")
            .args([&format!("--bus={bus}"), "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus"])
            .args(["org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("boolean true")
    });

    let data = dir.path().join("desk");
    let out = frontdesk(Some(&bus), &data, &["init", "--demo", "--demo-staff"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!data.join("replica.db.key").exists(), "the key went to the keychain");
    let out =
        frontdesk(Some(&bus), &data, &["patients", "add", "--name", "甄密文", "--document", "11010519491231002X"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let status = frontdesk(Some(&bus), &data, &["status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("Encryption: on, key in the keychain"));

    // Outside the session (over SSH, say) the keychain cannot be asked: the desk says so and
    // where to run instead, and changes nothing.
    let out = frontdesk(None, &data, &["status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("replica_key_missing") && err.contains("run this again in the desktop session"), "{err}");
    assert!(!data.join("replica.db.key").exists(), "no second key made");

    // The keychain gone (another user's session, a wiped profile): a clear refusal.
    drop(children);
    let out = frontdesk(Some(&bus), &data, &["status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("replica_key_missing") && err.contains("enroll the desk again"), "{err}");
}
