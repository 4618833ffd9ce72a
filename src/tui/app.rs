//! The TUI's state and the one function that changes it.
//!
//! [`update`] is pure state change: no I/O, no clock, no thread. Keys, mouse, resizes, the
//! passing of wall time ([`Action::Tick`]) and batches of decoded events all arrive as
//! [`Action`]s, so replay, live capture and tests drive the same code, one action at a time.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use crate::explain::Lang;
use crate::filter::Filter;
use crate::model::{Event, PatternReport};
use crate::tui::detail::Detail;
use crate::tui::label;
use crate::tui::layout::{areas, pattern_list_height, pattern_row_at, Areas};
use crate::tui::store::Located;
use crate::tui::timeline::{Ix, KindFilter, Timeline, View, ViewLayer};
use crate::tui::tools::{self, Effect, Frames, Jump};

/// Everything that can happen to the app.
#[derive(Debug, Clone)]
pub enum Action {
    Key(KeyEvent),
    Mouse(MouseEvent),
    /// The terminal's new size in columns and rows.
    Resize(u16, u16),
    /// Wall time passed since the previous tick (drives playback).
    Tick(Duration),
    /// Decoded events, in capture order.
    Events(Vec<Event>),
    /// Decoded events whose payload previews the reader left in the capture file.
    Located(Located),
    /// Loading progress: bytes read, out of `total` when the size is known.
    Progress {
        bytes: u64,
        total: Option<u64>,
    },
    /// The source ended; `warning` says if it ended badly (a truncated file).
    Loaded {
        warning: Option<String>,
    },
    /// The source failed; what was loaded stays on screen.
    Failed(String),
    /// A short line about the source for the title bar, replacing the previous one (live
    /// capture: "kernel dropped 12 packets").
    Info(String),
    /// Play back from the start at the speed of [`SPEEDS`] nearest to this factor: what the
    /// demo's built-in recording does when it opens, so it unfolds like the live demo.
    Autoplay(f64),
    /// A message for the status line from outside (a save finished).
    Status(String),
    /// Play back from the start in step mode, one arrow per this much wall time, whatever the
    /// capture's timestamps (`replay --step 1s`).
    StepPlay(Duration),
}

/// Where the events come from, which changes a few defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A capture file: loads at once, starts at the top, can be played back in time.
    Replay,
    /// Live capture: events keep coming and the view follows them.
    Live,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Conns,
    Diagram,
    Detail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeFormat {
    /// Since the first packet of the capture.
    #[default]
    Relative,
    /// Since the previous row of the diagram.
    Delta,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Load {
    Loading { bytes: u64, total: Option<u64> },
    Done,
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayState {
    /// Not playing back: every loaded event shows.
    Off,
    Playing,
    Paused,
}

/// Playback speeds, slowest first: down to a hundredth, so that a loopback exchange of a few
/// milliseconds can still be watched in capture time.
pub const SPEEDS: [f64; 13] = [
    0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0,
];
const NORMAL_SPEED: usize = 6;
/// Step mode's intervals (wall time between two arrows), shortest first; `+`/`-` move along
/// them.
pub const STEP_INTERVALS: [Duration; 8] = [
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(3),
    Duration::from_secs(5),
    Duration::from_secs(10),
];
/// Step mode's interval unless `--step` chose one.
pub const DEFAULT_STEP: Duration = Duration::from_secs(1);
/// A capture that lasts less than this plays in steps unless a pace was chosen: at capture
/// pace it is over before the eye can follow (a loopback exchange lasts a few milliseconds,
/// even x0.01 shows it in a fraction of a second).
pub const SHORT_CAPTURE_NS: u64 = 1_000_000_000;
/// Capture-time pauses longer than this are cut short during playback, so a capture with a
/// minute of silence does not make the class wait a minute.
pub const MAX_IDLE_NS: u64 = 1_000_000_000;

/// Playback in capture time: events after the playhead are hidden.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Playback {
    pub state: PlayState,
    /// Events revealed so far (a prefix of the timeline).
    pub revealed: usize,
    /// The playhead, in capture nanoseconds since the first packet.
    pub clock: u64,
    pub speed: usize,
    /// Step mode: one arrow per this much wall time, whatever the capture's timestamps;
    /// `None` plays in capture time at [`Playback::speed`].
    pub step: Option<Duration>,
    /// Step mode: wall time passed since the last arrow.
    pub waited: Duration,
}

impl Playback {
    pub fn speed_factor(&self) -> f64 {
        SPEEDS.get(self.speed).copied().unwrap_or(1.0)
    }
}

/// The patterns view (`p`): one row per conversation that shows a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PatternsView {
    /// The selected row.
    pub row: usize,
    /// First row on screen.
    pub top: usize,
    /// Capture time for every row, instead of each row from its own first request (the
    /// default: the shapes of the patterns side by side, on one scale).
    pub capture_time: bool,
    /// The lesson pane is open on the selected conversation (Enter).
    pub lesson: bool,
}

/// What a one-line input at the bottom is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// `/`: search the arrows of every connection.
    Search,
    /// `:`: jump to `#N` (a connection) or `N` (a frame).
    Jump,
    /// `Y`: the display filter.
    Filter,
}

impl PromptKind {
    /// What the input line starts with.
    pub fn lead(self) -> &'static str {
        match self {
            PromptKind::Search => "/",
            PromptKind::Jump => ":",
            PromptKind::Filter => "filter: ",
        }
    }
}

/// A one-line input being typed at the bottom of the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
    /// Where the text is wrong (a byte offset), after Enter refused it.
    pub error_at: Option<usize>,
}

/// Longest input kept, in characters.
const MAX_PROMPT_CHARS: usize = 200;

/// The app's whole state. Read it freely; change it only through [`update`].
#[derive(Debug, Clone)]
pub struct App {
    pub source: Source,
    /// What the title bar names ("replay ws_chat.pcapng").
    pub title: String,
    pub timeline: Timeline,
    pub load: Load,
    /// Warning shown once the source ended (a truncated capture).
    pub warning: Option<String>,
    /// What the source last said about itself ([`Action::Info`]).
    pub info: Option<String>,
    pub size: (u16, u16),
    pub focus: Pane,
    /// Position of the selected connection in the timeline's list.
    pub conn: usize,
    /// First connection shown in the list.
    pub conn_top: usize,
    pub view: View,
    /// The selected event (an index into the timeline), `None` before the first row.
    pub cursor: Option<Ix>,
    /// First diagram row on screen.
    pub top: usize,
    /// Keep the newest row selected as events arrive.
    pub follow: bool,
    /// While following, move to each new connection as it shows up, if the newest one was
    /// selected: on for live capture, and for the demo's recording as it plays.
    pub follow_conns: bool,
    pub detail_open: bool,
    pub detail_scroll: usize,
    /// The detail pane's document for the selected event, built once per (event, width,
    /// language) while the pane is on screen.
    pub detail: Detail,
    /// Scroll of the help overlay, when it is open.
    pub help: Option<usize>,
    /// The patterns view, when it is open (it replaces the list and the diagram).
    pub patterns: Option<PatternsView>,
    /// The input being typed after `/` or `:`.
    pub prompt: Option<Prompt>,
    /// The last search, for `n`/`N`.
    pub query: Option<String>,
    pub time_format: TimeFormat,
    pub play: Playback,
    /// One-line message in the status bar, cleared by the next key.
    pub status: Option<String>,
    /// Draw with colours (false when NO_COLOR is set).
    pub color: bool,
    /// Language of the detail pane's explanations (`--lang`, or the locale).
    pub lang: Lang,
    /// Mouse capture is on (`M` turns it off so the terminal can select text).
    pub mouse: bool,
    /// Where `w`/`W` read the capture's frames back from.
    pub frames: Frames,
    /// Live capture: what it listens to ("lo, port 8080"), said until traffic comes.
    pub waiting: Option<String>,
    /// The display filter (`Y`): the diagram, the search, `W` and the jumps see only the rows
    /// it matches.
    pub display: Option<Arc<Filter>>,
    /// What the terminal loop has to do after this update (copy, mouse, save); it takes them.
    pub effects: Vec<Effect>,
    /// The interval step mode uses (`--step`, `+`/`-` in step mode; [`DEFAULT_STEP`]).
    pub step_interval: Duration,
    /// The user chose a pace (`S`, `--step`): a short capture no longer switches to steps by
    /// itself.
    pub pace_chosen: bool,
    pub quit: bool,
}

impl App {
    /// An empty app for `source`, of a `width`x`height` terminal; `max_events` bounds the
    /// events kept.
    pub fn new(
        source: Source,
        title: impl Into<String>,
        size: (u16, u16),
        max_events: usize,
    ) -> App {
        App {
            source,
            title: title.into(),
            // Live capture keeps the newest events; a file keeps its first `max_events`.
            timeline: match source {
                Source::Live => Timeline::ring(max_events),
                Source::Replay => Timeline::new(max_events),
            },
            load: Load::Loading {
                bytes: 0,
                total: None,
            },
            warning: None,
            info: None,
            size,
            focus: Pane::Diagram,
            conn: 0,
            conn_top: 0,
            view: View::default(),
            cursor: None,
            top: 0,
            follow: source == Source::Live,
            follow_conns: source == Source::Live,
            detail_open: false,
            detail_scroll: 0,
            detail: Detail::default(),
            help: None,
            patterns: None,
            prompt: None,
            query: None,
            time_format: TimeFormat::Relative,
            play: Playback {
                state: PlayState::Off,
                revealed: 0,
                clock: 0,
                speed: NORMAL_SPEED,
                step: None,
                waited: Duration::ZERO,
            },
            status: None,
            color: true,
            lang: Lang::En,
            mouse: true,
            frames: Frames::None(match source {
                Source::Live => "this live view keeps no frames (start it with -w FILE)".into(),
                Source::Replay => "the capture is not kept: replay it from a file to save".into(),
            }),
            effects: Vec::new(),
            waiting: None,
            display: None,
            step_interval: DEFAULT_STEP,
            pace_chosen: false,
            quit: false,
        }
    }

