//! A small drawing layer over printpdf: coordinates in millimetres from the top-left corner
//! (what layout code thinks in), text in the embedded font, filled rectangles for rules and
//! barcodes. A page is converted to printpdf operations once its height is known.

use printpdf::{
    Color, FontId, LinePoint, Mm, Op, PaintMode, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Polygon,
    PolygonRing, Pt, TextItem, TextRenderingMode, WindingOrder,
};

use crate::PrintError;
use crate::font::{Font, font};

/// Millimetres per PostScript point.
pub(crate) const PT_MM: f32 = 25.4 / 72.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Align {
    Left,
    Center,
    Right,
}

/// How text is painted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Ink {
    /// Black, regular.
    Regular,
    /// Black with a thin outline: a faux bold (the font has a single weight).
    Bold,
    /// White faux bold, for text on a black band.
    Reverse,
}

enum Item {
    Text {
        x: f32,
        baseline: f32,
        size: f32,
        ink: Ink,
        text: String,
    },
    /// Filled rectangles `(x, y, w, h)` of one grey level (0 = black, 1 = white), painted as one
    /// path so abutting modules of a barcode leave no hairline seams.
    Fill {
        grey: f32,
        rects: Vec<[f32; 4]>,
    },
    /// An outlined rectangle.
    Frame {
        rect: [f32; 4],
        line: f32,
    },
}

/// One page being drawn; y grows downwards, all lengths in millimetres, font sizes in points.
pub(crate) struct Canvas {
    pub(crate) font: &'static Font,
    items: Vec<Item>,
}

impl Canvas {
    pub(crate) fn new() -> Result<Self, PrintError> {
        Ok(Self { font: font()?, items: Vec::new() })
    }

    /// Width of `text` at `size` points, in millimetres.
    pub(crate) fn text_width(&self, text: &str, size: f32) -> f32 {
        self.font.width(text, size) * PT_MM
    }

    /// Distance from the top of a line box to its baseline, for text at `size`, in mm.
    pub(crate) fn ascent(&self, size: f32) -> f32 {
        self.font.ascent * size * PT_MM
    }

    /// Wraps `text` into lines of at most `max_width` mm at `size` points.
    pub(crate) fn wrap(&self, text: &str, size: f32, max_width: f32) -> Vec<String> {
        self.font.wrap(text, size, max_width / PT_MM)
    }

    /// See [`Font::fit`]; widths in mm.
    pub(crate) fn fit(
        &self,
        text: &str,
        size: f32,
        min_size: f32,
        max_width: f32,
        max_lines: usize,
    ) -> (f32, Vec<String>) {
        self.font.fit(text, size, min_size, max_width / PT_MM, max_lines)
    }

    /// Draws one line of text with its baseline at `baseline`; `x` is the left edge, the
    /// centre or the right edge depending on `align`.
    pub(crate) fn text(&mut self, x: f32, baseline: f32, size: f32, align: Align, ink: Ink, text: &str) {
        if text.is_empty() {
            return;
        }
        let w = self.text_width(text, size);
        let left = match align {
            Align::Left => x,
            Align::Center => x - w / 2.0,
            Align::Right => x - w,
        };
        self.items.push(Item::Text { x: left, baseline, size, ink, text: text.to_string() });
    }

