//! Where each pane goes for a given screen size, and how many rows fit in it. Pure:
//! [`crate::tui::app::update`] uses it to know page sizes and what the mouse points at, the
//! drawing modules to draw.

use ratatui::layout::Rect;
use unicode_width::UnicodeWidthStr;

use crate::tui::help::PATTERN_LEGEND;

/// Narrower or lower than this and the connections list folds into a one-line selector.
pub const WIDE_MIN_WIDTH: u16 = 100;
pub const WIDE_MIN_HEIGHT: u16 = 16;
/// From this height on, a detail pane shows the selected arrow even when not opened.
pub const PEEK_MIN_HEIGHT: u16 = 30;
/// Height of that detail pane.
pub const PEEK_HEIGHT: u16 = 9;

/// The panes of one screen. Every rect lies inside the screen; any may be empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Areas {
    pub screen: Rect,
    /// Inside the outer border.
    pub inner: Rect,
    /// The connections list (wide screens).
    pub conns: Option<Rect>,
    /// One line above the diagram: the selected connection's summary, and on narrow screens
    /// the connection selector that replaces the list.
    pub bar: Rect,
    /// The column between the list and the diagram.
    pub vsep: Option<Rect>,
    /// The lifeline labels above the rows.
    pub header: Rect,
    /// The diagram's rows.
    pub rows: Rect,
    /// The line above the detail pane.
    pub hsep: Option<Rect>,
    pub detail: Option<Rect>,
}

impl Areas {
    /// Whether the connections list has its own pane.
    pub fn wide(&self) -> bool {
        self.conns.is_some()
    }
}

fn take_top(r: Rect, h: u16) -> (Rect, Rect) {
    let h = h.min(r.height);
    (
        Rect::new(r.x, r.y, r.width, h),
        Rect::new(r.x, r.y + h, r.width, r.height - h),
    )
}

fn take_bottom(r: Rect, h: u16) -> (Rect, Rect) {
    let h = h.min(r.height);
    (
        Rect::new(r.x, r.y, r.width, r.height - h),
        Rect::new(r.x, r.y + r.height - h, r.width, h),
    )
}

/// The layout of `screen` with the detail pane opened or not.
pub fn areas(screen: Rect, detail_open: bool) -> Areas {
    let inner = Rect::new(
        screen.x.saturating_add(1),
        screen.y.saturating_add(1),
        screen.width.saturating_sub(2),
        screen.height.saturating_sub(2),
    );
    let detail_h = if detail_open {
        ((u32::from(inner.height) * 11 / 20) as u16).max(6)
    } else if inner.height >= PEEK_MIN_HEIGHT {
        PEEK_HEIGHT
    } else {
        0
    };
    // Keep at least a few diagram rows.
    let detail_h = detail_h.min(inner.height.saturating_sub(5));
    let (body, rest) = take_bottom(inner, detail_h.saturating_add(u16::from(detail_h > 0)));
    let (hsep, detail) = if detail_h > 0 {
        let (sep, d) = take_top(rest, 1);
        (Some(sep), Some(d))
    } else {
        (None, None)
    };
    let wide = inner.width >= WIDE_MIN_WIDTH && inner.height >= WIDE_MIN_HEIGHT;
    let (conns, vsep, diagram) = if wide {
        let w = ((u32::from(inner.width) / 3) as u16).clamp(32, 64);
        let list = Rect::new(body.x, body.y, w, body.height);
        let sep = Rect::new(body.x + w, body.y, 1, body.height);
        let rest = Rect::new(
            body.x + w + 1,
            body.y,
            body.width.saturating_sub(w + 1),
            body.height,
        );
        (Some(list), Some(sep), rest)
    } else {
        (None, None, body)
    };
    let (bar, diagram) = take_top(diagram, 1);
    let (header, rows) = take_top(diagram, 1);
    Areas {
        screen,
        inner,
        conns,
        bar,
        vsep,
        header,
        rows,
        hsep,
        detail,
    }
}

