//! Drawing: [`render`] reads the [`App`] and never changes it.
//!
//! Every widget here writes through [`put`](crate::tui::cells::put), which clips to the widget's area and the buffer,
//! so any widget can be drawn into any rectangle (0x0 and 1x1 included) without panicking.
//! The diagram and the connections list touch only the rows on screen: a frame costs the same
//! with a hundred events or a million.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Widget;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use crate::model::{ConnState, Dir, Pattern};
use crate::tui::app::{App, Load, Pane, PlayState, PromptKind, Source, TimeFormat};
use crate::tui::cells::{clip, fit, put};
use crate::tui::detail::{self, Detail, DocLine, Tone};
use crate::tui::help::{HINTS, KEYS, LESSON_HINTS, PATTERN_HINTS};
use crate::tui::label;
use crate::tui::layout::{areas, Areas};
use crate::tui::patterns::{short_name, PatternsWidget};
use crate::tui::theme::Theme;
use crate::tui::timeline::{Class, ConnTrack, Summary};

/// Draws the whole screen.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    draw(app, area, frame.buffer_mut());
}

/// Draws the whole screen into `area` of `buf`.
pub fn draw(app: &App, area: Rect, buf: &mut Buffer) {
    let area = area.intersection(*buf.area());
    let a = areas(area, app.detail_open);
    if app.patterns.is_some() {
        // The patterns view takes the whole screen inside the border.
        let whole = Areas {
            conns: None,
            vsep: None,
            hsep: None,
            detail: None,
            ..a
        };
        Chrome { app, areas: &whole }.render(area, buf);
        PatternsWidget { app }.render(a.inner, buf);
        if app.help.is_some() {
            HelpOverlay { app }.render(area, buf);
        }
        return;
    }
    Chrome { app, areas: &a }.render(area, buf);
    if let Some(r) = a.conns {
        ConnList { app }.render(r, buf);
    }
    ConnBar {
        app,
        selector: !a.wide(),
    }
    .render(a.bar, buf);
    let diagram = Rect::new(
        a.header.x,
        a.header.y,
        a.header.width,
        a.header.height + a.rows.height,
    );
    Diagram { app }.render(diagram, buf);
    if let Some(r) = a.detail {
        DetailPane { app }.render(r, buf);
    }
    if app.help.is_some() {
        HelpOverlay { app }.render(area, buf);
    }
}

/// A pane's title: highlighted while the pane has the focus.
fn title_style(app: &App, t: &Theme, pane: Pane) -> Style {
    if app.focus == pane {
        t.focused()
    } else {
        t.bold()
    }
}

/// The outer border with the title bar on top and the status bar at the bottom, and the
/// separators between panes.
struct Chrome<'a> {
    app: &'a App,
    areas: &'a Areas,
}

impl Widget for Chrome<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = clip(area, buf);
        if area.width < 2 || area.height < 2 {
            return;
        }
        let app = self.app;
        let t = Theme::new(app.color);
        let frame = t.frame();
        let (l, r, top, bottom) = (area.left(), area.right() - 1, area.top(), area.bottom() - 1);
        for x in l..=r {
            put(buf, area, x, top, "─", frame);
            put(buf, area, x, bottom, "─", frame);
        }
        for y in top..=bottom {
            put(buf, area, l, y, "│", frame);
            put(buf, area, r, y, "│", frame);
        }
        put(buf, area, l, top, "┌", frame);
        put(buf, area, r, top, "┐", frame);
        put(buf, area, l, bottom, "└", frame);
        put(buf, area, r, bottom, "┘", frame);
        let a = self.areas;
        if let Some(v) = a.vsep {
            for y in v.top()..v.bottom() {
                put(buf, area, v.x, y, "│", frame);
            }
            put(buf, area, v.x, top, "┬", frame);
        }
        if let Some(h) = a.hsep {
            for x in h.left()..h.right() {
                put(buf, area, x, h.y, "─", frame);
            }
            put(buf, area, l, h.y, "├", frame);
            put(buf, area, r, h.y, "┤", frame);
            if let Some(v) = a.vsep {
                put(buf, area, v.x, h.y, "┴", frame);
            }
            let style = title_style(app, &t, Pane::Detail);
            let title = if app.detail_open {
                " Details (Enter closes) "
            } else {
                " Details "
            };
            put(buf, area, h.x + 1, h.y, title, style);
            // Where the pane is scrolled to, when it does not show everything.
            if let Some(d) = a.detail {
                let n = detail_lines(app, d.width.saturating_sub(2)).len();
                let rows = usize::from(d.height);
                if n > rows {
                    let first = app.detail_scroll.min(n - rows);
                    let more = format!(" lines {}-{} of {} ", first + 1, first + rows, n);
                    let x = h.right().saturating_sub(more.width() as u16 + 1);
                    put(buf, area, x, h.y, &more, t.dim());
                }
            }
        } else if let Some(v) = a.vsep {
            put(buf, area, v.x, bottom, "┴", frame);
        }
        let width = usize::from(area.width.saturating_sub(4));
        // Title bar: the cells between the corners, the left part from the first, the right
        // part ending at the last, at least one `─` between them. The left part keeps at
        // least LEFT_MIN columns; the right part fits in the rest.
        const LEFT_MIN: usize = 30;
        let inside = usize::from(area.width.saturating_sub(2));
        let left = title_left(app);
        let right = title_right(
            app,
            inside.saturating_sub(left.width() + 1),
            inside.saturating_sub(left.width().min(LEFT_MIN) + 1),
        );
        let left_room = inside.saturating_sub(right.width() + 1);
        put(buf, area, l + 1, top, &fit(&left, left_room), t.bold());
        if !right.is_empty() {
            let rx = r.saturating_sub(right.width() as u16);
            put(buf, area, rx, top, &right, t.bold());
        }
        // Status bar.
        status_bar(app, &t, buf, area, l + 1, bottom, width);
    }
}