    /// An app holding `events`, fully loaded: what tests and benchmarks start from.
    pub fn with_events(title: &str, size: (u16, u16), events: Vec<Event>) -> App {
        let mut app = App::new(Source::Replay, title, size, usize::MAX);
        update(&mut app, Action::Events(events));
        update(&mut app, Action::Loaded { warning: None });
        app
    }

    /// Events revealed by playback: `None` when every loaded event shows.
    pub fn upto(&self) -> Option<usize> {
        match self.play.state {
            PlayState::Off => None,
            _ => Some(self.play.revealed),
        }
    }

    /// The rows of the selected diagram that show now.
    pub fn visible_rows(&self) -> &[Ix] {
        self.view.visible(self.upto())
    }

    /// Row of the cursor among [`App::visible_rows`].
    pub fn cursor_row(&self) -> Option<usize> {
        let rows = self.visible_rows();
        let c = self.cursor?;
        if rows.is_empty() {
            return None;
        }
        Some(rows.partition_point(|&ix| ix < c).min(rows.len() - 1))
    }

    /// The layout of the current screen.
    pub fn areas(&self) -> Areas {
        areas(Rect::new(0, 0, self.size.0, self.size.1), self.detail_open)
    }

    /// Number of connections that show (all, or those started before the playhead).
    pub fn conns_shown(&self) -> usize {
        self.timeline.conns_before(self.upto())
    }

    /// The arrow label of event `ix` on the selected connection.
    pub fn label(&self, ix: Ix) -> String {
        let mut s = String::new();
        let conn = self.view.conn.and_then(|p| self.timeline.conn(p));
        label::arrow(&mut s, &self.timeline, conn, ix);
        s
    }

    fn select_conn(&mut self, pos: usize) {
        let n = self.timeline.conns().len();
        if n == 0 {
            return;
        }
        let pos = pos.min(n - 1);
        if self.view.conn == Some(pos) {
            self.conn = pos;
            return;
        }
        self.conn = pos;
        self.rebuild_view();
        self.cursor = None;
        self.top = 0;
        self.detail_scroll = 0;
    }

    fn rebuild_view(&mut self) {
        let (layer, filter) = (self.view.layer, self.view.filter);
        let conn = (!self.timeline.conns().is_empty()).then_some(self.conn);
        self.view = View::new(conn, layer, filter).with_display(self.display.clone());
        self.view.sync(&self.timeline);
    }

    fn set_view(&mut self, layer: ViewLayer, filter: KindFilter) {
        self.view.layer = layer;
        self.view.filter = filter;
        self.rebuild_view();
    }

    /// Moves the diagram cursor by `delta` rows (stops following unless it lands on the last).
    fn move_cursor(&mut self, delta: isize) {
        let len = self.visible_rows().len();
        if len == 0 {
            return;
        }
        let row = self.cursor_row().unwrap_or(0);
        let to = row.saturating_add_signed(delta).min(len - 1);
        self.cursor = self.visible_rows().get(to).copied();
        self.follow = delta > 0 && to == len - 1 && self.follow;
    }

    fn cursor_to(&mut self, row: usize) {
        let rows = self.visible_rows();
        if let Some(&ix) = rows.get(row.min(rows.len().saturating_sub(1))) {
            self.cursor = Some(ix);
        }
    }

    fn page(&self) -> usize {
        usize::from(self.areas().rows.height.max(1))
    }

    /// Keeps the derived state consistent: the view takes in new events, the cursor stays on
    /// a visible row (the last one when following), scroll offsets keep it on screen.
    fn settle(&mut self) {
        if let Some(mut p) = self.patterns {
            let n = self.timeline.patterns().len();
            p.row = p.row.min(n.saturating_sub(1));
            self.patterns = Some(p);
            let h = pattern_list_height(self.patterns_list_area(), n);
            p.top = scrolled(p.top, p.row, h, n);
            self.patterns = Some(p);
        }
        if self.view.conn.is_none() && !self.timeline.conns().is_empty() {
            self.rebuild_view();
        } else {
            self.view.sync(&self.timeline);
        }
        let rows = self.visible_rows();
        let cursor = if rows.is_empty() {
            self.cursor
        } else if self.follow || self.cursor.is_none() {
            if self.follow {
                rows.last().copied()
            } else {
                rows.first().copied()
            }
        } else {
            let row = self.cursor_row().unwrap_or(0);
            rows.get(row).copied()
        };
        self.cursor = cursor;
        let a = self.areas();
        let len = self.visible_rows().len();
        self.top = scrolled(self.top, self.cursor_row().unwrap_or(0), a.rows.height, len);
        let list_h = a.conns.map_or(1, |r| r.height.saturating_sub(1) / 2);
        let shown = self.conns_shown();
        self.conn_top = scrolled(self.conn_top, self.conn, list_h, shown.max(self.conn + 1));
        if let Some(d) = a.detail {
            self.detail.update(
                &self.timeline,
                self.cursor,
                d.width.saturating_sub(2),
                self.lang,
            );
            let n = self.detail.lines.len();
            self.detail_scroll = self
                .detail_scroll
                .min(n.saturating_sub(usize::from(d.height)));
        }
    }

    /// After new connections showed up (`before` were shown): while following them, the newest
    /// takes the diagram.
    fn follow_new_conns(&mut self, before: usize) {
        let after = self.conns_shown();
        if self.follow_conns && self.follow && after > before.max(1) {
            self.select_conn(after - 1);
        }
    }

    /// `F`: follow the newest event (and, live, the newest connection), or stop.
    fn toggle_follow(&mut self) {
        self.follow = !self.follow;
        if !self.follow {
            self.status = Some("follow off".into());
            return;
        }
        let n = self.conns_shown();
        if self.follow_conns && n > 0 {
            self.select_conn(n - 1);
        }
        self.cursor_to(usize::MAX);
        self.status = Some(
            if self.follow_conns {
                "follow on: the newest connection and event"
            } else {
                "follow on: the newest event"
            }
            .into(),
        );
    }

    fn start_playback(&mut self, state: PlayState) {
        self.play.state = state;
        self.play.revealed = 0;
        self.play.clock = 0;
        // Step mode shows the first arrow at once.
        self.play.waited = self.play.step.unwrap_or_default();
        self.follow = true;
        self.cursor = None;
        let span = self.capture_span();
        if !self.pace_chosen && self.source == Source::Replay && self.load == Load::Done {
            if let Some(span) = span.filter(|&s| s < SHORT_CAPTURE_NS) {
                self.play.step = Some(self.step_interval);
                self.play.waited = self.step_interval;
                self.status = Some(format!(
                    "this capture lasts {}: playing one arrow every {} (S: capture time, +/- pace)",
                    crate::tui::label::short_duration(span),
                    interval_name(self.step_interval)
                ));
            }
        }
    }

    /// Time from the first event to the last one loaded, if any.
    fn capture_span(&self) -> Option<u64> {
        let last = self.timeline.len().checked_sub(1)?;
        self.timeline.time(u32::try_from(last).ok()?)
    }

    /// Switches between step mode and capture time (`S`); starts playing when it was not.
    fn toggle_step_mode(&mut self) {
        self.pace_chosen = true;
        self.play.step = match self.play.step {
            Some(_) => None,
            None => Some(self.step_interval),
        };
        self.play.waited = self.play.step.unwrap_or_default();
        match self.play.state {
            PlayState::Off => self.start_playback(PlayState::Playing),
            PlayState::Paused if self.play.revealed >= self.timeline.len() => {
                self.start_playback(PlayState::Playing)
            }
            _ => {}
        }
        self.status = Some(match self.play.step {
            Some(every) => format!(
                "step mode: one arrow every {} (+/- pace, S capture time)",
                interval_name(every)
            ),
            None => format!(
                "capture time: x{} (+/- speed, S step mode)",
                self.play.speed_factor()
            ),
        });
    }

    /// `+` (`faster`) or `-`: the next speed, or in step mode the next interval.
    fn change_pace(&mut self, faster: bool) {
        match self.play.step {
            Some(every) => {
                let at = STEP_INTERVALS.partition_point(|&i| i < every);
                let to = if faster {
                    at.saturating_sub(1)
                } else if STEP_INTERVALS.get(at) == Some(&every) {
                    at + 1
                } else {
                    at
                };
                let every = STEP_INTERVALS
                    .get(to.min(STEP_INTERVALS.len() - 1))
                    .copied()
                    .unwrap_or(DEFAULT_STEP);
                self.play.step = Some(every);
                self.step_interval = every;
                self.status = Some(format!(
                    "step mode: one arrow every {}",
                    interval_name(every)
                ));
            }
            None => {
                self.play.speed = if faster {
                    (self.play.speed + 1).min(SPEEDS.len() - 1)
                } else {
                    self.play.speed.saturating_sub(1)
                };
            }
        }
    }

    /// Step mode, as wall time passes: the next arrow once the interval has passed.
    fn tick_steps(&mut self, dt: Duration, every: Duration) {
        self.play.waited = self.play.waited.saturating_add(dt);
        if self.play.waited < every {
            return;
        }
        // One arrow per tick at most: a late tick does not make arrows jump.
        self.play.waited = (self.play.waited - every).min(every);
        self.next_arrow();
    }

