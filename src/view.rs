//! Headless views of the event stream: text transcript, JSON Lines, Mermaid sequence diagram.

pub mod json;
pub mod mermaid;
pub mod text;
