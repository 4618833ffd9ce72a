//! The lesson pane of the patterns view (Enter on a conversation): its figures, what its
//! pattern costs next to WebSocket side by side (bytes of overhead per message against a frame
//! header, waiting for news, who may speak first, one connection or many), and the lesson's
//! paragraph on it, the very text `decode --explain` writes under the conversation's final
//! `pattern` event ([`crate::explain::pattern_lesson`]).
//!
//! A content module: [`lesson`] builds the lines from the engine's latest report of the
//! conversation (the TUI computes nothing the report does not carry but a division: overhead
//! per message); the patterns view draws them.

use ratatui::layout::Rect;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::explain::{self, Lang};
use crate::model::{Pattern, PatternReport};
use crate::tui::label::{self, short_duration};
use crate::tui::layout::patterns_split;

/// The words of the pane in one language.
pub struct Words {
    pub title: [&'static str; 5],
    pub so_far: &'static str,
    pub done: &'static str,
    pub keys: &'static str,
    figures: &'static str,
    over: &'static str,
    columns: [&'static str; 3],
    rows: [&'static str; 4],
    ws: [&'static str; 4],
    /// Overhead per message: heads of HTTP, frame headers.
    http_heads: &'static str,
    frame_headers: &'static str,
    /// Waiting: short polling (`{}` the interval), long polling (`{}` the re-ask), pushed.
    wait_poll: &'static str,
    wait_long: &'static str,
    wait_push: &'static str,
    /// Who speaks first, per pattern.
    first: [&'static str; 4],
    /// Connections: `{}` connections for `{}` requests; a WebSocket's one, open `{}`.
    conns: &'static str,
    conn_ws: &'static str,
}

const EN: Words = Words {
    title: [
        "short polling",
        "long polling",
        "streaming",
        "WebSocket",
        "no pattern",
    ],
    so_far: "so far",
    done: "final",
    keys: " Enter diagram · Esc close ",
    figures: "Figures",
    over: "over",
    columns: ["Next to WebSocket", "this conversation", "WebSocket"],
    rows: [
        "overhead per message",
        "waiting for news",
        "who may speak first",
        "connections",
    ],
    ws: [
        "2–14 B of frame header",
        "none: sent when it happens",
        "either side, any time",
        "1, kept open",
    ],
    http_heads: "of HTTP heads",
    frame_headers: "of framing, upgrade included",
    wait_poll: "up to {} (the next poll)",
    wait_long: "none while held; {} to re-ask",
    wait_push: "none: sent when it happens",
    first: [
        "the client, every time",
        "the client; the server answers with news",
        "the server, after one request",
        "either side, any time",
    ],
    conns: "{} for {} requests",
    conn_ws: "1, open {}",
};

const KO: Words = Words {
    title: ["폴링", "롱 폴링", "스트리밍", "웹소켓", "패턴 없음"],
    so_far: "진행 중",
    done: "최종",
    keys: " Enter 다이어그램 · Esc 닫기 ",
    figures: "수치",
    over: "기간",
    columns: ["웹소켓과 비교", "이 대화", "웹소켓"],
    rows: [
        "메시지당 오버헤드",
        "소식을 기다리는 시간",
        "먼저 말할 수 있는 쪽",
        "연결",
    ],
    ws: [
        "프레임 헤더 2~14 B",
        "없음: 생기는 즉시 보냄",
        "양쪽 모두, 언제든",
        "1개, 계속 열어 둠",
    ],
    http_heads: "HTTP 헤더",
    frame_headers: "프레임 헤더(업그레이드 포함)",
    wait_poll: "최대 {} (다음 요청까지)",
    wait_long: "붙잡는 동안은 없음, 다시 요청까지 {}",
    wait_push: "없음: 생기는 즉시 보냄",
    first: [
        "클라이언트, 매번",
        "클라이언트, 서버는 소식이 있을 때 응답",
        "서버, 요청 한 번 뒤로",
        "양쪽 모두, 언제든",
    ],
    conns: "요청 {1}번에 연결 {0}개",
    conn_ws: "1개, {} 동안 열림",
};

pub fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::En => &EN,
        Lang::Ko => &KO,
    }
}

/// `template` with `{}` (or `{0}`, `{1}`) replaced by `args` in order.
fn with(template: &str, args: &[&str]) -> String {
    let mut out = template.to_string();
    for (i, a) in args.iter().enumerate() {
        let numbered = format!("{{{i}}}");
        if out.contains(&numbered) {
            out = out.replace(&numbered, a);
        } else {
            out = out.replacen("{}", a, 1);
        }
    }
    out
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
        Pattern::None => format!("{} req", r.requests),
    }
}

/// How a line of the pane looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Dim,
    Bold,
    Lesson,
}

/// A piece of a line: from column `col`, at most `width` columns of `text` in `tone`.
pub type Piece = (usize, usize, String, Tone);

/// The pane's lines for report `r` in `lang`, `width` columns wide: each a list of pieces.
pub fn lesson(r: &PatternReport, lang: Lang, width: usize) -> Vec<Vec<Piece>> {
    let w = words(lang);
    let mut lines: Vec<Vec<Piece>> = Vec::new();
    // Figures: the report's own, and how long it has run.
    let figs = format!(
        "{}: {} · {} {}",
        w.figures,
        figures(r),
        w.over,
        short_duration(r.duration.0)
    );
    lines.push(vec![(1, width.saturating_sub(1), figs, Tone::Plain)]);
    if r.pattern != Pattern::None {
        // The comparison, three columns: what, this conversation, WebSocket.
        let label_w = w
            .rows
            .iter()
            .chain([&w.columns[0]])
            .map(|s| s.width())
            .max()
            .unwrap_or(0)
            + 2;
        let rest = width.saturating_sub(label_w + 2);
        let this_w = (rest * 11 / 20).max(1);
        let ws_w = rest.saturating_sub(this_w + 1);
        let (c1, c2) = (1 + label_w, 1 + label_w + this_w + 1);
        lines.push(vec![
            (1, label_w, w.columns[0].to_string(), Tone::Bold),
            (c1, this_w, w.columns[1].to_string(), Tone::Bold),
            (c2, ws_w, w.columns[2].to_string(), Tone::Bold),
        ]);
        for (k, this) in comparison(r, w).into_iter().enumerate() {
            let name = w.rows.get(k).copied().unwrap_or("");
            let ws = w.ws.get(k).copied().unwrap_or("");
            // A cell too long for its column goes on under itself.
            let (this, ws) = (wrap(&this, this_w), wrap(ws, ws_w));
            for k in 0..this.len().max(ws.len()).max(1) {
                let mut line = Vec::new();
                if k == 0 {
                    line.push((2, label_w.saturating_sub(1), name.to_string(), Tone::Dim));
                }
                if let Some(t) = this.get(k) {
                    line.push((c1, this_w, t.clone(), Tone::Plain));
                }
                if let Some(t) = ws.get(k) {
                    line.push((c2, ws_w, t.clone(), Tone::Plain));
                }
                lines.push(line);
            }
        }
    }
    // The lesson's paragraph, wrapped.
    if let Some(text) = explain::pattern_lesson(lang, r) {
        lines.push(Vec::new());
        for l in wrap(&text, width.saturating_sub(2)) {
            lines.push(vec![(1, width.saturating_sub(2), l, Tone::Lesson)]);
        }
    }
    lines
}

/// The "this conversation" column: overhead per message, waiting, who speaks first,
/// connections.
fn comparison(r: &PatternReport, w: &Words) -> [String; 4] {
    let med =
        |s: Option<crate::model::Spread>| s.map_or("?".to_string(), |s| short_duration(s.median.0));
    // The messages that carried news: every answer of a poll, every piece of a stream, every
    // WebSocket message.
    let messages = match r.pattern {
        Pattern::ShortPolling | Pattern::LongPolling | Pattern::None => u64::from(r.requests),
        Pattern::Streaming => u64::from(r.chunks.unwrap_or(0)),
        Pattern::Websocket => r.messages.map_or(0, |[u, d]| u.saturating_add(d)),
    };
    let per = r
        .overhead_bytes
        .checked_div(messages)
        .map_or("?".to_string(), |b| format!("{} B", label::count(b)));
    let overhead = format!(
        "{per} {}",
        if r.pattern == Pattern::Websocket {
            w.frame_headers
        } else {
            w.http_heads
        }
    );
    let waiting = match r.pattern {
        Pattern::ShortPolling => with(w.wait_poll, &[&med(r.interval)]),
        Pattern::LongPolling => with(w.wait_long, &[&med(r.interval)]),
        _ => w.wait_push.to_string(),
    };
    let first = match r.pattern {
        Pattern::ShortPolling | Pattern::None => w.first[0],
        Pattern::LongPolling => w.first[1],
        Pattern::Streaming => w.first[2],
        Pattern::Websocket => w.first[3],
    }
    .to_string();
    let conns = if r.pattern == Pattern::Websocket {
        with(w.conn_ws, &[&short_duration(r.duration.0)])
    } else {
        with(
            w.conns,
            &[&r.conns.len().to_string(), &r.requests.to_string()],
        )
    };
    [overhead, waiting, first, conns]
}

/// `text` broken into lines of at most `width` columns, at spaces where it can be (Korean
/// syllables count two columns).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for word in text.split(' ') {
        let ww = word.width();
        if used > 0 && used + 1 + ww > width {
            lines.push(std::mem::take(&mut line));
            used = 0;
        }
        if used > 0 {
            line.push(' ');
            used += 1;
        }
        for c in word.chars() {
            let cw = c.width().unwrap_or(0);
            if used + cw > width && used > 0 {
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            line.push(c);
            used += cw;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The patterns view's `inner` area split into the list and, when the lesson is `open` on a
/// conversation, its pane.
pub fn split(inner: Rect, open: Option<&PatternReport>, lang: Lang) -> (Rect, Option<Rect>) {
    let want = open.map(|r| height(r, lang, usize::from(inner.width)));
    patterns_split(inner, want)
}

/// Lines the pane wants for `r` at `width` in `lang`, its top rule included.
pub fn height(r: &PatternReport, lang: Lang, width: usize) -> u16 {
    u16::try_from(lesson(r, lang, width).len() + 1).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_at_spaces_and_counts_hangul_twice() {
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        for l in wrap("웹소켓은 연결 하나를 열어 둔다", 8) {
            assert!(l.width() <= 8, "{l}");
        }
        assert!(wrap("", 0).is_empty());
    }

    #[test]
    fn placeholders_fill_in_order_or_by_number() {
        assert_eq!(
            with("{} for {} requests", &["8", "13"]),
            "8 for 13 requests"
        );
        assert_eq!(
            with("요청 {1}번에 연결 {0}개", &["8", "13"]),
            "요청 13번에 연결 8개"
        );
    }
}