fn title_left(app: &App) -> String {
    let tl = &app.timeline;
    let conns = app.conns_shown();
    let events = app.upto().unwrap_or(tl.len());
    let filter = app
        .display
        .as_ref()
        .map(|f| format!(" ─ filter: {}", label::clean(f.text())))
        .unwrap_or_default();
    let mut s = format!(
        " synscope ─ {}{filter} ─ {} connection{} ─ {} event{}",
        app.title,
        label::count(conns as u64),
        if conns == 1 { "" } else { "s" },
        label::count(events as u64),
        if events == 1 { "" } else { "s" }
    );
    if !tl.orphans().is_empty() {
        s.push_str(&format!(
            " ─ {} undecodable",
            label::count(tl.orphans().len() as u64)
        ));
    }
    if let Some(info) = &app.info {
        s.push_str(&format!(" ─ {}", label::clean(info)));
    }
    if tl.dropped() > 0 {
        s.push_str(&format!(
            " ─ {} not kept (event limit)",
            label::count(tl.dropped())
        ));
    }
    if tl.evicted() > 0 {
        s.push_str(&format!(
            " ─ {} oldest let go (event limit)",
            label::count(tl.evicted())
        ));
    }
    match &app.load {
        Load::Loading { .. } if app.source == Source::Live => s.push_str(" ─ ● capturing"),
        Load::Loading { bytes, total } => {
            s.push_str(" ─ loading ");
            match total {
                Some(t) if *t > 0 => {
                    let pct = (*bytes as f64 / *t as f64 * 100.0).clamp(0.0, 100.0);
                    let filled = (pct / 10.0).floor() as usize;
                    s.push_str(&format!(
                        "{pct:.0}% {}{}",
                        "█".repeat(filled),
                        "░".repeat(10 - filled.min(10))
                    ));
                }
                _ => s.push_str(&label::bytes(*bytes)),
            }
        }
        Load::Done => {}
        Load::Failed(_) => s.push_str(" ─ read error"),
    }
    s.push(' ');
    s
}

/// The right end of the title bar: the first of a few variants, most complete first, that fits
/// in `room` columns (the left part whole); failing that, in `tight` columns (the left part
/// cut). The view settings go first, the playback state last.
fn title_right(app: &App, room: usize, tight: usize) -> String {
    let play = match app.play.state {
        PlayState::Off => None,
        PlayState::Playing => Some("▶"),
        PlayState::Paused => Some("⏸"),
    };
    // Step mode names its interval; capture time its speed.
    let pace = match app.play.step {
        Some(every) => format!("step {}", crate::tui::app::interval_name(every)),
        None => format!("x{}", app.play.speed_factor()),
    };
    let play_long = play.map(|p| format!("{p} {pace} t={}", label::time(app.play.clock)));
    let play_short = play.map(|p| format!("{p} {pace}"));
    let mut view = format!("{} · {}", app.view.layer.name(), app.view.filter.name());
    if app.time_format == TimeFormat::Delta {
        view.push_str(" · Δt");
    }
    if app.follow {
        view.push_str(" · follow");
    }
    if !app.mouse {
        view.push_str(" · mouse off");
    }
    let help = Some("? help".to_string());
    let variants = [
        (room, [Some(view), play_long.clone(), help.clone()]),
        (room, [None, play_long.clone(), help.clone()]),
        (room, [None, play_short.clone(), help.clone()]),
        (tight, [None, play_long, help.clone()]),
        (tight, [None, play_short.clone(), help]),
        (tight, [None, play_short, None]),
    ];
    variants
        .iter()
        .map(|(fits, parts)| {
            let s = parts
                .iter()
                .flatten()
                .map(|p| format!(" {p} "))
                .collect::<Vec<_>>()
                .join("─");
            (*fits, s)
        })
        .find(|(fits, s)| s.width() <= *fits)
        .map(|(_, s)| s)
        .unwrap_or_default()
}

