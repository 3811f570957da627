//! Saying a call out loud: the clips `frontdesk_domain::announce::clips` names, joined into one
//! WAV with a short pause between them. Clips come from a site's own recordings first (folders
//! of `<name>.wav`, e.g. `zh/dept_NK.wav`), then from the clips bundled with the program
//! (`voice/` in the repository). Every clip is 16 kHz mono 16-bit PCM.

use std::path::{Path, PathBuf};

use frontdesk_domain::announce::Clip;
use serde::Serialize;

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/voice_clips.rs"));
}

/// The sample rate every clip has.
pub const SAMPLE_RATE: u32 = 16_000;
/// The pause between two clips, in milliseconds.
pub const GAP_MS: u32 = 120;

/// Why an announcement could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    /// No folder and no bundled clip has it.
    #[error("no recording of \"{0}\": add {0}.wav to the site's clip folder")]
    Missing(String),
    /// A site's recording is not a WAV the display can play.
    #[error("{path}: {why} — clips must be 16 kHz mono 16-bit PCM WAV (sox in.wav -r 16000 -c 1 -b 16 {name}.wav)")]
    BadClip {
        /// The file.
        path: String,
        /// The clip's name.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// A site's recording could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Where one clip of a rendering came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClipSource {
    /// The clip.
    pub clip: String,
    /// The site's file, or `None` for the bundled clip.
    pub file: Option<PathBuf>,
}

/// An announcement rendered to sound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The WAV file's bytes.
    pub wav: Vec<u8>,
    /// Its length in milliseconds.
    pub millis: u64,
    /// The clips, in order, and where each came from.
    pub sources: Vec<ClipSource>,
}

/// The 16-bit samples of a 16 kHz mono PCM WAV, or why not.
fn samples(bytes: &[u8]) -> Result<Vec<i16>, String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a WAV file".into());
    }
    let mut at = 12;
    let mut format: Option<(u16, u16, u32, u16)> = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]) as usize;
        let body = bytes.get(at + 8..at + 8 + len).ok_or("a chunk runs past the end of the file")?;
        match id {
            b"fmt " if len >= 16 => {
                let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
                let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
                format = Some((u16_at(0), u16_at(2), rate, u16_at(14)));
            }
            b"data" => {
                let (tag, channels, rate, bits) = format.ok_or("no format before the samples")?;
                if !(tag == 1 || tag == 0xFFFE) || channels != 1 || rate != SAMPLE_RATE || bits != 16 {
                    return Err(format!("{rate} Hz, {channels} channel(s), {bits}-bit, format {tag:#x}"));
                }
                return Ok(body.chunks_exact(2).map(|s| i16::from_le_bytes([s[0], s[1]])).collect());
            }
            _ => {}
        }
        at += 8 + len + (len % 2);
    }
    Err("no samples".into())
}

/// A 16 kHz mono 16-bit PCM WAV of `pcm`.
fn wav(pcm: &[i16]) -> Vec<u8> {
    let data_len = (pcm.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + pcm.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in pcm {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// The names of the clips bundled with the program.
pub fn bundled_clips() -> impl Iterator<Item = &'static str> {
    bundled::BUNDLED.iter().map(|(name, _)| *name)
}

/// Joins `clips` into one WAV: each from the first of `site_folders` that has `<name>.wav`,
/// else the bundled clip, with [`GAP_MS`] of silence between two clips.
pub fn render(clips: &[Clip], site_folders: &[&Path]) -> Result<Rendered, VoiceError> {
    let gap = vec![0i16; (SAMPLE_RATE * GAP_MS / 1000) as usize];
    let mut pcm: Vec<i16> = Vec::new();
    let mut sources = Vec::with_capacity(clips.len());
    for (i, clip) in clips.iter().enumerate() {
        let site = site_folders.iter().map(|d| d.join(format!("{}.wav", clip.0))).find(|p| p.is_file());
        let samples = match &site {
            Some(path) => {
                let bytes = std::fs::read(path)
                    .map_err(|source| VoiceError::Read { path: path.display().to_string(), source })?;
                samples(&bytes).map_err(|why| VoiceError::BadClip {
                    path: path.display().to_string(),
                    name: clip.0.clone(),
                    why,
                })?
            }
            None => {
                let (_, bytes) = bundled::BUNDLED
                    .iter()
                    .find(|(name, _)| *name == clip.0)
                    .ok_or_else(|| VoiceError::Missing(clip.0.clone()))?;
                samples(bytes).map_err(|why| VoiceError::BadClip {
                    path: format!("(bundled) {}.wav", clip.0),
                    name: clip.0.clone(),
                    why,
                })?
            }
        };
        if i > 0 {
            pcm.extend_from_slice(&gap);
        }
        pcm.extend_from_slice(&samples);
        sources.push(ClipSource { clip: clip.0.clone(), file: site });
    }
    let millis = pcm.len() as u64 * 1000 / u64::from(SAMPLE_RATE);
    Ok(Rendered { wav: wav(&pcm), millis, sources })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_rendering_reads_back_as_the_samples_written() {
        let pcm: Vec<i16> = (0..1600).map(|i| (i as i16).wrapping_mul(7)).collect();
        assert_eq!(samples(&wav(&pcm)).unwrap(), pcm);
        assert!(samples(b"RIFF\0\0\0\0WAVE").is_err());
        assert!(samples(b"not a wav").unwrap_err().contains("not a WAV"));
    }
}
