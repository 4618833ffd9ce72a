//! The patterns view (`p`): every conversation the engine classified as one of the lesson's
//! patterns, one row each, on one time axis: the lesson's pictures of polling, long polling,
//! streaming and WebSocket, drawn from the traffic itself.
//!
//! A row is the conversation's label (pattern and request target), its timeline, and the
//! figures that classified it (medians). In the timeline `↑` is a request (or a client's
//! WebSocket message), `↓` an answer, a streamed chunk or a server's message, `↕` both in one
//! cell; gaps are the client waiting; `━` is the server holding a request, `─` a response
//! still streaming, `█` an open WebSocket. By default every row starts at its own first
//! request, on one scale shared by all rows, so the shapes compare side by side; `t` switches
//! to capture time (every row on the capture's clock, to see what ran at the same time).
//!
//! The rows are the latest `pattern` report of each conversation (the timeline keeps them);
//! the picture of a row is drawn from the events of the report's connections, as indexed by
//! the timeline. Only the rows on screen are drawn, and a row costs a few binary searches per
//! column, however many messages its conversation had.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Widget;
use unicode_width::UnicodeWidthStr;

use crate::explain::Lang;
use crate::model::{Dir, EventBody, Pattern, PatternReport};
use crate::tui::app::{App, PlayState};
use crate::tui::cells::{fit, put};
use crate::tui::help::PATTERN_LEGEND;
use crate::tui::label;
use crate::tui::layout::{
    legend_item_width, pattern_legend_lines, pattern_lines_per_row, PATTERNS_HEAD_ROWS,
    PATTERNS_WIDE_MIN,
};
use crate::tui::lesson::{lesson, Tone as LessonTone};
use crate::tui::theme::Theme;
use crate::tui::timeline::{Class, ConnTrack, Ix, Timeline};

/// The short name the connections list and this view use.
pub fn short_name(p: Pattern) -> &'static str {
    match p {
        Pattern::ShortPolling => "polling",
        Pattern::LongPolling => "long-poll",
        Pattern::Streaming => "stream",
        Pattern::Websocket => "WebSocket",
        Pattern::None => "none",
    }
}

/// Durations in narrow columns ([`label::short_duration`]).
pub use crate::tui::label::short_duration;

pub use crate::tui::lesson::figures;

/// `long-poll /long-poll`: the pattern and the conversation's target.
fn label_text(r: &PatternReport) -> String {
    format!("{:<9} {}", short_name(r.pattern), label::clean(&r.target))
}

