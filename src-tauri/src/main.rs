// No console window behind the app on Windows release builds.
#![cfg_attr(all(not(debug_assertions), target_os = "windows"), windows_subsystem = "windows")]

fn main() {
    // First, before any thread or library has started: the environment the desk runs in.
    frontdesk_app::launch::apply();
    frontdesk_app::run();
}