    /// Step mode: reveals the next arrow of the selected connection; at its end, moves to the
    /// connection whose next arrow comes first. At the end of the capture, pauses.
    fn next_arrow(&mut self) {
        let shown = self.view.visible(Some(self.play.revealed)).len();
        if let Some(&ix) = self.view.rows().get(shown) {
            self.reveal_through(ix);
            return;
        }
        let revealed = self.play.revealed;
        let layer = self.view.layer;
        let next = self
            .timeline
            .conns()
            .iter()
            .enumerate()
            .filter_map(|(pos, c)| {
                let rows = c.rows(layer);
                let k = rows.partition_point(|&ix| (ix as usize) < revealed);
                rows.get(k).map(|&ix| (ix, pos))
            })
            .min();
        match next {
            Some((ix, pos)) => {
                self.select_conn(pos);
                self.reveal_through(ix);
            }
            None if !matches!(self.load, Load::Loading { .. }) => {
                self.play.revealed = self.timeline.len();
                self.play.state = PlayState::Paused;
                self.status = Some("end of capture: space plays it again".into());
            }
            // More may come.
            None => {}
        }
    }

    /// Reveals the events up to and including `ix`.
    fn reveal_through(&mut self, ix: Ix) {
        self.play.revealed = ix as usize + 1;
        self.play.clock = self.timeline.time(ix).unwrap_or(self.play.clock);
        self.follow = true;
    }

    /// Reveals the events up to the playhead.
    fn reveal(&mut self) {
        let tl = &self.timeline;
        let time = |i: usize| u32::try_from(i).ok().and_then(|ix| tl.time(ix));
        // Cut long silences short (MAX_IDLE_NS).
        if let Some(next) = time(self.play.revealed) {
            if next > self.play.clock.saturating_add(MAX_IDLE_NS) {
                self.play.clock = next - MAX_IDLE_NS;
            }
        }
        while let Some(t) = time(self.play.revealed) {
            if t > self.play.clock {
                break;
            }
            self.play.revealed += 1;
        }
        if self.play.revealed >= tl.len() && !matches!(self.load, Load::Loading { .. }) {
            self.play.state = PlayState::Paused;
            self.status = Some("end of capture: space plays it again".into());
        }
    }

    /// Reveals up to and including the next row of the diagram.
    fn step(&mut self, forward: bool) {
        if self.play.state == PlayState::Off {
            self.start_playback(PlayState::Paused);
            if !forward {
                return;
            }
        }
        self.play.state = PlayState::Paused;
        let rows = self.view.rows();
        let shown = self.view.visible(Some(self.play.revealed)).len();
        let target = if forward {
            rows.get(shown).map(|&ix| ix as usize + 1)
        } else if shown >= 2 {
            rows.get(shown - 2).map(|&ix| ix as usize + 1)
        } else {
            rows.first().map(|&ix| ix as usize)
        };
        match target {
            Some(t) => {
                self.play.revealed = t;
                self.play.clock = t
                    .checked_sub(1)
                    .and_then(|i| u32::try_from(i).ok())
                    .and_then(|ix| self.timeline.time(ix))
                    .unwrap_or(0);
                self.follow = true;
            }
            None => {
                self.status = Some(if forward {
                    "no more rows: the end of this connection".into()
                } else {
                    "at the start".into()
                })
            }
        }
    }

    /// The rows of connection `pos` under the current layer and kind filter that show now:
    /// the selected connection's view, or one built for the occasion.
    fn rows_of(&self, pos: usize) -> std::borrow::Cow<'_, [Ix]> {
        if self.view.conn == Some(pos) {
            return std::borrow::Cow::Borrowed(self.visible_rows());
        }
        let mut v = View::new(Some(pos), self.view.layer, self.view.filter)
            .with_display(self.display.clone());
        v.sync(&self.timeline);
        std::borrow::Cow::Owned(v.visible(self.upto()).to_vec())
    }

    /// Selects connection `pos` as the user asked (a key, a click, a search, a jump): following
    /// stops unless it is the newest connection.
    fn pick_conn(&mut self, pos: usize) {
        self.select_conn(pos);
        if self.conn + 1 < self.conns_shown() {
            self.follow = false;
        }
    }

    /// Searches the arrows of every connection for the query: from the cursor to the end of
    /// the selected connection, then the next connections (the previous ones, backwards),
    /// wrapping around to the rows before the cursor. A match elsewhere selects its connection.
    fn search(&mut self, forward: bool, include_cursor: bool) {
        let Some(q) = self.query.clone().filter(|q| !q.is_empty()) else {
            self.status = Some("no search yet: / starts one".into());
            return;
        };
        let q = q.to_lowercase();
        let n_conns = self.conns_shown();
        if n_conns == 0 {
            self.status = Some(format!("no row matches \"{}\"", label::clean(&q)));
            return;
        }
        let here = self.conn.min(n_conns - 1);
        let cursor = self.cursor;
        let mut text = String::with_capacity(128);
        let mut found = None;
        // Step 0 is the selected connection after (before) the cursor; step n_conns is the same
        // connection again, before (after) the cursor.
        for step in 0..=n_conns {
            let pos = if forward {
                (here + step) % n_conns
            } else {
                (here + n_conns - step % n_conns) % n_conns
            };
            let rows = self.rows_of(pos);
            let conn = self.timeline.conn(pos);
            let in_range = |ix: Ix| match (step, cursor) {
                (_, None) => true,
                (0, Some(c)) => {
                    if forward {
                        ix > c || (include_cursor && ix == c)
                    } else {
                        ix < c || (include_cursor && ix == c)
                    }
                }
                (s, Some(c)) if s == n_conns => {
                    if forward {
                        ix <= c
                    } else {
                        ix >= c
                    }
                }
                _ => true,
            };
            let mut pick = |ix: Ix| {
                text.clear();
                label::arrow(&mut text, &self.timeline, conn, ix);
                label::contains_folded(&text, &q)
            };
            let hit = if forward {
                rows.iter()
                    .copied()
                    .filter(|&ix| in_range(ix))
                    .find(|&ix| pick(ix))
            } else {
                rows.iter()
                    .rev()
                    .copied()
                    .filter(|&ix| in_range(ix))
                    .find(|&ix| pick(ix))
            };
            if let Some(ix) = hit {
                let wrapped = if forward {
                    here + step >= n_conns
                } else {
                    step > here
                } || step == n_conns;
                found = Some((pos, ix, wrapped));
                break;
            }
        }
        let Some((pos, ix, wrapped)) = found else {
            self.status = Some(format!("no row matches \"{}\"", label::clean(&q)));
            return;
        };
        if pos != self.conn || self.view.conn != Some(pos) {
            self.pick_conn(pos);
        }
        self.cursor = Some(ix);
        self.follow = false;
        let rows = self.visible_rows();
        let row = rows.partition_point(|&r| r < ix);
        let id = self.timeline.conn(pos).map_or(0, |c| c.id);
        self.status = Some(format!(
            "/{}  connection #{id}, row {} of {}{}",
            label::clean(&q),
            row + 1,
            rows.len(),
            if wrapped { "  (wrapped)" } else { "" }
        ));
    }

    /// Jumps to what `:` was given: a connection (`#N`) or a frame (`N`).
    fn jump(&mut self, to: Jump) {
        match to {
            Jump::Conn(id) => match self.timeline.position(id) {
                Some(pos) if pos < self.conns_shown() => {
                    self.pick_conn(pos);
                    self.focus = Pane::Diagram;
                    self.status = Some(format!("connection #{id}"));
                }
                Some(_) => {
                    self.status = Some(format!(
                        "connection #{id} has not started yet at this point of the playback"
                    ))
                }
                None => self.status = Some(format!("no connection #{id} (see the list)")),
            },
            Jump::Frame(n) => self.jump_to_frame(n),
        }
    }

    /// Selects the row of frame `n`: its connection, and the first of its events that is a row
    /// of the view (or the next row, when the view folds the frame away).
    fn jump_to_frame(&mut self, n: u64) {
        let len = self
            .upto()
            .unwrap_or(self.timeline.len())
            .min(self.timeline.len());
        let last = len
            .checked_sub(1)
            .and_then(|i| self.timeline.frame(i as Ix))
            .unwrap_or(0);
        let mut events = (0..len as Ix).filter(|&ix| self.timeline.frame(ix) == Some(n));
        let Some(first) = events.find(|&ix| self.timeline.conn_of(ix).is_some()) else {
            self.status = Some(if n > last {
                format!("no frame {n}: the last frame shown is {last}")
            } else {
                format!("frame {n} belongs to no TCP connection")
            });
            return;
        };
        let Some(pos) = self
            .timeline
            .conn_of(first)
            .and_then(|c| self.timeline.position(c.id))
        else {
            return;
        };
        self.pick_conn(pos);
        self.focus = Pane::Diagram;
        self.follow = false;
        let rows = self.visible_rows();
        let at = rows.partition_point(|&r| r < first);
        let exact = rows
            .get(at..)
            .unwrap_or(&[])
            .iter()
            .take_while(|&&r| self.timeline.frame(r) == Some(n))
            .next()
            .copied();
        let id = self.timeline.conn(pos).map_or(0, |c| c.id);
        match (exact, rows.get(at).or(rows.last()).copied()) {
            (Some(ix), _) => {
                self.cursor = Some(ix);
                self.status = Some(format!("frame {n}: connection #{id}"));
            }
            (None, Some(ix)) => {
                self.cursor = Some(ix);
                self.status = Some(format!(
                    "frame {n} (connection #{id}) is not a row of this view (a shows every \
                     segment, f the other kinds); the nearest row is selected"
                ));
            }
            (None, None) => {
                self.status = Some(format!(
                    "frame {n} (connection #{id}) is not a row of this view (a shows every \
                     segment, f the other kinds)"
                ))
            }
        }
    }

    /// Sets (or clears) the display filter; when the selected connection has no row that
    /// matches, the first connection that has one is selected. Says how much matches.
    fn set_display(&mut self, display: Option<Filter>) {
        self.display = display.map(Arc::new);
        let conn = self.conn;
        self.rebuild_view();
        self.cursor = None;
        self.top = 0;
        self.detail_scroll = 0;
        let Some(f) = self.display.clone() else {
            self.status = Some("display filter off: every row shows".into());
            return;
        };
        let counts: Vec<usize> = (0..self.conns_shown())
            .map(|pos| self.rows_of(pos).len())
            .collect();
        let rows: usize = counts.iter().sum();
        let conns = counts.iter().filter(|&&n| n > 0).count();
        if counts.get(conn).is_none_or(|&n| n == 0) {
            if let Some(pos) = counts.iter().position(|&n| n > 0) {
                self.pick_conn(pos);
            }
        }
        let s = |n: usize| if n == 1 { "" } else { "s" };
        self.status = Some(format!(
            "filter {}: {} row{} in {} connection{}",
            label::clean(f.text()),
            label::count(rows as u64),
            s(rows),
            conns,
            s(conns)
        ));
    }

    /// `y`: puts the selected event's payload (or text) on the clipboard.
    fn copy(&mut self) {
        let Some(ix) = self.cursor else {
            self.status = Some("nothing selected to copy".into());
            return;
        };
        let Some(e) = self.timeline.event(ix) else {
            return;
        };
        let label = self.label(ix);
        let (text, what) = tools::copy_text(&e, &label);
        let n = text.len().min(tools::MAX_COPY_BYTES);
        let cut = if text.len() > tools::MAX_COPY_BYTES {
            " (cut)"
        } else {
            ""
        };
        self.effects.push(Effect::Copy(text));
        self.status = Some(format!(
            "copied {what} to the clipboard: {}{cut} (OSC 52: the terminal must allow it)",
            label::bytes(n as u64)
        ));
    }

    /// `w` (the selected connection) or `W` (every row the view shows, in every connection):
    /// asks for their frames to be saved.
    fn save(&mut self, whole_view: bool) {
        if let Frames::None(why) = &self.frames {
            self.status = Some(format!("cannot save: {why}"));
            return;
        }
        let upto = self.upto();
        let mut frames: Vec<u64> = Vec::new();
        let name;
        if whole_view {
            for pos in 0..self.conns_shown() {
                frames.extend(
                    self.rows_of(pos)
                        .iter()
                        .filter_map(|&ix| self.timeline.frame(ix)),
                );
            }
            name = "view".to_string();
        } else {
            let Some(c) = self.timeline.conn(self.conn) else {
                self.status = Some("no connection to save".into());
                return;
            };
            // The connection's TCP segments: every frame it was carried in.
            frames.extend(
                c.events
                    .iter()
                    .filter(|&&ix| upto.is_none_or(|u| (ix as usize) < u))
                    .filter(|&&ix| self.timeline.kind(ix) == Some("tcp"))
                    .filter_map(|&ix| self.timeline.frame(ix)),
            );
            name = format!("conn-{}", c.id);
        }
        frames.sort_unstable();
        frames.dedup();
        if frames.is_empty() {
            self.status = Some("nothing to save: the view shows no frame".into());
            return;
        }
        self.status = Some(format!(
            "saving {} frame{}…",
            label::count(frames.len() as u64),
            if frames.len() == 1 { "" } else { "s" }
        ));
        self.effects.push(Effect::Save { frames, name });
    }

    /// The conversation the lesson pane is open on, if it is.
    pub fn lesson_report(&self) -> Option<&PatternReport> {
        let p = self.patterns.filter(|p| p.lesson)?;
        self.timeline.patterns().get(p.row)
    }

    /// The patterns view's `inner` area split into its list and, when it is open, the lesson
    /// pane.
    pub fn patterns_split(&self, inner: Rect) -> (Rect, Option<Rect>) {
        crate::tui::lesson::split(inner, self.lesson_report(), self.lang)
    }

    /// The patterns view's list: the screen inside the border, less the lesson pane when it is
    /// open.
    pub fn patterns_list_area(&self) -> Rect {
        self.patterns_split(self.areas().inner).0
    }

    /// Opens the patterns view on the conversation of the selected connection, if it has one.
    fn open_patterns(&mut self) {
        let conn = self.timeline.conn(self.conn).map(|c| c.id);
        let rows = self.timeline.patterns();
        let row = conn
            .and_then(|id| rows.iter().position(|r| r.conns.contains(&id)))
            .unwrap_or(0);
        let empty = rows.is_empty();
        let capture_time = self.patterns.is_some_and(|p| p.capture_time);
        self.patterns = Some(PatternsView {
            row,
            top: 0,
            capture_time,
            lesson: false,
        });
        if empty {
            self.status = Some("no pattern in this capture (yet)".into());
        }
    }

    fn toggle_detail(&mut self) {
        self.detail_open = !self.detail_open;
        self.detail_scroll = 0;
        self.focus = if self.detail_open {
            Pane::Detail
        } else {
            Pane::Diagram
        };
    }

    fn panes(&self) -> Vec<Pane> {
        let mut p = vec![Pane::Conns, Pane::Diagram];
        if self.areas().detail.is_some() {
            p.push(Pane::Detail);
        }
        p
    }

    fn cycle_focus(&mut self, back: bool) {
        let panes = self.panes();
        let i = panes.iter().position(|&p| p == self.focus).unwrap_or(0);
        let n = panes.len();
        let j = if back { (i + n - 1) % n } else { (i + 1) % n };
        self.focus = panes.get(j).copied().unwrap_or(Pane::Diagram);
    }
}

