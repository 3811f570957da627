//! Printing through a real CUPS scheduler that the test starts itself: its own `cupsd` in a
//! temporary directory, listening on an ephemeral loopback port, with a raw queue whose
//! backend (a small script in the test's own ServerBin) writes each job to a file. Nothing
//! depends on, or touches, the machine's own CUPS.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use frontdesk_domain::Lang;
use frontdesk_print::{PaperWidth, PrinterTarget, print_notice, print_sheet, print_ticket, render_sheet_pdf};

use super::support::{CODE, FULL_NAME, MASKED, decode, notice, page_count, pdf_text, sheet, ticket, tool};

/// A private cupsd, killed when dropped.
struct Cupsd {
    child: Child,
    server: String,
    dir: tempfile::TempDir,
}

impl Drop for Cupsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const BACKEND: &str = r#"#!/bin/sh
# CUPS backend for the tests: discovery without arguments; otherwise copy the job (file $6,
# else stdin) to DIR/job-ID.out, where DIR is the device URI after "fdcapture:".
if [ $# -eq 0 ]; then echo 'direct fdcapture "Unknown" "Frontdesk test capture"'; exit 0; fi
dir="${DEVICE_URI#fdcapture:}"
out="$dir/job-$1.out"
if [ -n "$6" ]; then cat "$6" > "$out.part"; else cat > "$out.part"; fi || exit 1
mv "$out.part" "$out"
"#;

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// Polls `cond` every 50 ms until it holds or `limit` passes.
fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_cupsd() -> Cupsd {
    let cupsd = tool("cupsd");
    tool("lpadmin");
    tool("lpstat");
    tool("lp");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["root", "spool", "spool/tmp", "cache", "state", "log", "bin", "bin/backend", "out"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
        chmod(&d.join(sub), 0o755);
    }
    chmod(d, 0o755);
    // The backend runs as the unprivileged user: it must be able to write the output.
    chmod(&d.join("out"), 0o777);
    chmod(&d.join("spool/tmp"), 0o1777);
    // ServerBin: the system's filters and helpers, our own backend directory.
    for sub in ["filter", "daemon", "cgi-bin", "monitor", "notifier", "driver"] {
        let src = Path::new("/usr/lib/cups").join(sub);
        if src.exists() {
            std::os::unix::fs::symlink(&src, d.join("bin").join(sub)).unwrap();
        }
    }
    let backend = d.join("bin/backend/fdcapture");
    std::fs::write(&backend, BACKEND).unwrap();
    chmod(&backend, 0o755);

    let port = free_port();
    let server = format!("127.0.0.1:{port}");
    let cupsd_conf = format!(
        "Listen {server}\nLogLevel info\nWebInterface No\nBrowsing No\nDefaultAuthType None\n\
         <Location />\n  Order allow,deny\n  Allow all\n</Location>\n\
         <Location /admin>\n  Order allow,deny\n  Allow all\n</Location>\n\
         <Policy default>\n  <Limit All>\n    Order deny,allow\n    Allow all\n  </Limit>\n</Policy>\n"
    );
    let p = |s: &str| d.join(s).display().to_string();
    // cupsd refuses to run jobs as root: as root it runs them as lp; otherwise as ourselves.
    let user = if is_root() { "User lp\nGroup lp\n" } else { "" };
    let files_conf = format!(
        "ServerRoot {root}\nServerBin {bin}\nDataDir /usr/share/cups\nDocumentRoot /usr/share/cups/doc-root\n\
         RequestRoot {spool}\nTempDir {tmp}\nCacheDir {cache}\nStateDir {state}\n\
         AccessLog {log}/access_log\nErrorLog {log}/error_log\nPageLog {log}/page_log\n\
         {user}Sandboxing Relaxed\n",
        root = p("root"),
        bin = p("bin"),
        spool = p("spool"),
        tmp = p("spool/tmp"),
        cache = p("cache"),
        state = p("state"),
        log = p("log"),
    );
    std::fs::write(d.join("root/cupsd.conf"), cupsd_conf).unwrap();
    std::fs::write(d.join("root/cups-files.conf"), files_conf).unwrap();

    let child = Command::new(cupsd)
        .args(["-f", "-c"])
        .arg(d.join("root/cupsd.conf"))
        .arg("-s")
        .arg(d.join("root/cups-files.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut c = Cupsd { child, server, dir };
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = c.child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = c.child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let log = std::fs::read_to_string(c.dir.path().join("log/error_log")).unwrap_or_default();
            panic!("cupsd exited with {status}: {err}\n{log}");
        }
        if lpstat_running(&c.server) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "cupsd did not come up on {}", c.server);
        std::thread::sleep(Duration::from_millis(50));
    }
    c
}

