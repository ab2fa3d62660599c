//! `--plot FILE.svg|png`: one panel per policy on a shared time axis, each
//! showing the offered load (arrivals times mean service time over
//! concurrency: the agents the arrivals keep busy), the agents that exist,
//! and the backlog on a second axis.
//!
//! Text needs a font only for the bitmap backend; a DejaVu Sans file is
//! bundled (`src/sim/fonts`, Bitstream Vera licence) so no system font
//! library is needed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::Error;

/// The series of one policy.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Policy name, and its headline figures for the panel title.
    pub title: String,
    /// Mean agents alive per bucket.
    pub agents: Vec<f32>,
    /// Mean backlog per bucket.
    pub backlog: Vec<f32>,
}

/// What a plot shows.
#[derive(Debug, Clone)]
pub struct Figure {
    /// Trace name, for the title.
    pub trace: String,
    /// Bucket width, seconds.
    pub bucket: f64,
    /// Offered load per bucket, in agents.
    pub load: Vec<f32>,
    /// One panel per policy.
    pub panels: Vec<Panel>,
}

static FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

pub(super) fn register_font() {
    REGISTER.call_once(|| {
        // The bundled file is a valid TrueType font; should registration
        // ever fail, text is simply not drawn in PNGs.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Draws `fig` to `path`; the extension picks SVG or PNG.
pub fn draw(fig: &Figure, path: &Path) -> Result<(), Error> {
    register_font();
    let n = fig.panels.len().max(1) as u32;
    let size = (1200u32, 60 + 170 * n);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let fail = |e: String| Error::Plot {
        path: path.to_path_buf(),
        message: e,
    };
    match ext.as_deref() {
        Some("svg") => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            paint(fig, &root).map_err(fail)?;
            root.present().map_err(|e| fail(e.to_string()))
        }
        Some("png") => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            paint(fig, &root).map_err(fail)?;
            root.present().map_err(|e| fail(e.to_string()))
        }
        _ => Err(fail("the plot file must end in .svg or .png".into())),
    }
}

/// The time unit that keeps axis labels short.
fn unit(total: f64) -> (f64, &'static str) {
    if total > 4.0 * 3600.0 {
        (3600.0, "hours")
    } else if total > 600.0 {
        (60.0, "minutes")
    } else {
        (1.0, "seconds")
    }
}

fn paint<DB: DrawingBackend>(fig: &Figure, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (title, body) = root.split_vertically(50);
    title
        .titled(
            &format!(
                "{}: offered load (grey, agents), agents (blue), backlog (red, right axis)",
                fig.trace
            ),
            ("sans-serif", 20),
        )
        .map_err(e)?;
    let len = fig
        .panels
        .iter()
        .map(|p| p.agents.len())
        .chain([fig.load.len()])
        .max()
        .unwrap_or(0);
    let total = len as f64 * fig.bucket;
    let (div, uname) = unit(total);
    let x_max = (total / div).max(1e-3);
    let y_max = fig
        .panels
        .iter()
        .flat_map(|p| p.agents.iter())
        .chain(fig.load.iter())
        .fold(1.0f32, |a, &b| a.max(b)) as f64
        * 1.05;
    let areas = body.split_evenly((fig.panels.len().max(1), 1));
    for (i, (panel, area)) in fig.panels.iter().zip(areas.iter()).enumerate() {
        let b_max = panel.backlog.iter().fold(1.0f32, |a, &b| a.max(b)) as f64 * 1.05;
        let last = i + 1 == fig.panels.len();
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 15))
            .margin(6)
            .x_label_area_size(if last { 30 } else { 14 })
            .y_label_area_size(50)
            .right_y_label_area_size(60)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(e)?
            .set_secondary_coord(0.0..x_max, 0.0..b_max);
        chart
            .configure_mesh()
            .x_desc(if last { uname } else { "" })
            .y_desc("agents")
            .x_labels(12)
            .y_labels(4)
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(e)?;
        chart
            .configure_secondary_axes()
            .y_desc("backlog")
            .y_labels(4)
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(e)?;
        let xs = |j: usize| (j as f64 + 0.5) * fig.bucket / div;
        chart
            .draw_series(LineSeries::new(
                fig.load
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| (xs(j), f64::from(v))),
                RGBColor(150, 150, 150).stroke_width(1),
            ))
            .map_err(e)?;
        chart
            .draw_secondary_series(LineSeries::new(
                panel
                    .backlog
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| (xs(j), f64::from(v))),
                RED.stroke_width(1),
            ))
            .map_err(e)?;
        chart
            .draw_series(LineSeries::new(
                panel
                    .agents
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| (xs(j), f64::from(v))),
                BLUE.stroke_width(2),
            ))
            .map_err(e)?;
    }
    Ok(())
}
