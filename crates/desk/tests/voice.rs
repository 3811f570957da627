//! Announcements rendered to sound: the bundled clips, a site's own recordings first, clear
//! refusals for a clip that is missing or in the wrong format, and the `frontdesk announce`
//! command.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use frontdesk_desk::voice::{GAP_MS, SAMPLE_RATE, VoiceError, bundled_clips, render};
use frontdesk_domain::announce::{Announcement, Voices, clip_set, clips};

/// A PCM WAV of `secs` seconds of a tone.
fn tone(rate: u32, channels: u16, secs: f64) -> Vec<u8> {
    let frames = (f64::from(rate) * secs) as usize;
    let mut pcm = Vec::with_capacity(frames * 2 * usize::from(channels));
    for i in 0..frames {
        let v = ((i as f64 * 440.0 * std::f64::consts::TAU / f64::from(rate)).sin() * 8000.0) as i16;
        for _ in 0..channels {
            pcm.extend_from_slice(&v.to_le_bytes());
        }
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + pcm.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
    out.extend_from_slice(&(2 * channels).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(pcm.len() as u32).to_le_bytes());
    out.extend_from_slice(&pcm);
    out
}

/// Milliseconds of a 16 kHz mono 16-bit WAV (its data chunk after a 44-byte header).
fn millis(wav: &[u8]) -> u64 {
    let data = u32::from_le_bytes(wav[40..44].try_into().unwrap()) as u64;
    data / 2 * 1000 / u64::from(SAMPLE_RATE)
}

fn repo_clip(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../voice").join(format!("{name}.wav"))
}

fn call() -> Announcement<'static> {
    Announcement { queue_no: 12, department_code: "NK", room: Some(3) }
}

#[test]
fn the_bundled_clips_say_every_call_of_the_demo_clinic() {
    let bundled: Vec<&str> = bundled_clips().collect();
    for c in clip_set(["NK", "WK", "EK", "FK", "KQ"]) {
        assert!(bundled.contains(&c.0.as_str()), "{} is bundled", c.0);
    }
    let list = clips(&call(), Voices::Mandarin);
    let r = render(&list, &[]).unwrap();
    // Every clip once, a pause between two: the length adds up.
    let clip_ms: u64 = list.iter().map(|c| millis(&std::fs::read(repo_clip(&c.0)).unwrap())).sum();
    let want = clip_ms + u64::from(GAP_MS) * (list.len() as u64 - 1);
    assert!(r.millis.abs_diff(want) <= list.len() as u64, "{} ms rendered, {want} ms expected", r.millis);
    assert_eq!(millis(&r.wav), r.millis);
    assert!(r.sources.iter().all(|s| s.file.is_none()), "all bundled");
    assert_eq!(r.sources.iter().map(|s| s.clip.as_str()).collect::<Vec<_>>()[..3], ["chime", "zh/qing", "zh/shi"]);
}

#[test]
fn a_sites_recording_takes_the_place_of_the_bundled_clip() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("zh")).unwrap();
    let own = dir.path().join("zh/dept_NK.wav");
    std::fs::write(&own, tone(SAMPLE_RATE, 1, 2.0)).unwrap();
    let list = clips(&call(), Voices::Mandarin);
    let bundled = render(&list, &[]).unwrap();
    let site = render(&list, &[dir.path()]).unwrap();
    let dept = site.sources.iter().find(|s| s.clip == "zh/dept_NK").unwrap();
    assert_eq!(dept.file.as_deref(), Some(own.as_path()));
    let bundled_dept = millis(&std::fs::read(repo_clip("zh/dept_NK")).unwrap());
    assert_eq!(site.millis as i64 - bundled.millis as i64, 2000 - bundled_dept as i64);
}

#[test]
fn a_missing_or_unplayable_clip_is_a_clear_refusal() {
    let missing = render(&clips(&Announcement { department_code: "XX", ..call() }, Voices::Mandarin), &[]);
    let e = missing.unwrap_err();
    assert!(matches!(&e, VoiceError::Missing(c) if c == "zh/dept_XX"));
    assert!(e.to_string().contains("zh/dept_XX.wav"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("zh")).unwrap();
    std::fs::write(dir.path().join("zh/qing.wav"), tone(44_100, 2, 0.5)).unwrap();
    let e = render(&clips(&call(), Voices::Mandarin), &[dir.path()]).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("zh/qing.wav") && text.contains("44100 Hz") && text.contains("16 kHz mono"), "{text}");
    std::fs::write(dir.path().join("zh/qing.wav"), b"ID3 not a wav").unwrap();
    assert!(render(&clips(&call(), Voices::Mandarin), &[dir.path()]).unwrap_err().to_string().contains("not a WAV"));
}

#[test]
fn the_command_writes_the_call_as_a_wav() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("call.wav");
    let v = common::ok_json(
        dir.path(),
        &[
            "announce",
            "--number",
            "12",
            "--department",
            "NK",
            "--room",
            "3",
            "--english",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    let wav = std::fs::read(&file).unwrap();
    assert_eq!(v["millis"].as_u64(), Some(millis(&wav)));
    assert_eq!(v["clips"].as_array().unwrap().len(), 15);
    assert_eq!(v["clips"][9]["clip"], "en/number");
    let out = common::frontdesk(
        dir.path(),
        &["announce", "--number", "3", "--department", "ZZ", "--out", "x.wav", "--lang", "en"],
    );
    assert_eq!(out.status.code(), Some(2), "a missing clip is bad input");
    assert!(String::from_utf8_lossy(&out.stderr).contains("zh/dept_ZZ"));
}
