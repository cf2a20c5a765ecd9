//! Charts, drawn with plotters on an SVG string and on an RGB bitmap from one drawing
//! function, so the PNG for slides and the SVG in the packets are the same picture.
//!
//! Every chart is 1600 px wide (legible when projected), uses the Okabe–Ito palette (safe for
//! the common forms of colour blindness), and never relies on colour alone: values are written
//! as text beside every bar, bands carry their percentages, and gap markers differ in shape.
//! Groups below the display threshold get their label and the suppression note, never a bar.

use super::format::signed_points;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::sync::Once;

pub const WIDTH: u32 = 1600;
const FAMILY: &str = "Inter";

pub const BLUE: RGBColor = RGBColor(0, 114, 178);
pub const ORANGE: RGBColor = RGBColor(230, 159, 0);
pub const SKY: RGBColor = RGBColor(86, 180, 233);
pub const GREEN: RGBColor = RGBColor(0, 158, 115);
pub const VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub const PURPLE: RGBColor = RGBColor(204, 121, 167);
const INK: RGBColor = RGBColor(33, 37, 41);
const MUTED: RGBColor = RGBColor(96, 103, 112);
const GRID: RGBColor = RGBColor(222, 226, 230);
/// Bands below → above: a light-to-dark order that also reads in greyscale.
pub const BAND_COLORS: [RGBColor; 4] = [VERMILLION, ORANGE, SKY, BLUE];

pub static FONT_REGULAR: &[u8] = include_bytes!("fonts/Inter-Regular.otf");
pub static FONT_SEMIBOLD: &[u8] = include_bytes!("fonts/Inter-SemiBold.otf");
pub static FONT_BOLD: &[u8] = include_bytes!("fonts/Inter-Bold.otf");
pub static FONT_ITALIC: &[u8] = include_bytes!("fonts/Inter-Italic.otf");

fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The fonts are compiled in; failing to parse them is a build defect.
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT_REGULAR)
            .unwrap_or_else(|_| panic!("bundled Inter Regular does not parse"));
        plotters::style::register_font(FAMILY, FontStyle::Bold, FONT_BOLD)
            .unwrap_or_else(|_| panic!("bundled Inter Bold does not parse"));
    });
}

/// A chart with what the HTML shows beside it.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The stable file stem under `charts/`, e.g. `ela-mean-dfs`.
    pub id: String,
    pub title: String,
    pub subtitle: String,
    pub alt: String,
    pub table: DataTable,
    pub kind: Kind,
}

/// The data behind a chart, as text.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DataTable {
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Bars(Bars),
    Stacked(Stacked),
    Intervals(Intervals),
    Paths(Paths),
    Histogram(Histogram),
}

/// Horizontal bars, one row per group.
#[derive(Debug, Clone)]
pub struct Bars {
    pub rows: Vec<BarRow>,
    pub axis: String,
    /// A fixed axis range (percentages use 0–100); otherwise fitted to the data and 0.
    pub range: Option<(f64, f64)>,
    pub reference: Option<(f64, String)>,
    /// Legend text of the marker drawn at `BarRow::marker` (e.g. "District").
    pub marker_label: Option<String>,
    pub legend: Vec<(String, RGBColor)>,
}

#[derive(Debug, Clone)]
pub struct BarRow {
    pub label: String,
    pub value: Option<f64>,
    /// The text in the right-hand column: the value and n, or the suppression note.
    pub text: String,
    pub marker: Option<f64>,
    pub color: RGBColor,
}