    /// Draws wrapped lines starting with the top of the first line box at `top`, each line
    /// `leading` times the size apart; returns the y just below the last line.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn lines(
        &mut self,
        x: f32,
        top: f32,
        size: f32,
        leading: f32,
        align: Align,
        ink: Ink,
        lines: &[String],
    ) -> f32 {
        let step = size * leading * PT_MM;
        let mut y = top;
        for line in lines {
            let baseline = y + (step - size * PT_MM) / 2.0 + self.ascent(size);
            self.text(x, baseline, size, align, ink, line);
            y += step;
        }
        y
    }

    pub(crate) fn fill(&mut self, grey: f32, rects: Vec<[f32; 4]>) {
        if !rects.is_empty() {
            self.items.push(Item::Fill { grey, rects });
        }
    }

    pub(crate) fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, grey: f32) {
        self.fill(grey, vec![[x, y, w, h]]);
    }

    pub(crate) fn frame(&mut self, x: f32, y: f32, w: f32, h: f32, line: f32) {
        self.items.push(Item::Frame { rect: [x, y, w, h], line });
    }

    /// A horizontal hairline rule.
    pub(crate) fn hrule(&mut self, x: f32, y: f32, w: f32, thickness: f32) {
        self.rect(x, y - thickness / 2.0, w, thickness, 0.0);
    }

    /// A dashed horizontal rule, like the tear lines on a receipt.
    pub(crate) fn dashed_rule(&mut self, x: f32, y: f32, w: f32) {
        let (dash, gap, t): (f32, f32, f32) = (1.2, 0.8, 0.25);
        let mut rects = Vec::new();
        let mut cx = x;
        while cx < x + w {
            rects.push([cx, y - t / 2.0, dash.min(x + w - cx), t]);
            cx += dash + gap;
        }
        self.fill(0.0, rects);
    }

    /// Converts the page to printpdf operations for a page `page_h` mm tall.
    pub(crate) fn into_ops(self, font_id: &FontId, page_h: f32) -> Vec<Op> {
        let mut ops = Vec::with_capacity(self.items.len() * 6);
        let y_pt = |y_mm: f32| Pt((page_h - y_mm) / PT_MM);
        let grey = |g: f32| Color::Greyscale(printpdf::Greyscale::new(g, None));
        for item in self.items {
            match item {
                Item::Text { x, baseline, size, ink, text } => {
                    let (mode, g) = match ink {
                        Ink::Regular => (TextRenderingMode::Fill, 0.0),
                        Ink::Bold => (TextRenderingMode::FillStroke, 0.0),
                        Ink::Reverse => (TextRenderingMode::FillStroke, 1.0),
                    };
                    ops.push(Op::SaveGraphicsState);
                    ops.push(Op::SetFillColor { col: grey(g) });
                    if mode == TextRenderingMode::FillStroke {
                        ops.push(Op::SetOutlineColor { col: grey(g) });
                        ops.push(Op::SetOutlineThickness { pt: Pt((size * 0.035).max(0.2)) });
                    }
                    ops.push(Op::StartTextSection);
                    ops.push(Op::SetFont { font: PdfFontHandle::External(font_id.clone()), size: Pt(size) });
                    ops.push(Op::SetTextRenderingMode { mode });
                    ops.push(Op::SetTextCursor { pos: Point { x: Pt(x / PT_MM), y: y_pt(baseline) } });
                    ops.push(Op::ShowText { items: vec![TextItem::Text(text)] });
                    ops.push(Op::EndTextSection);
                    ops.push(Op::RestoreGraphicsState);
                }
                Item::Fill { grey: g, rects } => {
                    ops.push(Op::SaveGraphicsState);
                    ops.push(Op::SetFillColor { col: grey(g) });
                    let rings = rects
                        .into_iter()
                        .map(|[x, y, w, h]| rect_ring(Pt(x / PT_MM), y_pt(y + h), Pt(w / PT_MM), Pt(h / PT_MM)))
                        .collect();
                    ops.push(Op::DrawPolygon {
                        polygon: Polygon { rings, mode: PaintMode::Fill, winding_order: WindingOrder::NonZero },
                    });
                    ops.push(Op::RestoreGraphicsState);
                }
                Item::Frame { rect: [x, y, w, h], line } => {
                    ops.push(Op::SaveGraphicsState);
                    ops.push(Op::SetOutlineColor { col: grey(0.0) });
                    ops.push(Op::SetOutlineThickness { pt: Pt(line / PT_MM) });
                    ops.push(Op::DrawPolygon {
                        polygon: Polygon {
                            rings: vec![rect_ring(Pt(x / PT_MM), y_pt(y + h), Pt(w / PT_MM), Pt(h / PT_MM))],
                            mode: PaintMode::Stroke,
                            winding_order: WindingOrder::NonZero,
                        },
                    });
                    ops.push(Op::RestoreGraphicsState);
                }
            }
        }
        ops
    }
}

/// A closed rectangular ring from its lower-left corner, counter-clockwise.
fn rect_ring(x: Pt, y: Pt, w: Pt, h: Pt) -> PolygonRing {
    let p = |x: Pt, y: Pt| LinePoint { p: Point { x, y }, bezier: false };
    PolygonRing { points: vec![p(x, y), p(Pt(x.0 + w.0), y), p(Pt(x.0 + w.0), Pt(y.0 + h.0)), p(x, Pt(y.0 + h.0))] }
}

/// A finished page: its size in mm and what is drawn on it.
pub(crate) struct PageSpec {
    pub(crate) width: f32,
    pub(crate) height: f32,
    pub(crate) canvas: Canvas,
}

/// Writes the pages into one PDF with the embedded font subset to the glyphs used. `title`
/// goes into the document information: never put a patient's name there.
pub(crate) fn write_pdf(title: &str, pages: Vec<PageSpec>) -> Result<Vec<u8>, PrintError> {
    let f = font()?;
    let mut doc = PdfDocument::new(title);
    doc.metadata.info.creator = "Frontdesk".to_string();
    doc.metadata.info.producer = "Frontdesk (printpdf)".to_string();
    let font_id = doc.add_font(&f.parsed);
    let pdf_pages = pages
        .into_iter()
        .map(|p| {
            let ops = p.canvas.into_ops(&font_id, p.height);
            PdfPage::new(Mm(p.width), Mm(p.height), ops)
        })
        .collect();
    let opts = PdfSaveOptions { optimize: true, subset_fonts: true, secure: true, image_optimization: None };
    let mut warnings = Vec::new();
    let bytes = doc.with_pages(pdf_pages).save(&opts, &mut warnings);
    if bytes.is_empty() {
        return Err(PrintError::Render(format!("empty PDF: {warnings:?}")));
    }
    Ok(bytes)
}
