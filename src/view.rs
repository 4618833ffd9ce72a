//! Headless views of the event stream: text transcript and JSON Lines.

pub mod json;
pub mod text;