/// 100% stacked bars.
#[derive(Debug, Clone)]
pub struct Stacked {
    pub rows: Vec<StackedRow>,
    pub parts: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct StackedRow {
    pub label: String,
    pub shares: Option<[f64; 4]>,
    pub text: String,
}

/// Gap now (with its interval) against a year earlier, one row per pair.
#[derive(Debug, Clone)]
pub struct Intervals {
    pub rows: Vec<IntervalRow>,
    pub axis: String,
    /// What the filled marker (`now`) and the ring (`then`) show.
    pub legend: [String; 2],
}

#[derive(Debug, Clone)]
pub struct IntervalRow {
    pub label: String,
    pub now: Option<(f64, Option<(f64, f64)>)>,
    pub then: Option<(f64, Option<(f64, f64)>)>,
    pub text: String,
}

/// Small multiples: a gap across the year's windows, a year earlier, and the target path.
#[derive(Debug, Clone)]
pub struct Paths {
    pub windows: Vec<String>,
    pub panels: Vec<Panel>,
    pub axis: String,
}

#[derive(Debug, Clone)]
pub struct Panel {
    pub title: String,
    pub now: Vec<Option<f64>>,
    pub then: Vec<Option<f64>>,
    pub target: Vec<Option<f64>>,
    /// Shown instead of lines when the pair is too small at every window.
    pub note: Option<String>,
}

/// Counts of schools in bins of a value.
#[derive(Debug, Clone)]
pub struct Histogram {
    pub values: Vec<f64>,
    pub axis: String,
    pub marker: Option<(f64, String)>,
}

/// A rendered chart.
pub struct Drawn {
    pub svg: String,
    pub png: Option<Vec<u8>>,
}

type Res<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

const TOP: i32 = 128;
const ROW: i32 = 48;
const FOOT: i32 = 92;
const LABEL_RIGHT: i32 = 430;
const PLOT_LEFT: i32 = 460;
const PLOT_RIGHT: i32 = 1290;
const TEXT_LEFT: i32 = 1310;

impl Chart {
    pub fn height(&self) -> u32 {
        let body = match &self.kind {
            Kind::Bars(b) => ROW * b.rows.len().max(1) as i32 + 70,
            Kind::Stacked(s) => ROW * s.rows.len().max(1) as i32 + 30,
            Kind::Intervals(i) => 76 * i.rows.len().max(1) as i32 + 70,
            Kind::Paths(p) => 400 * p.panels.len().div_ceil(3).max(1) as i32,
            Kind::Histogram(_) => 560,
        };
        (TOP + 56 + body + FOOT) as u32
    }

    /// Draw the chart as SVG, and as PNG when asked.
    pub fn draw(&self, provenance: &str, png: bool) -> anyhow::Result<Drawn> {
        register_fonts();
        let (w, h) = (WIDTH, self.height());
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
            self.paint(&root, provenance)
                .map_err(|e| anyhow::anyhow!("chart `{}`: {e}", self.id))?;
            root.present()
                .map_err(|e| anyhow::anyhow!("chart `{}`: {e}", self.id))?;
        }
        let png = if png {
            // One pixel buffer per thread, reused: a fresh 5 MB buffer per chart costs more in
            // page faults than drawing into it.
            thread_local! {
                static PIXELS: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
            }
            PIXELS
                .with_borrow_mut(|buf| -> anyhow::Result<Vec<u8>> {
                    buf.clear();
                    buf.resize((w * h * 3) as usize, 0);
                    {
                        let root = BitMapBackend::with_buffer(buf, (w, h)).into_drawing_area();
                        self.paint(&root, provenance)
                            .map_err(|e| anyhow::anyhow!("chart `{}`: {e}", self.id))?;
                        root.present()
                            .map_err(|e| anyhow::anyhow!("chart `{}`: {e}", self.id))?;
                    }
                    encode_png(buf, w, h)
                })
                .map(Some)?
        } else {
            None
        };
        Ok(Drawn {
            svg: accessible_svg(&join_strokes(&svg), &self.title, &self.alt),
            png,
        })
    }

    fn paint<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        provenance: &str,
    ) -> Res<DB> {
        root.fill(&WHITE)?;
        let h = self.height() as i32;
        text(root, &self.title, (40, 30), 42.0, &INK, HPos::Left, true)?;
        text(
            root,
            &self.subtitle,
            (40, 84),
            27.0,
            &MUTED,
            HPos::Left,
            false,
        )?;
        match &self.kind {
            Kind::Bars(b) => bars(root, b)?,
            Kind::Stacked(s) => stacked(root, s)?,
            Kind::Intervals(i) => intervals(root, i)?,
            Kind::Paths(p) => paths(root, p)?,
            Kind::Histogram(hg) => histogram(root, hg)?,
        }
        root.draw(&PathElement::new(
            vec![(40, h - FOOT + 24), (WIDTH as i32 - 40, h - FOOT + 24)],
            GRID.stroke_width(2),
        ))?;
        text(
            root,
            provenance,
            (40, h - FOOT + 52),
            21.0,
            &MUTED,
            HPos::Left,
            false,
        )
    }
}

