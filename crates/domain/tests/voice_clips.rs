//! The committed announcement clips (voice/) hold every clip an announcement of the demo
//! clinic can ask for, each a 16 kHz mono 16-bit WAV.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use frontdesk_domain::announce::{Announcement, Voices, clip_set, clips};

fn voice_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../voice")
}

/// (sample rate, channels, bits per sample, seconds) of a PCM WAV file.
fn wav_format(bytes: &[u8]) -> (u32, u16, u16, f64) {
    assert_eq!((&bytes[0..4], &bytes[8..12]), (&b"RIFF"[..], &b"WAVE"[..]), "a RIFF/WAVE file");
    let mut at = 12;
    let (mut fmt, mut data) = (None, None);
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = &bytes[at + 8..(at + 8 + len).min(bytes.len())];
        match id {
            b"fmt " => fmt = Some(body.to_vec()),
            b"data" => data = Some(len),
            _ => {}
        }
        at += 8 + len + (len % 2);
    }
    let fmt = fmt.expect("a fmt chunk");
    let format = u16::from_le_bytes([fmt[0], fmt[1]]);
    assert!(format == 1 || format == 0xFFFE, "PCM");
    let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
    let rate = u32::from_le_bytes(fmt[4..8].try_into().unwrap());
    let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
    let frames = data.expect("a data chunk") / usize::from(channels * bits / 8);
    (rate, channels, bits, frames as f64 / f64::from(rate))
}

#[test]
fn every_clip_of_the_demo_clinic_is_there_as_a_short_wav() {
    let depts = ["NK", "WK", "EK", "FK", "KQ"];
    for clip in clip_set(depts) {
        let path = voice_dir().join(format!("{}.wav", clip.0));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (rate, channels, bits, secs) = wav_format(&bytes);
        assert_eq!((rate, channels, bits), (16_000, 1, 16), "{}", path.display());
        assert!(secs > 0.1 && secs < 2.5, "{}: {secs} s", path.display());
    }
    // A whole call is a few seconds of speech.
    let a = Announcement { queue_no: 12, department_code: "NK", room: Some(3) };
    let total: f64 = clips(&a, Voices::MandarinThenEnglish)
        .iter()
        .map(|c| wav_format(&std::fs::read(voice_dir().join(format!("{}.wav", c.0))).unwrap()).3)
        .sum();
    assert!(total > 4.0 && total < 15.0, "{total} s");
}