/// The patterns view: from this width on, the figures sit at the end of each row; below it, on
/// a second line.
pub const PATTERNS_WIDE_MIN: u16 = 110;
/// Rows of the patterns view's title and time axis above the conversations.
pub const PATTERNS_HEAD_ROWS: u16 = 2;

/// Lines each of `n` conversations takes in the patterns view's `area`: two on narrow screens
/// (the figures go under the timeline), and on wide ones when all fit with a blank line
/// between them.
pub fn pattern_lines_per_row(area: Rect, n: usize) -> u16 {
    if area.width < PATTERNS_WIDE_MIN || pattern_list_lines(area) as usize >= 2 * n {
        2
    } else {
        1
    }
}

/// Lines between the axis and the legend.
fn pattern_list_lines(area: Rect) -> u16 {
    area.height
        .saturating_sub(PATTERNS_HEAD_ROWS)
        .saturating_sub(pattern_legend_lines(area))
}

/// Lines of legend under the rows in an area of this size.
pub fn pattern_legend_lines(area: Rect) -> u16 {
    if area.height < 8 {
        0
    } else if pattern_legend_width() + 2 <= usize::from(area.width) {
        1
    } else {
        2
    }
}

fn pattern_legend_width() -> usize {
    PATTERN_LEGEND
        .iter()
        .map(|(g, what)| legend_item_width(g, what))
        .sum()
}

/// Columns of one legend item: ` ↑ what `.
pub fn legend_item_width(glyph: &str, what: &str) -> usize {
    1 + glyph.width() + usize::from(!glyph.is_empty()) + what.width() + 1
}

/// The patterns view's `inner` area with a lesson pane that wants `want` lines: the list above
/// and the pane below, the list keeping its head and at least one conversation. No pane when
/// the screen is too small for one worth reading.
pub fn patterns_split(inner: Rect, want: Option<u16>) -> (Rect, Option<Rect>) {
    let Some(want) = want else {
        return (inner, None);
    };
    // The list keeps its head and one conversation (two lines; no legend below 8 lines).
    let room = inner.height.saturating_sub(PATTERNS_HEAD_ROWS + 2);
    let h = want.min(room);
    if h < 4 {
        return (inner, None);
    }
    let (list, pane) = take_top(inner, inner.height - h);
    (list, Some(pane))
}

/// How many of `n` conversations fit in the patterns view's `area` (the screen inside its
/// border).
pub fn pattern_list_height(area: Rect, n: usize) -> u16 {
    pattern_list_lines(area) / pattern_lines_per_row(area, n)
}

/// The conversation under screen line `y` of the patterns view in `area`, with `n` of them
/// listed from `top` on, if any.
pub fn pattern_row_at(area: Rect, n: usize, top: usize, y: u16) -> Option<usize> {
    let first = area.y.saturating_add(PATTERNS_HEAD_ROWS);
    if y < first {
        return None;
    }
    let line = (y - first) / pattern_lines_per_row(area, n);
    if line >= pattern_list_height(area, n) {
        return None;
    }
    let row = top + usize::from(line);
    (row < n).then_some(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_area_fits_the_screen_at_any_size() {
        for w in 0..130 {
            for h in 0..45 {
                for open in [false, true] {
                    let s = Rect::new(0, 0, w, h);
                    let a = areas(s, open);
                    let all = [Some(a.inner), a.conns, Some(a.bar), a.vsep, Some(a.header)]
                        .into_iter()
                        .chain([Some(a.rows), a.hsep, a.detail])
                        .flatten();
                    for r in all.filter(|r| r.area() > 0) {
                        assert_eq!(s.union(r), s, "{w}x{h} {r:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn eighty_by_twenty_four_folds_the_list() {
        let a = areas(Rect::new(0, 0, 80, 24), false);
        assert!(!a.wide());
        assert_eq!(a.bar.height, 1);
        assert_eq!(a.rows.height, 20);
        assert!(a.detail.is_none());
        let a = areas(Rect::new(0, 0, 120, 40), false);
        assert!(a.wide());
        assert_eq!(a.detail.map(|r| r.height), Some(PEEK_HEIGHT));
    }
}
