//! The patterns view (`p`): every conversation that shows one of the lesson's patterns, one
//! row each, on one time axis: the lesson's pictures of polling, long polling, streaming and
//! WebSocket, drawn from the traffic itself.
//!
//! A row is the conversation's label (pattern and request target), its timeline, and the
//! figures that classified it (medians). In the timeline `↑` is a request (or a client's
//! WebSocket message), `↓` an answer, a streamed chunk or a server's message, `↕` both in one
//! cell; gaps are the client waiting; `━` is the server holding a request, `─` a response
//! still streaming, `█` an open WebSocket. By default every row starts at its own first
//! request, on one scale shared by all rows, so the shapes compare side by side; `t` switches
//! to capture time (every row on the capture's clock, to see what ran at the same time).
//!
//! Only the rows on screen are drawn; the conversations come from the timeline's
//! [`crate::pattern::PatternDetector`], classified as events arrive.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Widget;
use unicode_width::UnicodeWidthStr;

use crate::model::{Dir, Pattern, PatternReport};
use crate::pattern::Conversation;
use crate::tui::app::{App, PlayState};
use crate::tui::label;
use crate::tui::theme::Theme;
use crate::tui::timeline::Class;
use crate::tui::ui::{fit, put};

/// From this width on, the figures sit at the end of each row; below it, on a second line.
pub const WIDE_MIN: u16 = 110;
/// Rows of the title and the time axis above the conversations.
const HEAD_ROWS: u16 = 2;

/// The short name the connections list and this view use.
pub fn short_name(p: Pattern) -> &'static str {
    match p {
        Pattern::ShortPolling => "polling",
        Pattern::LongPolling => "long-poll",
        Pattern::Streaming => "stream",
        Pattern::Websocket => "WebSocket",
    }
}

/// The conversations the view lists: those that show a pattern, in order of first request.
pub fn rows(app: &App) -> Vec<&Conversation> {
    app.timeline
        .patterns()
        .conversations()
        .filter(|c| c.report.is_some())
        .collect()
}

/// Lines each of `n` conversations takes in `area`: two on narrow screens (the figures go
/// under the timeline), and on wide ones when all fit with a blank line between them.
fn lines_per_row(area: Rect, n: usize) -> u16 {
    if area.width < WIDE_MIN || list_lines(area) as usize >= 2 * n {
        2
    } else {
        1
    }
}

/// Lines between the axis and the legend.
fn list_lines(area: Rect) -> u16 {
    area.height
        .saturating_sub(HEAD_ROWS)
        .saturating_sub(legend_lines(area))
}

/// The legend, as (glyph, meaning) pairs.
const LEGEND: [(&str, &str); 7] = [
    ("↑", "request / client message"),
    ("↓", "answer, chunk / server message"),
    ("↕", "both"),
    ("━", "server holding"),
    ("─", "streaming"),
    ("█", "WebSocket open"),
    ("", "figures: medians"),
];

/// Lines of legend under the rows in an area of this size.
fn legend_lines(area: Rect) -> u16 {
    if area.height < 8 {
        0
    } else if legend_width() + 2 <= usize::from(area.width) {
        1
    } else {
        2
    }
}

fn legend_width() -> usize {
    LEGEND.iter().map(|(g, what)| legend_item(g, what)).sum()
}

/// Columns of one legend item: ` ↑ what `.
fn legend_item(glyph: &str, what: &str) -> usize {
    1 + glyph.width() + usize::from(!glyph.is_empty()) + what.width() + 1
}

/// How many of `n` conversations fit in `area` (the screen inside its border).
pub fn list_height(area: Rect, n: usize) -> u16 {
    list_lines(area) / lines_per_row(area, n)
}

/// The row under screen line `y`, if any.
pub fn row_at(app: &App, y: u16) -> Option<usize> {
    let area = app.areas().inner;
    let p = app.patterns?;
    let n = rows(app).len();
    let first = area.y.saturating_add(HEAD_ROWS);
    if y < first {
        return None;
    }
    let line = (y - first) / lines_per_row(area, n);
    if line >= list_height(area, n) {
        return None;
    }
    let row = p.top + usize::from(line);
    (row < n).then_some(row)
}

