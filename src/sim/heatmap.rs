//! The robustness matrix as a heat map: one row per trace, one column per
//! cold start and concurrency; each cell, over the seeds, the worst ratio
//! of jetpool's agent time to the cheapest peer meeting the SLO (green:
//! every seed passes; red: one fails), or, where no policy meets the SLO,
//! jetpool's attainment minus the best peer's in percentage points.

use std::path::Path;

use plotters::prelude::*;

use super::Error;
use super::matrix::Cell;

/// One square of the map: its label and whether every seed passed.
struct Square {
    label: String,
    passed: bool,
}

/// Sums the seeds of one (trace, cold start, k) into a square.
fn square(cells: &[&Cell]) -> Square {
    let passed = cells.iter().all(|c| c.verdict.passed());
    let worst = cells
        .iter()
        .filter_map(|c| c.cost_over_peer())
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
    let missed = cells
        .iter()
        .any(|c| c.jetpool.slo_attainment < super::report::BAR);
    let label = match worst {
        Some(r) if missed && cells.iter().all(|c| c.cheapest.is_some()) => format!("miss x{r:.3}"),
        Some(r) => format!("x{r:.3}"),
        None => {
            let gap = cells
                .iter()
                .map(|c| {
                    let top = c.top.as_ref().map_or(0.0, |t| t.slo_attainment);
                    (c.jetpool.slo_attainment - top) * 100.0
                })
                .fold(f64::INFINITY, f64::min);
            format!("{gap:+.1}pp")
        }
    };
    Square { label, passed }
}

/// Left margin, top margin, cell width and height, pixels.
const GEOMETRY: (i32, i32, i32, i32) = (170, 90, 118, 34);

/// Draws the map of `cells` to `path` (`.svg` or `.png`).
pub fn draw(cells: &[Cell], path: &Path) -> Result<(), Error> {
    let mut traces: Vec<&str> = Vec::new();
    let mut columns: Vec<(&str, u32)> = Vec::new();
    for c in cells {
        if !traces.contains(&c.trace.as_str()) {
            traces.push(&c.trace);
        }
        if !columns.contains(&(c.cold.as_str(), c.k)) {
            columns.push((&c.cold, c.k));
        }
    }
    let (left, top, w, h) = GEOMETRY;
    let size = (
        (left + w * columns.len() as i32 + 20) as u32,
        (top + h * traces.len() as i32 + 50) as u32,
    );
    let fail = |m: String| Error::Plot {
        path: path.to_path_buf(),
        message: m,
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("svg") => paint(
            &SVGBackend::new(path, size).into_drawing_area(),
            cells,
            &traces,
            &columns,
        )
        .map_err(fail),
        Some("png") => {
            super::plot::register_font();
            paint(
                &BitMapBackend::new(path, size).into_drawing_area(),
                cells,
                &traces,
                &columns,
            )
            .map_err(fail)
        }
        _ => Err(fail("the heat map file must end in .svg or .png".into())),
    }
}

/// Paints the map on `root`.
fn paint<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    cells: &[Cell],
    traces: &[&str],
    columns: &[(&str, u32)],
) -> Result<(), String> {
    let (left, top, w, h) = GEOMETRY;
    let e = |x: DrawingAreaErrorKind<_>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let font = ("sans-serif", 14).into_font();
    root.draw(&Text::new(
        "jetpool's agent time / cheapest peer meeting the SLO (worst seed); pp: attainment vs best peer where none meets",
        (10, 12),
        ("sans-serif", 15).into_font(),
    ))
    .map_err(e)?;
    for (j, (cold, k)) in columns.iter().enumerate() {
        let x = left + w * j as i32 + 4;
        let short = cold
            .split(',')
            .next()
            .unwrap_or(cold)
            .replace("lognormal:", "ln:");
        root.draw(&Text::new(short, (x, top - 38), font.clone()))
            .map_err(e)?;
        root.draw(&Text::new(format!("k={k}"), (x, top - 20), font.clone()))
            .map_err(e)?;
    }
    for (i, t) in traces.iter().enumerate() {
        let y = top + h * i as i32;
        root.draw(&Text::new(t.to_string(), (10, y + 10), font.clone()))
            .map_err(e)?;
        for (j, (cold, k)) in columns.iter().enumerate() {
            let group: Vec<&Cell> = cells
                .iter()
                .filter(|c| c.trace == *t && c.cold == *cold && c.k == *k)
                .collect();
            if group.is_empty() {
                continue;
            }
            let sq = square(&group);
            let x = left + w * j as i32;
            let color = if sq.passed {
                RGBColor(190, 235, 190)
            } else {
                RGBColor(245, 185, 185)
            };
            root.draw(&Rectangle::new(
                [(x, y), (x + w - 3, y + h - 3)],
                color.filled(),
            ))
            .map_err(e)?;
            root.draw(&Text::new(sq.label, (x + 8, y + 9), font.clone()))
                .map_err(e)?;
        }
    }
    root.present().map_err(|x| x.to_string())
}