fn style(size: f64, color: &'static RGBColor, h: HPos, bold: bool) -> TextStyle<'static> {
    let font = FontDesc::new(
        FontFamily::Name(FAMILY),
        size,
        if bold {
            FontStyle::Bold
        } else {
            FontStyle::Normal
        },
    );
    TextStyle::from(font)
        .color(color)
        .pos(Pos::new(h, VPos::Center))
}

fn text<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &str,
    at: (i32, i32),
    size: f64,
    color: &'static RGBColor,
    h: HPos,
    bold: bool,
) -> Res<DB> {
    root.draw(&Text::new(s.to_string(), at, style(size, color, h, bold)))
}

/// Shorten a label to fit `width` pixels, with an ellipsis.
fn fit<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &str,
    size: f64,
    width: u32,
) -> String {
    let st = style(size, &INK, HPos::Left, false);
    let fits = |t: &str| {
        root.estimate_text_size(t, &st)
            .map_or(true, |(w, _)| w <= width)
    };
    if fits(s) {
        return s.to_string();
    }
    let mut chars: Vec<char> = s.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let t: String = chars.iter().collect::<String>().trim_end().to_string() + "…";
        if fits(&t) {
            return t;
        }
    }
    String::new()
}

/// A linear scale from data to pixels.
#[derive(Clone, Copy)]
struct Scale {
    lo: f64,
    hi: f64,
    a: i32,
    b: i32,
}

impl Scale {
    fn px(&self, v: f64) -> i32 {
        let t = (v - self.lo) / (self.hi - self.lo);
        self.a + (t * (self.b - self.a) as f64).round() as i32
    }
}

/// Round tick marks covering [lo, hi]: steps of 1, 2 or 5 × 10^k, about six of them.
pub fn ticks(lo: f64, hi: f64) -> (f64, f64, Vec<f64>) {
    let span = (hi - lo).max(1e-9);
    let raw = span / 6.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).floor() * step;
    let end = (hi / step).ceil() * step;
    let n = ((end - start) / step).round() as usize;
    let ticks = (0..=n).map(|i| start + i as f64 * step).collect();
    (start, end, ticks)
}

fn tick_label(v: f64) -> String {
    if v.abs() < 1e-9 {
        "0".to_string()
    } else if v.fract().abs() < 1e-9 {
        let s = format!("{}", v.round() as i64);
        s.replace('-', "\u{2212}")
    } else {
        signed_points(v)
    }
}

fn x_axis<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    sc: Scale,
    ticks: &[f64],
    top: i32,
    bottom: i32,
    label: &str,
    pct: bool,
) -> Res<DB> {
    for &t in ticks {
        let x = sc.px(t);
        root.draw(&PathElement::new(
            vec![(x, top), (x, bottom)],
            GRID.stroke_width(2),
        ))?;
        let s = if pct {
            format!("{}%", tick_label(t))
        } else {
            tick_label(t)
        };
        text(
            root,
            &s,
            (x, bottom + 24),
            24.0,
            &MUTED,
            HPos::Center,
            false,
        )?;
    }
    text(
        root,
        label,
        ((sc.a + sc.b) / 2, bottom + 62),
        26.0,
        &INK,
        HPos::Center,
        false,
    )
}

fn legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    items: &[(String, Marker)],
    y: i32,
) -> Res<DB> {
    let mut x = 40;
    for (label, m) in items {
        m.draw(root, (x + 14, y))?;
        text(root, label, (x + 38, y), 25.0, &INK, HPos::Left, false)?;
        let w = root
            .estimate_text_size(label, &style(25.0, &INK, HPos::Left, false))
            .map_or(200, |(w, _)| w as i32);
        x += 38 + w + 40;
    }
    Ok(())
}

/// Marker shapes: the second encoding beside colour.
#[derive(Debug, Clone, Copy)]
enum Marker {
    Square(RGBColor),
    Diamond(RGBColor),
    Dot(RGBColor),
    Ring(RGBColor),
    Triangle(RGBColor),
    Line(RGBColor),
}