/// `1.2 s`, `21 ms`, `4.5 ms`, `160 µs`: two or three digits, for narrow columns.
pub fn short_duration(ns: u64) -> String {
    if ns == 0 {
        "0".to_string()
    } else if ns < 1_000_000 {
        format!("{} µs", ns / 1_000)
    } else if ns < 10_000_000 {
        format!("{:.1} ms", ns as f64 / 1e6)
    } else if ns < 1_000_000_000 {
        format!("{} ms", ns / 1_000_000)
    } else if ns < 10_000_000_000 {
        format!("{:.2} s", ns as f64 / 1e9)
    } else {
        format!("{:.1} s", ns as f64 / 1e9)
    }
}

/// The figures that classified a conversation (medians).
pub fn figures(r: &PatternReport) -> String {
    let med =
        |s: Option<crate::model::Spread>| s.map_or("?".to_string(), |s| short_duration(s.median.0));
    match r.pattern {
        Pattern::ShortPolling => format!(
            "{} req on {} conn · every {} · answer {}",
            r.requests,
            r.conns.len(),
            med(r.interval),
            med(r.held)
        ),
        Pattern::LongPolling => format!(
            "{} req · held {} · re-ask {}",
            r.requests,
            med(r.held),
            med(r.interval)
        ),
        Pattern::Streaming => {
            let mut s = format!(
                "{} chunks · every {}",
                r.chunks.unwrap_or(0),
                med(r.chunk_spacing)
            );
            if let Some(n) = r.sse_events.filter(|&n| n > 0) {
                s.push_str(&format!(" · {n} SSE"));
            }
            if r.requests > 1 {
                s.push_str(&format!(" · {} req", r.requests));
            }
            s
        }
        Pattern::Websocket => {
            let [up, down] = r.messages.unwrap_or([0, 0]);
            format!("{up}↑ {down}↓ msg · open {}", short_duration(r.duration.0))
        }
    }
}

/// `long-poll /long-poll`: the pattern and the conversation's target.
fn label_text(r: &PatternReport, c: &Conversation) -> String {
    format!("{:<9} {}", short_name(r.pattern), label::clean(&c.target))
}

/// The style of a pattern's marks.
fn pattern_style(t: &Theme, p: Pattern) -> Style {
    t.class(match p {
        Pattern::ShortPolling => Class::Http,
        Pattern::LongPolling => Class::WsControl,
        Pattern::Streaming => Class::TcpControl,
        Pattern::Websocket => Class::WsData,
    })
}

/// What one cell of a row's timeline shows; later variants win over earlier ones, except that
/// `Up` and `Down` in one cell make `Both`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cell {
    Empty,
    Held,
    Streaming,
    Open,
    Up,
    Down,
    Both,
}

impl Cell {
    fn glyph(self) -> &'static str {
        match self {
            Cell::Empty => " ",
            Cell::Held => "━",
            Cell::Streaming => "─",
            Cell::Open => "█",
            Cell::Up => "↑",
            Cell::Down => "↓",
            Cell::Both => "↕",
        }
    }

    fn is_mark(self) -> bool {
        matches!(self, Cell::Up | Cell::Down | Cell::Both)
    }
}

/// Maps capture times to the columns of a timeline `width` cells wide.
#[derive(Debug, Clone, Copy)]
struct Axis {
    t0: u64,
    span: u64,
    width: usize,
}

impl Axis {
    fn col(&self, t: u64) -> usize {
        if self.width == 0 {
            return 0;
        }
        let d = u128::from(t.saturating_sub(self.t0));
        let c = d * (self.width as u128 - 1) / u128::from(self.span.max(1));
        (c as usize).min(self.width - 1)
    }
}

