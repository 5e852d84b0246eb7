//! A line chart drawn with plotters on a canvas as wide as its container, with an HTML
//! legend and a text summary for screen readers.

use std::rc::Rc;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_canvas::CanvasBackend;
use wasm_bindgen::JsValue;
use web_sys::HtmlCanvasElement;
use yew::prelude::*;

use crate::colormap::css;
use crate::format::short;

/// Canvas width limits in pixels; the canvas takes its container's width in between.
const MIN_WIDTH: u32 = 240;
const MAX_WIDTH: u32 = 640;
const HEIGHT: u32 = 230;

/// The line style of a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stroke {
    /// A 1-pixel line, for noisy per-step values.
    Thin,
    /// A 2-pixel line.
    Line,
    /// A 2-pixel line with a dot at each point, for sparse values.
    Dots,
    /// A 2-pixel line at one third opacity, for a reference run.
    Faint,
}

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub colour: (u8, u8, u8),
    pub stroke: Stroke,
    pub points: Vec<(f64, f64)>,
    /// Whether the legend lists it; reference lines share one legend entry.
    pub in_legend: bool,
}

/// The Okabe–Ito colours (Masataka Okabe and Kei Ito, "Color Universal Design", 2008),
/// which colour-blind readers can tell apart, without yellow, which is faint on white.
pub const PALETTE: [(u8, u8, u8); 7] = [
    (0x00, 0x72, 0xb2),
    (0xe6, 0x9f, 0x00),
    (0x00, 0x9e, 0x73),
    (0xd5, 0x5e, 0x00),
    (0xcc, 0x79, 0xa7),
    (0x56, 0xb4, 0xe9),
    (0x00, 0x00, 0x00),
];

#[derive(Properties, PartialEq)]
pub struct ChartProps {
    pub title: AttrValue,
    pub series: Rc<Vec<Series>>,
    pub x_label: AttrValue,
    pub y_label: AttrValue,
    /// Plot log10 of the values; values ≤ 0 or non-finite leave a gap.
    #[prop_or_default]
    pub log_y: bool,
    /// A fixed y range; without it the range fits the values.
    #[prop_or_default]
    pub y_range: Option<(f64, f64)>,
    /// The x axis runs from 0 to at least this value, so that charts of one run share it.
    #[prop_or_default]
    pub x_max: f64,
    /// The text alternative of the canvas.
    pub summary: AttrValue,
    /// A hidden chart is not drawn; it draws when it becomes visible.
    pub visible: bool,
    #[prop_or_default]
    pub note: Option<AttrValue>,
}

#[component]
pub fn Chart(props: &ChartProps) -> Html {
    let canvas = use_node_ref();
    {
        let canvas = canvas.clone();
        let deps = (
            props.series.clone(),
            props.log_y,
            props.y_range.map(|(a, b)| (a.to_bits(), b.to_bits())),
            props.visible,
            props.x_label.clone(),
            props.y_label.clone(),
            props.x_max.to_bits(),
        );
        use_effect_with(
            deps,
            move |(series, log_y, y_range, visible, x_label, y_label, x_max)| {
                if !*visible {
                    return;
                }
                let Some(element) = canvas.cast::<HtmlCanvasElement>() else {
                    return;
                };
                let y_range = y_range.map(|(a, b)| (f64::from_bits(a), f64::from_bits(b)));
                let axes = Axes {
                    x_label,
                    y_label,
                    log_y: *log_y,
                    y_range,
                    x_max: f64::from_bits(*x_max),
                };
                if let Err(message) = draw(element, series, &axes) {
                    web_sys::console::error_1(&JsValue::from_str(&message));
                }
            },
        );
    }
    let legend = props.series.iter().filter(|s| s.in_legend).map(|s| {
        let style = format!("background: {};", css(s.colour));
        let class = classes!("swatch", (s.stroke == Stroke::Faint).then_some("faint"));
        html! { <li><span {class} {style} aria-hidden="true"></span>{ s.name.clone() }</li> }
    });
    html! {
        <figure class="chart">
            <figcaption>{ props.title.clone() }</figcaption>
            <canvas ref={canvas} width={MAX_WIDTH.to_string()} height={HEIGHT.to_string()} role="img" aria-label={props.summary.clone()} />
            <ul class="chart-legend">{ for legend }</ul>
            if let Some(note) = &props.note {
                <p class="hint">{ note.clone() }</p>
            }
        </figure>
    }
}

/// Runs of drawable points of one series.
type Segments = Vec<Vec<(f64, f64)>>;

struct Axes<'a> {
    x_label: &'a str,
    y_label: &'a str,
    log_y: bool,
    y_range: Option<(f64, f64)>,
    x_max: f64,
}

/// Smallest x range in steps, so that a chart of a few steps still has integer ticks.
const MIN_X_RANGE: f64 = 10.0;