fn lpstat_running(server: &str) -> bool {
    Command::new(tool("lpstat"))
        .args(["-h", server, "-r"])
        .env("LC_ALL", "C")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("scheduler is running"))
        .unwrap_or(false)
}

fn add_queue(c: &Cupsd, name: &str) -> PathBuf {
    let out = c.dir.path().join("out");
    let status = Command::new(tool("lpadmin"))
        .args(["-h", &c.server, "-p", name, "-E", "-v"])
        .arg(format!("fdcapture:{}", out.display()))
        .args(["-m", "raw"])
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert!(status.status.success(), "lpadmin: {}", String::from_utf8_lossy(&status.stderr));
    out
}

fn job_output(out: &Path, job_id: &str) -> Vec<u8> {
    let n = job_id.rsplit('-').next().unwrap();
    let file = out.join(format!("job-{n}.out"));
    wait_for(Duration::from_secs(30), &format!("CUPS job {job_id} output"), || file.exists());
    std::fs::read(&file).unwrap()
}

#[test]
fn cups_prints_ticket_notice_and_sheet_and_reports_errors() {
    let c = start_cupsd();
    let out = add_queue(&c, "frontdesk-test");
    let target = PrinterTarget::Cups { queue: Some("frontdesk-test".into()), server: Some(c.server.clone()) };

    // A ticket: what reaches the "printer" is our PDF, and its barcodes read back.
    let receipt = print_ticket(&target, &ticket(Lang::Zh, false), PaperWidth::Mm80).unwrap();
    let job = receipt.job_id.clone().expect("lp reports a job id");
    assert!(job.starts_with("frontdesk-test-"), "{job}");
    assert_eq!(receipt.format, "application/pdf");
    let printed = job_output(&out, &job);
    assert!(printed.starts_with(b"%PDF"), "the queue received a PDF");
    assert_eq!(printed.len(), receipt.bytes);
    assert_eq!(decode(&printed, "code128"), vec![CODE.to_string()]);
    assert_eq!(decode(&printed, "qrcode"), vec![CODE.to_string()]);

    // A notice: the queue receives its PDF, with the masked name only.
    let receipt = print_notice(&target, &notice(Lang::Zh), PaperWidth::Mm58).unwrap();
    let printed = job_output(&out, receipt.job_id.as_deref().expect("job id"));
    assert_eq!(printed.len(), receipt.bytes);
    let text = pdf_text(&printed, None);
    assert!(text.contains("挂号未能确认通知") && text.contains(MASKED) && !text.contains(FULL_NAME), "{text}");

    // A slot sheet: all pages arrive.
    let s = sheet(Lang::Zh, 120);
    let receipt = print_sheet(&target, &s).unwrap();
    let printed = job_output(&out, receipt.job_id.as_deref().expect("job id"));
    assert_eq!(page_count(&printed), page_count(&render_sheet_pdf(&s).unwrap()));

    // An unknown queue is printer_not_found.
    let missing = PrinterTarget::Cups { queue: Some("no-such-queue".into()), server: Some(c.server.clone()) };
    let e = print_ticket(&missing, &ticket(Lang::En, true), PaperWidth::Mm58).unwrap_err();
    assert_eq!(e.code(), "printer_not_found", "{e}");
    assert!(e.message(Lang::Zh).contains("找不到打印机"));

    // With the scheduler gone, the same queue is printer_unreachable.
    let server = c.server.clone();
    drop(c);
    wait_for(Duration::from_secs(10), "cupsd to stop", || !lpstat_running(&server));
    let e = print_ticket(&target, &ticket(Lang::Zh, true), PaperWidth::Mm80).unwrap_err();
    assert_eq!(e.code(), "printer_unreachable", "{e}");
}