/// The cells of one conversation's timeline.
fn paint(c: &Conversation, axis: &Axis) -> Vec<Cell> {
    let mut cells = vec![Cell::Empty; axis.width];
    if axis.width == 0 {
        return cells;
    }
    let bar = |cells: &mut Vec<Cell>, from: usize, to: usize, kind: Cell| {
        for cell in cells.iter_mut().take(to.saturating_add(1)).skip(from) {
            if *cell < kind && !cell.is_mark() {
                *cell = kind;
            }
        }
    };
    for x in &c.exchanges {
        let rc = axis.col(x.request);
        let Some(resp) = x.response else {
            // Still waiting for the answer: the server holds it until now.
            bar(&mut cells, rc + 1, axis.col(c.last), Cell::Held);
            continue;
        };
        let sc = axis.col(resp);
        if sc > rc + 1 {
            bar(&mut cells, rc + 1, sc - 1, Cell::Held);
        }
        if x.upgrade {
            bar(&mut cells, sc, axis.col(c.last), Cell::Open);
        } else if x.arrivals > 1 || x.event_stream {
            let end = x.response_end.unwrap_or(c.last);
            bar(&mut cells, sc, axis.col(end), Cell::Streaming);
        }
    }
    let mark = |cells: &mut Vec<Cell>, col: usize, m: Cell| {
        if let Some(cell) = cells.get_mut(col) {
            *cell = match (*cell, m) {
                (Cell::Up, Cell::Down) | (Cell::Down, Cell::Up) | (Cell::Both, _) => Cell::Both,
                _ => m,
            };
        }
    };
    for x in &c.exchanges {
        mark(&mut cells, axis.col(x.request), Cell::Up);
        if let Some(resp) = x.response {
            mark(&mut cells, axis.col(resp), Cell::Down);
        }
    }
    for tick in &c.ticks {
        let m = match tick.dir {
            Dir::C2s => Cell::Up,
            Dir::S2c => Cell::Down,
        };
        mark(&mut cells, axis.col(tick.t), m);
    }
    cells
}

/// The patterns view, drawn into the screen inside its border.
pub struct PatternsWidget<'a> {
    pub app: &'a App,
}