fn status_bar(app: &App, t: &Theme, buf: &mut Buffer, area: Rect, x: u16, y: u16, width: usize) {
    if let Some(p) = &app.prompt {
        // The text, the mistake (after Enter refused it) marked where it is.
        let at = p
            .error_at
            .filter(|&i| p.text.is_char_boundary(i))
            .unwrap_or(p.text.len());
        let (before, rest) = p.text.split_at(at);
        let mut marked = rest.chars();
        let bad = marked.next().map(|c| c.to_string());
        let end = x.saturating_add(width as u16);
        let room = |cx: u16| usize::from(end.saturating_sub(cx));
        let mut cx = put(
            buf,
            area,
            x,
            y,
            &fit(&format!(" {}", p.kind.lead()), room(x)),
            t.bold(),
        );
        cx = put(
            buf,
            area,
            cx,
            y,
            &fit(&label::clean(before), room(cx)),
            t.bold(),
        );
        if p.error_at.is_some() {
            let shown = bad.as_deref().map_or(" ".into(), label::clean);
            cx = put(buf, area, cx, y, &fit(&shown, room(cx)), t.bad());
        } else if let Some(b) = &bad {
            cx = put(buf, area, cx, y, &fit(&label::clean(b), room(cx)), t.bold());
        }
        cx = put(
            buf,
            area,
            cx,
            y,
            &fit(&label::clean(marked.as_str()), room(cx)),
            t.bold(),
        );
        let mut tail = "▏ ".to_string();
        if let Some(why) = &app.status {
            tail.push_str(&format!(" {} ", label::clean(why)));
        } else if p.kind == PromptKind::Jump && p.text.is_empty() {
            tail.push_str(" #N: connection N · N: frame N · Enter jumps · Esc cancels ");
        } else if p.kind == PromptKind::Filter && p.text.is_empty() {
            tail.push_str(
                " e.g. http.status >= 400 · ws.opcode == \"text\" && conn == 3 · port 8080 ",
            );
        }
        put(buf, area, cx, y, &fit(&tail, room(cx)), t.bold());
        return;
    }
    let message = app.status.clone().or_else(|| match &app.load {
        Load::Failed(why) => Some(format!("read error: {}", label::clean(why))),
        _ => app.warning.as_ref().map(|w| label::clean(w).into_owned()),
    });
    if let Some(m) = message {
        let style = if matches!(app.load, Load::Failed(_))
            || app.warning.is_some() && app.status.is_none()
        {
            t.bad()
        } else {
            t.bold()
        };
        put(buf, area, x, y, &fit(&format!(" {m} "), width), style);
        return;
    }
    let mut cx = x;
    let end = x.saturating_add(width as u16);
    // States that change what happens, first, where even 80 columns show them.
    if let Some(f) = flags(app) {
        cx = put(
            buf,
            area,
            cx,
            y,
            &fit(&format!(" {f} │"), width),
            t.focused(),
        );
    }
    let hints = match app.patterns {
        Some(p) if p.lesson => LESSON_HINTS,
        Some(_) => PATTERN_HINTS,
        None => HINTS,
    };
    for (i, (k, what)) in hints.iter().enumerate() {
        let piece_w = k.width() + what.width() + 3 + usize::from(i > 0) * 2;
        if usize::from(cx - x) + piece_w > width {
            break;
        }
        let sep = if i == 0 { " " } else { " · " };
        cx = put(buf, area, cx, y, sep, t.frame());
        cx = put(buf, area, cx, y, k, t.key());
        cx = put(buf, area, cx, y, &format!(" {what}"), Style::new());
        if cx >= end {
            break;
        }
    }
    put(buf, area, cx, y, " ", Style::new());
}

/// The states the status bar starts with: following (where new connections come: live, the
/// demo's recording), the mouse given back to the terminal.
fn flags(app: &App) -> Option<String> {
    let mut f = Vec::new();
    let follows_conns = app.source == Source::Live || app.follow_conns;
    if app.follow && follows_conns && app.play.state == PlayState::Off {
        f.push("following");
    }
    if !app.mouse {
        f.push("mouse off");
    }
    (!f.is_empty()).then(|| f.join(" · "))
}

/// A connection's endpoints; with `short`, only the ports when both sides share the address
/// (loopback: the lifelines' labels show it).
fn endpoints(c: &ConnTrack, short: bool) -> String {
    match (c.client, c.server) {
        (Some(cl), Some(sv)) if short && cl.ip() == sv.ip() => {
            format!(":{} → :{}", cl.port(), sv.port())
        }
        (Some(cl), Some(sv)) => format!("{cl} → {sv}"),
        _ => "(addresses not captured)".into(),
    }
}

fn summary_text(s: &Summary) -> String {
    // An upgraded connection's state already says WS.
    let pattern = match s.pattern {
        Some(Pattern::Websocket) | None => String::new(),
        Some(p) => format!(" · {}", short_name(p)),
    };
    let mut out = format!(
        "{}{pattern} · {} seg · {} · {} msg",
        s.state_name(),
        label::count(s.segments),
        label::bytes(s.bytes),
        label::count(s.messages)
    );
    if let Some(r) = s.rtt {
        out.push_str(&format!(" · RTT {}", crate::view::text::duration(r.0)));
    }
    out
}

fn state_style(t: &Theme, s: &Summary) -> Style {
    match s.state {
        ConnState::Reset | ConnState::Refused => t.bad(),
        ConnState::Closed => t.dim(),
        _ if s.websocket => t.class(Class::WsData),
        _ => Style::new(),
    }
}

/// A column of the connections table, shown when the pane is wide enough.
struct Column {
    title: &'static str,
    width: usize,
    /// Text, aligned left (numbers align right).
    left: bool,
    value: fn(&Summary) -> String,
}

const COLUMNS: [Column; 6] = [
    Column {
        title: "state",
        width: 12,
        left: true,
        value: |s| s.state_name().to_string(),
    },
    Column {
        title: "pattern",
        width: 9,
        left: true,
        value: |s| {
            s.pattern
                .map_or(String::new(), |p| short_name(p).to_string())
        },
    },
    Column {
        title: "seg",
        width: 5,
        left: false,
        value: |s| label::count(s.segments),
    },
    Column {
        title: "bytes",
        width: 8,
        left: false,
        value: |s| label::bytes(s.bytes),
    },
    Column {
        title: "msg",
        width: 4,
        left: false,
        value: |s| label::count(s.messages),
    },
    Column {
        title: "RTT",
        width: 8,
        left: false,
        value: |s| {
            s.rtt
                .map_or(String::new(), |r| crate::view::text::duration(r.0))
        },
    },
];