/// Returns the y range and ticks of a log-scale axis over log10 values from `low` to
/// `high`: whole decades, at least one, so that the ticks fall on powers of 10.
pub fn decades(low: f64, high: f64) -> ((f64, f64), Vec<f64>) {
    let bottom = low.floor();
    let top = high.ceil().max(bottom + 1.0);
    let ticks = (bottom as i64..=top as i64).map(|e| e as f64).collect();
    ((bottom, top), ticks)
}

/// Splits `points` into runs of drawable points: with `log_y`, y becomes log10(y), and a
/// point with y ≤ 0 ends a run, as does any non-finite value.
pub fn segments(points: &[(f64, f64)], log_y: bool) -> Segments {
    let mut runs = vec![Vec::new()];
    for &(x, y) in points {
        let y = if log_y {
            if y > 0.0 {
                y.log10()
            } else {
                f64::NAN
            }
        } else {
            y
        };
        if x.is_finite() && y.is_finite() {
            runs.last_mut().expect("never empty").push((x, y));
        } else if !runs.last().expect("never empty").is_empty() {
            runs.push(Vec::new());
        }
    }
    runs.retain(|run| !run.is_empty());
    runs
}

/// Returns the smallest and largest value of `values`, padded by 4% of the span, or
/// widened by 0.5 on each side when they are equal.
pub fn padded_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !(low.is_finite() && high.is_finite()) {
        return None;
    }
    if high - low < 1e-12 {
        return Some((low - 0.5, high + 0.5));
    }
    let pad = (high - low) * 0.04;
    Some((low - pad, high + pad))
}

fn draw(canvas: HtmlCanvasElement, series: &[Series], axes: &Axes) -> Result<(), String> {
    // A canvas in a hidden container has no width; it is drawn once it is shown.
    let available = canvas
        .parent_element()
        .map_or(0, |parent| parent.client_width());
    if available <= 0 {
        return Ok(());
    }
    let width = (available as u32).clamp(MIN_WIDTH, MAX_WIDTH);
    canvas.set_width(width);
    canvas.set_height(HEIGHT);
    let failed = |e: DrawingAreaErrorKind<_>| format!("drawing a chart failed: {e}");
    let backend = CanvasBackend::with_canvas_object(canvas)
        .ok_or("drawing a chart failed: the canvas has no 2-D context")?;
    let root = backend.into_drawing_area();
    root.fill(&WHITE).map_err(failed)?;

    let runs: Vec<(&Series, Segments)> = series
        .iter()
        .map(|s| (s, segments(&s.points, axes.log_y)))
        .collect();
    let all = || runs.iter().flat_map(|(_, r)| r.iter().flatten());
    let (Some(x_fitted), Some(fitted)) = (
        padded_range(all().map(|p| p.0)),
        padded_range(all().map(|p| p.1)),
    ) else {
        let style = ("sans-serif", 14).into_font().color(&RGBColor(85, 85, 85));
        root.draw_text("No values yet.", &style, (12, 12))
            .map_err(failed)?;
        return root.present().map_err(failed);
    };
    let (y_range, y_ticks) = match (axes.y_range, axes.log_y) {
        (Some(range), _) => (range, ticks(range.0, range.1, TICKS)),
        (None, true) => decades(fitted.0, fitted.1),
        (None, false) => (fitted, ticks(fitted.0, fitted.1, TICKS)),
    };
    let x_range = (0.0, x_fitted.1.max(axes.x_max).max(MIN_X_RANGE));
    let plot = Frame {
        left: LEFT,
        right: width as i32 - RIGHT,
        top: TOP,
        bottom: HEIGHT as i32 - BOTTOM,
        x_range,
        y_range,
    };

    // Grid lines with their labels, then the axes.
    let grid = RGBColor(232, 232, 232);
    let label = ("sans-serif", 12).into_font().color(&RGBColor(60, 60, 60));
    for x in ticks(x_range.0, x_range.1, TICKS) {
        let px = plot.x(x);
        let line = PathElement::new(vec![(px, plot.top), (px, plot.bottom)], grid);
        root.draw(&line).map_err(failed)?;
        let anchored = label.pos(Pos::new(HPos::Center, VPos::Top));
        root.draw_text(
            &format!("{}", x.round() as i64),
            &anchored,
            (px, plot.bottom + 4),
        )
        .map_err(failed)?;
    }
    for y in y_ticks {
        let py = plot.y(y);
        let line = PathElement::new(vec![(plot.left, py), (plot.right, py)], grid);
        root.draw(&line).map_err(failed)?;
        let text = if axes.log_y {
            short(10f64.powf(y))
        } else {
            short(y)
        };
        let anchored = label.pos(Pos::new(HPos::Right, VPos::Center));
        root.draw_text(&text, &anchored, (plot.left - 5, py))
            .map_err(failed)?;
    }
    let axis = vec![
        (plot.left, plot.top),
        (plot.left, plot.bottom),
        (plot.right, plot.bottom),
    ];
    root.draw(&PathElement::new(axis, BLACK)).map_err(failed)?;
    let title = ("sans-serif", 13).into_font().color(&BLACK);
    let below = title.pos(Pos::new(HPos::Center, VPos::Bottom));
    let middle = (plot.left + plot.right) / 2;
    root.draw_text(axes.x_label, &below, (middle, HEIGHT as i32 - 2))
        .map_err(failed)?;
    let beside = title
        .transform(FontTransform::Rotate270)
        .pos(Pos::new(HPos::Center, VPos::Top));
    root.draw_text(axes.y_label, &beside, (2, (plot.top + plot.bottom) / 2))
        .map_err(failed)?;

    // Reference lines first, so that the current run is drawn over them.
    let mut ordered: Vec<_> = runs.iter().collect();
    ordered.sort_by_key(|(s, _)| s.stroke != Stroke::Faint);
    for (series, segments) in ordered {
        let (r, g, b) = series.colour;
        let colour = RGBColor(r, g, b);
        let style = match series.stroke {
            Stroke::Thin => colour.stroke_width(1),
            Stroke::Line | Stroke::Dots => colour.stroke_width(2),
            Stroke::Faint => colour.mix(0.35).stroke_width(2),
        };
        for segment in segments {
            let pixels: Vec<(i32, i32)> = segment.iter().map(|&p| plot.pixel(p)).collect();
            if series.stroke == Stroke::Dots {
                for &centre in &pixels {
                    root.draw(&Circle::new(centre, 3, colour.filled()))
                        .map_err(failed)?;
                }
            }
            root.draw(&PathElement::new(pixels, style))
                .map_err(failed)?;
        }
    }
    root.present().map_err(failed)
}

