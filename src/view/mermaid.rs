//! A Mermaid sequence diagram of the capture (`synscope decode --format mermaid`), for notes
//! and slides: <https://mermaid.js.org/syntax/sequenceDiagram.html>.
//!
//! One participant per endpoint, address and port (`participant c0 as 127.0.0.1:39090`,
//! clients `c0, c1...`, servers `s0, s1...`), declared when its first connection opens. Arrows:
//! the TCP segments that shape a connection (SYN, SYN-ACK, the ACK that completes the
//! handshake, FIN, RST; bare ACKs and data segments fold away), HTTP requests and responses,
//! chunks of a streamed body, WebSocket messages (not frames), Server-Sent Events, STOMP and
//! Socket.IO packets. Notes: gaps, violations, malformed input, connections that did not close
//! cleanly, and the patterns found. Lines are written as events come, so it streams.
//!
//! Every label goes through [`label`]: wire text cannot end a line, start a comment or an
//! entity, or open HTML, so it never escapes its arrow.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::SocketAddr;

use crate::model::{tcp_flags, ConnId, ConnState, Dir, Event, EventBody, Pattern, PatternReport};
use crate::view::text::{describe, duration, segment_name, unsafe_for_terminal};

/// Characters of an arrow's label kept (after escaping wire text, before entity codes).
pub const MAX_LABEL: usize = 100;
/// Characters of a pattern's note kept.
pub const MAX_NOTE: usize = 300;
/// Participants declared at most; connections between endpoints beyond it are left out (a
/// diagram of thousands of lifelines is unreadable anyway, and Mermaid refuses big inputs).
pub const MAX_PARTICIPANTS: usize = 1024;

/// Writes the diagram as events come. Keeps one alias per endpoint and one pair per
/// connection (bounded by [`MAX_PARTICIPANTS`] and the engine's connection limit).
#[derive(Debug, Default)]
pub struct MermaidWriter {
    started: bool,
    aliases: HashMap<SocketAddr, String>,
    clients: u32,
    servers: u32,
    /// Connection -> (client alias, server alias, the response being sent is an event stream).
    conns: HashMap<ConnId, Lane>,
    /// The line of the last WebSocket message, held until the next event says whether a
    /// subprotocol (STOMP, Socket.IO) carried in it is drawn instead: each message is drawn
    /// once, as what it carried when that was decoded.
    pending: Option<Pending>,
}

#[derive(Debug)]
struct Pending {
    conn: ConnId,
    dir: Option<Dir>,
    line: String,
}

#[derive(Debug, Clone)]
struct Lane {
    client: String,
    server: String,
    /// The current response is `text/event-stream`: its chunks show as SSE events instead.
    event_stream: bool,
}

impl MermaidWriter {
    pub fn new() -> MermaidWriter {
        MermaidWriter::default()
    }

    fn start<W: Write>(&mut self, w: &mut W) -> io::Result<()> {
        if !self.started {
            self.started = true;
            w.write_all(b"sequenceDiagram\n")?;
        }
        Ok(())
    }