/// The state column when the pattern column does not fit beside it: the pattern of a
/// connection that ended normally or is open, the state otherwise (refused, reset, handshaking:
/// what went wrong matters more).
const STATE_OR_PATTERN: Column = Column {
    title: "state/pattern",
    width: 13,
    left: true,
    value: |s| match (s.state, s.pattern) {
        (ConnState::Established | ConnState::Closing | ConnState::Closed, Some(p)) => {
            short_name(p).to_string()
        }
        _ => s.state_name().to_string(),
    },
};

/// Narrowest the endpoints column gets before optional columns are dropped.
const MIN_ENDPOINTS: usize = 15;

/// The connections list: one row per connection, as many columns as fit.
struct ConnList<'a> {
    app: &'a App,
}

impl Widget for ConnList<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = clip(area, buf);
        if area.is_empty() {
            return;
        }
        let app = self.app;
        let t = Theme::new(app.color);
        let shown = app.conns_shown();
        let w = usize::from(area.width);
        let id_w = app
            .timeline
            .conns()
            .get(..shown)
            .and_then(|c| c.last())
            .map_or(2, |c| format!("#{}", c.id).len());
        let fixed = 1 + id_w + 1;
        // The endpoints column is as wide as the widest on screen (at least MIN_ENDPOINTS);
        // the optional columns get what is left.
        let widest = (app.conn_top..shown)
            .take(usize::from(area.height))
            .filter_map(|p| app.timeline.conn(p))
            .map(|c| endpoints(c, true).width())
            .max()
            .unwrap_or(0)
            .max(MIN_ENDPOINTS);
        let mut rest = w.saturating_sub(fixed + widest);
        let mut cols: Vec<&Column> = Vec::new();
        let patterns = app.timeline.has_patterns();
        for c in COLUMNS.iter().filter(|c| patterns || c.title != "pattern") {
            if rest < c.width + 1 {
                break;
            }
            rest -= c.width + 1;
            cols.push(c);
        }
        // Too narrow for the pattern column beside the state: one column says both.
        if patterns && cols.len() == 1 && rest + COLUMNS[0].width >= STATE_OR_PATTERN.width {
            cols[0] = &STATE_OR_PATTERN;
        }
        let ep_w = w.saturating_sub(fixed + cols.iter().map(|c| c.width + 1).sum::<usize>());
        // Header.
        let head_style = title_style(app, &t, Pane::Conns);
        let mut head = format!("{:<fixed$}", "");
        head.push_str(&format!(
            "{:<ep_w$}",
            fit(
                &format!("Connections ({})", label::count(shown as u64)),
                ep_w
            )
        ));
        for c in &cols {
            if c.left {
                head.push_str(&format!(" {:<w$}", c.title, w = c.width));
            } else {
                head.push_str(&format!(" {:>w$}", c.title, w = c.width));
            }
        }
        put(buf, area, area.x, area.y, &fit(&head, w), head_style);
        let upto = app.upto();
        for (n, pos) in (app.conn_top..shown).enumerate() {
            let y = area.y.saturating_add(1).saturating_add(n as u16);
            if y >= area.bottom() {
                break;
            }
            let Some(c) = app.timeline.conn(pos) else {
                break;
            };
            let s = c.summary(upto);
            let selected = pos == app.conn;
            let marker = if selected { "▶" } else { " " };
            let mut x = put(buf, area, area.x, y, marker, t.bold());
            x = put(
                buf,
                area,
                x,
                y,
                &format!("{:<id_w$} ", format!("#{}", c.id)),
                t.bold(),
            );
            x = put(
                buf,
                area,
                x,
                y,
                &format!("{:<ep_w$}", fit(&endpoints(c, true), ep_w)),
                Style::new(),
            );
            for col in &cols {
                let v = fit(&(col.value)(&s), col.width);
                let (text, style) = if col.title.starts_with("state") {
                    (format!(" {v:<w$}", w = col.width), state_style(&t, &s))
                } else if col.left {
                    (format!(" {v:<w$}", w = col.width), Style::new())
                } else {
                    (format!(" {v:>w$}", w = col.width), Style::new())
                };
                x = put(buf, area, x, y, &text, style);
            }
            if selected {
                let style = if app.focus == Pane::Conns {
                    t.selected()
                } else {
                    t.bold()
                };
                buf.set_style(
                    Rect::new(area.x, y, area.width, 1).intersection(area),
                    style,
                );
            }
        }
        if shown == 0 && area.height > 1 {
            let msg = fit(" no connection yet", w);
            put(buf, area, area.x, area.y + 1, &msg, t.dim());
        }
    }
}

/// The line above the diagram: the selected connection's summary; on narrow screens also the
/// selector that replaces the list (`‹2/4›`).
struct ConnBar<'a> {
    app: &'a App,
    /// Draw as the selector (narrow screens).
    selector: bool,
}

impl Widget for ConnBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = clip(area, buf);
        if area.is_empty() {
            return;
        }
        let app = self.app;
        let t = Theme::new(app.color);
        let w = usize::from(area.width);
        let text = match app.timeline.conn(app.conn) {
            Some(c) => {
                let s = c.summary(app.upto());
                let mut out = String::new();
                if self.selector {
                    out.push_str(&format!(
                        "‹{}/{}› ",
                        app.conn + 1,
                        label::count(app.timeline.conns().len() as u64)
                    ));
                }
                out.push_str(&format!(
                    "#{} {} · {}",
                    c.id,
                    endpoints(c, true),
                    summary_text(&s)
                ));
                out
            }
            None => "no connection yet".to_string(),
        };
        let style = if self.selector && app.focus == Pane::Conns {
            t.selected()
        } else {
            t.bold()
        };
        put(buf, area, area.x, area.y, &fit(&text, w), style);
    }
}

