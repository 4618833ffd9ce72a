//! The key map: one table that the `?` overlay draws and the README copies (a test keeps the
//! two in step).

/// The patterns view's legend, as (glyph, meaning) pairs.
pub const PATTERN_LEGEND: [(&str, &str); 7] = [
    ("↑", "request / client message"),
    ("↓", "answer, chunk / server message"),
    ("↕", "both"),
    ("━", "server holding"),
    ("─", "streaming"),
    ("█", "WebSocket open"),
    ("", "figures: medians"),
];

/// `(keys, what they do)`, grouped by section (a key of `""` starts a section).
pub const KEYS: &[(&str, &str)] = &[
    ("", "Move"),
    (
        "j / ↓, k / ↑",
        "next / previous row (or connection, or detail line)",
    ),
    ("PgDn / PgUp", "one page down / up (also Ctrl-f / Ctrl-b)"),
    ("Ctrl-d / Ctrl-u", "half a page down / up"),
    ("g / Home", "first row"),
    ("G / End", "last row, and follow new events"),
    (
        "Tab / Shift-Tab",
        "next / previous pane: connections, diagram, details",
    ),
    ("] / [", "next / previous connection, from any pane"),
    (
        ": then #N / N",
        "jump to connection N / frame N (Esc cancels)",
    ),
    ("Enter", "open / close the details of the selected arrow"),
    (
        "mouse wheel, click",
        "scroll the pane under the pointer, select a row",
    ),
    ("", "View"),
    ("a", "layer: application events only, or every TCP segment"),
    ("f", "kind filter: all, TCP, HTTP, WebSocket, problems"),
    ("Y", "display filter (tshark -Y), e.g. http.status >= 400"),
    ("t", "time: since the capture began / since the last row"),
    ("F", "follow the newest event (live: each new connection)"),
    ("/", "search every connection's arrows (Esc cancels)"),
    ("n / N", "next / previous match, in any connection"),
    ("", "Save and copy"),
    ("w", "save the connection's frames as pcapng (current dir)"),
    ("W", "save the frames of every row the view shows"),
    ("y", "copy the arrow's payload or text (OSC 52 clipboard)"),
    ("M", "mouse capture off / on (off: the terminal selects)"),
    ("", "Patterns"),
    (
        "p",
        "patterns view: the conversations' patterns on one time axis",
    ),
    ("j / k (in it)", "select a conversation"),
    (
        "Enter (in it)",
        "the lesson pane; Enter again: its first connection",
    ),
    (
        "t (in it)",
        "time axis: each row from its first request / capture time",
    ),
    (
        "p, Esc (in it)",
        "close the lesson, then back to the diagram",
    ),
    ("", "Replay in time"),
    (
        "space",
        "play from the start at capture pace / pause / resume",
    ),
    ("→ / .", "step: show the next arrow of this connection"),
    ("← / ,", "step back one arrow"),
    (
        "+ / -",
        "faster / slower (x0.01 to x64), or shorter / longer steps",
    ),
    (
        "S",
        "step mode (one arrow a second, whatever the timing) / capture time",
    ),
    ("r", "restart playback from the start"),
    ("s", "stop playback: show every event"),
    ("", "Other"),
    ("?", "this help (j/k scroll it, Esc or ? close it)"),
    ("Esc", "close a pane or help, cancel an input; never quits"),
    ("q, Ctrl-C", "quit"),
];

/// The short hints of the status bar, most useful first (cut to fit the width).
pub const HINTS: &[(&str, &str)] = &[
    ("j/k", "move"),
    ("Enter", "details"),
    ("Tab", "pane"),
    ("/", "search"),
    ("a", "ACKs"),
    ("f", "filter"),
    ("t", "time"),
    ("space", "play"),
    ("S", "steps"),
    ("p", "patterns"),
    ("→", "step"),
    ("?", "help"),
    ("q", "quit"),
];

/// The status bar's hints in the patterns view.
pub const PATTERN_HINTS: &[(&str, &str)] = &[
    ("j/k", "select"),
    ("Enter", "lesson"),
    ("t", "time axis"),
    ("p", "back"),
    ("?", "help"),
    ("q", "quit"),
];

/// The status bar's hints in the patterns view with the lesson open.
pub const LESSON_HINTS: &[(&str, &str)] = &[
    ("j/k", "select"),
    ("Enter", "diagram"),
    ("Esc", "close lesson"),
    ("t", "time axis"),
    ("?", "help"),
    ("q", "quit"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_documents_every_key() {
        let docs = [
            ("docs/tui.md", include_str!("../../docs/tui.md")),
            ("README.md", include_str!("../../README.md")),
        ];
        for (name, doc) in docs {
            for (keys, what) in KEYS.iter().filter(|(k, _)| !k.is_empty()) {
                let row = format!("| `{keys}` | {what} |");
                assert!(doc.contains(&row), "{name} lacks the row:\n{row}");
            }
        }
    }
}
