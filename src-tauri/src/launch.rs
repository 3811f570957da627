//! The process environment the desk runs in (Linux). Some settings that keep memory low are
//! read only from the environment, once, when a process starts: the C allocator's tunables
//! (at program start) and JavaScriptCore's options (when WebKit starts its web content
//! process, which inherits this process's environment). [`apply`] therefore starts the app
//! over — the same program, arguments and process id (`exec`) — with the missing ones set,
//! before anything else has run. Each variable a site sets itself is left as it is.

/// Set in the restarted process, so the app restarts at most once.
const MARKER: &str = "FRONTDESK_ENV_TUNED";

/// The variables the desk runs with: name and value.
pub const TUNING: &[(&str, &str)] = &[
    // JavaScriptCore interprets the UI's code instead of compiling it to machine code. The UI
    // runs short event handlers; compiled code and its profiling data cost the web content
    // process 10–20 MB and bring no speed a person notices.
    ("JSC_useJIT", "0"),
    // WebKit's DMA-BUF renderer shares GPU buffers for accelerated compositing, which the desk
    // does not use (see `webview`); without it neither process sets it up.
    ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
    // The next two keep Mesa's OpenGL driver and the libLLVM it links (≈ 45 MB resident) out of
    // the app process: app −24 MB PSS, all three processes −18 MB (the web process, which still
    // loads them, no longer shares their pages with the app). Either one alone saves nothing.
    // GTK's own OpenGL (GLX), which the desk's window never draws with.
    ("GDK_GL", "disable"),
    // The GPU render node WebKit hands its web processes, given instead of looked up (the
    // lookup opens an EGL display in the app process). Only DMA-BUF rendering uses it, and that
    // is off (above); this is the usual first render node of a desk PC.
    ("WEBKIT_WEB_RENDER_DEVICE_FILE", "/dev/dri/renderD128"),
    // glibc malloc: blocks from 128 KiB up always mapped on their own and returned when freed,
    // the heap trimmed beyond 128 KiB free. By default the threshold rises to the largest block
    // freed so far, and the large short-lived buffers of a sign-in (Argon2) and of each printed
    // ticket (font subsetting) then stay resident in the heap: ≈ 15 MB after a few bookings.
    ("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072"),
];

/// The entries of [`TUNING`] whose variable `get` does not find.
pub fn missing(get: impl Fn(&str) -> Option<std::ffi::OsString>) -> Vec<(&'static str, &'static str)> {
    TUNING.iter().copied().filter(|(name, _)| get(name).is_none()).collect()
}

/// Restarts the app with the variables of [`TUNING`] it lacks. Returns when none is missing,
/// when this process is already the restarted one, or when the restart failed (the app then
/// runs with the environment it has, and says so on stderr). No-op outside Linux.
pub fn apply() {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;

        if std::env::var_os(MARKER).is_some() {
            return;
        }
        let missing = missing(|name| std::env::var_os(name));
        if missing.is_empty() {
            return;
        }
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(e) => {
                eprintln!("frontdesk: running without the tuned environment: {e}");
                return;
            }
        };
        let mut args = std::env::args_os();
        let mut command = std::process::Command::new(exe);
        if let Some(arg0) = args.next() {
            command.arg0(arg0);
        }
        // `exec` returns only if it failed.
        let error = command.args(args).envs(missing).env(MARKER, "1").exec();
        eprintln!("frontdesk: running without the tuned environment: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unset_variables_are_tuned() {
        assert_eq!(missing(|_| None).len(), TUNING.len());
        assert!(missing(|_| Some("site value".into())).is_empty());
        let left = missing(|name| (name == "JSC_useJIT").then(|| "1".into()));
        assert!(left.iter().all(|(name, _)| *name != "JSC_useJIT"));
        assert_eq!(left.len(), TUNING.len() - 1);
    }
}