/// Column geometry of the diagram in an area.
struct Lanes {
    time_w: u16,
    /// Left and right lifeline columns.
    left: u16,
    right: u16,
}

impl Lanes {
    fn of(area: Rect) -> Lanes {
        let time_w: u16 = if area.width >= 40 { 11 } else { 0 };
        let start = area
            .x
            .saturating_add(if time_w > 0 { time_w + 3 } else { 0 });
        Lanes {
            time_w,
            left: start.saturating_add(1),
            right: area.right().saturating_sub(2),
        }
    }
    /// Cells between the lifelines.
    fn inner(&self) -> usize {
        usize::from(self.right.saturating_sub(self.left).saturating_sub(1))
    }
}

/// The sequence diagram of the selected connection: a header with the two lifelines' labels,
/// then one row per event.
struct Diagram<'a> {
    app: &'a App,
}

impl Widget for Diagram<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = clip(area, buf);
        if area.is_empty() {
            return;
        }
        let app = self.app;
        let t = Theme::new(app.color);
        let lanes = Lanes::of(area);
        let conn = app.view.conn.and_then(|p| app.timeline.conn(p));
        // Header: time heading and the lifelines' labels, address *and* port, so the two
        // lanes of a loopback connection never collapse into one.
        let head_style = title_style(app, &t, Pane::Diagram);
        if lanes.time_w > 0 {
            let heading = match app.time_format {
                TimeFormat::Relative => "time",
                TimeFormat::Delta => "Δ time",
            };
            let s = format!("{heading:>w$} │", w = usize::from(lanes.time_w));
            put(buf, area, area.x, area.y, &s, t.dim());
        }
        let (client, server) = match conn {
            Some(ConnTrack {
                client: Some(c),
                server: Some(s),
                ..
            }) => (format!("{c} (client)"), format!("(server) {s}")),
            _ => ("client".to_string(), "server".to_string()),
        };
        let room = usize::from(area.right().saturating_sub(lanes.left));
        let sw = server.width().min(room / 2);
        let cw = client.width().min(room.saturating_sub(sw + 1));
        put(buf, area, lanes.left, area.y, &fit(&client, cw), head_style);
        let sx = (lanes.right + 1).saturating_sub(sw as u16);
        if sw > 0 && sx > lanes.left + cw as u16 {
            put(buf, area, sx, area.y, &fit(&server, sw), head_style);
        }
        let rows_area = Rect::new(
            area.x,
            area.y + 1,
            area.width,
            area.height.saturating_sub(1),
        );
        if rows_area.is_empty() {
            return;
        }
        let rows = app.visible_rows();
        if rows.is_empty() {
            let msg = empty_message(app);
            for (y, line) in (rows_area.y..rows_area.bottom()).zip(msg.lines()) {
                put(
                    buf,
                    rows_area,
                    lanes.left.min(rows_area.right()),
                    y,
                    &fit(line, room),
                    t.dim(),
                );
            }
            return;
        }
        let h = usize::from(rows_area.height);
        let top = crate::tui::app::scrolled(
            app.top,
            app.cursor_row().unwrap_or(0),
            rows_area.height,
            rows.len(),
        );
        let cursor_row = app.cursor_row();
        let query = app
            .query
            .as_ref()
            .map(|q| q.to_lowercase())
            .filter(|q| !q.is_empty());
        let mut label = String::with_capacity(128);
        for (i, &ix) in rows.iter().enumerate().skip(top).take(h) {
            let y = rows_area.y + (i - top) as u16;
            let Some(t_e) = app.timeline.time(ix) else {
                continue;
            };
            // Time column.
            if lanes.time_w > 0 {
                let time = match app.time_format {
                    TimeFormat::Relative => label::time(t_e),
                    TimeFormat::Delta => {
                        let prev = i
                            .checked_sub(1)
                            .and_then(|p| rows.get(p))
                            .and_then(|&p| app.timeline.time(p))
                            .unwrap_or(t_e);
                        label::delta(t_e.saturating_sub(prev))
                    }
                };
                let s = format!("{time:>w$} │", w = usize::from(lanes.time_w));
                put(buf, rows_area, area.x, y, &s, t.dim());
            }
            label.clear();
            label::arrow(&mut label, &app.timeline, conn, ix);
            let mut style = t.class(app.timeline.class_of(ix).unwrap_or(Class::Note));
            let matched = query
                .as_ref()
                .is_some_and(|q| label::contains_folded(&label, q));
            let label_style = if matched { t.matched() } else { style };
            if cursor_row == Some(i) {
                style = style.patch(t.selected());
            }
            let dir = if conn.is_some() {
                app.timeline.dir(ix)
            } else {
                None
            };
            arrow_row(
                buf,
                rows_area,
                &lanes,
                y,
                dir,
                &label,
                style,
                label_style,
                &t,
            );
            if cursor_row == Some(i) {
                let row =
                    Rect::new(area.x, y, area.width.saturating_sub(1), 1).intersection(rows_area);
                buf.set_style(row, t.selected());
            }
        }
        scrollbar(buf, rows_area, top, h, rows.len(), &t);
    }
}