/// First row to show so that `row` is on screen, moving as little as possible from `top`.
pub fn scrolled(top: usize, row: usize, height: u16, len: usize) -> usize {
    let h = usize::from(height.max(1));
    let mut top = top.min(len.saturating_sub(h));
    if row < top {
        top = row;
    } else if row >= top + h {
        top = row + 1 - h;
    }
    top
}

/// Applies one action to the app.
pub fn update(app: &mut App, action: Action) {
    match action {
        Action::Key(k) => {
            if k.kind != KeyEventKind::Release {
                key(app, k);
            }
        }
        Action::Mouse(m) => mouse(app, m),
        Action::Resize(w, h) => app.size = (w, h),
        Action::Tick(dt) => {
            if let (PlayState::Playing, Some(every)) = (app.play.state, app.play.step) {
                let before = app.conns_shown();
                app.tick_steps(dt, every);
                app.follow_new_conns(before);
            } else if app.play.state == PlayState::Playing {
                let ns = dt.as_secs_f64() * 1e9 * app.play.speed_factor();
                app.play.clock = app.play.clock.saturating_add(ns as u64);
                let before = app.conns_shown();
                app.reveal();
                app.follow_new_conns(before);
            }
        }
        Action::Events(_) | Action::Located(_) => {
            let before = app.conns_shown();
            match action {
                Action::Events(events) => {
                    for e in events {
                        app.timeline.push(e);
                    }
                }
                Action::Located(batch) => app.timeline.extend_located(batch),
                _ => {}
            }
            if app.play.state == PlayState::Playing && app.play.step.is_none() {
                app.reveal();
            }
            app.follow_new_conns(before);
        }
        Action::Progress { bytes, total } => {
            if matches!(app.load, Load::Loading { .. }) {
                app.load = Load::Loading { bytes, total };
            }
        }
        Action::Loaded { warning } => {
            app.load = Load::Done;
            app.warning = warning;
        }
        Action::Failed(why) => app.load = Load::Failed(why),
        Action::Info(info) => app.info = Some(info).filter(|i| !i.is_empty()),
        Action::Autoplay(factor) => {
            app.play.speed = nearest_speed(factor);
            app.play.step = None;
            app.pace_chosen = true;
            app.start_playback(PlayState::Playing);
        }
        Action::StepPlay(every) => {
            app.step_interval = every.max(MIN_STEP);
            app.play.step = Some(app.step_interval);
            app.pace_chosen = true;
            app.start_playback(PlayState::Playing);
        }
        Action::Status(s) => app.status = Some(s),
    }
    app.settle();
}

/// The shortest step interval `--step` takes: quicker than this, arrows blur.
pub const MIN_STEP: Duration = Duration::from_millis(50);

/// `1 s`, `500 ms`, `1.5 s`: a step interval for the status line.
pub fn interval_name(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Parses a step interval: `1s`, `500ms`, `1.5s`, or a number of seconds (`2`).
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        (s, 1.0)
    };
    let secs = num
        .trim()
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|n| n.is_finite() && *n > 0.0 && *n <= 3600.0)
        .ok_or_else(|| format!("{s:?} is not a time like 1s, 500ms or 2"))?;
    let d = Duration::from_secs_f64(secs);
    if d < MIN_STEP {
        return Err(format!("{s:?} is shorter than {} ms", MIN_STEP.as_millis()));
    }
    Ok(d)
}

/// Index of the speed in [`SPEEDS`] nearest to `factor` by ratio; normal speed for a factor
/// that is not a positive number.
pub fn nearest_speed(factor: f64) -> usize {
    if !(factor.is_finite() && factor > 0.0) {
        return NORMAL_SPEED;
    }
    let off = |s: f64| (s.ln() - factor.ln()).abs();
    SPEEDS
        .iter()
        .enumerate()
        .min_by(|(_, a), (_, b)| off(**a).total_cmp(&off(**b)))
        .map_or(NORMAL_SPEED, |(i, _)| i)
}

fn ctrl(k: &KeyEvent) -> bool {
    k.modifiers.contains(KeyModifiers::CONTROL)
}

