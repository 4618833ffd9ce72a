//! Cell helpers every drawing module writes through: [`put`] clips to the widget's area and
//! the buffer, so any widget can be drawn into any rectangle (0x0 and 1x1 included) without
//! panicking; [`fit`] cuts text to a width.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Writes `s` at (`x`, `y`) inside `area` (already clipped to `buf`); returns the column after
/// the last cell written.
pub fn put(buf: &mut Buffer, area: Rect, x: u16, y: u16, s: &str, style: Style) -> u16 {
    if y < area.top() || y >= area.bottom() || x < area.left() || x >= area.right() {
        return x;
    }
    let max = usize::from(area.right() - x);
    buf.set_stringn(x, y, s, max, style).0
}

/// `area` cut to what `buf` holds.
pub fn clip(area: Rect, buf: &Buffer) -> Rect {
    area.intersection(*buf.area())
}

/// `s` cut to `width` columns, with an ellipsis when cut.
pub fn fit(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in s.chars() {
        let w = ch.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(ch);
        used += w;
    }
    out.push('…');
    out
}