impl Marker {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        (x, y): (i32, i32),
    ) -> Res<DB> {
        match *self {
            Marker::Square(c) => root.draw(&Rectangle::new(
                [(x - 11, y - 11), (x + 11, y + 11)],
                c.filled(),
            )),
            Marker::Diamond(c) => {
                root.draw(&Polygon::new(
                    vec![(x, y - 14), (x + 11, y), (x, y + 14), (x - 11, y)],
                    c.filled(),
                ))?;
                root.draw(&PathElement::new(
                    vec![
                        (x, y - 14),
                        (x + 11, y),
                        (x, y + 14),
                        (x - 11, y),
                        (x, y - 14),
                    ],
                    WHITE.stroke_width(2),
                ))
            }
            Marker::Dot(c) => root.draw(&Circle::new((x, y), 11, c.filled())),
            Marker::Ring(c) => {
                root.draw(&Circle::new((x, y), 10, WHITE.filled()))?;
                root.draw(&Circle::new((x, y), 10, c.stroke_width(4)))
            }
            Marker::Triangle(c) => root.draw(&Polygon::new(
                vec![(x, y - 12), (x + 12, y + 10), (x - 12, y + 10)],
                c.filled(),
            )),
            Marker::Line(c) => root.draw(&PathElement::new(
                vec![(x - 16, y), (x + 16, y)],
                c.stroke_width(4),
            )),
        }
    }
}

fn fitted(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if hi - lo < 1e-9 {
        hi = lo + 10.0;
    }
    let p = (hi - lo) * pad;
    (
        if lo < 0.0 { lo - p } else { lo },
        if hi > 0.0 { hi + p } else { hi },
    )
}

fn bars<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, b: &Bars) -> Res<DB> {
    let mut items: Vec<(String, Marker)> = b
        .legend
        .iter()
        .map(|(l, c)| (l.clone(), Marker::Square(*c)))
        .collect();
    if let Some(m) = &b.marker_label {
        items.push((m.clone(), Marker::Diamond(INK)));
    }
    if let Some((_, l)) = &b.reference {
        items.push((l.clone(), Marker::Line(VERMILLION)));
    }
    legend(root, &items, TOP + 12)?;
    let (lo, hi) = b.range.unwrap_or_else(|| {
        fitted(
            b.rows
                .iter()
                .flat_map(|r| r.value.into_iter().chain(r.marker)),
            0.08,
        )
    });
    let (lo, hi, ts) = if b.range.is_some() {
        let (_, _, t) = ticks(lo, hi);
        (
            lo,
            hi,
            t.into_iter().filter(|t| *t >= lo && *t <= hi).collect(),
        )
    } else {
        ticks(lo, hi)
    };
    let sc = Scale {
        lo,
        hi,
        a: PLOT_LEFT,
        b: PLOT_RIGHT,
    };
    let top = TOP + 56;
    let bottom = top + ROW * b.rows.len().max(1) as i32;
    let pct = b.range == Some((0.0, 100.0));
    x_axis(root, sc, &ts, top, bottom, &b.axis, pct)?;
    let zero = sc.px(0.0_f64.clamp(lo, hi));
    for (i, r) in b.rows.iter().enumerate() {
        let y = top + ROW * i as i32 + ROW / 2;
        let label = fit(root, &r.label, 26.0, (LABEL_RIGHT - 40) as u32);
        text(
            root,
            &label,
            (LABEL_RIGHT, y),
            26.0,
            &INK,
            HPos::Right,
            false,
        )?;
        match r.value {
            Some(v) => {
                let x = sc.px(v.clamp(lo, hi));
                let (x0, x1) = if x >= zero { (zero, x) } else { (x, zero) };
                root.draw(&Rectangle::new(
                    [(x0, y - 15), (x1.max(x0 + 2), y + 15)],
                    r.color.filled(),
                ))?;
                text(root, &r.text, (TEXT_LEFT, y), 24.0, &INK, HPos::Left, false)?;
            }
            None => {
                text(
                    root,
                    &r.text,
                    (PLOT_LEFT + 12, y),
                    24.0,
                    &MUTED,
                    HPos::Left,
                    false,
                )?;
            }
        }
        if let (Some(m), Some(_)) = (r.marker, r.value) {
            Marker::Diamond(INK).draw(root, (sc.px(m.clamp(lo, hi)), y))?;
        }
    }
    root.draw(&PathElement::new(
        vec![(zero, top - 6), (zero, bottom + 6)],
        INK.stroke_width(3),
    ))?;
    if let Some((v, _)) = &b.reference {
        let x = sc.px(v.clamp(lo, hi));
        root.draw(&DashedPathElement::new(
            vec![(x, top - 8), (x, bottom + 8)],
            12,
            8,
            VERMILLION.stroke_width(4),
        ))?;
    }
    Ok(())
}

