//! Embeds the announcement clips of `voice/` in the desk engine, so a waiting-room display
//! needs no files beside the program (a site's own recordings still take precedence).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn wavs(dir: &Path, base: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            wavs(&path, base, out)?;
        } else if path.extension().is_some_and(|e| e == "wav") {
            let rel = path.strip_prefix(base).map_err(std::io::Error::other)?.with_extension("");
            let name = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            out.push((name, path.canonicalize()?));
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(std::io::Error::other)?);
    let voice = manifest.join("../../voice");
    println!("cargo::rerun-if-changed={}", voice.display());
    let mut clips = Vec::new();
    wavs(&voice, &voice, &mut clips)?;
    clips.sort();
    let mut code =
        String::from("/// The bundled clips: (name, WAV bytes), by name.\npub static BUNDLED: &[(&str, &[u8])] = &[\n");
    for (name, path) in &clips {
        let _ = writeln!(code, "    ({name:?}, include_bytes!({:?})),", path.display().to_string());
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(std::io::Error::other)?).join("voice_clips.rs");
    std::fs::write(out, code)
}
