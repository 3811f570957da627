//! The waiting room's commands: today's queues and the calls made on them (engine ops, offline
//! too), the waiting-room display window with its announcements, and consultation-room
//! windows. As in [`crate::commands`], no rule lives here: the queue rules are the engine's,
//! which call to announce is `frontdesk_desk::announcer`'s, the sound is `voice::render`'s.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use frontdesk_desk::announcer::HeardCall;
use frontdesk_desk::voice;
use frontdesk_domain::Lang;
use frontdesk_domain::announce::{Announcement, Voices, clips};
use frontdesk_domain::schedule::{BookingId, SessionId};
use tauri::{AppHandle, Manager, State, WebviewWindow};

use crate::commands::push_status;
use crate::dto::{
    AnnouncementView, CallView, DisplayBoardView, MonitorView, QueueActed, QueueActionView, SessionQueueView, site_zone,
};
use crate::error::ApiError;
use crate::state::AppState;

type Res<T> = Result<T, ApiError>;

/// The waiting-room display window's label.
pub const DISPLAY_LABEL: &str = "display";
/// Consultation-room windows' labels start with this.
pub const ROOM_PREFIX: &str = "room-";
/// Where a site's own recordings go (beside the replica), read before the bundled clips.
pub const VOICE_DIR: &str = "voice";

/// Which session each consultation-room window shows.
#[derive(Default)]
pub struct RoomWindows(Mutex<HashMap<String, String>>);

fn window_error(lang: Lang, e: &tauri::Error) -> ApiError {
    ApiError {
        code: "window_failed".into(),
        message: match lang {
            Lang::Zh => format!("无法打开窗口：{e}"),
            Lang::En => format!("Cannot open the window: {e}"),
        },
        fields: vec![],
        suggestion: None,
    }
}

fn desk_err(lang: Lang) -> impl Fn(frontdesk_desk::DeskError) -> ApiError {
    move |e| ApiError::desk(&e, lang)
}

/// Today's queues: every session with checked-in patients, by department, room, half-day.
#[tauri::command]
#[specta::specta]
pub async fn queues(state: State<'_, AppState>) -> Res<Vec<SessionQueueView>> {
    state.require_staff()?;
    let lang = state.lang();
    let desk = state.desk();
    let tz = site_zone(desk.site().ok().as_ref());
    let found = desk.queues(desk.today(), None).map_err(desk_err(lang))?;
    Ok(found.iter().map(|q| SessionQueueView::new(q, &tz, lang)).collect())
}

/// One session's queue.
#[tauri::command]
#[specta::specta]
pub async fn queue(state: State<'_, AppState>, session_id: String) -> Res<SessionQueueView> {
    state.require_staff()?;
    let lang = state.lang();
    let desk = state.desk();
    let tz = site_zone(desk.site().ok().as_ref());
    let q = desk.queue(&SessionId(session_id)).map_err(desk_err(lang))?;
    Ok(SessionQueueView::new(&q, &tz, lang))
}

fn acted(
    app: &AppHandle,
    state: &AppState,
    desk: &frontdesk_desk::Desk,
    outcome: frontdesk_desk::QueueActOutcome,
    lang: Lang,
) -> Res<QueueActed> {
    push_status(app, desk);
    state.notify_sync();
    let tz = site_zone(desk.site().ok().as_ref());
    let q = desk.queue(&outcome.session_id).map_err(desk_err(lang))?;
    Ok(QueueActed {
        queue: SessionQueueView::new(&q, &tz, lang),
        call: outcome.call.map(|c| CallView {
            booking_id: c.booking_id.to_string(),
            queue_no: c.queue_no,
            call: c.call,
        }),
    })
}

/// Calls the next waiting patient of a session.
#[tauri::command]
#[specta::specta]
pub async fn call_next(app: AppHandle, state: State<'_, AppState>, session_id: String) -> Res<QueueActed> {
    state.require_staff()?;
    let lang = state.lang();
    let mut desk = state.desk();
    let outcome = desk.call_next(&SessionId(session_id)).map_err(desk_err(lang))?;
    acted(&app, &state, &desk, outcome, lang)
}

/// Calls, recalls, skips, marks seen or moves to the end one booking of a queue.
#[tauri::command]
#[specta::specta]
pub async fn queue_act(
    app: AppHandle,
    state: State<'_, AppState>,
    booking_id: String,
    action: QueueActionView,
) -> Res<QueueActed> {
    state.require_staff()?;
    let lang = state.lang();
    let mut desk = state.desk();
    let outcome = desk.queue_act(&BookingId(booking_id), action.into()).map_err(desk_err(lang))?;
    acted(&app, &state, &desk, outcome, lang)
}

/// What the waiting-room display shows: masked names only, so no one needs to be signed in
/// (a display PC has no staff at all).
#[tauri::command]
#[specta::specta]
pub async fn display_board(state: State<'_, AppState>) -> Res<DisplayBoardView> {
    let lang = state.lang();
    let desk = state.desk();
    let site = desk.site().ok();
    let tz = site_zone(site.as_ref());
    let room = desk.waiting_room(desk.today()).map_err(desk_err(lang))?;
    let now = desk.clock().now();
    Ok(DisplayBoardView::new(&room, site.map(|s| s.name).unwrap_or_default(), now, &tz))
}

