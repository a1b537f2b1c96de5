//! Grouped bar charts as inline SVG: one group of bars per category (a month), one bar per
//! series (gross, net, …), a zero line, a labelled value axis and a legend. Amounts are integer
//! micros and stay integers up to the pixel; every text is escaped.

use super::page::{amount, escape};

/// Width of the drawing, in SVG units (it scales to the page's width).
pub const WIDTH: i64 = 720;
/// Height of the drawing.
pub const HEIGHT: i64 = 280;
const LEFT: i64 = 90;
const RIGHT: i64 = 16;
const TOP: i64 = 16;
const BOTTOM: i64 = 64;
/// The widest a bar is drawn (a chart of one month is not one slab).
const MAX_BAR_WIDTH: i64 = 56;

/// One series of bars: its name and colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// Shown in the legend and the bars' titles.
    pub name: String,
    /// A CSS colour (`#2563eb`).
    pub colour: &'static str,
}

/// A bar chart of amounts in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarChart {
    /// What the chart shows (the SVG's accessible name).
    pub title: String,
    /// The currency of every value.
    pub currency: String,
    /// The series, in bar order.
    pub series: Vec<Series>,
    /// Each category's label and its values in micros, one per series.
    pub categories: Vec<(String, Vec<i64>)>,
}

impl BarChart {
    /// Whether any bar would have a height.
    pub fn is_empty(&self) -> bool {
        self.categories
            .iter()
            .all(|(_, values)| values.iter().all(|v| *v == 0))
    }

    /// The chart as an `<svg>` element.
    pub fn svg(&self) -> String {
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let values = self.categories.iter().flat_map(|(_, v)| v.iter().copied());
        let max = values.clone().max().unwrap_or(0).max(0);
        let min = values.min().unwrap_or(0).min(0);
        let step = nice_step(max.saturating_sub(min));
        let top = round_up(max, step);
        let bottom = -round_up(min.saturating_neg(), step);
        let span = (top - bottom).max(1);
        // The y of an amount: integer arithmetic in i128, no overflow, no floats.
        let y = |v: i64| -> i64 {
            let offset = i128::from(top - v) * i128::from(plot_h) / i128::from(span);
            TOP + i64::try_from(offset).unwrap_or(0)
        };
        let mut out = format!(
            "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
             role=\"img\" aria-label=\"{}\"><title>{}</title>",
            escape(&self.title),
            escape(&self.title)
        );
        // The value axis: a line and a label every step.
        let mut tick = bottom;
        while tick <= top {
            let ty = y(tick);
            let class = if tick == 0 { "zero" } else { "grid" };
            out.push_str(&format!(
                "<line class=\"{class}\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{ty}\" y2=\"{ty}\"/>\
                 <text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                WIDTH - RIGHT,
                LEFT - 6,
                ty + 4,
                escape(&tick_label(tick, step))
            ));
            tick += step;
        }
        let groups = i64::try_from(self.categories.len().max(1)).unwrap_or(1);
        let bars = i64::try_from(self.series.len().max(1)).unwrap_or(1);
        let group_w = plot_w / groups;
        let gap = (group_w / 5).max(1);
        let bar_w = ((group_w - gap) / bars).clamp(1, MAX_BAR_WIDTH);
        let content_w = bar_w * bars;
        let zero = y(0);
        for (g, (label, values)) in (0_i64..).zip(&self.categories) {
            let x0 = LEFT + g * group_w + (group_w - content_w) / 2;
            for (b, (series, value)) in (0_i64..).zip(self.series.iter().zip(values)) {
                let vy = y(*value);
                let (bar_y, bar_h) = if vy < zero {
                    (vy, zero - vy)
                } else {
                    (zero, vy - zero)
                };
                out.push_str(&format!(
                    "<rect class=\"bar\" x=\"{}\" y=\"{bar_y}\" width=\"{bar_w}\" height=\"{bar_h}\" \
                     fill=\"{}\"><title>{} {}: {} {}</title></rect>",
                    x0 + b * bar_w,
                    series.colour,
                    escape(label),
                    escape(&series.name),
                    amount(*value),
                    escape(&self.currency)
                ));
            }
            out.push_str(&format!(
                "<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x0 + content_w / 2,
                HEIGHT - BOTTOM + 18,
                escape(label)
            ));
        }
        // The legend, under the labels.
        let mut x = LEFT;
        for series in &self.series {
            out.push_str(&format!(
                "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
                 <text class=\"legend\" x=\"{}\" y=\"{}\">{} ({})</text>",
                HEIGHT - 22,
                series.colour,
                x + 16,
                HEIGHT - 12,
                escape(&series.name),
                escape(&self.currency)
            ));
            x += 24 + 9 * i64::try_from(series.name.len() + self.currency.len() + 3).unwrap_or(0);
        }
        out.push_str("</svg>");
        out
    }
}

/// A round step (1, 2 or 5 times a power of ten, in micros of at least 0.01) dividing `range`
/// into at most about five parts.
pub fn nice_step(range: i64) -> i64 {
    let mut step: i64 = 10_000;
    loop {
        for factor in [1, 2, 5] {
            let candidate = step.saturating_mul(factor);
            if range / candidate <= 5 {
                return candidate;
            }
        }
        step = step.saturating_mul(10);
    }
}

fn round_up(value: i64, step: i64) -> i64 {
    if value <= 0 {
        return 0;
    }
    let whole = value / step + i64::from(value % step != 0);
    whole.saturating_mul(step)
}

/// An axis label: whole units when the step is, the decimals the step needs otherwise.
fn tick_label(micros: i64, step: i64) -> String {
    if step % 1_000_000 == 0 {
        (micros / 1_000_000).to_string()
    } else {
        amount(micros)
    }
}