fn stacked<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &Stacked) -> Res<DB> {
    let items: Vec<(String, Marker)> = s
        .parts
        .iter()
        .zip(BAND_COLORS)
        .map(|(l, c)| (l.clone(), Marker::Square(c)))
        .collect();
    legend(root, &items, TOP + 12)?;
    let sc = Scale {
        lo: 0.0,
        hi: 100.0,
        a: PLOT_LEFT,
        b: PLOT_RIGHT,
    };
    let top = TOP + 56;
    for (i, r) in s.rows.iter().enumerate() {
        let y = top + ROW * i as i32 + ROW / 2;
        let label = fit(root, &r.label, 26.0, (LABEL_RIGHT - 40) as u32);
        text(
            root,
            &label,
            (LABEL_RIGHT, y),
            26.0,
            &INK,
            HPos::Right,
            false,
        )?;
        let Some(shares) = r.shares else {
            text(
                root,
                &r.text,
                (PLOT_LEFT + 12, y),
                24.0,
                &MUTED,
                HPos::Left,
                false,
            )?;
            continue;
        };
        let mut acc = 0.0;
        for (k, share) in shares.iter().enumerate() {
            let (x0, x1) = (sc.px(acc), sc.px((acc + share).min(100.0)));
            acc += share;
            if x1 <= x0 {
                continue;
            }
            root.draw(&Rectangle::new(
                [(x0, y - 17), (x1, y + 17)],
                BAND_COLORS[k].filled(),
            ))?;
            root.draw(&PathElement::new(
                vec![(x1, y - 17), (x1, y + 17)],
                WHITE.stroke_width(2),
            ))?;
            let label = format!("{}%", share.round() as i64);
            let fg = if k == 0 || k == 3 { &WHITE } else { &INK };
            if x1 - x0 >= 62 {
                text(
                    root,
                    &label,
                    ((x0 + x1) / 2, y),
                    22.0,
                    fg,
                    HPos::Center,
                    true,
                )?;
            }
        }
        text(root, &r.text, (TEXT_LEFT, y), 24.0, &INK, HPos::Left, false)?;
    }
    Ok(())
}

fn intervals<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, iv: &Intervals) -> Res<DB> {
    legend(
        root,
        &[
            (iv.legend[0].clone(), Marker::Dot(BLUE)),
            (iv.legend[1].clone(), Marker::Ring(ORANGE)),
        ],
        TOP + 12,
    )?;
    let values = iv.rows.iter().flat_map(|r| {
        let a = r
            .now
            .map(|(v, ci)| [Some(v), ci.map(|c| c.0), ci.map(|c| c.1)]);
        let b = r
            .then
            .map(|(v, ci)| [Some(v), ci.map(|c| c.0), ci.map(|c| c.1)]);
        a.into_iter().chain(b).flatten().flatten()
    });
    let (lo, hi) = fitted(values, 0.06);
    let (lo, hi, ts) = ticks(lo, hi);
    let sc = Scale {
        lo,
        hi,
        a: PLOT_LEFT,
        b: PLOT_RIGHT,
    };
    let top = TOP + 56;
    let row = 76;
    let bottom = top + row * iv.rows.len().max(1) as i32;
    x_axis(root, sc, &ts, top, bottom, &iv.axis, false)?;
    let zero = sc.px(0.0);
    root.draw(&PathElement::new(
        vec![(zero, top - 6), (zero, bottom + 6)],
        INK.stroke_width(3),
    ))?;
    for (i, r) in iv.rows.iter().enumerate() {
        let y = top + row * i as i32 + row / 2;
        let label = fit(root, &r.label, 25.0, (LABEL_RIGHT - 40) as u32);
        text(
            root,
            &label,
            (LABEL_RIGHT, y),
            25.0,
            &INK,
            HPos::Right,
            false,
        )?;
        if r.now.is_none() && r.then.is_none() {
            text(
                root,
                &r.text,
                (PLOT_LEFT + 12, y),
                24.0,
                &MUTED,
                HPos::Left,
                false,
            )?;
            continue;
        }
        if let Some((v, ci)) = r.then {
            let yy = y - 14;
            if let Some((a, b)) = ci {
                root.draw(&PathElement::new(
                    vec![(sc.px(a), yy), (sc.px(b), yy)],
                    ORANGE.stroke_width(3),
                ))?;
            }
            Marker::Ring(ORANGE).draw(root, (sc.px(v), yy))?;
        }
        if let Some((v, ci)) = r.now {
            let yy = y + 14;
            if let Some((a, b)) = ci {
                let (xa, xb) = (sc.px(a), sc.px(b));
                root.draw(&PathElement::new(
                    vec![(xa, yy), (xb, yy)],
                    BLUE.stroke_width(5),
                ))?;
                for x in [xa, xb] {
                    root.draw(&PathElement::new(
                        vec![(x, yy - 10), (x, yy + 10)],
                        BLUE.stroke_width(4),
                    ))?;
                }
            }
            Marker::Dot(BLUE).draw(root, (sc.px(v), yy))?;
        }
        text(root, &r.text, (TEXT_LEFT, y), 23.0, &INK, HPos::Left, false)?;
    }
    Ok(())
}

