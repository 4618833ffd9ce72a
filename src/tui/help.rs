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
        "jump to connection N / frame N (Enter jumps, Esc cancels)",
    ),
    ("Enter", "open / close the details of the selected arrow"),
    (
        "mouse wheel, click",
        "scroll the pane under the pointer, select a row",
    ),
    ("", "View"),
    ("a", "layer: application events only, or every TCP segment"),
    ("f", "kind filter: all, TCP, HTTP, WebSocket, problems"),
    ("t", "time: since the capture began / since the last row"),
    (
        "F",
        "follow: keep the newest event in view (live: and each new connection)",
    ),
    (
        "/",
        "search the arrows of every connection (Enter to search, Esc to cancel)",
    ),
    (
        "n / N",
        "next / previous match; the list and the diagram go to its connection",
    ),
    ("", "Save and copy"),
    (
        "w",
        "save the selected connection's frames as pcapng (in the current directory)",
    ),
    (
        "W",
        "save the frames of every row the view shows, in every connection",
    ),
    (
        "y",
        "copy the selected arrow's payload (or its text) to the clipboard (OSC 52)",
    ),
    (
        "M",
        "mouse capture off / on (off: the terminal selects text)",
    ),
    ("", "Patterns"),
    (
        "p",
        "patterns view: the conversations' patterns on one time axis",
    ),
    ("j / k (in it)", "select a conversation"),
    (
        "Enter (in it)",
        "show the selected conversation's first connection",
    ),
    (
        "t (in it)",
        "time axis: each row from its first request / capture time",
    ),
    ("p, Esc (in it)", "back to the diagram"),
    ("", "Replay in time"),
    (
        "space",
        "play from the start at capture pace / pause / resume",
    ),
    ("→ / .", "step: show the next arrow of this connection"),
    ("← / ,", "step back one arrow"),
    ("+ / -", "faster / slower (x0.25 to x64)"),
    ("r", "restart playback from the start"),
    ("s", "stop playback: show every event"),
    ("", "Other"),
    ("?", "this help (j/k scroll it, Esc or ? close it)"),
    (
        "Esc",
        "close details, help or the patterns view; cancel an input (never quits)",
    ),
    ("q, Ctrl-C", "quit"),
];

/// The short hints of the status bar, most useful first (cut to fit the width).
pub const HINTS: &[(&str, &str)] = &[
    ("j/k", "move"),
    ("Enter", "details"),
    ("Tab", "pane"),
    ("/", "search"),
    ("?", "help"),
    ("a", "ACKs"),
    ("f", "filter"),
    ("t", "time"),
    ("space", "play"),
    ("p", "patterns"),
    ("→", "step"),
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