fn empty_message(app: &App) -> String {
    match (app.timeline.conn(app.conn), &app.load) {
        (Some(c), _) if app.upto().is_some_and(|u| (c.first() as usize) >= u) => {
            let at = app.timeline.time(c.first()).unwrap_or(0);
            format!("connection #{} starts at t={} s", c.id, label::time(at))
        }
        (Some(_), _) if app.upto().is_some() => "press → to show the first arrow".into(),
        (Some(_), _) if app.display.is_some() => format!(
            "no row of this connection matches the display filter (Y changes it), under the {} \
             kind filter (f)",
            app.view.filter.name()
        ),
        (Some(_), _) => format!(
            "nothing here under the {} filter (f changes it)",
            app.view.filter.name()
        ),
        (None, Load::Loading { .. }) if app.source == Source::Live => {
            let on = app.waiting.as_deref().unwrap_or("the interface");
            match &app.info {
                Some(i) => format!("waiting for traffic on {on}\n{}", label::clean(i)),
                None => format!("waiting for traffic on {on}"),
            }
        }
        (None, Load::Loading { .. }) => "loading…".into(),
        (None, Load::Done) if app.source == Source::Live => {
            "capture stopped: no TCP connection was seen".into()
        }
        (None, Load::Failed(_)) => "nothing decoded before the read error".into(),
        (None, Load::Done) => "no TCP connection in this capture".into(),
    }
}

/// One row of the diagram: an arrow from the sending lifeline to the receiving one with its
/// label near the sender, or a note between the lifelines.
#[allow(clippy::too_many_arguments)]
fn arrow_row(
    buf: &mut Buffer,
    area: Rect,
    lanes: &Lanes,
    y: u16,
    dir: Option<Dir>,
    text: &str,
    style: Style,
    label_style: Style,
    t: &Theme,
) {
    let n = lanes.inner();
    let frame = t.frame();
    if n < 8 {
        // Too narrow for arrows: the label alone, with a direction mark.
        let mark = match dir {
            Some(Dir::C2s) => "→ ",
            Some(Dir::S2c) => "← ",
            None => "· ",
        };
        let x = put(
            buf,
            area,
            lanes.left.saturating_sub(1).max(area.x),
            y,
            mark,
            style,
        );
        put(buf, area, x, y, text, label_style);
        return;
    }
    let (l, r) = (lanes.left, lanes.right);
    match dir {
        Some(Dir::C2s) => {
            let room = n - 6;
            let label = fit(text, room);
            let fill = n - 5 - label.width();
            put(buf, area, l, y, "├──", style);
            let x = put(buf, area, l + 3, y, " ", style);
            let x = put(buf, area, x, y, &label, label_style);
            let x = put(buf, area, x, y, " ", style);
            let x = put(buf, area, x, y, &"─".repeat(fill), style);
            put(buf, area, x, y, "▶", style);
            put(buf, area, r, y, "│", frame);
        }
        Some(Dir::S2c) => {
            let room = n - 6;
            let label = fit(text, room);
            let fill = n - 5 - label.width();
            put(buf, area, l, y, "│", frame);
            let x = put(buf, area, l + 1, y, "◀", style);
            let x = put(buf, area, x, y, &"─".repeat(fill), style);
            let x = put(buf, area, x, y, " ", style);
            let x = put(buf, area, x, y, &label, label_style);
            let x = put(buf, area, x, y, " ", style);
            put(buf, area, x, y, "──┤", style);
        }
        None => {
            let label = fit(text, n.saturating_sub(4));
            let side = n.saturating_sub(label.width() + 2);
            let left = side / 2;
            put(buf, area, l, y, "│", frame);
            let x = put(buf, area, l + 1, y, &"┄".repeat(left), frame);
            let x = put(buf, area, x, y, " ", style);
            let x = put(buf, area, x, y, &label, label_style);
            let x = put(buf, area, x, y, " ", style);
            put(buf, area, x, y, &"┄".repeat(side - left), frame);
            put(buf, area, r, y, "│", frame);
        }
    }
}

/// A thumb in the last column showing where the visible rows sit among all of them.
fn scrollbar(buf: &mut Buffer, area: Rect, top: usize, h: usize, len: usize, t: &Theme) {
    if len <= h || h == 0 || area.width < 3 {
        return;
    }
    let x = area.right() - 1;
    let thumb = (h * h / len).max(1);
    let pos = ((top as u128 * (h - thumb) as u128) / (len - h).max(1) as u128) as usize;
    for i in 0..thumb {
        put(buf, area, x, area.y + (pos + i) as u16, "▐", t.frame());
    }
}

/// The details of the selected arrow.
struct DetailPane<'a> {
    app: &'a App,
}

impl Widget for DetailPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = clip(area, buf);
        if area.is_empty() {
            return;
        }
        let area = Rect::new(
            area.x + 1,
            area.y,
            area.width.saturating_sub(2),
            area.height,
        );
        if area.is_empty() {
            return;
        }
        let lines = detail_lines(self.app, area.width);
        let h = usize::from(area.height);
        let scroll = self.app.detail_scroll.min(lines.len().saturating_sub(h));
        let t = Theme::new(self.app.color);
        for (i, line) in lines.iter().skip(scroll).take(h).enumerate() {
            render_line(buf, area, area.y + i as u16, line, &t);
        }
    }
}

/// The detail pane's lines at `width`: the document the app keeps, or, when the app was
/// changed without [`crate::tui::app::update`] since (a test setting a field), a fresh one.
fn detail_lines(app: &App, width: u16) -> std::borrow::Cow<'_, [DocLine]> {
    let key = Detail::key_for(&app.timeline, app.cursor, width, app.lang);
    if app.detail.key == Some(key) {
        std::borrow::Cow::Borrowed(&app.detail.lines)
    } else {
        std::borrow::Cow::Owned(detail::lines(&app.timeline, app.cursor, width, app.lang))
    }
}

