//! Colours, and what replaces them under `NO_COLOR` (https://no-color.org): modifiers only, so
//! the diagram stays readable in monochrome.

use ratatui::style::{Color, Modifier, Style};

use crate::tui::timeline::Class;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn new(color: bool) -> Theme {
        Theme { color }
    }

    fn pick(&self, colored: Style, plain: Style) -> Style {
        if self.color {
            colored
        } else {
            plain
        }
    }

    /// The style of an arrow of `class`: TCP control cyan, bare ACKs dim, HTTP yellow,
    /// WebSocket data green, WebSocket control magenta, problems red.
    pub fn class(&self, class: Class) -> Style {
        let s = Style::new();
        match class {
            Class::TcpControl => self.pick(s.fg(Color::Cyan), s.add_modifier(Modifier::BOLD)),
            Class::Ack => s.add_modifier(Modifier::DIM),
            Class::TcpData => self.pick(s.fg(Color::Blue), s),
            Class::Http => self.pick(s.fg(Color::Yellow), s),
            Class::WsData => self.pick(s.fg(Color::Green), s),
            Class::WsControl => self.pick(s.fg(Color::Magenta), s.add_modifier(Modifier::ITALIC)),
            Class::Problem => self.pick(
                s.fg(Color::Red).add_modifier(Modifier::BOLD),
                s.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            ),
            Class::Note => s.add_modifier(Modifier::DIM | Modifier::ITALIC),
        }
    }

    pub fn dim(&self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// Borders and lifelines.
    pub fn frame(&self) -> Style {
        self.pick(Style::new().fg(Color::DarkGray), Style::new())
    }

    /// The border of the focused pane's title.
    pub fn focused(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        )
    }

    /// The selected row.
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// A row matching the search.
    pub fn matched(&self) -> Style {
        self.pick(
            Style::new().bg(Color::Yellow).fg(Color::Black),
            Style::new().add_modifier(Modifier::UNDERLINED | Modifier::BOLD),
        )
    }

    /// A key name in the help and the status bar.
    pub fn key(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    /// Field names in the detail pane.
    pub fn field(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Cyan),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    pub fn good(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
            self.bold(),
        )
    }

    pub fn bad(&self) -> Style {
        self.class(Class::Problem)
    }

    pub fn explain(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Gray).add_modifier(Modifier::ITALIC),
            Style::new().add_modifier(Modifier::ITALIC),
        )
    }
}