    /// Ends the diagram: writes the header if no event came (an empty diagram is still one),
    /// and the message line still held.
    pub fn finish<W: Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.start(w)?;
        self.flush_pending(w)
    }

    fn flush_pending<W: Write>(&mut self, w: &mut W) -> io::Result<()> {
        match self.pending.take() {
            Some(p) => w.write_all(p.line.as_bytes()),
            None => Ok(()),
        }
    }

    /// The alias of `addr`, declared (written) on first use.
    fn alias<W: Write>(
        &mut self,
        w: &mut W,
        addr: SocketAddr,
        server: bool,
    ) -> io::Result<Option<String>> {
        if let Some(a) = self.aliases.get(&addr) {
            return Ok(Some(a.clone()));
        }
        if self.aliases.len() >= MAX_PARTICIPANTS {
            return Ok(None);
        }
        let a = if server {
            self.servers += 1;
            format!("s{}", self.servers - 1)
        } else {
            self.clients += 1;
            format!("c{}", self.clients - 1)
        };
        writeln!(w, "    participant {a} as {}", label(&addr.to_string()))?;
        self.aliases.insert(addr, a.clone());
        Ok(Some(a))
    }

    /// Writes the lines of `e`.
    pub fn write_event<W: Write>(&mut self, w: &mut W, e: &Event) -> io::Result<()> {
        self.start(w)?;
        if let Some(p) = &self.pending {
            let carried = matches!(e.body, EventBody::Stomp(_) | EventBody::Socketio(_))
                && e.conn == Some(p.conn)
                && e.dir == p.dir;
            if carried {
                self.pending = None;
            } else {
                self.flush_pending(w)?;
            }
        }
        if let EventBody::Pattern(r) = &e.body {
            // A note per conversation: its final report (updates come before it).
            if !r.is_final || r.pattern == Pattern::None {
                return Ok(());
            }
            return self.pattern(w, r);
        }
        let Some(conn) = e.conn else {
            return Ok(());
        };
        if let EventBody::Connection(info) = &e.body {
            let client = self.alias(w, info.client, false)?;
            let server = self.alias(w, info.server, true)?;
            if let (Some(client), Some(server)) = (client, server) {
                self.conns.insert(
                    conn,
                    Lane {
                        client,
                        server,
                        event_stream: false,
                    },
                );
            }
            return Ok(());
        }
        let Some(lane) = self.conns.get_mut(&conn) else {
            return Ok(());
        };
        let (from, to) = match e.dir {
            Some(Dir::S2c) => (&lane.server, &lane.client),
            _ => (&lane.client, &lane.server),
        };
        let mut text = String::new();
        match &e.body {
            EventBody::Tcp(s) => {
                let f = s.flags;
                if !(f.has(tcp_flags::SYN) || f.has(tcp_flags::FIN) || f.has(tcp_flags::RST)) {
                    return Ok(());
                }
                let arrow = if f.has(tcp_flags::RST) { "-x" } else { "->>" };
                writeln!(w, "    {from}{arrow}{to}: {}", segment_name(s))?;
            }
            EventBody::Handshake(h) => {
                // The client's ACK that completed the handshake (folded as a bare ACK).
                writeln!(
                    w,
                    "    {}->>{}: ACK (handshake done, iRTT {})",
                    lane.client,
                    lane.server,
                    label(&duration(h.irtt.0))
                )?;
            }
            EventBody::HttpResponse(r) => {
                lane.event_stream = r.headers.iter().any(|(n, v)| {
                    n.eq_ignore_ascii_case("content-type")
                        && v.to_ascii_lowercase().contains("text/event-stream")
                });
                describe(&mut text, &e.body);
                writeln!(w, "    {from}-->>{to}: {}", label(&text))?;
            }
            EventBody::HttpBody(b) => {
                // Chunks of a streamed response show; other bodies fold into their head.
                if b.chunk.is_none() || b.len == 0 || lane.event_stream {
                    return Ok(());
                }
                describe(&mut text, &e.body);
                writeln!(w, "    {from}-->>{to}: {}", label(&text))?;
            }
            EventBody::WsMessage(_) => {
                describe(&mut text, &e.body);
                self.pending = Some(Pending {
                    conn,
                    dir: e.dir,
                    line: format!("    {from}->>{to}: {}\n", label(&text)),
                });
            }
            EventBody::HttpRequest(_)
            | EventBody::Data(_)
            | EventBody::SseEvent(_)
            | EventBody::Stomp(_)
            | EventBody::Socketio(_) => {
                describe(&mut text, &e.body);
                writeln!(w, "    {from}->>{to}: {}", label(&text))?;
            }
            EventBody::Gap(_)
            | EventBody::Violation(_)
            | EventBody::Malformed(_)
            | EventBody::Note(_) => {
                describe(&mut text, &e.body);
                writeln!(
                    w,
                    "    Note over {},{}: {}",
                    lane.client,
                    lane.server,
                    label(&text)
                )?;
            }
            EventBody::ConnectionEnd(end) => {
                let what = match end.state {
                    ConnState::Closed => return Ok(()),
                    ConnState::Refused => "refused: the SYN was answered by RST",
                    ConnState::Reset => "reset",
                    ConnState::Handshaking => "still handshaking at the end of the capture",
                    ConnState::Established => "still open at the end of the capture",
                    ConnState::Closing => "half closed at the end of the capture",
                };
                writeln!(
                    w,
                    "    Note over {},{}: {}",
                    lane.client,
                    lane.server,
                    label(&format!("#{conn} {what}"))
                )?;
            }
            EventBody::TlsHandshake(_) => {
                describe(&mut text, &e.body);
                writeln!(w, "    {from}->>{to}: {}", label(&text))?;
            }
            EventBody::TlsAlert(a) => {
                describe(&mut text, &e.body);
                let arrow = if a.level.0 == 2 { "-x" } else { "->>" };
                writeln!(w, "    {from}{arrow}{to}: {}", label(&text))?;
            }
            EventBody::TlsRecord(r) => {
                // A record shows alone when nothing it carried could be shown instead.
                if crate::view::tls::record_shows(r) {
                    describe(&mut text, &e.body);
                    writeln!(w, "    {from}-){to}: {}", label(&text))?;
                }
            }
            // The arrows show what changed the state (SYN, FIN, RST, the 101).
            EventBody::WsFrame(_)
            | EventBody::Connection(_)
            | EventBody::ConnectionState(_)
            | EventBody::Pattern(_) => {}
        }
        Ok(())
    }

    fn pattern<W: Write>(&mut self, w: &mut W, r: &PatternReport) -> io::Result<()> {
        // Over the first connection's client and its server.
        let Some(lane) = r.conns.first().and_then(|c| self.conns.get(c)) else {
            return Ok(());
        };
        writeln!(
            w,
            "    Note over {},{}: {}",
            lane.client,
            lane.server,
            label_cut(&pattern_summary(r), MAX_NOTE)
        )
    }
}