/// The style of a tone of the detail pane.
fn tone(t: &Theme, tone: Tone) -> Style {
    match tone {
        Tone::Plain => Style::new(),
        Tone::Dim => t.dim(),
        Tone::Bold => t.bold(),
        Tone::Field => t.field(),
        Tone::Bad => t.bad(),
        Tone::Good => t.good(),
        Tone::Explain => t.explain(),
        Tone::Title(c) => t.class(c).patch(t.bold()),
    }
}

fn render_line(buf: &mut Buffer, area: Rect, y: u16, line: &DocLine, t: &Theme) {
    let mut x = area.x;
    for span in &line.spans {
        x = put(buf, area, x, y, &span.content, tone(t, span.tone));
    }
}

/// The `?` overlay: every key, in a box over the middle of the screen.
struct HelpOverlay<'a> {
    app: &'a App,
}

impl Widget for HelpOverlay<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = clip(area, buf);
        if area.width < 4 || area.height < 3 {
            return;
        }
        let t = Theme::new(self.app.color);
        let w = area.width.saturating_sub(4).clamp(4, 78);
        let h = area
            .height
            .saturating_sub(2)
            .clamp(3, KEYS.len() as u16 + 4);
        let x = area.x + (area.width - w) / 2;
        let y = area.y + (area.height - h) / 2;
        let r = Rect::new(x, y, w, h);
        ratatui::widgets::Clear.render(r, buf);
        let frame = t.frame();
        for cx in r.left()..r.right() {
            put(buf, r, cx, r.top(), "─", frame);
            put(buf, r, cx, r.bottom() - 1, "─", frame);
        }
        for cy in r.top()..r.bottom() {
            put(buf, r, r.left(), cy, "│", frame);
            put(buf, r, r.right() - 1, cy, "│", frame);
        }
        put(buf, r, r.left(), r.top(), "┌", frame);
        put(buf, r, r.right() - 1, r.top(), "┐", frame);
        put(buf, r, r.left(), r.bottom() - 1, "└", frame);
        put(buf, r, r.right() - 1, r.bottom() - 1, "┘", frame);
        put(buf, r, r.left() + 2, r.top(), " Keys ", t.bold());
        put(
            buf,
            r,
            r.left() + 2,
            r.bottom() - 1,
            " j/k scroll · Esc or ? closes ",
            t.dim(),
        );
        let inner = Rect::new(
            r.x + 2,
            r.y + 1,
            r.width.saturating_sub(4),
            r.height.saturating_sub(2),
        );
        let keys_w = KEYS
            .iter()
            .map(|(k, _)| k.width())
            .max()
            .unwrap_or(0)
            .min(usize::from(inner.width) / 2);
        let rows = usize::from(inner.height);
        let scroll = self
            .app
            .help
            .unwrap_or(0)
            .min(KEYS.len().saturating_sub(rows));
        for (i, (keys, what)) in KEYS.iter().skip(scroll).take(rows).enumerate() {
            let cy = inner.y + i as u16;
            if keys.is_empty() {
                put(buf, inner, inner.x, cy, what, t.bold());
            } else {
                let k = format!("{:<keys_w$}", fit(keys, keys_w));
                let cx = put(buf, inner, inner.x + 1, cy, &k, t.key());
                put(
                    buf,
                    inner,
                    cx + 1,
                    cy,
                    &fit(what, usize::from(inner.right().saturating_sub(cx + 1))),
                    Style::new(),
                );
            }
        }
    }
}

/// The widgets, for tests that draw each one alone.
#[doc(hidden)]
pub fn draw_widget(app: &App, which: &str, area: Rect, buf: &mut Buffer) {
    let a = areas(area, app.detail_open);
    match which {
        "chrome" => Chrome { app, areas: &a }.render(area, buf),
        "conns" => ConnList { app }.render(area, buf),
        "bar" => ConnBar {
            app,
            selector: true,
        }
        .render(area, buf),
        "diagram" => Diagram { app }.render(area, buf),
        "detail" => DetailPane { app }.render(area, buf),
        "help" => HelpOverlay { app }.render(area, buf),
        "patterns" => PatternsWidget { app }.render(area, buf),
        _ => draw(app, area, buf),
    }
}

/// The names [`draw_widget`] knows.
pub const WIDGETS: &[&str] = &[
    "chrome", "conns", "bar", "diagram", "detail", "help", "patterns", "screen",
];