/// Room around the plot for the labels, in pixels.
const LEFT: i32 = 62;
const RIGHT: i32 = 14;
const TOP: i32 = 10;
const BOTTOM: i32 = 38;
/// Approximate number of ticks on a linear axis.
const TICKS: usize = 6;

/// The plot rectangle in canvas pixels and the value ranges it shows.
struct Frame {
    left: i32,
    right: i32,
    top: i32,
    bottom: i32,
    x_range: (f64, f64),
    y_range: (f64, f64),
}

impl Frame {
    fn x(&self, x: f64) -> i32 {
        let (low, high) = self.x_range;
        let t = ((x - low) / (high - low)).clamp(0.0, 1.0);
        self.left + (t * (self.right - self.left) as f64).round() as i32
    }

    fn y(&self, y: f64) -> i32 {
        let (low, high) = self.y_range;
        let t = ((y - low) / (high - low)).clamp(0.0, 1.0);
        self.bottom - (t * (self.bottom - self.top) as f64).round() as i32
    }

    fn pixel(&self, (x, y): (f64, f64)) -> (i32, i32) {
        (self.x(x), self.y(y))
    }
}

/// Returns about `count` round tick values from `low` to `high`: multiples of 1, 2 or 5
/// times a power of 10.
pub fn ticks(low: f64, high: f64, count: usize) -> Vec<f64> {
    let span = high - low;
    if !(span.is_finite() && span > 0.0) || count == 0 {
        return Vec::new();
    }
    let raw = span / count as f64;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * power);
    let first = (low / step).ceil() as i64;
    let last = (high / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_split_at_gaps() {
        let points = [(1.0, 10.0), (2.0, 0.0), (3.0, 100.0), (4.0, 1000.0)];
        assert_eq!(
            segments(&points, true),
            vec![vec![(1.0, 1.0)], vec![(3.0, 2.0), (4.0, 3.0)]]
        );
        assert_eq!(segments(&points, false).len(), 1);
        assert_eq!(
            segments(&[(1.0, f64::NAN), (2.0, 1.0)], false),
            vec![vec![(2.0, 1.0)]]
        );
        assert!(segments(&[], false).is_empty());
    }

    #[test]
    fn decades_cover_whole_powers_of_ten() {
        assert_eq!(
            decades(-1.3, 0.4),
            ((-2.0, 1.0), vec![-2.0, -1.0, 0.0, 1.0])
        );
        assert_eq!(decades(0.2, 0.3), ((0.0, 1.0), vec![0.0, 1.0]));
        assert_eq!(decades(-3.0, -1.0).1.len(), 3);
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(
            ticks(0.0, 100.0, 6),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(ticks(0.0, 1500.0, 6), vec![0.0, 500.0, 1000.0, 1500.0]);
        assert_eq!(ticks(-0.1, 2.4, 6), vec![0.0, 0.5, 1.0, 1.5, 2.0]);
        assert!(ticks(1.0, 1.0, 6).is_empty());
    }

    #[test]
    fn padded_range_widens_flat_values() {
        assert_eq!(padded_range([2.0, 2.0].into_iter()), Some((1.5, 2.5)));
        let (low, high) = padded_range([0.0, 10.0].into_iter()).unwrap();
        assert!((low + 0.4).abs() < 1e-12, "{low}");
        assert!((high - 10.4).abs() < 1e-12, "{high}");
        assert_eq!(padded_range(std::iter::empty()), None);
    }
}