fn paths<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &Paths) -> Res<DB> {
    legend(
        root,
        &[
            ("This year".to_string(), Marker::Dot(BLUE)),
            ("A year earlier".to_string(), Marker::Ring(ORANGE)),
            ("Target".to_string(), Marker::Triangle(GREEN)),
        ],
        TOP + 12,
    )?;
    let all = p.panels.iter().flat_map(|q| {
        q.now
            .iter()
            .chain(&q.then)
            .chain(&q.target)
            .flatten()
            .copied()
    });
    let (lo, hi) = fitted(all, 0.1);
    let (lo, hi, ts) = ticks(lo, hi);
    let top = TOP + 60;
    let (pw, ph) = (506, 400);
    for (i, panel) in p.panels.iter().enumerate() {
        let (col, row) = ((i % 3) as i32, (i / 3) as i32);
        let x0 = 40 + col * (pw + 14);
        let y0 = top + row * ph;
        let label = fit(root, &panel.title, 24.0, (pw - 20) as u32);
        text(
            root,
            &label,
            (x0 + 4, y0 + 16),
            24.0,
            &INK,
            HPos::Left,
            true,
        )?;
        let (l, r, t, b) = (x0 + 92, x0 + pw - 24, y0 + 46, y0 + ph - 92);
        let sy = Scale { lo, hi, a: b, b: t };
        for &tk in &ts {
            let y = sy.px(tk);
            root.draw(&PathElement::new(
                vec![(l, y), (r, y)],
                GRID.stroke_width(2),
            ))?;
            text(
                root,
                &tick_label(tk),
                (l - 10, y),
                21.0,
                &MUTED,
                HPos::Right,
                false,
            )?;
        }
        let zero = sy.px(0.0f64.clamp(lo, hi));
        root.draw(&PathElement::new(
            vec![(l, zero), (r, zero)],
            INK.stroke_width(2),
        ))?;
        let n = p.windows.len().max(1) as i32;
        let xs: Vec<i32> = (0..n)
            .map(|k| l + 40 + k * (r - l - 80) / (n - 1).max(1))
            .collect();
        for (k, w) in p.windows.iter().enumerate() {
            text(root, w, (xs[k], b + 26), 21.0, &MUTED, HPos::Center, false)?;
        }
        if let Some(note) = &panel.note {
            text(
                root,
                note,
                ((l + r) / 2, (t + b) / 2),
                21.0,
                &MUTED,
                HPos::Center,
                false,
            )?;
            continue;
        }
        let series = [
            (&panel.then, ORANGE, Marker::Ring(ORANGE), true),
            (&panel.target, GREEN, Marker::Triangle(GREEN), true),
            (&panel.now, BLUE, Marker::Dot(BLUE), false),
        ];
        for (vals, color, marker, dashed) in series {
            let pts: Vec<(i32, i32)> = vals
                .iter()
                .enumerate()
                .filter_map(|(k, v)| v.map(|v| (xs[k], sy.px(v))))
                .collect();
            if pts.len() > 1 {
                if dashed {
                    root.draw(&DashedPathElement::new(
                        pts.clone(),
                        10,
                        8,
                        color.stroke_width(3),
                    ))?;
                } else {
                    root.draw(&PathElement::new(pts.clone(), color.stroke_width(4)))?;
                }
            }
            for pt in pts {
                marker.draw(root, pt)?;
            }
        }
    }
    let rows = p.panels.len().div_ceil(3).max(1) as i32;
    text(
        root,
        &p.axis,
        (40, top + rows * ph - 40),
        24.0,
        &INK,
        HPos::Left,
        false,
    )
}