/// One line on a pattern and its figures, for a note over the conversation's participants.
pub fn pattern_summary(r: &PatternReport) -> String {
    let name = match r.pattern {
        Pattern::ShortPolling => "short polling",
        Pattern::LongPolling => "long polling",
        Pattern::Streaming => "streaming",
        Pattern::Websocket => "WebSocket",
        Pattern::None => "no pattern",
    };
    format!(
        "{name} {}: {}",
        r.target,
        crate::view::text::pattern_figures(r)
    )
}

/// Text made safe inside one Mermaid label: control characters escaped as text (`\n`, as
/// the text view does),
/// cut at [`MAX_LABEL`] characters, and the characters Mermaid reads as syntax written as
/// entity codes (`#59;` for `;`, which would end the statement; `#35;` for `#`, which starts
/// an entity; `#37;` for `%`, which starts a comment; `#60;`/`#62;` for `<`/`>`, which open
/// HTML such as `<br>`; `#58;` for `:`, which separates a label in some statements).
pub fn label(s: &str) -> String {
    label_cut(s, MAX_LABEL)
}

/// [`label`], cut at `max` characters.
fn label_cut(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for (i, c) in s.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        match c {
            // `describe` already escaped the wire text in its labels; these are the controls
            // of any other text (and a second line of defence).
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_for_terminal(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            ';' => out.push_str("#59;"),
            '#' => out.push_str("#35;"),
            '%' => out.push_str("#37;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            ':' => out.push_str("#58;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cannot_leave_their_line() {
        let l = label("a\nb;c%%d#e<br>f: -->> end\r\u{1b}");
        assert_eq!(
            l,
            "a\\nb#59;c#37;#37;d#35;e#60;br#62;f#58; --#62;#62; end\\r\\u{1b}"
        );
        // Without its entity codes, nothing Mermaid reads as syntax is left.
        let mut bare = l.clone();
        for code in ["#59;", "#37;", "#35;", "#60;", "#62;", "#58;"] {
            bare = bare.replace(code, "");
        }
        assert!(
            !bare.contains(['\n', '\r', ';', '%', '<', '>', '#', ':', '\u{1b}']),
            "{bare}"
        );
        // An entity code on the wire shows as text.
        assert_eq!(label("#35;"), "#35;35#59;");
        // The whole Bidi_Control set is escaped, as everywhere else.
        assert_eq!(label("\u{200e}\u{61c}"), "\\u{200e}\\u{61c}");
        let long = label(&"x".repeat(500));
        assert_eq!(long.chars().count(), MAX_LABEL + 1);
    }
}
