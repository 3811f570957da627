//! `frontdesk`: the desk engine on the command line. Exit codes: 0 done, 2 invalid input,
//! 3 refused by a booking rule, 1 internal error.

mod output;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use frontdesk_desk::sync::{self, Resolution, SyncError};
use frontdesk_desk::{Action, BookTarget, Desk, DeskError, ErrorClass, REPLICA_FILE, default_data_dir};
use frontdesk_domain::Lang;
use frontdesk_domain::clock::{Clock, NOW_ENV, clock_from_env};
use frontdesk_domain::document::DocumentKind;
use frontdesk_domain::patient::{FieldError, PatientInput};
use frontdesk_domain::queue::QueueAction;
use frontdesk_domain::schedule::{BookingId, PatientId, ProviderId, SessionId, SlotId};
use jiff::civil::Date;

use crate::output::Out;

/// Frontdesk's desk engine: register, book, check in and scan from the command line.
#[derive(Parser)]
#[command(name = "frontdesk", version, about, propagate_version = true)]
struct Cli {
    /// Where the desk keeps its replica (default: the OS data directory the desktop app uses).
    #[arg(long, global = true, env = "FRONTDESK_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Language of messages: zh or en (default: from the system locale).
    #[arg(long, global = true, value_name = "zh|en")]
    lang: Option<String>,
    /// Sign in as this member of staff (工号) for the command; the password comes from
    /// FRONTDESK_PASSWORD or a prompt. Changes and patient data need it; what each role may
    /// do is the desktop app's.
    #[arg(long, global = true, env = "FRONTDESK_STAFF", value_name = "ID")]
    staff: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the local replica (and, with --demo, seed the demo clinic).
    Init {
        /// Seed the demo clinic: 5 departments, 11 providers, sessions for today and 7 days.
        #[arg(long)]
        demo: bool,
        /// Add the demo staff accounts for the desktop app's sign-in (nurse / nurse123, admin / admin123).
        #[arg(long)]
        demo_staff: bool,
    },
    /// Show a day's board: departments, providers, sessions and what is left.
    Board {
        /// The day (default: today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<String>,
        /// Also list slots that have ended.
        #[arg(long)]
        all: bool,
    },
    /// Register and find patients.
    #[command(subcommand)]
    Patients(PatientsCommand),
    /// Book a patient into a slot, or into the earliest slot of a department.
    Book(BookArgs),
    /// Suspend (停诊) or resume a session (admins).
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// The staff who may sign in at this desk: list them, add one (admins; the first admin of
    /// a desk without one needs no sign-in).
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Cancel a booking.
    Cancel {
        /// The booking id.
        booking: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Check a patient in by their ticket code.
    Checkin {
        /// The ticket code (typed or scanned).
        code: String,
    },
    /// Classify a scanner payload and look up what it names.
    Scan {
        /// The raw payload.
        payload: String,
    },
    /// List the ops waiting to be sent to the platform.
    Outbox,
    /// Save a booking's ticket as a PDF file.
    Ticket {
        /// The booking id.
        booking: String,
        /// The PDF file to write.
        #[arg(long)]
        out: PathBuf,
        /// Roll width in mm: 80 or 58 (default: the settings).
        #[arg(long, value_parser = ["80", "58"])]
        width: Option<String>,
    },
    /// Save a day's slot sheet (A4) as a PDF file.
    Sheet {
        /// The day (default: today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<String>,
        /// Only this department (code, e.g. NK).
        #[arg(long)]
        department: Option<String>,
        /// The PDF file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a ticket or a slot sheet on the printer from the settings (or --printer).
    #[command(subcommand)]
    Print(PrintCommand),
    /// Show or change this desk's settings (printer, ticket width).
    Settings {
        /// cups, cups:QUEUE, cups:QUEUE@HOST, windows:NAME, escpos:HOST:PORT, escpos-device:PATH or pdf-dir:PATH.
        #[arg(long)]
        printer: Option<String>,
        /// Ticket roll width in mm.
        #[arg(long, value_parser = ["80", "58"])]
        ticket_width: Option<String>,
    },
    /// Connect this desk to a central platform with an enrollment code from its admin.
    Enroll {
        /// The platform's address, e.g. https://platform.example.org
        #[arg(long)]
        server: String,
        /// The one-time enrollment code.
        #[arg(long)]
        code: String,
        /// A name for this desk, e.g. 挂号窗口 1.
        #[arg(long)]
        name: Option<String>,
    },
    /// Sync with the platform: push waiting ops, pull what changed.
    Sync {
        /// One cycle, then exit (the default).
        #[arg(long, conflicts_with = "watch")]
        once: bool,
        /// Keep syncing until stopped (Ctrl-C).
        #[arg(long)]
        watch: bool,
        /// Seconds between cycles with --watch.
        #[arg(long, default_value_t = 5)]
        interval: u64,
    },
    /// A fingerprint of the platform-confirmed state in this replica, to compare desks of a site.
    Digest,
    /// The conflict inbox: ops the platform could not accept, and their resolutions.
    #[command(subcommand)]
    Conflicts(ConflictsCommand),
    /// Show the desk's state.
    Status,
    /// This desk's capacity leases (reserved numbers: bookings from them are guaranteed
    /// offline); without a subcommand, list them.
    Leases {
        #[command(subcommand)]
        action: Option<LeasesCommand>,
    },
    /// The waiting room: today's queues (all with a queue, one session's, or one department's);
    /// call the next patient, call, recall, skip, see or move one.
    #[command(args_conflicts_with_subcommands = true)]
    Queue {
        #[command(subcommand)]
        action: Option<QueueCommand>,
        /// Only this session (see `frontdesk board`).
        #[arg(long, conflicts_with = "dept")]
        session: Option<String>,
        /// Every session of this department (code, e.g. NK).
        #[arg(long)]
        dept: Option<String>,
        /// The day (default: today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<String>,
    },
    /// Render what the waiting room hears for a call ("请 12 号 到 内科 3 诊室") as a WAV file.
    Announce {
        /// The queue number called.
        #[arg(long)]
        number: u32,
        /// The department's code (e.g. NK).
        #[arg(long)]
        department: String,
        /// The consultation room's number.
        #[arg(long)]
        room: Option<u32>,
        /// Say it in English too, after Mandarin.
        #[arg(long)]
        english: bool,
        /// A folder of the site's own recordings (`zh/dept_NK.wav`, …); may be given more than
        /// once, the first that has a clip wins; bundled clips fill the rest.
        #[arg(long = "clips", value_name = "DIR")]
        clips: Vec<PathBuf>,
        /// The WAV file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum QueueCommand {
    /// Call the first waiting patient of a session (the patient called before is then seen).
    CallNext {
        /// The session.
        #[arg(long)]
        session: String,
    },
    /// Call this waiting patient (the patient called before is then seen).
    Call {
        /// Ticket code (typed or scanned) or booking id.
        booking: String,
    },
    /// Call the patient called now once more.
    Recall {
        /// Ticket code or booking id.
        booking: String,
    },
    /// The called patient does not answer: waiting again a few places on (a no-show after the
    /// third call).
    Skip {
        /// Ticket code or booking id.
        booking: String,
    },
    /// The called patient was seen.
    Seen {
        /// Ticket code or booking id.
        booking: String,
    },
    /// This waiting patient goes to the end of the queue.
    ToEnd {
        /// Ticket code or booking id.
        booking: String,
    },
    /// The waiting-room display: every queue of the day, the number called and who is next.
    Display {
        /// The day (default: today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<String>,
    },
}

#[derive(Subcommand)]
enum SessionsCommand {
    /// Suspend a session: no new bookings; existing ones stay and can be told.
    Suspend {
        /// The session's id (see `frontdesk board`).
        #[arg(long)]
        session: String,
        /// Why (shown to the nurses and in the platform's notices).
        #[arg(long)]
        reason: String,
    },
    /// Resume a suspended session.
    Resume {
        /// The session's id.
        #[arg(long)]
        session: String,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Everyone who may sign in here.
    List,
    /// Add a member of staff; their password comes from FRONTDESK_NEW_PASSWORD or a prompt.
    Add {
        /// Their staff id (工号): 1–32 letters, digits or _ - .
        #[arg(long)]
        id: String,
        /// Their name, as the app shows it.
        #[arg(long)]
        name: String,
        /// nurse or admin.
        #[arg(long, value_parser = ["nurse", "admin"])]
        role: String,
    },
}

#[derive(Subcommand)]
enum LeasesCommand {
    /// Ask the platform for more reserved numbers now (up to this desk's share).
    TopUp,
    /// Give reserved numbers of a session back early (all unspent ones without --number).
    Return {
        /// The session's id (see `frontdesk leases`).
        #[arg(long)]
        session: String,
        /// Only these numbers.
        #[arg(long = "number", value_name = "N", num_args = 1..)]
        numbers: Vec<u32>,
    },
}

#[derive(Subcommand)]
enum PatientsCommand {
    /// Register a patient (sex and birth date come from a resident ID when not given).
    Add {
        /// Full name.
        #[arg(long)]
        name: String,
        /// Document number.
        #[arg(long)]
        document: String,
        /// Document kind: resident_id (default), residence_permit, foreign_permanent_resident, passport, other.
        #[arg(long, value_name = "KIND")]
        document_kind: Option<String>,
        /// Phone.
        #[arg(long)]
        phone: Option<String>,
        /// Medical-card number.
        #[arg(long)]
        card: Option<String>,
        /// F or M.
        #[arg(long)]
        sex: Option<String>,
        /// Birth date, YYYY-MM-DD.
        #[arg(long, value_name = "YYYY-MM-DD")]
        birth: Option<String>,
    },
    /// Find patients by name, pinyin or initials, document, phone or card.
    Search {
        /// What to look for.
        query: String,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

#[derive(Subcommand)]
enum PrintCommand {
    /// A booking's ticket (a reprint when it was printed before; every print is logged).
    Ticket {
        /// The booking id.
        booking: String,
        /// Print here instead of the settings' printer.
        #[arg(long)]
        printer: Option<String>,
    },
    /// A day's slot sheet.
    Sheet {
        /// The day (default: today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<String>,
        /// Only this department (code).
        #[arg(long)]
        department: Option<String>,
        /// Print here instead of the settings' printer.
        #[arg(long)]
        printer: Option<String>,
    },
}

#[derive(Subcommand)]
enum ConflictsCommand {
    /// List open conflicts (all with --all).
    List {
        /// Include resolved ones.
        #[arg(long)]
        all: bool,
    },
    /// Resolve a conflict.
    Resolve {
        /// The conflict's number (see `frontdesk conflicts list`).
        id: i64,
        /// Book the patient into this slot instead (e.g. the suggested one).
        #[arg(long, group = "how")]
        rebook: Option<String>,
        /// Give the booking up and print the notice for the patient (on the settings' printer).
        #[arg(long, group = "how")]
        cancel: bool,
        /// With --cancel: only show the notice's text, print nothing.
        #[arg(long, requires = "cancel")]
        no_print: bool,
        /// With --cancel: print the notice here instead of the settings' printer.
        #[arg(long, requires = "cancel", conflicts_with = "no_print")]
        printer: Option<String>,
        /// Book beyond capacity (admins only), with --reason.
        #[arg(long, group = "how", requires = "reason")]
        overbook: bool,
        /// Nothing to redo: mark it as seen.
        #[arg(long, group = "how")]
        ack: bool,
        /// Why (with --overbook).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Print the notice for the patient of a booking given up (`resolve --cancel`) again.
    Notice {
        /// The conflict's number.
        id: i64,
        /// Print here instead of the settings' printer.
        #[arg(long)]
        printer: Option<String>,
    },
}

#[derive(Args)]
struct BookArgs {
    /// The patient's id.
    #[arg(long, conflicts_with = "document", required_unless_present = "document")]
    patient: Option<String>,
    /// The patient's document number.
    #[arg(long)]
    document: Option<String>,
    /// The slot's id (see `frontdesk board`).
    #[arg(long, conflicts_with_all = ["department", "provider"], required_unless_present = "department")]
    slot: Option<String>,
    /// A department code (e.g. NK): the earliest slot the desk can book.
    #[arg(long)]
    department: Option<String>,
    /// Only this provider's sessions (with --department).
    #[arg(long, requires = "department")]
    provider: Option<String>,
    /// Print the ticket right away on the settings' printer.
    #[arg(long)]
    print: bool,
    /// Book beyond the slot's capacity (admins), with --reason.
    #[arg(long, requires_all = ["slot", "reason"])]
    overbook: bool,
    /// Why (with --overbook).
    #[arg(long, requires = "overbook")]
    reason: Option<String>,
}

fn clock() -> Result<Arc<dyn Clock>, DeskError> {
    // FRONTDESK_NOW pins the clock (RFC 3339), for demos on a fixed day and for tests.
    clock_from_env().map_err(|e| {
        DeskError::Invalid(vec![FieldError {
            field: NOW_ENV.into(),
            code: "invalid_timestamp".into(),
            message: e.to_string(),
        }])
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let lang = cli
        .lang
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or_else(|| sys_locale::get_locale().map(|l| Lang::from_locale(&l)).unwrap_or(Lang::En));
    let out = Out { json: cli.json, lang, hint: std::cell::RefCell::new(None) };
    match run(&cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if matches!(e, DeskError::NotSignedIn) {
                out.set_hint(lang.pick(
                    "用 --staff 工号（或 FRONTDESK_STAFF）登录，密码取自 FRONTDESK_PASSWORD 或在终端输入",
                    "Sign in with --staff ID (or FRONTDESK_STAFF); the password comes from FRONTDESK_PASSWORD or a prompt",
                ));
            }
            out.error(&e);
            ExitCode::from(match e.class() {
                ErrorClass::Invalid => 2,
                ErrorClass::Refused => 3,
                ErrorClass::Internal => 1,
            })
        }
    }
}

fn open(cli: &Cli) -> Result<Desk, DeskError> {
    let dir = match &cli.data_dir {
        Some(d) => d.clone(),
        None => default_data_dir().ok_or_else(|| {
            DeskError::Io(std::io::Error::new(std::io::ErrorKind::NotFound, "no data directory: pass --data-dir"))
        })?,
    };
    Desk::open(&dir.join(REPLICA_FILE), clock()?)
}

/// Sync failures become desk errors for the exit code: unreachable or busy platforms are
/// internal failures (exit 1), refusals and a missing enrollment are the user's to fix (exit 2).
fn sync_failure(e: SyncError, lang: Lang) -> DeskError {
    match e {
        SyncError::Desk(d) => d,
        SyncError::NotEnrolled | SyncError::Refused { .. } => DeskError::Invalid(vec![FieldError {
            field: "server".into(),
            code: e.code().to_string(),
            message: e.message(lang),
        }]),
        SyncError::Unreachable(_) | SyncError::Busy { .. } => {
            DeskError::Io(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, e.message(lang)))
        }
    }
}

fn parse_date(s: &str, lang: Lang) -> Result<Date, DeskError> {
    s.trim().parse::<Date>().map_err(|_| {
        DeskError::Invalid(vec![FieldError {
            field: "date".into(),
            code: "date_invalid".into(),
            message: lang.pick("日期格式应为 YYYY-MM-DD 且是真实日期", "must be a real date as YYYY-MM-DD").into(),
        }])
    })
}

/// `frontdesk announce`: needs no replica.
fn announce(
    a: &frontdesk_domain::announce::Announcement<'_>,
    english: bool,
    folders: &[PathBuf],
    file: &std::path::Path,
    out: &Out,
) -> Result<(), DeskError> {
    use frontdesk_domain::announce::{Voices, clips};
    let voices = if english { Voices::MandarinThenEnglish } else { Voices::Mandarin };
    let folders: Vec<&std::path::Path> = folders.iter().map(PathBuf::as_path).collect();
    let rendered = frontdesk_desk::voice::render(&clips(a, voices), &folders).map_err(|e| {
        let code = match e {
            frontdesk_desk::voice::VoiceError::Missing(_) => "clip_missing",
            _ => "clip_invalid",
        };
        DeskError::Invalid(vec![FieldError { field: "clips".into(), code: code.into(), message: e.to_string() }])
    })?;
    std::fs::write(file, &rendered.wav)?;
    out.announced(&rendered, file);
    Ok(())
}

/// A password from the environment variable `var`, or typed at the terminal (not echoed);
/// a clear error when there is neither.
fn password(var: &str, prompt: &str, lang: Lang) -> Result<String, DeskError> {
    use std::io::IsTerminal;
    if let Ok(p) = std::env::var(var) {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        return Ok(rpassword::prompt_password(prompt)?);
    }
    Err(DeskError::Invalid(vec![FieldError {
        field: "password".into(),
        code: "password_missing".into(),
        message: match lang {
            Lang::Zh => format!("没有密码：请设置 {var}，或在终端里运行以输入密码"),
            Lang::En => format!("No password: set {var}, or run this in a terminal to type it"),
        },
    }]))
}

/// What a command that only reads needs (`None`: nothing, e.g. the device's status or the
/// waiting room's public display). Changes are checked by the engine itself.
fn read_action(command: &Command) -> Option<Action> {
    match command {
        Command::Board { .. }
        | Command::Patients(PatientsCommand::Search { .. })
        | Command::Scan { .. }
        | Command::Outbox
        | Command::Ticket { .. }
        | Command::Conflicts(ConflictsCommand::List { .. })
        | Command::Queue { action: None, .. }
        | Command::Leases { action: None } => Some(Action::View),
        Command::Settings { printer: None, ticket_width: None } => Some(Action::View),
        Command::Sheet { .. } => Some(Action::PrintSheet),
        Command::Staff(StaffCommand::List) => Some(Action::ManageStaff),
        Command::Leases { action: Some(LeasesCommand::TopUp) } => Some(Action::Leases),
        _ => None,
    }
}

fn run(cli: &Cli, out: &Out) -> Result<(), DeskError> {
    let lang = out.lang;
    if let Command::Announce { number, department, room, english, clips, out: file } = &cli.command {
        let a = frontdesk_domain::announce::Announcement {
            queue_no: *number,
            department_code: department.trim(),
            room: *room,
        };
        return announce(&a, *english, clips, file, out);
    }
    let mut desk = open(cli)?;
    // Setting a replica up needs nobody; everything else signs in when asked to.
    if let (Some(id), false) = (&cli.staff, matches!(cli.command, Command::Init { .. })) {
        let typed = password("FRONTDESK_PASSWORD", lang.pick("密码：", "Password: "), lang)?;
        desk.sign_in(id, &typed, lang)?;
    }
    if let Some(action) = read_action(&cli.command) {
        desk.authorize(action)?;
    }
    match &cli.command {
        Command::Init { demo, demo_staff } => {
            let device = desk.initialize(None)?;
            let seeded = if *demo { Some(desk.seed_demo()?) } else { None };
            if *demo_staff {
                desk.seed_demo_staff()?;
            }
            out.init(&device, seeded.as_ref(), &desk.status()?);
        }
        Command::Board { date, all } => {
            let date = match date {
                Some(d) => parse_date(d, lang)?,
                None => desk.today(),
            };
            out.board(&desk.board(date)?, &desk.site()?, desk.now_local(), *all);
        }
        Command::Patients(PatientsCommand::Add { name, document, document_kind, phone, card, sex, birth }) => {
            let kind = match document_kind {
                None => None,
                Some(k) => Some(DocumentKind::from_code(k).ok_or_else(|| {
                    DeskError::Invalid(vec![FieldError {
                        field: "document_kind".into(),
                        code: "document_kind_invalid".into(),
                        message: lang
                            .pick(
                                "证件类型应为 resident_id、residence_permit、foreign_permanent_resident、passport 或 other",
                                "must be resident_id, residence_permit, foreign_permanent_resident, passport or other",
                            )
                            .into(),
                    }])
                })?),
            };
            let input = PatientInput {
                name: name.clone(),
                document_kind: kind,
                document_number: document.clone(),
                sex: sex.clone(),
                birth_date: birth.clone(),
                phone: phone.clone(),
                medical_card: card.clone(),
                ehealth_card: None,
            };
            let p = desk.register_patient(&input, lang)?;
            out.patient_added(&p);
        }
        Command::Patients(PatientsCommand::Search { query, limit }) => {
            out.patients(&desk.search_patients(query, *limit)?);
        }
        Command::Book(args) => {
            let patient = match (&args.patient, &args.document) {
                (Some(id), _) => PatientId(id.trim().to_string()),
                (None, Some(doc)) => {
                    desk.patient_by_document(doc)?
                        .ok_or_else(|| DeskError::NotFound { entity: "patient", id: doc.clone() })?
                        .id
                }
                (None, None) => return Err(DeskError::NotFound { entity: "patient", id: String::new() }),
            };
            let target = match (&args.slot, &args.department) {
                (Some(slot), _) => BookTarget::Slot(SlotId(slot.trim().to_string())),
                (None, Some(dept)) => BookTarget::Earliest {
                    department: dept.clone(),
                    provider: args.provider.as_ref().map(|p| ProviderId(p.trim().to_string())),
                },
                (None, None) => return Err(DeskError::NotFound { entity: "slot", id: String::new() }),
            };
            let reason = if args.overbook { Some(args.reason.as_deref().unwrap_or_default()) } else { None };
            let print = args.print.then_some(None);
            match desk.book_and_print(&patient, &target, reason, print, lang) {
                Ok(booked) => match booked.printed {
                    // The booking stands even if the printer fails: the ticket can be reprinted.
                    Some(printed) => {
                        out.booked_and_printed(&booked.view, printed.as_ref().ok());
                        printed?;
                    }
                    None => out.booked(&booked.view),
                },
                Err(not) => {
                    if let (DeskError::Refused(r), Some(option)) = (&not.error, not.suggestion)
                        && let Some(s) = r.suggestion.as_deref()
                    {
                        out.set_suggestion(Some(&(s.clone(), Some(option.provider.clone()))));
                    }
                    return Err(not.error);
                }
            }
        }
        Command::Sessions(SessionsCommand::Suspend { session, reason }) => {
            let s = desk.suspend_session(&SessionId(session.trim().to_string()), reason)?;
            out.session_changed(&s);
        }
        Command::Sessions(SessionsCommand::Resume { session }) => {
            let s = desk.resume_session(&SessionId(session.trim().to_string()))?;
            out.session_changed(&s);
        }
        Command::Staff(StaffCommand::List) => out.staff(&desk.staff()?),
        Command::Staff(StaffCommand::Add { id, name, role }) => {
            let role = frontdesk_desk::staff::Role::parse(role).unwrap_or(frontdesk_desk::staff::Role::Nurse);
            let new = password("FRONTDESK_NEW_PASSWORD", lang.pick("新员工的密码：", "Their password: "), lang)?;
            if std::env::var_os("FRONTDESK_NEW_PASSWORD").is_none() {
                let again = password("FRONTDESK_NEW_PASSWORD", lang.pick("再输入一次：", "Once more: "), lang)?;
                if again != new {
                    return Err(DeskError::Invalid(vec![FieldError {
                        field: "password".into(),
                        code: "password_mismatch".into(),
                        message: lang.pick("两次输入的密码不一致", "The two passwords differ").into(),
                    }]));
                }
            }
            let added = desk.add_staff(id, name, role, &new, lang)?;
            out.staff(&[added]);
        }
        Command::Cancel { booking, reason } => {
            let view = desk.cancel(&BookingId(booking.trim().to_string()), reason.as_deref())?;
            out.cancelled(&view);
        }
        Command::Checkin { code } => {
            let view = desk.check_in(code)?;
            out.checked_in(&view);
        }
        Command::Scan { payload } => {
            out.scanned(&desk.scan(payload)?);
        }
        Command::Ticket { booking, out: file, width } => {
            let width = match width.as_deref() {
                Some("58") => frontdesk_print::PaperWidth::Mm58,
                Some(_) => frontdesk_print::PaperWidth::Mm80,
                None => desk.print_settings()?.paper(),
            };
            let pdf = desk.ticket_pdf(&BookingId(booking.trim().to_string()), width, lang)?;
            std::fs::write(file, &pdf)?;
            out.saved(file, pdf.len());
        }
        Command::Sheet { date, department, out: file } => {
            let date = match date {
                Some(d) => parse_date(d, lang)?,
                None => desk.today(),
            };
            let pdf = desk.sheet_pdf(date, department.as_deref(), lang)?;
            std::fs::write(file, &pdf)?;
            out.saved(file, pdf.len());
        }
        Command::Print(PrintCommand::Ticket { booking, printer }) => {
            let printed = desk.print_ticket(&BookingId(booking.trim().to_string()), printer.as_deref(), lang)?;
            out.printed(&printed);
        }
        Command::Print(PrintCommand::Sheet { date, department, printer }) => {
            let date = match date {
                Some(d) => parse_date(d, lang)?,
                None => desk.today(),
            };
            let printed = desk.print_sheet(date, department.as_deref(), printer.as_deref(), lang)?;
            out.printed(&printed);
        }
        Command::Settings { printer, ticket_width } => {
            let settings = if printer.is_some() || ticket_width.is_some() {
                let width = ticket_width.as_deref().and_then(|w| w.parse().ok());
                desk.set_print_settings(printer.as_deref(), width)?
            } else {
                desk.print_settings()?
            };
            out.settings(&settings);
        }
        Command::Outbox => out.outbox(&desk.outbox()?),
        Command::Status => out.status(&desk.status()?, &desk.sync_status()?),
        Command::Enroll { server, code, name } => {
            sync::enroll(&mut desk, server, code, name.as_deref()).map_err(|e| sync_failure(e, lang))?;
            out.enrolled(&desk.status()?);
        }
        Command::Sync { watch, interval, .. } => {
            if *watch {
                let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                sync::sync_watch(&mut desk, &stop, std::time::Duration::from_secs(*interval), |r| out.cycle(r))
                    .map_err(|e| sync_failure(e, lang))?;
            } else {
                let report = sync::sync_once(&mut desk).map_err(|e| sync_failure(e, lang))?;
                out.cycle(&Ok(report));
            }
        }
        Command::Digest => {
            let digest = desk.replica_digest()?;
            if out.json {
                println!("{}", serde_json::json!({ "digest": digest }));
            } else {
                println!("{digest}");
            }
        }
        Command::Conflicts(ConflictsCommand::List { all }) => out.conflicts(&desk.conflicts(*all, lang)?),
        Command::Conflicts(ConflictsCommand::Resolve {
            id,
            rebook,
            cancel,
            overbook,
            ack,
            reason,
            no_print,
            printer,
        }) => {
            let resolution = match (rebook, cancel, overbook, ack) {
                (Some(slot), ..) => Resolution::Rebook(SlotId(slot.trim().to_string())),
                (None, true, ..) => Resolution::Cancel,
                (None, false, true, _) => Resolution::Overbook(reason.clone().unwrap_or_default()),
                (None, false, false, true) => Resolution::Acknowledge,
                _ => {
                    return Err(DeskError::Invalid(vec![FieldError {
                        field: "resolution".into(),
                        code: "resolution_missing".into(),
                        message: lang
                            .pick(
                                "请选择 --rebook 号源、--cancel、--overbook --reason 或 --ack",
                                "choose --rebook SLOT, --cancel, --overbook --reason or --ack",
                            )
                            .into(),
                    }]));
                }
            };
            // A notice for the patient of a booking given up, unless --no-print.
            let print = (resolution == Resolution::Cancel && !no_print).then_some(printer.as_deref());
            let (outcome, printed) = desk.resolve_and_print(*id, &resolution, print, lang)?;
            if let Some(printed) = printed {
                // The resolution stands whatever the printer does: the notice can be printed again.
                out.resolved_and_printed(&outcome, printed.as_ref().ok());
                if printed.is_err() {
                    out.set_hint(&match lang {
                        Lang::Zh => format!("重新打印通知：frontdesk conflicts notice {id}"),
                        Lang::En => format!("To print the notice again: frontdesk conflicts notice {id}"),
                    });
                }
                printed?;
            } else {
                out.resolved(&outcome);
            }
        }
        Command::Conflicts(ConflictsCommand::Notice { id, printer }) => {
            out.printed(&desk.print_notice(*id, printer.as_deref(), lang)?);
        }
        // Answered before the replica is opened (it needs none).
        Command::Announce { .. } => {}
        Command::Queue { action: None, session, dept, date } => {
            let date = match date {
                Some(d) => parse_date(d, lang)?,
                None => desk.today(),
            };
            match session {
                Some(s) => out.queue(&desk.queue(&SessionId(s.trim().to_string()))?),
                None => out.queues(&desk.queues(date, dept.as_deref())?, dept.is_some()),
            }
        }
        Command::Queue { action: Some(QueueCommand::Display { date }), .. } => {
            let date = match date {
                Some(d) => parse_date(d, lang)?,
                None => desk.today(),
            };
            out.waiting_room(&desk.waiting_room(date)?);
        }
        Command::Queue { action: Some(QueueCommand::CallNext { session }), .. } => {
            let outcome = desk.call_next(&SessionId(session.trim().to_string()))?;
            out.queue_acted(&outcome, &desk.queue(&outcome.session_id)?);
        }
        Command::Queue { action: Some(cmd), .. } => {
            let (booking, action) = match cmd {
                QueueCommand::Call { booking } => (booking, QueueAction::Call),
                QueueCommand::Recall { booking } => (booking, QueueAction::Recall),
                QueueCommand::Skip { booking } => (booking, QueueAction::Skip),
                QueueCommand::Seen { booking } => (booking, QueueAction::Seen),
                QueueCommand::ToEnd { booking } => (booking, QueueAction::ToEnd),
                // Answered above.
                QueueCommand::CallNext { .. } | QueueCommand::Display { .. } => return Ok(()),
            };
            let found = desk.find_booking(booking)?;
            let outcome = desk.queue_act(&found.booking.id, action)?;
            out.queue_acted(&outcome, &desk.queue(&outcome.session_id)?);
        }
        Command::Leases { action: None } => {
            out.leases(&desk.lease_status()?, &desk.leases()?, desk.site().ok().as_ref());
        }
        Command::Leases { action: Some(LeasesCommand::TopUp) } => {
            let report = sync::request_leases(&mut desk, true).map_err(|e| sync_failure(e, lang))?;
            out.leases_requested(&report, &desk.lease_status()?, &desk.leases()?, desk.site().ok().as_ref());
        }
        Command::Leases { action: Some(LeasesCommand::Return { session, numbers }) } => {
            let given = desk.give_back(&SessionId(session.trim().to_string()), numbers, lang)?;
            // Sent now when the platform is reachable; otherwise with the next sync.
            let sent = match sync::request_leases(&mut desk, false) {
                Ok(report) => Ok(report),
                Err(e) if e.retryable() => Err(e.message(lang)),
                Err(e) => return Err(sync_failure(e, lang)),
            };
            out.leases_returned(&given, &sent, &desk.lease_status()?, &desk.leases()?, desk.site().ok().as_ref());
        }
    }
    Ok(())
}
