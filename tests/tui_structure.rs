//! The TUI's module structure, read from its sources: nothing under `src/tui/` imports in a
//! circle, and `tui/app.rs` (the state and `update`) reaches no drawing module, directly or
//! through another module. A drawing module is one that draws into a terminal buffer
//! (ratatui's `buffer`, `widgets`, `Frame`, `Terminal` or `backend`), or imports one.
//!
//! The references counted are every `crate::tui::NAME` and `super::NAME` path outside the
//! `#[cfg(test)]` module and comments (in `use` lines, groups included, and inline in code),
//! and in `src/tui.rs` every path through one of its submodules.
// The helpers below are test code outside #[test] functions.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The name of the parent module (`src/tui.rs`) in the graph.
const ROOT: &str = "tui";

/// The code of a module: without its test module, and without comments (a doc link to
/// another module is not a dependency).
fn code(src: &str) -> String {
    let src = match src.find("#[cfg(test)]\nmod tests") {
        Some(at) => &src[..at],
        None => src,
    };
    src.lines()
        .map(|l| {
            // A `//` outside a string literal starts a comment.
            let cut = l
                .match_indices("//")
                .map(|(i, _)| i)
                .find(|&i| l[..i].matches('"').count() % 2 == 0);
            cut.map_or(l, |i| &l[..i])
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segments named after `prefix` in `src`: `a` for `prefix a::b`, and `a`,
/// `b` for `prefix {a::x, b}`.
fn names_after(src: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(at) = rest.find(prefix) {
        // Not the tail of a longer path (`xcrate::tui::`).
        let before = rest[..at].chars().next_back();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // A `use` group: the first segment of each item (nested groups are inside items).
            let mut depth = 1;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 || (depth == 1 && c == ',') {
                    let name = item.trim().split("::").next().unwrap_or("").to_string();
                    if !name.is_empty() {
                        out.push(name);
                    }
                    item.clear();
                    if depth == 0 {
                        break;
                    }
                } else {
                    item.push(c);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

struct Graph {
    /// Module -> the modules it refers to.
    edges: BTreeMap<String, BTreeSet<String>>,
    /// Modules that draw into a terminal buffer themselves.
    draws: BTreeSet<String>,
}

fn graph() -> Graph {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    sources.insert(
        ROOT.into(),
        std::fs::read_to_string(dir.join("tui.rs")).unwrap(),
    );
    for entry in std::fs::read_dir(dir.join("tui")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            sources.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    let mut edges = BTreeMap::new();
    let mut draws = BTreeSet::new();
    for (name, src) in &sources {
        let src = &code(src);
        let mut refs = BTreeSet::new();
        let mut found = names_after(src, "crate::tui::");
        if name == ROOT {
            // The parent module names its children directly (`app::update`, `use ui;`).
            for m in &modules {
                if m != ROOT
                    && (src.contains(&format!("{m}::")) || src.contains(&format!("mod {m};")))
                {
                    found.push(m.clone());
                }
            }
        } else {
            found.extend(names_after(src, "super::"));
        }
        for r in found {
            // An item of the parent module itself (`crate::tui::Options`) is the parent.
            let target = if modules.contains(&r) { r } else { ROOT.into() };
            if &target != name {
                refs.insert(target);
            }
        }
        if [
            "ratatui::buffer",
            "ratatui::widgets",
            "ratatui::Frame",
            "ratatui::Terminal",
            "ratatui::backend",
        ]
        .iter()
        .any(|p| src.contains(p))
        {
            draws.insert(name.clone());
        }
        edges.insert(name.clone(), refs);
    }
    Graph { edges, draws }
}

/// Modules reachable from `from` (itself excluded unless on a cycle).
fn reachable(g: &Graph, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&str> = g.edges[from].iter().map(String::as_str).collect();
    while let Some(m) = stack.pop() {
        if seen.insert(m.to_string()) {
            stack.extend(g.edges[m].iter().map(String::as_str));
        }
    }
    seen
}

#[test]
fn the_reader_finds_every_kind_of_reference() {
    let src = "use crate::tui::app::{App, update};\nuse crate::tui::{label, layout::{areas, Areas}, timeline::Ix};\n\
               fn f() { crate::tui::patterns::rows(x); super::theme::Theme::new(true); }\n\
               use xcrate::tui::nope;\n";
    assert_eq!(
        names_after(src, "crate::tui::"),
        ["app", "label", "layout", "timeline", "patterns"]
    );
    assert_eq!(names_after(src, "super::"), ["theme"]);
}

#[test]
fn no_module_under_tui_imports_in_a_circle() {
    let g = graph();
    assert!(g.edges.len() >= 10, "{:?}", g.edges.keys());
    for m in g.edges.keys() {
        if m == ROOT {
            // The parent declares every child; a child that refers to the parent's own
            // items is checked below as an edge to it.
            continue;
        }
        assert!(
            !reachable(&g, m).contains(m),
            "{m} reaches itself: {:#?}",
            g.edges
        );
    }
    // No child refers back to the parent (which runs the terminal and imports them all).
    for (m, refs) in &g.edges {
        assert!(
            !refs.contains(ROOT) || m == ROOT,
            "{m} imports the parent module"
        );
    }
}

#[test]
fn app_reaches_no_drawing_module() {
    let g = graph();
    // The drawing modules, and those that import one.
    let drawing: BTreeSet<&String> = g
        .edges
        .keys()
        .filter(|m| g.draws.contains(*m) || reachable(&g, m).iter().any(|r| g.draws.contains(r)))
        .collect();
    for m in ["ui", "patterns", "cells"] {
        assert!(drawing.contains(&m.to_string()), "{m} draws: {drawing:?}");
    }
    let from_app = reachable(&g, "app");
    let bad: Vec<_> = from_app.iter().filter(|m| drawing.contains(m)).collect();
    assert!(
        bad.is_empty(),
        "app.rs reaches drawing modules {bad:?} (it imports {:?})",
        g.edges["app"]
    );
    // The state module does not draw either.
    assert!(!g.draws.contains("app"));
}