/// New calls to announce, each rendered to sound and handed to the first window that asks —
/// never to a second one. A recall is a new call.
#[tauri::command]
#[specta::specta]
pub async fn claim_announcements(state: State<'_, AppState>) -> Res<Vec<AnnouncementView>> {
    let lang = state.lang();
    let english = state.display_setting().english;
    let claimed = {
        let desk = state.desk();
        let now = desk.clock().now();
        let heard: Vec<HeardCall<(u32, String, Option<u32>)>> = desk
            .queues(desk.today(), None)
            .map_err(desk_err(lang))?
            .into_iter()
            .filter_map(|q| {
                let c = q.called?;
                Some(HeardCall {
                    booking_id: c.booking_id.to_string(),
                    calls: c.calls,
                    called_at: c.called_at?,
                    what: (c.queue_no, q.department_code.clone(), q.room),
                })
            })
            .collect();
        state.announcer().claim(heard, now)
    };
    let folder = state.data_dir.join(VOICE_DIR);
    let voices = if english { Voices::MandarinThenEnglish } else { Voices::Mandarin };
    Ok(claimed
        .into_iter()
        .map(|c| {
            let (queue_no, department_code, room) = c.what;
            let said = clips(&Announcement { queue_no, department_code: &department_code, room }, voices);
            let names: Vec<String> = said.iter().map(|clip| clip.0.clone()).collect();
            let (wav_base64, duration_ms, error) = match voice::render(&said, &[folder.as_path()]) {
                Ok(r) => (
                    base64::engine::general_purpose::STANDARD.encode(&r.wav),
                    u32::try_from(r.millis).unwrap_or(u32::MAX),
                    None,
                ),
                Err(e) => (String::new(), 0, Some(e.to_string())),
            };
            AnnouncementView {
                key: format!("{}#{}", c.booking_id, c.calls),
                queue_no,
                department_code,
                room,
                clips: names,
                wav_base64,
                duration_ms,
                error,
            }
        })
        .collect())
}

/// The monitors the display can open on.
#[tauri::command]
#[specta::specta]
pub async fn monitors(app: AppHandle, state: State<'_, AppState>) -> Res<Vec<MonitorView>> {
    let lang = state.lang();
    let primary = app.primary_monitor().map_err(|e| window_error(lang, &e))?.and_then(|m| m.name().cloned());
    let all = app.available_monitors().map_err(|e| window_error(lang, &e))?;
    Ok(all
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let name = m.name().cloned().unwrap_or_else(|| format!("monitor {}", i + 1));
            MonitorView {
                primary: primary.as_ref() == Some(&name),
                name,
                width: m.size().width,
                height: m.size().height,
            }
        })
        .collect())
}

/// Opens the waiting-room display (or brings it forward) on the remembered monitor, full
/// screen when so set.
#[tauri::command]
#[specta::specta]
pub async fn open_display(app: AppHandle, state: State<'_, AppState>) -> Res<()> {
    let lang = state.lang();
    let fail = |e: tauri::Error| window_error(lang, &e);
    if let Some(w) = app.get_webview_window(DISPLAY_LABEL) {
        w.show().map_err(fail)?;
        return w.set_focus().map_err(fail);
    }
    let setting = state.display_setting();
    let w = tauri::WebviewWindowBuilder::new(&app, DISPLAY_LABEL, tauri::WebviewUrl::App("display.html".into()))
        .title("候诊叫号 · Waiting room")
        .inner_size(1280.0, 720.0)
        .build()
        .map_err(fail)?;
    crate::webview::tune(&w).map_err(fail)?;
    place_display(&app, &w, &setting.monitor, setting.fullscreen).map_err(fail)
}

/// Moves the display to the monitor named (when it is there) and sets full screen.
fn place_display(app: &AppHandle, w: &WebviewWindow, monitor: &Option<String>, fullscreen: bool) -> tauri::Result<()> {
    if let Some(name) = monitor
        && let Some(m) = app.available_monitors()?.into_iter().find(|m| m.name() == Some(name))
    {
        w.set_position(*m.position())?;
    }
    if fullscreen {
        w.set_fullscreen(true)?;
    }
    Ok(())
}

/// Opens a consultation-room view of a session's queue in a window of its own.
#[tauri::command]
#[specta::specta]
pub async fn open_room_view(
    app: AppHandle,
    state: State<'_, AppState>,
    rooms: State<'_, RoomWindows>,
    session_id: String,
) -> Res<()> {
    state.require_staff()?;
    let lang = state.lang();
    let fail = |e: tauri::Error| window_error(lang, &e);
    let title = {
        let desk = state.desk();
        let q = desk.queue(&SessionId(session_id.clone())).map_err(desk_err(lang))?;
        match q.room {
            Some(r) => format!("{} {r}诊室 · {}", q.department_name, q.provider_name),
            None => format!("{} · {}", q.department_name, q.provider_name),
        }
    };
    let label = {
        let mut map = rooms.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((label, _)) = map.iter().find(|(_, s)| **s == session_id)
            && let Some(w) = app.get_webview_window(label)
        {
            w.show().map_err(fail)?;
            return w.set_focus().map_err(fail);
        }
        let label = format!("{ROOM_PREFIX}{}", map.len() + 1);
        map.insert(label.clone(), session_id);
        label
    };
    let w = tauri::WebviewWindowBuilder::new(&app, &label, tauri::WebviewUrl::App("room.html".into()))
        .title(title)
        .inner_size(560.0, 680.0)
        .build()
        .map_err(fail)?;
    crate::webview::tune(&w).map_err(fail)
}

/// The session a consultation-room window shows.
#[tauri::command]
#[specta::specta]
pub async fn room_session(
    window: WebviewWindow,
    state: State<'_, AppState>,
    rooms: State<'_, RoomWindows>,
) -> Res<String> {
    let map = rooms.0.lock().unwrap_or_else(|p| p.into_inner());
    map.get(window.label()).cloned().ok_or_else(|| {
        ApiError::app("not_found", state.lang(), "这个窗口不是诊室视图", "This window is not a consultation-room view")
    })
}