/// The buffer as text, one line per row, trailing spaces trimmed: what snapshots compare.
pub fn buffer_text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        let mut skip = 0usize;
        for x in area.left()..area.right() {
            let Some(cell) = buf.cell((x, y)) else {
                continue;
            };
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = cell.symbol();
            line.push_str(sym);
            skip = sym.width().saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::{update, Action};
    use crate::tui::sample;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn screen(app: &App, w: u16, h: u16) -> String {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        draw(app, Rect::new(0, 0, w, h), &mut buf);
        buffer_text(&buf)
    }

    #[test]
    fn the_title_counts_one_event_and_one_connection_in_the_singular() {
        let one: Vec<_> = sample::demo().into_iter().take(1).collect();
        let app = App::with_events("t", (120, 40), one);
        let title = title_left(&app);
        assert!(
            title.trim_end().ends_with(" 1 connection ─ 1 event"),
            "{title}"
        );
        let app = App::with_events("t", (120, 40), sample::demo());
        assert!(
            title_left(&app).trim_end().ends_with(" 109 events"),
            "{}",
            title_left(&app)
        );
    }

    #[test]
    fn every_widget_survives_any_area() {
        let mut app = App::with_events("t", (120, 40), sample::demo());
        app.help = Some(0);
        for (w, h) in [
            (0, 0),
            (1, 1),
            (0, 5),
            (5, 0),
            (2, 2),
            (7, 3),
            (13, 4),
            (39, 10),
            (41, 5),
        ] {
            for which in WIDGETS {
                let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
                draw_widget(&app, which, Rect::new(0, 0, w, h), &mut buf);
                // An area outside the buffer draws nothing and does not panic.
                let mut buf = Buffer::empty(Rect::new(0, 0, 3, 3));
                draw_widget(&app, which, Rect::new(10, 10, w, h), &mut buf);
            }
        }
    }

    #[test]
    fn the_whole_screen_draws_at_any_size() {
        let mut app = App::with_events("t", (120, 40), sample::demo());
        for (w, h) in (0..=130u16)
            .step_by(9)
            .flat_map(|w| (0..=45u16).step_by(3).map(move |h| (w, h)))
        {
            update(&mut app, Action::Resize(w, h));
            for keys in ["", "\n", "?", "a", "?\n", "p", "jt?", "?p"] {
                for c in keys.chars() {
                    let code = if c == '\n' {
                        KeyCode::Enter
                    } else {
                        KeyCode::Char(c)
                    };
                    update(
                        &mut app,
                        Action::Key(KeyEvent::new(code, KeyModifiers::NONE)),
                    );
                }
                let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
                draw(&app, Rect::new(0, 0, w, h), &mut buf);
            }
        }
    }

    #[test]
    fn arrows_point_the_right_way() {
        let app = App::with_events("t", (120, 40), sample::demo());
        let s = screen(&app, 120, 40);
        let syn = s.lines().find(|l| l.contains("SYN  seq=0")).unwrap();
        assert!(syn.contains("├── SYN"), "{syn}");
        assert!(syn.contains("─▶│"), "{syn}");
        let synack = s.lines().find(|l| l.contains("SYN-ACK")).unwrap();
        assert!(synack.contains("│◀─"), "{synack}");
        assert!(synack.contains("──┤"), "{synack}");
        // Both lifelines labelled with address and port.
        assert!(s.contains("127.0.0.1:51234 (client)"));
        assert!(s.contains("(server) 127.0.0.1:8080"));
    }

    #[test]
    fn a_progress_indicator_shows_while_loading() {
        let mut app = App::new(Source::Replay, "replay big.pcapng", (120, 40), usize::MAX);
        update(
            &mut app,
            Action::Progress {
                bytes: 0,
                total: Some(1000),
            },
        );
        let s = screen(&app, 120, 40);
        assert!(s.contains("loading 0% ░░░░░░░░░░"), "{s}");
        assert!(s.contains("loading…"), "{s}");
        let events: Vec<_> = sample::demo().into_iter().take(30).collect();
        update(&mut app, Action::Events(events));
        update(
            &mut app,
            Action::Progress {
                bytes: 450,
                total: Some(1000),
            },
        );
        let s = screen(&app, 120, 40);
        assert!(s.contains("loading 45% ████░░░░░░"), "{s}");
        assert!(s.contains("SYN-ACK"), "what is loaded shows at once:\n{s}");
        update(&mut app, Action::Loaded { warning: None });
        assert!(!screen(&app, 120, 40).contains("loading"));
        // From standard input the size is unknown: bytes read instead.
        let mut app = App::new(Source::Replay, "replay stdin", (80, 24), usize::MAX);
        update(
            &mut app,
            Action::Progress {
                bytes: 2_500_000,
                total: None,
            },
        );
        let s = screen(&app, 80, 24);
        assert!(s.contains("loading 2.5 MB"), "{s}");
        // Live capture has no size: it says so instead.
        let mut app = App::new(Source::Live, "live lo", (80, 24), usize::MAX);
        assert!(screen(&app, 80, 24).contains("● capturing"));
        update(&mut app, Action::Info("kernel dropped 3".into()));
        let s = screen(&app, 100, 24);
        assert!(
            s.contains("live lo ─ 0 connections ─ 0 events ─ kernel dropped 3"),
            "{s}"
        );
        // Before the first connection, the diagram says what it waits for.
        assert!(s.contains("waiting for traffic on the interface"), "{s}");
        app.waiting = Some("lo, port 8080".into());
        let s = screen(&app, 80, 24);
        let at = s.find("waiting for traffic on lo, port 8080").expect(&s);
        let next = s[at..].lines().nth(1).unwrap_or("");
        assert!(
            next.contains("kernel dropped 3"),
            "the counters below:\n{s}"
        );
        // Following is a state worth the room even at 80 columns.
        assert!(
            s.lines().last().unwrap().starts_with("└ following │"),
            "{s}"
        );
    }

    #[test]
    fn the_event_limit_is_reported() {
        let mut app = App::new(Source::Replay, "replay big", (120, 40), 10);
        update(&mut app, Action::Events(sample::demo()));
        let s = screen(&app, 120, 40);
        let dropped = sample::demo().len() - 10;
        assert!(
            s.contains(&format!("{dropped} not kept (event limit)")),
            "{s}"
        );
    }

    #[test]
    fn no_raw_control_characters_reach_the_screen() {
        let mut app = App::with_events("t", (120, 40), sample::demo());
        for _ in 0..3 {
            update(
                &mut app,
                Action::Key(KeyEvent::new(KeyCode::Char(']'), KeyModifiers::NONE)),
            );
        }
        for _ in 0..20 {
            let s = screen(&app, 120, 40);
            assert!(!s.chars().any(|c| c.is_control() && c != '\n'));
            update(
                &mut app,
                Action::Key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE)),
            );
        }
    }
}
