//! The one embedded font (WenQuanYi Micro Hei, face 0, Apache-2.0), text measurement and line
//! wrapping.
//!
//! The font ships inside the binary so a ticket looks the same on every desk, whatever fonts the
//! OS has. printpdf subsets it on save, so a PDF carries only the glyphs it uses.

use std::sync::OnceLock;

use printpdf::ParsedFont;

use crate::PrintError;

/// The TrueType font embedded in every PDF (see `fonts/LICENSE-wqy-microhei.txt`).
pub(crate) static FONT_BYTES: &[u8] = include_bytes!("../fonts/wqy-microhei.ttf");

/// The parsed font and the metrics layout needs, parsed once per process.
pub(crate) struct Font {
    pub(crate) parsed: ParsedFont,
    units_per_em: f32,
    /// Ascender above the baseline, as a fraction of the font size.
    pub(crate) ascent: f32,
}

static FONT: OnceLock<Result<Font, String>> = OnceLock::new();

/// The embedded font, parsed on first use (a few milliseconds) and shared afterwards.
pub(crate) fn font() -> Result<&'static Font, PrintError> {
    let loaded = FONT.get_or_init(|| {
        let mut warnings = Vec::new();
        let parsed = ParsedFont::from_bytes(FONT_BYTES, 0, &mut warnings)
            .ok_or_else(|| format!("cannot parse the embedded font: {warnings:?}"))?;
        let m = parsed.get_font_metrics();
        let upem = f32::from(m.units_per_em.max(1));
        Ok(Font { units_per_em: upem, ascent: (m.ascent / upem).clamp(0.5, 1.2), parsed })
    });
    loaded.as_ref().map_err(|e| PrintError::Font(e.clone()))
}

impl Font {
    /// Advance width of one character in font units (a missing glyph counts as an em or half
    /// an em, so layout stays conservative).
    fn advance(&self, c: char) -> f32 {
        match self.parsed.lookup_glyph_index(c as u32) {
            Some(gid) => f32::from(self.parsed.get_horizontal_advance(gid)),
            None if c.is_ascii() => self.units_per_em / 2.0,
            None => self.units_per_em,
        }
    }

    /// Width of `text` set at `size` (in the unit `size` is given in).
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        let units: f32 = text.chars().map(|c| self.advance(c)).sum();
        units / self.units_per_em * size
    }

    /// Breaks `text` into lines no wider than `max_width` at `size`. Latin words break at
    /// spaces, CJK text between any two characters (closing punctuation stays with the
    /// character before it), and a word wider than a whole line is broken between characters.
    /// Nothing is dropped: joining the lines gives back the text (less breaking spaces).
    pub(crate) fn wrap(&self, text: &str, size: f32, max_width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            self.wrap_paragraph(paragraph.trim(), size, max_width, &mut lines);
        }
        if lines.is_empty() {
            lines.push(String::new());
        }
        lines
    }

    fn wrap_paragraph(&self, text: &str, size: f32, max_width: f32, lines: &mut Vec<String>) {
        let mut line = String::new();
        for unit in units(text) {
            let candidate = if line.is_empty() { unit.trim_start().to_string() } else { format!("{line}{unit}") };
            if self.width(&candidate, size) <= max_width || candidate.trim().is_empty() {
                line = candidate;
                continue;
            }
            if !line.trim().is_empty() {
                lines.push(line.trim_end().to_string());
            }
            let unit = unit.trim_start();
            if self.width(unit, size) <= max_width {
                line = unit.to_string();
            } else {
                // A single word wider than the line: break it between characters.
                line = String::new();
                for c in unit.chars() {
                    let mut next = line.clone();
                    next.push(c);
                    if !line.is_empty() && self.width(&next, size) > max_width {
                        lines.push(std::mem::take(&mut line));
                        line.push(c);
                    } else {
                        line = next;
                    }
                }
            }
        }
        if !line.trim().is_empty() {
            lines.push(line.trim_end().to_string());
        }
    }

    /// Picks the largest size from `size` down to `min_size` (in half points) at which `text`
    /// wraps into at most `max_lines` lines of `max_width`; at `min_size` it wraps into as many
    /// lines as it needs, so text is never cut off.
    pub(crate) fn fit(
        &self,
        text: &str,
        size: f32,
        min_size: f32,
        max_width: f32,
        max_lines: usize,
    ) -> (f32, Vec<String>) {
        let mut s = size;
        loop {
            let lines = self.wrap(text, s, max_width);
            if lines.len() <= max_lines || s - 0.5 < min_size {
                return (s, lines);
            }
            s -= 0.5;
        }
    }
}

fn is_cjk_like(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFFEF
        | 0x20000..=0x2FA1F)
}

fn is_closing_punct(c: char) -> bool {
    "，。、；：！？）》」』】〕…,.;:!?)]}%·".contains(c)
}

/// Splits text into unbreakable units: a Latin word with the spaces before it, or one CJK
/// character with any closing punctuation after it.
fn units(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if is_closing_punct(c) && !cur.is_empty() {
            cur.push(c);
            continue;
        }
        if is_closing_punct(c)
            && cur.is_empty()
            && let Some(last) = out.last_mut()
        {
            last.push(c);
            continue;
        }
        if c.is_whitespace() {
            if !cur.trim().is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(' ');
        } else if is_cjk_like(c) {
            if !cur.trim().is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(c);
            out.push(std::mem::take(&mut cur));
        } else {
            if cur.chars().last().is_some_and(is_cjk_like) {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(c);
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_without_losing_text() {
        let f = font().unwrap();
        let text = "北京市朝阳区某某社区卫生服务中心第二门诊部（东院区）";
        let lines = f.wrap(text, 12.0, 100.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), text);
        for l in &lines {
            assert!(f.width(l, 12.0) <= 100.0 + 0.01, "{l}");
        }
        let en = "Department of Traditional Chinese Medicine and Rehabilitation";
        let lines = f.wrap(en, 12.0, 100.0);
        assert_eq!(lines.join(" "), en);
        let long = "Supercalifragilisticexpialidocious-Pneumonoultramicroscopic";
        let lines = f.wrap(long, 12.0, 60.0);
        assert_eq!(lines.concat(), long);
    }

    #[test]
    fn fit_shrinks_then_wraps() {
        let f = font().unwrap();
        let (s, lines) = f.fit("内科", 14.0, 8.0, 200.0, 1);
        assert_eq!((s, lines.len()), (14.0, 1));
        let long = "心血管内科与呼吸与危重症医学科联合门诊".repeat(3);
        let (s, lines) = f.fit(&long, 14.0, 8.0, 100.0, 2);
        assert_eq!(s, 8.0);
        assert_eq!(lines.concat(), long);
    }
}