fn key(app: &mut App, k: KeyEvent) {
    if ctrl(&k) && k.code == KeyCode::Char('c') {
        app.quit = true;
        return;
    }
    app.status = None;
    if let Some(p) = app.prompt.as_mut() {
        match k.code {
            KeyCode::Esc => app.prompt = None,
            KeyCode::Enter => {
                let Some(p) = app.prompt.take() else { return };
                match p.kind {
                    PromptKind::Search => {
                        app.query = Some(p.text).filter(|q| !q.is_empty());
                        app.search(true, false);
                    }
                    PromptKind::Jump => match tools::parse_jump(&p.text) {
                        Ok(to) => app.jump(to),
                        Err(why) => {
                            app.status = Some(why);
                            app.prompt = Some(p);
                        }
                    },
                    PromptKind::Filter if p.text.trim().is_empty() => app.set_display(None),
                    // Parsed on Enter only: a host name is looked up then.
                    PromptKind::Filter => match Filter::parse(&p.text) {
                        Ok(f) => app.set_display(Some(f)),
                        Err(e) => {
                            app.status = Some(e.to_string());
                            app.prompt = Some(Prompt {
                                error_at: Some(e.pos),
                                ..p
                            });
                        }
                    },
                }
            }
            // Backspace on an empty input leaves it (the guard pops the last character).
            KeyCode::Backspace if p.text.pop().is_none() => app.prompt = None,
            KeyCode::Backspace => p.error_at = None,
            KeyCode::Char('u') if ctrl(&k) => {
                p.text.clear();
                p.error_at = None;
            }
            KeyCode::Char(c) if !ctrl(&k) && p.text.chars().count() < MAX_PROMPT_CHARS => {
                p.text.push(c);
                p.error_at = None;
            }
            _ => {}
        }
        return;
    }
    if let Some(scroll) = app.help.as_mut() {
        match k.code {
            KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') => app.help = None,
            KeyCode::Char('j') | KeyCode::Down => *scroll = scroll.saturating_add(1),
            KeyCode::Char('k') | KeyCode::Up => *scroll = scroll.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => *scroll = scroll.saturating_add(10),
            KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
            KeyCode::Char('g') | KeyCode::Home => *scroll = 0,
            _ => {}
        }
        return;
    }
    if app.patterns.is_some() && patterns_key(app, &k) {
        return;
    }
    if ctrl(&k) {
        movement(app, &k);
        return;
    }
    match k.code {
        KeyCode::Char('q') => app.quit = true,
        KeyCode::Char('p') => app.open_patterns(),
        KeyCode::Esc => {
            if app.detail_open {
                app.toggle_detail();
            } else {
                app.status = Some("Esc closes panes and cancels input: q quits".into());
            }
        }
        KeyCode::Char('?') => app.help = Some(0),
        KeyCode::Tab => app.cycle_focus(false),
        KeyCode::BackTab => app.cycle_focus(true),
        KeyCode::Enter => match app.focus {
            Pane::Conns => app.focus = Pane::Diagram,
            Pane::Diagram | Pane::Detail => app.toggle_detail(),
        },
        KeyCode::Char('/') => {
            app.prompt = Some(Prompt {
                kind: PromptKind::Search,
                text: String::new(),
                error_at: None,
            })
        }
        KeyCode::Char(':') => {
            app.prompt = Some(Prompt {
                kind: PromptKind::Jump,
                text: String::new(),
                error_at: None,
            })
        }
        // The current filter, to edit.
        KeyCode::Char('Y') => {
            app.prompt = Some(Prompt {
                kind: PromptKind::Filter,
                text: app
                    .display
                    .as_ref()
                    .map(|f| f.text().to_string())
                    .unwrap_or_default(),
                error_at: None,
            })
        }
        KeyCode::Char('y') => app.copy(),
        KeyCode::Char('w') => app.save(false),
        KeyCode::Char('W') => app.save(true),
        KeyCode::Char('M') => {
            app.mouse = !app.mouse;
            app.effects.push(Effect::Mouse(app.mouse));
            app.status = Some(
                if app.mouse {
                    "mouse on: the wheel scrolls, a click selects (M lets the terminal select text)"
                } else {
                    "mouse off: the terminal selects text (M turns the mouse back on)"
                }
                .into(),
            );
        }
        KeyCode::Char('n') => app.search(true, false),
        KeyCode::Char('N') => app.search(false, false),
        KeyCode::Char('a') => {
            let layer = app.view.layer.toggled();
            app.set_view(layer, app.view.filter);
            app.status = Some(format!("layer: {}", layer.name()));
        }
        KeyCode::Char('f') => {
            let filter = app.view.filter.next();
            app.set_view(app.view.layer, filter);
            app.status = Some(format!("showing {}", filter.name()));
        }
        KeyCode::Char('t') => {
            app.time_format = match app.time_format {
                TimeFormat::Relative => TimeFormat::Delta,
                TimeFormat::Delta => TimeFormat::Relative,
            }
        }
        KeyCode::Char('F') => app.toggle_follow(),
        KeyCode::Char(' ') => match app.play.state {
            PlayState::Off => app.start_playback(PlayState::Playing),
            PlayState::Playing => app.play.state = PlayState::Paused,
            PlayState::Paused => {
                if app.play.revealed >= app.timeline.len() && app.load == Load::Done {
                    app.start_playback(PlayState::Playing);
                } else {
                    app.play.state = PlayState::Playing;
                    app.follow = true;
                }
            }
        },
        KeyCode::Char('r') => app.start_playback(PlayState::Playing),
        KeyCode::Char('s') => {
            app.play.state = PlayState::Off;
            app.status = Some("playback stopped: every event shows".into());
        }
        KeyCode::Char('.') | KeyCode::Right => app.step(true),
        KeyCode::Char(',') | KeyCode::Left => app.step(false),
        KeyCode::Char('+') | KeyCode::Char('=') => app.change_pace(true),
        KeyCode::Char('-') | KeyCode::Char('_') => app.change_pace(false),
        KeyCode::Char('S') => app.toggle_step_mode(),
        KeyCode::Char(']') => app.pick_conn(app.conn.saturating_add(1)),
        KeyCode::Char('[') => app.pick_conn(app.conn.saturating_sub(1)),
        _ => movement(app, &k),
    }
}

/// Keys of the patterns view; returns false for the keys it leaves to the main handler
/// (`q`, `?`, playback...).
fn patterns_key(app: &mut App, k: &KeyEvent) -> bool {
    let Some(mut p) = app.patterns else {
        return false;
    };
    let n = app.timeline.patterns().len();
    let page = usize::from(pattern_list_height(app.patterns_list_area(), n).max(1));
    let last = n.saturating_sub(1);
    match k.code {
        // Esc closes the lesson first, then the view.
        KeyCode::Esc if p.lesson => p.lesson = false,
        KeyCode::Esc | KeyCode::Char('p') => {
            app.patterns = None;
            return true;
        }
        // Enter opens the lesson on the selected conversation; Enter again shows it in the
        // diagram.
        KeyCode::Enter if !p.lesson => {
            if n == 0 {
                app.status = Some("no pattern in this capture (yet)".into());
            }
            p.lesson = n > 0;
        }
        KeyCode::Char('j') | KeyCode::Down => p.row = (p.row + 1).min(last),
        KeyCode::Char('k') | KeyCode::Up => p.row = p.row.saturating_sub(1),
        KeyCode::PageDown => p.row = (p.row + page).min(last),
        KeyCode::PageUp => p.row = p.row.saturating_sub(page),
        KeyCode::Char('d') | KeyCode::Char('f') if ctrl(k) => p.row = (p.row + page).min(last),
        KeyCode::Char('u') | KeyCode::Char('b') if ctrl(k) => p.row = p.row.saturating_sub(page),
        KeyCode::Char('g') | KeyCode::Home => p.row = 0,
        KeyCode::Char('G') | KeyCode::End => p.row = last,
        KeyCode::Char('t') => {
            p.capture_time = !p.capture_time;
            app.status = Some(
                if p.capture_time {
                    "patterns: capture time"
                } else {
                    "patterns: each row from its first request"
                }
                .into(),
            );
        }
        KeyCode::Enter => {
            let first = app
                .timeline
                .patterns()
                .get(p.row)
                .and_then(|r| r.conns.first().copied());
            if let Some(pos) = first.and_then(|id| app.timeline.position(id)) {
                app.patterns = None;
                app.focus = Pane::Diagram;
                app.select_conn(pos);
            } else {
                app.status = Some("this conversation's connections are not kept".into());
            }
            return true;
        }
        _ => return false,
    }
    app.patterns = Some(p);
    true
}

/// j/k, arrows, PgUp/PgDn, g/G, Home/End, Ctrl-d/Ctrl-u in the focused pane.
fn movement(app: &mut App, k: &KeyEvent) {
    enum Move {
        By(isize),
        Top,
        Bottom,
    }
    let page = app.page() as isize;
    let half = (page / 2).max(1);
    let m = match k.code {
        KeyCode::Char('j') | KeyCode::Down => Move::By(1),
        KeyCode::Char('k') | KeyCode::Up => Move::By(-1),
        KeyCode::PageDown => Move::By(page),
        KeyCode::PageUp => Move::By(-page),
        KeyCode::Char('d') if ctrl(k) => Move::By(half),
        KeyCode::Char('u') if ctrl(k) => Move::By(-half),
        KeyCode::Char('f') if ctrl(k) => Move::By(page),
        KeyCode::Char('b') if ctrl(k) => Move::By(-page),
        KeyCode::Char('g') | KeyCode::Home => Move::Top,
        KeyCode::Char('G') | KeyCode::End => Move::Bottom,
        _ => return,
    };
    match app.focus {
        Pane::Conns => {
            let last = app.timeline.conns().len().saturating_sub(1);
            let list_page = app
                .areas()
                .conns
                .map_or(1, |r| usize::from(r.height.saturating_sub(1) / 2))
                as isize;
            let to = match m {
                Move::By(d) => {
                    let d = if d.abs() > 1 {
                        d.signum() * list_page.max(1)
                    } else {
                        d
                    };
                    app.conn.saturating_add_signed(d)
                }
                Move::Top => 0,
                Move::Bottom => last,
            };
            app.pick_conn(to.min(last));
        }
        Pane::Diagram => match m {
            Move::By(d) => app.move_cursor(d),
            Move::Top => {
                app.follow = false;
                app.cursor_to(0);
            }
            Move::Bottom => {
                app.follow = true;
                app.cursor_to(usize::MAX);
            }
        },
        Pane::Detail => {
            app.detail_scroll = match m {
                Move::By(d) => app.detail_scroll.saturating_add_signed(d),
                Move::Top => 0,
                Move::Bottom => usize::MAX,
            }
        }
    }
}