fn histogram<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, h: &Histogram) -> Res<DB> {
    let mut items = vec![("Schools".to_string(), Marker::Square(SKY))];
    if let Some((_, l)) = &h.marker {
        items.push((l.clone(), Marker::Line(INK)));
    }
    legend(root, &items, TOP + 12)?;
    let Bins {
        lo,
        hi,
        step,
        ticks: ts,
        counts,
    } = bins(&h.values);
    let max = counts.iter().copied().max().unwrap_or(1).max(1);
    let sc = Scale {
        lo,
        hi,
        a: 120,
        b: 1540,
    };
    let (top, bottom) = (TOP + 70, TOP + 56 + 470);
    let sy = Scale {
        lo: 0.0,
        hi: max as f64 * 1.15,
        a: bottom,
        b: top,
    };
    x_axis(root, sc, &ts, top, bottom, &h.axis, false)?;
    for (k, c) in counts.iter().enumerate() {
        if *c == 0 {
            continue;
        }
        let (x0, x1) = (
            sc.px(lo + k as f64 * step),
            sc.px(lo + (k + 1) as f64 * step),
        );
        let y = sy.px(*c as f64);
        root.draw(&Rectangle::new(
            [(x0 + 2, y), (x1 - 2, bottom)],
            SKY.filled(),
        ))?;
        text(
            root,
            &c.to_string(),
            ((x0 + x1) / 2, y - 18),
            23.0,
            &INK,
            HPos::Center,
            false,
        )?;
    }
    if let Some((v, l)) = &h.marker {
        let x = sc.px(v.clamp(lo, hi));
        root.draw(&PathElement::new(
            vec![(x, top - 10), (x, bottom)],
            INK.stroke_width(4),
        ))?;
        text(root, l, (x + 10, top - 4), 22.0, &INK, HPos::Left, false)?;
    }
    text(
        root,
        "Number of schools",
        (40, top - 34),
        24.0,
        &MUTED,
        HPos::Left,
        false,
    )
}

/// The bins of a histogram: half a tick step wide, covering the values and 0.
pub struct Bins {
    pub lo: f64,
    pub hi: f64,
    pub step: f64,
    pub ticks: Vec<f64>,
    pub counts: Vec<usize>,
}

pub fn bins(values: &[f64]) -> Bins {
    let (lo, hi) = fitted(values.iter().copied(), 0.02);
    let (lo, hi, ticks) = ticks(lo, hi);
    let step = ticks.get(1).map_or(10.0, |t| t - ticks[0]) / 2.0;
    let nb = (((hi - lo) / step).round() as usize).max(1);
    let mut counts = vec![0usize; nb];
    for v in values {
        let k = (((v - lo) / step).floor().max(0.0) as usize).min(nb - 1);
        counts[k] += 1;
    }
    Bins {
        lo,
        hi,
        step,
        ticks,
        counts,
    }
}

/// Balanced compression: the PNGs are half the size of the fast level's, and a district's
/// thousands of charts write faster for it.
fn encode_png(rgb: &[u8], w: u32, h: u32) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(rgb.len() / 8);
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        // Adaptive row filters with light zlib compression: within a few percent of the
        // default level's size at well under its time (2,700 charts a night).
        enc.set_compression(png::Compression::Balanced);
        enc.set_deflate_compression(png::DeflateCompression::Level(2));
        let mut writer = enc.write_header()?;
        writer.write_image_data(rgb)?;
    }
    Ok(out)
}