impl Widget for PatternsWidget<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(*buf.area());
        if area.is_empty() {
            return;
        }
        let app = self.app;
        let t = Theme::new(app.color);
        let view = app.patterns.unwrap_or_default();
        let aligned = !view.capture_time;
        let convs = rows(app);
        let w = usize::from(area.width);
        let wide = area.width >= WIDE_MIN;
        // Columns: label, timeline, and (wide) the figures, each as wide as its widest text
        // within bounds.
        let label_w = convs
            .iter()
            .filter_map(|c| c.report.as_ref().map(|r| label_text(r, c).width()))
            .max()
            .unwrap_or(16)
            .max(8)
            .min(if wide { 28 } else { w / 4 + 2 })
            .min(w.saturating_sub(2) / 2)
            .max(1);
        let figures_w = if wide {
            convs
                .iter()
                .filter_map(|c| c.report.as_ref().map(|r| figures(r).width()))
                .max()
                .unwrap_or(0)
                .clamp(18, 48)
        } else {
            0
        };
        let axis_w = w.saturating_sub(label_w + figures_w + usize::from(wide) + 1);
        let axis_x = area.x.saturating_add(label_w as u16 + 1);
        // The time axis: capture time from the first conversation's first request, or each
        // row from its own, on the scale of the longest.
        let first = convs.iter().map(|c| c.first).min().unwrap_or(0);
        let last = convs.iter().map(|c| c.last).max().unwrap_or(0);
        let longest = convs
            .iter()
            .map(|c| c.last.saturating_sub(c.first))
            .max()
            .unwrap_or(0);
        let span = if aligned {
            longest
        } else {
            last.saturating_sub(first)
        }
        .max(1);
        // Title.
        let title = format!(
            " Patterns ─ {} conversation{} ─ {} ",
            convs.len(),
            if convs.len() == 1 { "" } else { "s" },
            if aligned {
                "aligned at their starts (t: capture time)"
            } else {
                "capture time (t: align their starts)"
            }
        );
        put(buf, area, area.x, area.y, &fit(&title, w), t.focused());
        let keys = " Enter diagram · p back ";
        if title.width() + keys.width() < w {
            let x = area.right().saturating_sub(keys.width() as u16);
            put(buf, area, x, area.y, keys, t.dim());
        }
        // Axis labels at 0, ¼, ½, ¾ and the end.
        if area.height > 1 && axis_w > 0 {
            let y = area.y + 1;
            put(
                buf,
                area,
                area.x,
                y,
                &fit("pattern  target", label_w),
                t.dim(),
            );
            let origin = if aligned { 0 } else { first };
            let mut free = axis_x;
            for k in 0..=4u64 {
                let col = (axis_w - 1) as u64 * k / 4;
                let s = format!("╵{}", short_duration(origin + span * k / 4));
                let sw = s.width() as u16;
                let x = if k == 4 {
                    axis_x.saturating_add(col as u16 + 1).saturating_sub(sw)
                } else {
                    axis_x.saturating_add(col as u16)
                };
                if x >= free && x + sw <= axis_x.saturating_add(axis_w as u16) {
                    put(buf, area, x, y, &s, t.dim());
                    free = x + sw + 1;
                }
            }
            if wide {
                let fx = axis_x.saturating_add(axis_w as u16 + 1);
                put(buf, area, fx, y, "figures (medians)", t.dim());
            }
            // The playhead, in capture time.
            if app.play.state != PlayState::Off && !aligned {
                let axis = Axis {
                    t0: first,
                    span,
                    width: axis_w,
                };
                let x = axis_x.saturating_add(axis.col(app.play.clock) as u16);
                put(buf, area, x, y, "▼", t.bold());
            }
        }
        let legend_h = legend_lines(area);
        let list = Rect::new(
            area.x,
            area.y.saturating_add(HEAD_ROWS),
            area.width,
            area.height
                .saturating_sub(HEAD_ROWS)
                .saturating_sub(legend_h),
        )
        .intersection(area);
        if convs.is_empty() {
            let msg = "no pattern yet: a conversation shows one once it repeats (polling), \
                       holds (long polling), streams, or upgrades to WebSocket";
            put(
                buf,
                list,
                list.x + 1,
                list.y,
                &fit(msg, w.saturating_sub(1)),
                t.dim(),
            );
        }
        let per = lines_per_row(area, convs.len());
        let fit_rows = usize::from(list.height / per);
        for (n, c) in convs.iter().enumerate().skip(view.top).take(fit_rows) {
            let Some(r) = &c.report else { continue };
            let y = list.y + (n - view.top) as u16 * per;
            let style = pattern_style(&t, r.pattern);
            let name = label_text(r, c);
            let selected = n == view.row;
            let label_style = if selected { t.selected() } else { style };
            put(
                buf,
                list,
                area.x,
                y,
                &format!("{:<label_w$}", fit(&name, label_w)),
                label_style,
            );
            let t0 = if aligned { c.first } else { first };
            let axis = Axis {
                t0,
                span,
                width: axis_w,
            };
            let mut x = axis_x;
            for cell in paint(c, &axis) {
                // Marks inside an open WebSocket show on the bar's colour.
                let s = if r.pattern == Pattern::Websocket && cell.is_mark() {
                    style.patch(t.selected())
                } else {
                    style
                };
                x = put(buf, list, x, y, cell.glyph(), s);
            }
            let figs = figures(r);
            if wide {
                let fx = axis_x.saturating_add(axis_w as u16 + 1);
                put(buf, list, fx, y, &fit(&figs, figures_w), Style::new());
            } else {
                let text = format!("{:>label_w$} {}", "", figs);
                put(
                    buf,
                    list,
                    area.x,
                    y.saturating_add(1),
                    &fit(&text, w),
                    t.dim(),
                );
            }
        }
        // Legend.
        if legend_h > 0 {
            let y0 = area.bottom() - legend_h;
            let mut x = area.x;
            let mut y = y0;
            for (glyph, what) in LEGEND {
                let piece = legend_item(glyph, what);
                if usize::from(x - area.x) + piece > w && y + 1 < area.bottom() {
                    y += 1;
                    x = area.x;
                }
                x = put(buf, area, x, y, " ", Style::new());
                if !glyph.is_empty() {
                    x = put(buf, area, x, y, glyph, t.bold());
                    x = put(buf, area, x, y, " ", Style::new());
                }
                x = put(buf, area, x, y, &format!("{what} "), t.dim());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_stay_short() {
        assert_eq!(short_duration(160_000), "160 µs");
        assert_eq!(short_duration(1_170_000), "1.2 ms");
        assert_eq!(short_duration(21_658_412), "21 ms");
        assert_eq!(short_duration(2_000_000_000), "2.00 s");
        assert_eq!(short_duration(30_000_000_000), "30.0 s");
    }

    #[test]
    fn axis_maps_the_span_onto_the_columns() {
        let a = Axis {
            t0: 100,
            span: 1000,
            width: 11,
        };
        assert_eq!(a.col(0), 0);
        assert_eq!(a.col(100), 0);
        assert_eq!(a.col(600), 5);
        assert_eq!(a.col(1100), 10);
        assert_eq!(a.col(u64::MAX), 10);
        let none = Axis {
            t0: 0,
            span: 0,
            width: 0,
        };
        assert_eq!(none.col(5), 0);
    }
}
