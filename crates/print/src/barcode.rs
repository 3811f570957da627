//! Barcodes as vector rectangles: Code128 (character set B) and QR (model 2, level M).

use barcoders::sym::code128::Code128;
use qrcode::{EcLevel, QrCode};

use crate::PrintError;
use crate::pdf::Canvas;

/// Quiet zone of a Code128 symbol, in modules (the standard asks for at least 10).
pub(crate) const CODE128_QUIET: usize = 10;
/// Quiet zone of a QR symbol, in modules (the standard asks for 4).
pub(crate) const QR_QUIET: usize = 4;

/// The bar/space modules (1 = bar) of `data` encoded as Code128 set B.
pub(crate) fn code128_modules(data: &str) -> Result<Vec<u8>, PrintError> {
    if data.is_empty() || !data.chars().all(|c| (' '..='~').contains(&c)) {
        return Err(PrintError::Barcode(format!("a ticket code must be printable ASCII: {data:?}")));
    }
    let code = Code128::new(format!("Ɓ{data}")).map_err(|e| PrintError::Barcode(e.to_string()))?;
    Ok(code.encode())
}

/// The QR matrix of `data` (true = dark), row by row, and its width in modules.
pub(crate) fn qr_matrix(data: &str) -> Result<(Vec<bool>, usize), PrintError> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .map_err(|e| PrintError::Barcode(e.to_string()))?;
    let width = code.width();
    let dark = code.to_colors().into_iter().map(|c| c == qrcode::Color::Dark).collect();
    Ok((dark, width))
}

/// Draws Code128 bars with their left edge at `x`, top at `y`; `module` and `height` in mm.
/// Runs of bar modules become one rectangle each.
pub(crate) fn draw_code128(canvas: &mut Canvas, modules: &[u8], x: f32, y: f32, module: f32, height: f32) {
    let mut rects = Vec::new();
    let mut i = 0;
    while i < modules.len() {
        if modules[i] == 1 {
            let start = i;
            while i < modules.len() && modules[i] == 1 {
                i += 1;
            }
            rects.push([x + start as f32 * module, y, (i - start) as f32 * module, height]);
        } else {
            i += 1;
        }
    }
    canvas.fill(0.0, rects);
}

/// Draws a QR matrix with its top-left (without quiet zone) at `(x, y)`.
pub(crate) fn draw_qr(canvas: &mut Canvas, dark: &[bool], width: usize, x: f32, y: f32, module: f32) {
    let mut rects = Vec::new();
    for row in 0..width {
        let line = &dark[row * width..(row + 1) * width];
        let mut col = 0;
        while col < width {
            if line[col] {
                let start = col;
                while col < width && line[col] {
                    col += 1;
                }
                rects.push([x + start as f32 * module, y + row as f32 * module, (col - start) as f32 * module, module]);
            } else {
                col += 1;
            }
        }
    }
    canvas.fill(0.0, rects);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code128_set_b_shape() {
        let m = code128_modules("FD7K2M9QX4RT8").unwrap();
        // start + 13 data + check = 15 symbols of 11 modules, stop of 13.
        assert_eq!(m.len(), 15 * 11 + 13);
        assert!(code128_modules("张三").is_err());
    }

    #[test]
    fn qr_is_square() {
        let (dark, w) = qr_matrix("FD7K2M9QX4RT8").unwrap();
        assert_eq!(dark.len(), w * w);
        assert_eq!(w, 21);
    }
}