/// The SVG with each run of consecutive opaque polylines of one style drawn as one path of
/// as many pieces. plotters writes a dashed line as one polyline per dash, and a gap's path
/// chart has some 200 of them; every element costs the PDF's typesetting and the HTML's
/// bytes. Stroking the pieces of one path at full opacity covers exactly the pixels the
/// separate lines did. Reads the polylines plotters writes, one per line:
/// `<polyline fill="none" opacity="1" stroke="…" stroke-width="…" points="x,y x,y …"/>`.
pub fn join_strokes(svg: &str) -> String {
    const OPEN: &str = "<polyline fill=\"none\" opacity=\"1\" ";
    let mut out = String::with_capacity(svg.len());
    // The style of the run being joined, and its path so far.
    let mut run: Option<(&str, String)> = None;
    let finish = |run: &mut Option<(&str, String)>, out: &mut String| {
        if let Some((style, d)) = run.take() {
            out.push_str(&format!(
                "<path fill=\"none\" opacity=\"1\" {style}d=\"{d}\"/>\n"
            ));
        }
    };
    for line in svg.split_inclusive('\n') {
        let piece = line
            .trim_end()
            .strip_prefix(OPEN)
            .and_then(|rest| rest.strip_suffix("\"/>"))
            .and_then(|rest| rest.split_once("points=\""))
            .filter(|(style, _)| !style.contains('<') && !style.contains("points"));
        let Some((style, points)) = piece else {
            finish(&mut run, &mut out);
            out.push_str(line);
            continue;
        };
        let mut d = String::new();
        for (k, point) in points.split_whitespace().enumerate() {
            d.push_str(if k == 0 { "M" } else { " L" });
            d.push_str(point);
        }
        match &mut run {
            Some((s, path)) if *s == style => {
                path.push(' ');
                path.push_str(&d);
            }
            _ => {
                finish(&mut run, &mut out);
                run = Some((style, d));
            }
        }
    }
    finish(&mut run, &mut out);
    out
}

/// A standalone SVG that scales to its container and carries its title and description.
fn accessible_svg(svg: &str, title: &str, alt: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let Some(end) = svg.find('>') else {
        return svg.to_string();
    };
    let (open, rest) = svg.split_at(end);
    format!(
        "{open} role=\"img\" aria-label=\"{}\"><title>{}</title><desc>{}</desc>{}",
        esc(alt),
        esc(title),
        esc(alt),
        &rest[1..]
    )
}

/// One text of a chart's SVG, for the PDF to set as its own text over the drawing.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Label {
    pub x: f64,
    pub y: f64,
    /// `start`, `middle` or `end`: which end of the text is at `x`.
    pub anchor: String,
    pub size: f64,
    pub fill: String,
    pub bold: bool,
    pub italic: bool,
    pub text: String,
}

/// A chart's SVG without its texts, and the texts. The PDF draws the chart from the first and
/// sets the second in Typst: text inside an SVG image is shaped and outlined glyph by glyph for
/// every packet, which was half of a packet's typesetting time, while Typst's own text is set
/// once per word and stays text (selectable, searchable) in the PDF. The HTML keeps the whole
/// SVG. Reads the texts plotters writes: `<text x y dy="0.5ex" text-anchor font-family
/// font-size opacity fill [font-weight] [font-style]>…</text>`, one line each.
pub fn text_apart(svg: &str) -> (String, Vec<Label>) {
    let mut drawing = String::with_capacity(svg.len());
    let mut labels = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find("<text ") {
        let Some(open_end) = rest[start..].find('>').map(|i| start + i) else {
            break;
        };
        let Some(close) = rest[open_end..].find("</text>").map(|i| open_end + i) else {
            break;
        };
        let attrs = &rest[start + 6..open_end];
        let attr = |name: &str| -> Option<&str> {
            let key = format!("{name}=\"");
            let at = attrs.find(&key)? + key.len();
            attrs[at..].find('"').map(|end| &attrs[at..at + end])
        };
        let num = |name: &str| attr(name).and_then(|v| v.parse::<f64>().ok());
        match (num("x"), num("y"), num("font-size")) {
            (Some(x), Some(y), Some(size)) => {
                drawing.push_str(&rest[..start]);
                labels.push(Label {
                    x,
                    y,
                    anchor: attr("text-anchor").unwrap_or("start").to_string(),
                    size,
                    fill: attr("fill").unwrap_or("#000000").to_string(),
                    bold: attr("font-weight").is_some_and(|w| w == "bold" || w == "700"),
                    italic: attr("font-style").is_some_and(|s| s == "italic"),
                    // As an SVG viewer shows it: the whitespace around the text and any
                    // run of it inside collapse (plotters writes a newline on each side).
                    text: unescape(&rest[open_end + 1..close])
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                });
            }
            // Anything else stays in the drawing.
            _ => drawing.push_str(&rest[..close + 7]),
        }
        rest = &rest[close + 7..];
    }
    drawing.push_str(rest);
    (drawing, labels)
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}