fn mouse(app: &mut App, m: MouseEvent) {
    if let Some(mut p) = app.patterns {
        let n = app.timeline.patterns().len();
        match m.kind {
            MouseEventKind::ScrollDown => p.row = (p.row + 1).min(n.saturating_sub(1)),
            MouseEventKind::ScrollUp => p.row = p.row.saturating_sub(1),
            MouseEventKind::Down(MouseButton::Left) => {
                if let Some(row) = pattern_row_at(app.patterns_list_area(), n, p.top, m.row) {
                    p.row = row;
                }
            }
            _ => {}
        }
        app.patterns = Some(p);
        return;
    }
    let a = app.areas();
    let at = Position::new(m.column, m.row);
    let pane = if a.conns.is_some_and(|r| r.contains(at)) || (!a.wide() && a.bar.contains(at)) {
        Some(Pane::Conns)
    } else if a.rows.contains(at) || a.header.contains(at) {
        Some(Pane::Diagram)
    } else if a.detail.is_some_and(|r| r.contains(at)) {
        Some(Pane::Detail)
    } else {
        None
    };
    let Some(pane) = pane else { return };
    let step: isize = match m.kind {
        MouseEventKind::ScrollDown => 3,
        MouseEventKind::ScrollUp => -3,
        MouseEventKind::Down(MouseButton::Left) => 0,
        _ => return,
    };
    app.focus = pane;
    match (pane, step) {
        (Pane::Conns, 0) => {
            if let Some(r) = a.conns.filter(|r| m.row > r.y) {
                let pos = app.conn_top + usize::from((m.row - r.y - 1) / 2);
                if pos < app.conns_shown() {
                    app.pick_conn(pos);
                }
            }
        }
        (Pane::Conns, d) => app.pick_conn(app.conn.saturating_add_signed(d.signum())),
        (Pane::Diagram, 0) => {
            if a.rows.contains(at) {
                let row = app.top + usize::from(m.row - a.rows.y);
                if row < app.visible_rows().len() {
                    app.follow = false;
                    app.cursor_to(row);
                }
            }
        }
        (Pane::Diagram, d) => app.move_cursor(d),
        (Pane::Detail, d) => app.detail_scroll = app.detail_scroll.saturating_add_signed(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::sample;

    fn press(app: &mut App, code: KeyCode) {
        update(app, Action::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }

    fn demo() -> App {
        App::with_events("replay demo", (120, 40), sample::demo())
    }

    #[test]
    fn starts_at_the_top_of_the_first_connection() {
        let app = demo();
        assert_eq!(app.view.conn, Some(0));
        assert_eq!(app.cursor_row(), Some(0));
        assert!(app.label(app.cursor.unwrap()).starts_with("SYN "));
    }

    #[test]
    fn keys_move_and_switch() {
        let mut app = demo();
        press(&mut app, KeyCode::Char('j'));
        press(&mut app, KeyCode::Down);
        assert_eq!(app.cursor_row(), Some(2));
        press(&mut app, KeyCode::Char('G'));
        assert!(app.follow);
        assert_eq!(app.cursor_row(), Some(app.visible_rows().len() - 1));
        press(&mut app, KeyCode::Char('g'));
        assert_eq!(app.cursor_row(), Some(0));
        assert!(!app.follow);
        press(&mut app, KeyCode::Char(']'));
        assert_eq!(app.conn, 1);
        press(&mut app, KeyCode::Tab);
        assert_eq!(app.focus, Pane::Detail);
        press(&mut app, KeyCode::Tab);
        assert_eq!(app.focus, Pane::Conns);
        press(&mut app, KeyCode::Char('j'));
        assert_eq!(app.conn, 2);
        press(&mut app, KeyCode::Char('G'));
        assert_eq!(app.conn, 3);
        press(&mut app, KeyCode::Char('q'));
        assert!(app.quit);
    }

    #[test]
    fn layer_switch_shows_every_segment() {
        let mut app = demo();
        let app_rows = app.visible_rows().len();
        press(&mut app, KeyCode::Char('a'));
        assert!(app.visible_rows().len() > app_rows);
        assert_eq!(app.view.layer, ViewLayer::AllSegments);
        // The cursor stays on the same event across the switch.
        press(&mut app, KeyCode::Char('j'));
        let at = app.cursor;
        press(&mut app, KeyCode::Char('a'));
        press(&mut app, KeyCode::Char('a'));
        assert_eq!(app.cursor, at);
    }

    #[test]
    fn search_finds_wraps_and_reports_misses() {
        let mut app = demo();
        for c in "/pong".chars() {
            press(&mut app, KeyCode::Char(c));
        }
        assert_eq!(app.prompt.as_ref().map(|p| p.text.as_str()), Some("pong"));
        press(&mut app, KeyCode::Enter);
        assert!(app.label(app.cursor.unwrap()).starts_with("Pong"));
        press(&mut app, KeyCode::Char('n'));
        assert!(
            app.status.as_deref().unwrap_or("").contains("wrapped")
                || app.label(app.cursor.unwrap()).starts_with("Pong")
        );
        for c in "/zzz".chars() {
            press(&mut app, KeyCode::Char(c));
        }
        press(&mut app, KeyCode::Enter);
        assert_eq!(app.status.as_deref(), Some("no row matches \"zzz\""));
    }

    #[test]
    fn playback_reveals_in_capture_time() {
        let mut app = demo();
        // The sample is short: it would play in steps unless the pace was chosen.
        app.pace_chosen = true;
        press(&mut app, KeyCode::Char(' '));
        assert_eq!(app.play.state, PlayState::Playing);
        assert_eq!(app.visible_rows().len(), 0);
        update(&mut app, Action::Tick(Duration::ZERO));
        // The SYN at t=0.
        assert_eq!(app.visible_rows().len(), 1);
        update(&mut app, Action::Tick(Duration::from_micros(21)));
        assert_eq!(app.visible_rows().len(), 2);
        assert!(app.label(app.cursor.unwrap()).starts_with("SYN-ACK"));
        press(&mut app, KeyCode::Char(' '));
        assert_eq!(app.play.state, PlayState::Paused);
        update(&mut app, Action::Tick(Duration::from_secs(5)));
        assert_eq!(app.visible_rows().len(), 2);
        // Faster: x64 for 1 s of wall time plays the whole demo.
        for _ in 0..6 {
            press(&mut app, KeyCode::Char('+'));
        }
        assert_eq!(app.play.speed_factor(), 64.0);
        press(&mut app, KeyCode::Char(' '));
        update(&mut app, Action::Tick(Duration::from_secs(1)));
        assert_eq!(app.play.revealed, app.timeline.len());
        assert_eq!(app.play.state, PlayState::Paused);
        press(&mut app, KeyCode::Char('s'));
        assert_eq!(app.upto(), None);
    }

    /// The sample lasts well under a second (a loopback capture): space plays it in steps,
    /// and the status line says why.
    #[test]
    fn a_short_capture_plays_in_steps_by_default() {
        let mut app = demo();
        assert!(app.capture_span().unwrap() < SHORT_CAPTURE_NS);
        press(&mut app, KeyCode::Char(' '));
        assert_eq!(app.play.step, Some(DEFAULT_STEP));
        let status = app.status.clone().unwrap();
        assert!(
            status.starts_with("this capture lasts ") && status.contains("one arrow every 1 s"),
            "{status}"
        );
        let rows = app.view.rows().to_vec();
        // The first arrow at once, then one per second of wall time, whatever the capture's
        // timestamps (these arrows are microseconds apart).
        update(&mut app, Action::Tick(Duration::ZERO));
        assert_eq!(app.visible_rows(), &rows[..1]);
        update(&mut app, Action::Tick(Duration::from_millis(999)));
        assert_eq!(app.visible_rows(), &rows[..1]);
        update(&mut app, Action::Tick(Duration::from_millis(1)));
        assert_eq!(app.visible_rows(), &rows[..2]);
        assert_eq!(app.cursor, Some(rows[1]), "the newest arrow is selected");
        // A late tick shows one arrow, not a burst.
        update(&mut app, Action::Tick(Duration::from_secs(30)));
        assert_eq!(app.visible_rows(), &rows[..3]);
        // `S` switches to capture time, and the choice sticks across a restart.
        press(&mut app, KeyCode::Char('S'));
        assert_eq!(app.play.step, None);
        assert!(app
            .status
            .as_deref()
            .unwrap()
            .starts_with("capture time: x1"));
        press(&mut app, KeyCode::Char('r'));
        assert_eq!(app.play.step, None);
        assert_eq!(app.status, None);
    }

    /// A capture of a second or more plays in capture time; `S` asks for steps anyway, and
    /// `+`/`-` then change the interval.
    #[test]
    fn step_mode_on_request_and_its_pace() {
        let mut events = sample::demo();
        let last = events.len() - 1;
        events[last].t = crate::model::Nanos(2_000_000_000);
        let mut app = App::with_events("replay long", (120, 40), events);
        press(&mut app, KeyCode::Char(' '));
        assert_eq!(app.play.step, None);
        press(&mut app, KeyCode::Char('s'));
        assert_eq!(app.play.state, PlayState::Off);
        press(&mut app, KeyCode::Char('S'));
        assert_eq!(app.play.state, PlayState::Playing, "S starts playing");
        assert_eq!(app.play.step, Some(Duration::from_secs(1)));
        press(&mut app, KeyCode::Char('+'));
        assert_eq!(app.play.step, Some(Duration::from_millis(500)));
        assert_eq!(
            app.status.as_deref(),
            Some("step mode: one arrow every 500 ms")
        );
        for _ in 0..10 {
            press(&mut app, KeyCode::Char('+'));
        }
        assert_eq!(app.play.step, Some(STEP_INTERVALS[0]));
        for _ in 0..20 {
            press(&mut app, KeyCode::Char('-'));
        }
        assert_eq!(app.play.step, STEP_INTERVALS.last().copied());
        // Steps walk off the end of one connection onto the next one's first arrow, then
        // stop at the end of the capture.
        let mut app = demo();
        update(&mut app, Action::StepPlay(Duration::from_millis(200)));
        assert_eq!(app.play.step, Some(Duration::from_millis(200)));
        let first = app.view.rows().len();
        let mut ticks = 0;
        while app.play.state == PlayState::Playing {
            update(&mut app, Action::Tick(Duration::from_millis(200)));
            ticks += 1;
            assert!(ticks < 10_000, "step mode never ended");
        }
        assert!(
            ticks > first,
            "{ticks} steps for {first} arrows of the first connection"
        );
        assert_ne!(
            app.view.conn,
            Some(0),
            "steps moved on to later connections"
        );
        assert_eq!(app.play.revealed, app.timeline.len());
        assert_eq!(
            app.status.as_deref(),
            Some("end of capture: space plays it again")
        );
    }

    #[test]
    fn speed_goes_down_to_a_hundredth() {
        let mut app = demo();
        app.pace_chosen = true;
        press(&mut app, KeyCode::Char(' '));
        for _ in 0..20 {
            press(&mut app, KeyCode::Char('-'));
        }
        assert_eq!(app.play.speed_factor(), 0.01);
        let before = app.play.clock;
        update(&mut app, Action::Tick(Duration::from_secs(1)));
        assert_eq!(
            app.play.clock - before,
            10_000_000,
            "1 s of wall time is 10 ms"
        );
    }

    #[test]
    fn step_intervals_parse_from_the_command_line() {
        assert_eq!(parse_interval("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_interval("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_interval("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_interval("2"), Ok(Duration::from_secs(2)));
        for bad in ["", "s", "fast", "-1s", "0", "10ms", "NaN", "1e9"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
        assert_eq!(interval_name(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(interval_name(Duration::from_millis(250)), "250 ms");
    }

    #[test]
    fn autoplay_plays_from_the_start_at_the_nearest_speed() {
        let mut app = demo();
        update(&mut app, Action::Autoplay(0.3));
        assert_eq!(app.play.state, PlayState::Playing);
        assert_eq!(app.play.speed_factor(), 0.25);
        assert_eq!(app.visible_rows().len(), 0);
        update(&mut app, Action::Tick(Duration::ZERO));
        assert_eq!(app.visible_rows().len(), 1);
        assert_eq!(SPEEDS[nearest_speed(5.0)], 4.0);
        assert_eq!(SPEEDS[nearest_speed(1e9)], 64.0);
        assert_eq!(SPEEDS[nearest_speed(f64::NAN)], 1.0);
        assert_eq!(SPEEDS[nearest_speed(0.0)], 1.0);
    }

    /// Live, following: a new connection takes the diagram while the newest one is selected;
    /// once the user picked an older one, or stopped following, new ones do not.
    #[test]
    fn live_follow_moves_to_each_new_connection() {
        let events = sample::demo();
        let conns: Vec<_> = {
            let mut v: Vec<_> = events.iter().filter_map(|e| e.conn).collect();
            v.dedup();
            v
        };
        assert!(conns.len() >= 2, "the sample has several connections");
        let of = |c| -> Vec<Event> {
            events
                .iter()
                .filter(|e| e.conn == Some(c))
                .cloned()
                .collect()
        };
        let mut app = App::new(Source::Live, "live lo", (120, 40), usize::MAX);
        update(&mut app, Action::Events(of(conns[0])));
        assert_eq!(app.view.conn, Some(0));
        update(&mut app, Action::Events(of(conns[1])));
        assert_eq!(app.view.conn, Some(1));
        assert!(app.follow);
        assert_eq!(app.cursor_row(), Some(app.visible_rows().len() - 1));
        // The user goes back to the first connection: it stays selected.
        update(
            &mut app,
            Action::Key(KeyEvent::new(KeyCode::Char('['), KeyModifiers::NONE)),
        );
        assert_eq!(app.view.conn, Some(0));
        if let Some(&c) = conns.get(2) {
            update(&mut app, Action::Events(of(c)));
            assert_eq!(app.view.conn, Some(0));
        }
        // A replay does not jump...
        let mut replay = App::new(Source::Replay, "replay", (120, 40), usize::MAX);
        update(&mut replay, Action::Events(of(conns[0])));
        update(&mut replay, Action::Events(of(conns[1])));
        assert_eq!(replay.view.conn, Some(0));
        // ... unless asked to (the demo's recording): then playback moves to each connection
        // as it starts.
        let mut played = App::new(Source::Replay, "recording", (120, 40), usize::MAX);
        played.follow_conns = true;
        update(&mut played, Action::Events(events.clone()));
        update(&mut played, Action::Loaded { warning: None });
        update(&mut played, Action::Autoplay(1.0));
        update(&mut played, Action::Tick(Duration::ZERO));
        assert_eq!(played.view.conn, Some(0));
        let second = events
            .iter()
            .find(|e| e.conn == Some(conns[1]))
            .unwrap()
            .t
            .0;
        update(&mut played, Action::Tick(Duration::from_nanos(second)));
        assert_eq!(played.view.conn, Some(1));
        assert_eq!(played.visible_rows().len(), 1, "the new connection's SYN");
    }

    #[test]
    fn step_walks_arrow_by_arrow() {
        let mut app = demo();
        let rows = app.visible_rows().to_vec();
        for n in 1..=4 {
            press(&mut app, KeyCode::Char('.'));
            assert_eq!(app.visible_rows(), &rows[..n]);
            assert_eq!(app.cursor, Some(rows[n - 1]));
        }
        press(&mut app, KeyCode::Char(','));
        assert_eq!(app.visible_rows(), &rows[..3]);
        press(&mut app, KeyCode::Left);
        press(&mut app, KeyCode::Left);
        press(&mut app, KeyCode::Left);
        assert_eq!(app.visible_rows().len(), 0);
        press(&mut app, KeyCode::Right);
        assert_eq!(app.visible_rows(), &rows[..1]);
    }

    #[test]
    fn follow_keeps_the_newest_row_and_scrolling_away_stops_it() {
        let events = sample::demo();
        let mut app = App::new(Source::Live, "live lo", (80, 24), usize::MAX);
        let (a, b) = events.split_at(40);
        update(&mut app, Action::Events(a.to_vec()));
        assert!(app.follow);
        assert_eq!(app.cursor_row(), Some(app.visible_rows().len() - 1));
        press(&mut app, KeyCode::Char('k'));
        assert!(!app.follow);
        let held = app.cursor;
        let top = app.top;
        update(&mut app, Action::Events(b.to_vec()));
        assert_eq!(app.cursor, held, "new events must not move a user's cursor");
        assert_eq!(app.top, top, "nor scroll the view");
        press(&mut app, KeyCode::End);
        assert!(app.follow);
        assert_eq!(app.cursor_row(), Some(app.visible_rows().len() - 1));
    }

    #[test]
    fn esc_closes_what_is_open_and_never_quits() {
        let mut app = demo();
        press(&mut app, KeyCode::Enter);
        assert!(app.detail_open);
        assert_eq!(app.focus, Pane::Detail);
        press(&mut app, KeyCode::Esc);
        assert!(!app.detail_open);
        assert!(!app.quit);
        press(&mut app, KeyCode::Char('?'));
        press(&mut app, KeyCode::Char('q'));
        assert!(app.help.is_none());
        assert!(!app.quit);
        // `/`, Esc, Esc: the search is cancelled, then the main screen says how to quit.
        press(&mut app, KeyCode::Char('/'));
        press(&mut app, KeyCode::Esc);
        assert!(app.prompt.is_none());
        press(&mut app, KeyCode::Esc);
        assert!(!app.quit);
        assert!(app.status.as_deref().unwrap_or("").contains("q quits"));
        press(&mut app, KeyCode::Char(':'));
        press(&mut app, KeyCode::Esc);
        assert!(app.prompt.is_none() && !app.quit);
        press(&mut app, KeyCode::Char('q'));
        assert!(app.quit);
        let mut app = demo();
        update(
            &mut app,
            Action::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        );
        assert!(app.quit);
    }

    #[test]
    fn mouse_wheel_and_clicks() {
        let mut app = demo();
        let a = app.areas();
        let rows = a.rows;
        update(
            &mut app,
            Action::Mouse(MouseEvent {
                kind: MouseEventKind::ScrollDown,
                column: rows.x + 5,
                row: rows.y + 1,
                modifiers: KeyModifiers::NONE,
            }),
        );
        assert_eq!(app.cursor_row(), Some(3));
        let list = a.conns.unwrap();
        update(
            &mut app,
            Action::Mouse(MouseEvent {
                kind: MouseEventKind::Down(MouseButton::Left),
                column: list.x + 2,
                row: list.y + 5,
                modifiers: KeyModifiers::NONE,
            }),
        );
        assert_eq!(app.conn, 2);
        assert_eq!(app.focus, Pane::Conns);
    }

    #[test]
    fn tiny_and_huge_sizes_do_not_break_update() {
        let mut app = demo();
        for (w, h) in [(0, 0), (1, 1), (3, 2), (u16::MAX, u16::MAX)] {
            update(&mut app, Action::Resize(w, h));
            for c in ['j', 'G', 'g', '.', 'a', 'f', '\t', 'p', 'j', 't', 'p'] {
                press(&mut app, KeyCode::Char(c));
            }
            press(&mut app, KeyCode::PageDown);
            press(&mut app, KeyCode::Enter);
        }
    }

    fn typed(app: &mut App, s: &str) {
        for c in s.chars() {
            press(app, KeyCode::Char(c));
        }
        press(app, KeyCode::Enter);
    }

    /// `/` looks in every connection: from the first one, a label only the third one has is
    /// found, its connection selected; `n` goes on to the next connection that has one and
    /// wraps, `N` goes back.
    #[test]
    fn search_crosses_connections_and_n_follows() {
        let mut app = demo();
        assert_eq!(app.conn, 0);
        // Each of the sample's connections starts with a SYN.
        typed(&mut app, "/SYN  seq=0");
        assert_eq!(app.conn, 1, "the next SYN after the cursor's own");
        press(&mut app, KeyCode::Char('n'));
        assert_eq!(app.conn, 2);
        press(&mut app, KeyCode::Char('n'));
        assert_eq!(app.conn, 3);
        press(&mut app, KeyCode::Char('n'));
        assert_eq!(app.conn, 0);
        assert!(app.status.as_deref().unwrap().contains("(wrapped)"));
        press(&mut app, KeyCode::Char('N'));
        assert_eq!(app.conn, 3);
        assert_eq!(app.view.conn, Some(3), "the diagram follows the match");
        assert!(app.label(app.cursor.unwrap()).starts_with("SYN"));
        // Something only one connection has, searched from another.
        let mut app = demo();
        typed(&mut app, "/refused");
        let found = app.conn;
        assert_ne!(found, 0, "{:?}", app.status);
        assert!(
            app.label(app.cursor.unwrap())
                .to_lowercase()
                .contains("refused")
                || {
                    let mut s = String::new();
                    crate::view::text::describe(
                        &mut s,
                        &app.timeline.event(app.cursor.unwrap()).unwrap().body,
                    );
                    s.contains("refused")
                }
        );
        typed(&mut app, "/no such thing anywhere");
        assert_eq!(
            app.status.as_deref(),
            Some("no row matches \"no such thing anywhere\"")
        );
        assert_eq!(app.conn, found, "a miss moves nothing");
    }

    #[test]
    fn jump_to_a_connection_or_a_frame() {
        let mut app = demo();
        let id = app.timeline.conn(2).unwrap().id;
        typed(&mut app, &format!(":#{id}"));
        assert_eq!(app.conn, 2);
        assert_eq!(app.view.conn, Some(2));
        // A frame of the last connection.
        let c = app.timeline.conn(3).unwrap();
        let ix = c.app[1];
        let frame = app.timeline.frame(ix).unwrap();
        typed(&mut app, &format!(":{frame}"));
        assert_eq!(app.conn, 3);
        assert_eq!(app.timeline.frame(app.cursor.unwrap()), Some(frame));
        // Mistakes keep the input open and say what is accepted; Esc cancels.
        typed(&mut app, ":x");
        assert!(app.prompt.is_some());
        assert!(app.status.as_deref().unwrap().contains("#N"));
        press(&mut app, KeyCode::Esc);
        assert!(app.prompt.is_none());
        typed(&mut app, ":#999");
        assert_eq!(
            app.status.as_deref(),
            Some("no connection #999 (see the list)")
        );
        typed(&mut app, ":99999");
        assert!(app.status.as_deref().unwrap().starts_with("no frame 99999"));
        assert_eq!(app.conn, 3);
    }

    #[test]
    fn copy_mouse_and_save_ask_the_terminal_loop() {
        let mut app = demo();
        // The GET: its head is copied.
        while !app.label(app.cursor.unwrap()).starts_with("GET") {
            press(&mut app, KeyCode::Char('j'));
        }
        press(&mut app, KeyCode::Char('y'));
        match app.effects.as_slice() {
            [Effect::Copy(t)] => assert!(t.starts_with("GET /"), "{t}"),
            e => panic!("{e:?}"),
        }
        assert!(app
            .status
            .as_deref()
            .unwrap()
            .contains("copied the request head"));
        app.effects.clear();
        press(&mut app, KeyCode::Char('M'));
        assert!(!app.mouse);
        assert_eq!(app.effects, [Effect::Mouse(false)]);
        press(&mut app, KeyCode::Char('M'));
        assert_eq!(app.effects, [Effect::Mouse(false), Effect::Mouse(true)]);
        app.effects.clear();
        // Nothing to save from: said, nothing asked.
        press(&mut app, KeyCode::Char('w'));
        assert!(app.effects.is_empty());
        assert!(app.status.as_deref().unwrap().starts_with("cannot save"));
        app.frames = Frames::File("x.pcapng".into());
        press(&mut app, KeyCode::Char('w'));
        let c = app.timeline.conn(0).unwrap();
        let segments: Vec<u64> = c
            .events
            .iter()
            .filter(|&&ix| app.timeline.kind(ix) == Some("tcp"))
            .map(|&ix| app.timeline.frame(ix).unwrap())
            .collect();
        match app.effects.as_slice() {
            [Effect::Save { frames, name }] => {
                assert_eq!(frames, &segments);
                assert_eq!(name, &format!("conn-{}", c.id));
            }
            e => panic!("{e:?}"),
        }
    }

    /// Live: `F` from any pane follows the newest connection again, and a new connection takes
    /// the diagram while following even after the user looked elsewhere.
    #[test]
    fn f_follows_new_connections_from_any_pane() {
        let events = sample::demo();
        let mut by_conn: Vec<Vec<Event>> = Vec::new();
        for e in events {
            let Some(c) = e.conn else { continue };
            match by_conn.iter_mut().find(|v| v[0].conn == Some(c)) {
                Some(v) => v.push(e),
                None => by_conn.push(vec![e]),
            }
        }
        let mut app = App::new(Source::Live, "live lo", (80, 24), usize::MAX);
        update(&mut app, Action::Events(by_conn[0].clone()));
        update(&mut app, Action::Events(by_conn[1].clone()));
        assert_eq!(app.conn, 1);
        // The user looks at the first connection, from the list.
        press(&mut app, KeyCode::BackTab);
        assert_eq!(app.focus, Pane::Conns);
        press(&mut app, KeyCode::Char('k'));
        assert_eq!(app.conn, 0);
        assert!(!app.follow);
        update(&mut app, Action::Events(by_conn[2].clone()));
        assert_eq!(app.conn, 0, "not following: the view stays");
        press(&mut app, KeyCode::Char('F'));
        assert!(app.follow);
        assert_eq!(app.conn, 2, "F goes to the newest connection");
        assert_eq!(app.cursor_row(), Some(app.visible_rows().len() - 1));
        update(&mut app, Action::Events(by_conn[3].clone()));
        assert_eq!(app.conn, 3, "and the next one as it arrives");
        press(&mut app, KeyCode::Char('F'));
        assert!(!app.follow);
    }

    /// `Y`: a display filter in the language of `decode -Y`; a mistake keeps the input open
    /// with its position; the filter moves to a connection that has a match, and search and
    /// `W` see only what it keeps; an empty filter turns it off.
    #[test]
    fn y_sets_a_display_filter() {
        let mut app = demo();
        let all = app.visible_rows().len();
        press(&mut app, KeyCode::Char('Y'));
        typed(&mut app, "ws.opcode ==");
        let p = app.prompt.clone().expect("still open");
        assert_eq!(p.kind, PromptKind::Filter);
        assert_eq!(p.error_at, Some("ws.opcode ==".len()));
        assert!(app.status.as_deref().unwrap().contains("(column 13)"));
        // Typing clears the mark; a good filter closes the input.
        for c in " \"ping\"".chars() {
            press(&mut app, KeyCode::Char(c));
        }
        assert_eq!(app.prompt.as_ref().unwrap().error_at, None);
        press(&mut app, KeyCode::Enter);
        assert!(app.prompt.is_none());
        assert!(app.display.is_some());
        let rows = app.visible_rows().to_vec();
        assert!(!rows.is_empty() && rows.len() < all);
        assert!(
            rows.iter().all(|&ix| app.label(ix).starts_with("Ping")),
            "{:?}",
            app.status
        );
        assert!(app
            .status
            .as_deref()
            .unwrap()
            .starts_with("filter ws.opcode == \"ping\": "));
        // A filter only another connection matches selects it.
        let last = app.timeline.conn(3).unwrap().id;
        press(&mut app, KeyCode::Char('Y'));
        update(
            &mut app,
            Action::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
        );
        typed(&mut app, &format!("conn == {last}"));
        assert_eq!(app.conn, 3, "{:?}", app.status);
        assert!(!app.visible_rows().is_empty());
        // Search sees only what the filter keeps: the other connections' SYNs are not found.
        typed(&mut app, "/SYN  seq=0");
        assert_eq!(app.conn, 3);
        // Y, Enter on an empty input: off.
        press(&mut app, KeyCode::Char('Y'));
        update(
            &mut app,
            Action::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
        );
        press(&mut app, KeyCode::Enter);
        assert!(app.display.is_none());
        assert_eq!(
            app.status.as_deref(),
            Some("display filter off: every row shows")
        );
    }
}