/// The style of a pattern's marks.
fn pattern_style(t: &Theme, p: Pattern) -> Style {
    t.class(match p {
        Pattern::ShortPolling => Class::Http,
        Pattern::LongPolling => Class::WsControl,
        Pattern::Streaming => Class::TcpControl,
        Pattern::Websocket => Class::WsData,
        Pattern::None => Class::Http,
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

    /// The first time that falls in column `col` or later.
    fn start_of(&self, col: usize) -> u64 {
        if self.width < 2 {
            return u64::MAX;
        }
        let per = self.width as u128 - 1;
        let d = (col as u128 * u128::from(self.span.max(1))).div_ceil(per);
        u64::try_from(u128::from(self.t0) + d).unwrap_or(u64::MAX)
    }
}

/// Marks `cell` with a request or an answer: `Up` and `Down` in one cell make `Both`.
fn mark(cells: &mut [Cell], col: usize, m: Cell) {
    if let Some(cell) = cells.get_mut(col) {
        *cell = match (*cell, m) {
            (Cell::Up, Cell::Down) | (Cell::Down, Cell::Up) | (Cell::Both, _) => Cell::Both,
            _ => m,
        };
    }
}

/// Fills the cells from `from` to `to` (both included) with a bar of `kind`, over weaker bars,
/// never over marks.
fn bar(cells: &mut [Cell], from: usize, to: usize, kind: Cell) {
    for cell in cells.iter_mut().take(to.saturating_add(1)).skip(from) {
        if *cell < kind && !cell.is_mark() {
            *cell = kind;
        }
    }
}

/// Marks `m` in every column where one of the events of `list` with an index in `from..to`
/// falls: a binary search per marked column, so a list of millions costs what the width does.
fn ticks(tl: &Timeline, list: &[Ix], from: Ix, to: Ix, axis: &Axis, m: Cell, cells: &mut [Cell]) {
    let lo = list.partition_point(|&ix| ix < from);
    let hi = list.partition_point(|&ix| ix < to);
    let mut list = list.get(lo..hi).unwrap_or(&[]);
    while let Some(t) = list.first().and_then(|&ix| tl.time(ix)) {
        let col = axis.col(t);
        mark(cells, col, m);
        if col + 1 >= axis.width {
            break;
        }
        // Skip to the first event of a later column (times are in capture order).
        let next = axis.start_of(col + 1);
        let skip = list.partition_point(|&ix| tl.time(ix).is_some_and(|t| t < next));
        list = list.get(skip.max(1)..).unwrap_or(&[]);
    }
}

/// One request of the conversation and what answered it, as event indices.
struct Exchange {
    request: Ix,
    /// The final response (1xx interim answers aside; `101` is final).
    response: Option<Ix>,
    /// Where the response's body ends: the next final response of the connection, or the end.
    until: Ix,
}

/// The exchanges of connection `c` that belong to the conversation `r` reports
/// ([`crate::pattern::belongs`]): requests and final responses matched in order, as HTTP/1.1
/// answers them.
fn exchanges(tl: &Timeline, c: &ConnTrack, r: &PatternReport) -> Vec<Exchange> {
    let finals: Vec<Ix> = c
        .responses
        .iter()
        .copied()
        .filter(|&ix| {
            tl.event(ix).is_some_and(|e| {
                matches!(&e.body, EventBody::HttpResponse(r)
                    if !(100..200).contains(&r.status) || r.status == 101)
            })
        })
        .collect();
    let mut out = Vec::new();
    for (k, &request) in c.requests.iter().enumerate() {
        let ours = tl.event(request).is_some_and(|e| {
            matches!(&e.body, EventBody::HttpRequest(q)
                if crate::pattern::belongs(r, &q.method, &q.target, e.t))
        });
        if ours {
            out.push(Exchange {
                request,
                response: finals.get(k).copied(),
                until: finals.get(k + 1).copied().unwrap_or(Ix::MAX),
            });
        }
    }
    out
}

/// The cells of one conversation's timeline, from the events of its connections.
fn paint(tl: &Timeline, r: &PatternReport, axis: &Axis) -> Vec<Cell> {
    let mut cells = vec![Cell::Empty; axis.width];
    if axis.width == 0 {
        return cells;
    }
    let last = axis.col(r.start.0.saturating_add(r.duration.0));
    let conns: Vec<&ConnTrack> = r
        .conns
        .iter()
        .filter_map(|&id| tl.position(id).and_then(|p| tl.conn(p)))
        .collect();
    let mut marks: Vec<(usize, Cell)> = Vec::new();
    for c in &conns {
        for x in exchanges(tl, c, r) {
            let Some(t_req) = tl.time(x.request) else {
                continue;
            };
            let rc = axis.col(t_req);
            marks.push((rc, Cell::Up));
            let Some(resp) = x.response else {
                // Still waiting for the answer: the server holds it until now.
                bar(&mut cells, rc + 1, last, Cell::Held);
                continue;
            };
            let Some(e) = tl.event(resp) else { continue };
            let EventBody::HttpResponse(h) = &e.body else {
                continue;
            };
            let sc = axis.col(e.t.0);
            marks.push((sc, Cell::Down));
            if sc > rc + 1 {
                bar(&mut cells, rc + 1, sc - 1, Cell::Held);
            }
            if h.status == 101 && h.upgrade.is_some() {
                bar(&mut cells, sc, last, Cell::Open);
                for (d, m) in [(Dir::C2s, Cell::Up), (Dir::S2c, Cell::Down)] {
                    let list = c.ws.get(d.idx()).map_or(&[][..], Vec::as_slice);
                    ticks(tl, list, resp, Ix::MAX, axis, m, &mut cells);
                }
                continue;
            }
            // The body's arrivals: the pieces that carried bytes, until the next answer.
            let lo = c.bodies.partition_point(|&ix| ix < resp);
            let hi = c.bodies.partition_point(|&ix| ix < x.until);
            let body = c.bodies.get(lo..hi).unwrap_or(&[]);
            let body: Vec<Ix> = body
                .iter()
                .copied()
                .filter(|&ix| tl.dir(ix) == Some(Dir::S2c))
                .collect();
            let frames = |ix: Option<&Ix>| ix.and_then(|&i| tl.frame(i));
            let arrivals = body.len() > 1 && frames(body.first()) != frames(body.last());
            let event_stream = h.headers.iter().any(|(n, v)| {
                n.eq_ignore_ascii_case("content-type")
                    && v.trim_start()
                        .to_ascii_lowercase()
                        .starts_with("text/event-stream")
            });
            if arrivals || event_stream {
                let end = body
                    .last()
                    .filter(|&&ix| {
                        tl.event(ix)
                            .is_some_and(|e| matches!(&e.body, EventBody::HttpBody(b) if b.end))
                    })
                    .and_then(|&ix| tl.time(ix))
                    .map_or(last, |t| axis.col(t));
                bar(&mut cells, sc, end, Cell::Streaming);
            }
            ticks(tl, &body, 0, Ix::MAX, axis, Cell::Down, &mut cells);
        }
    }
    for (col, m) in marks {
        mark(&mut cells, col, m);
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
        let (area, pane) = app.patterns_split(area);
        let t = Theme::new(app.color);
        let view = app.patterns.unwrap_or_default();
        if let Some((pane, r)) = pane.zip(app.timeline.patterns().get(view.row)) {
            LessonWidget {
                report: r,
                lang: app.lang,
                color: app.color,
            }
            .render(pane, buf);
        }
        let aligned = !view.capture_time;
        let convs = app.timeline.patterns();
        let w = usize::from(area.width);
        let wide = area.width >= PATTERNS_WIDE_MIN;
        // Columns: label, timeline, and (wide) the figures, each as wide as its widest text
        // within bounds.
        let label_w = convs
            .iter()
            .map(|r| label_text(r).width())
            .max()
            .unwrap_or(16)
            .max(8)
            .min(if wide { 28 } else { w / 4 + 2 })
            .min(w.saturating_sub(2) / 2)
            .max(1);
        let figures_w = if wide {
            convs
                .iter()
                .map(|r| figures(r).width())
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
        let first = convs.iter().map(|r| r.start.0).min().unwrap_or(0);
        let last = convs
            .iter()
            .map(|r| r.start.0.saturating_add(r.duration.0))
            .max()
            .unwrap_or(0);
        let longest = convs.iter().map(|r| r.duration.0).max().unwrap_or(0);
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
        let keys = if view.lesson {
            " p back "
        } else {
            " Enter lesson · p back "
        };
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
        let legend_h = pattern_legend_lines(area);
        let list = Rect::new(
            area.x,
            area.y.saturating_add(PATTERNS_HEAD_ROWS),
            area.width,
            area.height
                .saturating_sub(PATTERNS_HEAD_ROWS)
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
        let per = pattern_lines_per_row(area, convs.len());
        let fit_rows = usize::from(list.height / per);
        for (n, r) in convs.iter().enumerate().skip(view.top).take(fit_rows) {
            let y = list.y + (n - view.top) as u16 * per;
            let style = pattern_style(&t, r.pattern);
            let name = label_text(r);
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
            let t0 = if aligned { r.start.0 } else { first };
            let axis = Axis {
                t0,
                span,
                width: axis_w,
            };
            let mut x = axis_x;
            for cell in paint(&app.timeline, r, &axis) {
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
            for (glyph, what) in PATTERN_LEGEND {
                let piece = legend_item_width(glyph, what);
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

/// The lesson pane of `report`, drawn in `area` with its border.
pub struct LessonWidget<'a> {
    pub report: &'a PatternReport,
    pub lang: Lang,
    pub color: bool,
}

impl Widget for LessonWidget<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(*buf.area());
        if area.height < 2 || area.width < 4 {
            return;
        }
        let t = Theme::new(self.color);
        let r = self.report;
        let w = crate::tui::lesson::words(self.lang);
        let width = usize::from(area.width);
        // The top rule with the title and the keys.
        let name = match r.pattern {
            Pattern::ShortPolling => w.title[0],
            Pattern::LongPolling => w.title[1],
            Pattern::Streaming => w.title[2],
            Pattern::Websocket => w.title[3],
            Pattern::None => w.title[4],
        };
        let rule = "─".repeat(width);
        put(buf, area, area.x, area.y, &rule, t.frame());
        let title = format!(
            " {name} {} · #{} · {} ",
            label::clean(&r.target),
            r.conversation,
            if r.is_final { w.done } else { w.so_far }
        );
        put(buf, area, area.x, area.y, &fit(&title, width), t.focused());
        if title.width() + w.keys.width() < width {
            let x = area.right().saturating_sub(w.keys.width() as u16);
            put(buf, area, x, area.y, w.keys, t.dim());
        }
        let body = Rect::new(area.x, area.y + 1, area.width, area.height - 1);
        for (y, line) in (body.y..body.bottom()).zip(lesson(r, self.lang, width)) {
            for (col, room, text, tone) in line {
                let text = fit(&text, room);
                let style = match tone {
                    LessonTone::Plain => Style::new(),
                    LessonTone::Dim => t.dim(),
                    LessonTone::Bold => t.bold(),
                    LessonTone::Lesson => t.explain(),
                };
                let x = body.x.saturating_add(col as u16);
                put(buf, body, x, y, &text, style);
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
