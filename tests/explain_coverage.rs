//! The explanation texts (assets/explain/*.toml) cover what synscope can show: every event
//! kind and pattern in each language, the same keys in English and Korean, placeholders the
//! code can fill, and every event of every committed capture. Then `decode --explain` and
//! `--lang` from the command line.
// The helpers below are test code outside #[test] functions.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use assert_cmd::Command;
use support::{capture_path, captures, decode_file};
use synscope::explain::{
    analysis_key, explain, fill, in_transcript, key_chain, parse, placeholders, text, values, Lang,
    Tracker, KEYS, PLACEHOLDERS,
};
use synscope::model::{EventBody, Pattern, EVENT_KINDS};

fn table(lang: Lang) -> BTreeMap<String, String> {
    parse(lang.source()).unwrap_or_else(|e| panic!("{}: {e}", lang.code()))
}

#[test]
fn every_event_kind_and_pattern_has_a_text_in_each_language() {
    assert_eq!(EVENT_KINDS.len(), 22);
    let patterns = [
        Pattern::ShortPolling,
        Pattern::LongPolling,
        Pattern::Streaming,
        Pattern::Websocket,
    ];
    for lang in Lang::ALL {
        for kind in EVENT_KINDS {
            assert!(
                text(lang, kind).is_some(),
                "{}: no text for {kind}",
                lang.code()
            );
        }
        for p in patterns {
            let name = serde_json::to_value(p).unwrap();
            let key = format!("pattern.{}", name.as_str().unwrap());
            assert!(
                text(lang, &key).is_some(),
                "{}: no text for {key}",
                lang.code()
            );
        }
    }
}

#[test]
fn english_and_korean_have_exactly_the_same_keys() {
    let en: BTreeSet<String> = table(Lang::En).into_keys().collect();
    let ko: BTreeSet<String> = table(Lang::Ko).into_keys().collect();
    let only_en: Vec<_> = en.difference(&ko).collect();
    let only_ko: Vec<_> = ko.difference(&en).collect();
    assert!(
        only_en.is_empty() && only_ko.is_empty(),
        "en only: {only_en:?}, ko only: {only_ko:?}"
    );
    assert_eq!(en.len(), KEYS.len());
}

#[test]
fn every_placeholder_is_one_the_code_fills() {
    for lang in Lang::ALL {
        for (key, t) in table(lang) {
            for p in placeholders(&t) {
                assert!(PLACEHOLDERS.contains(&p), "{} {key}: {{{p}}}", lang.code());
            }
        }
    }
    // And both languages use the same ones for a key, so a translation cannot lose a figure.
    let en = table(Lang::En);
    for (key, ko) in table(Lang::Ko) {
        let a: BTreeSet<&str> = placeholders(&en[&key]).collect();
        let b: BTreeSet<&str> = placeholders(&ko).collect();
        assert_eq!(a, b, "{key}");
    }
}

/// "RFC 6455 §5.3", "RFC 9112 §7.1", "RFC 7692": the citations of a text.
fn citations(t: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in t.match_indices("RFC ") {
        let rest = &t[at + 4..];
        let number: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let mut cite = format!("RFC {number}");
        if let Some(section) = rest[number.len()..].strip_prefix(" §") {
            let s: String = section
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            cite = format!("{cite} §{}", s.trim_end_matches('.'));
        }
        out.insert(cite);
    }
    out
}

#[test]
fn texts_are_clean_short_and_translated() {
    let en = table(Lang::En);
    for lang in Lang::ALL {
        for (key, t) in table(lang) {
            let at = format!("{} {key}", lang.code());
            assert!(!t.trim().is_empty(), "{at}: empty");
            assert_eq!(t.trim(), t, "{at}: leading or trailing space");
            assert!(!t.chars().any(char::is_control), "{at}: control character");
            assert!(!t.contains("  "), "{at}: double space");
            assert!(
                t.chars().count() <= 600,
                "{at}: {} characters",
                t.chars().count()
            );
        }
    }
    for (key, ko) in table(Lang::Ko) {
        assert!(
            ko.chars().any(|c| ('가'..='힣').contains(&c)),
            "ko {key} is not Korean: {ko}"
        );
        assert_ne!(ko, en[&key], "ko {key} is the English text");
        // A translation keeps the English text's references.
        assert_eq!(citations(&en[&key]), citations(&ko), "{key}");
    }
    let c = citations("see RFC 6455 §5.3. Then RFC 7692 and (RFC 9112 §7.1), RFC 6455 §10.3.");
    let want = [
        "RFC 6455 §10.3",
        "RFC 6455 §5.3",
        "RFC 7692",
        "RFC 9112 §7.1",
    ];
    assert_eq!(c.iter().map(String::as_str).collect::<Vec<_>>(), want);
}

#[test]
fn every_event_of_every_capture_is_explained_in_both_languages() {
    let mut seen_keys = BTreeSet::new();
    let paths = captures();
    assert!(paths.len() >= 10, "captures missing");
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut tracker = Tracker::default();
        for e in decode_file(&path) {
            let cx = tracker.context(&e);
            let chain = key_chain(&e, cx);
            assert_eq!(chain.last(), Some(&e.body.kind()), "{name}: {chain:?}");
            let mut keys = chain.clone();
            if let EventBody::Tcp(s) = &e.body {
                keys.extend(s.analysis.iter().map(|a| analysis_key(*a)));
            }
            for lang in Lang::ALL {
                for k in &keys {
                    assert!(text(lang, k).is_some(), "{name}: {} lacks {k}", lang.code());
                }
                let why = explain(lang, &e, cx);
                let why = why.unwrap_or_else(|| panic!("{name} frame {}: none", e.frame));
                assert!(!why.chars().any(char::is_control), "{name}: {why}");
                // The event has what its most specific text needs: no fallback was taken.
                let first = fill(text(lang, chain[0]).unwrap(), &values(&e));
                assert_eq!(
                    first.as_ref(),
                    Some(&why),
                    "{name} frame {}: {chain:?}",
                    e.frame
                );
            }
            seen_keys.extend(chain);
        }
    }
    // The captures show the lesson's moments.
    for k in [
        "tcp.syn",
        "tcp.syn_ack",
        "tcp.fin",
        "tcp.rst_refused",
        "handshake",
        "http_request.upgrade",
        "http_response.101",
        "http_response.chunked",
        "http_response.event_stream",
        "http_response.204",
        "http_body.chunk",
        "http_body.last_chunk",
        "ws_frame.masked",
        "ws_frame.unmasked",
        "ws_frame.rsv1",
        "ws_message.ping",
        "ws_message.pong",
        "close.1000",
        "connection_end.closed",
        "connection_end.refused",
    ] {
        assert!(seen_keys.contains(k), "no capture shows {k}: {seen_keys:?}");
    }
}

fn synscope(args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_synscope"))
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C.UTF-8")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn capture(name: &str) -> String {
    capture_path(name).to_string_lossy().into_owned()
}

#[test]
fn decode_explain_puts_a_why_line_under_each_explained_event() {
    let ws = capture("ws_chat.pcapng");
    let (plain, _) = synscope(&["decode", &ws]);
    let (explained, _) = synscope(&["decode", "--explain", &ws]);
    let events = decode_file(Path::new(&ws));
    let whys: Vec<&str> = explained
        .lines()
        .filter(|l| l.starts_with(' ') && l.trim_start().starts_with("why: "))
        .collect();
    let want = events.iter().filter(|e| in_transcript(e)).count();
    assert_eq!(whys.len(), want);
    // Without the why lines, the transcript is the plain one.
    let rest: Vec<&str> = explained
        .lines()
        .filter(|l| !l.trim_start().starts_with("why: "))
        .collect();
    assert_eq!(rest, plain.lines().collect::<Vec<_>>());
    // Under the 101: the accept hash, with this capture's key.
    let lines: Vec<&str> = explained.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("101 Switching"))
        .unwrap();
    assert!(
        lines[at + 1].starts_with(&format!("{:22}why: The server agrees", "")),
        "{}",
        lines[at + 1]
    );
    assert!(
        lines[at + 1].contains("2rvKLVkyKR1EpYUaE6qSdg==")
            && lines[at + 1].contains("voVbMxVBcqtBUB1ftyhSoKYjn24=")
    );
}

#[test]
fn decode_explain_writes_each_text_in_full_once() {
    let ws = capture("ws_chat.pcapng");
    let (explained, _) = synscope(&["decode", "--explain", &ws]);
    let masked: Vec<&str> = explained
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("why: Every frame from client to server is masked"))
        .collect();
    // ws_chat's client sends 12 frames, 10 of them explained by their masking (the other two
    // by their fragmentation): the first in full (down to RFC 6455 §10.3), the others by
    // their first sentence, each with its own mask key.
    assert_eq!(masked.len(), 10);
    assert!(masked[0].contains("§10.3"), "{}", masked[0]);
    for m in &masked[1..] {
        assert!(
            m.ends_with("(RFC 6455 §5.3). (more above)") && !m.contains("§10.3"),
            "{m}"
        );
    }
    let keys: BTreeSet<&str> = masked
        .iter()
        .filter_map(|m| m.split("key (").nth(1))
        .collect();
    assert_eq!(keys.len(), 10, "{masked:?}");
    // No text of more than one sentence appears twice (a one-sentence text is its own
    // short form).
    let mut seen = BTreeSet::new();
    for l in explained.lines().map(str::trim_start) {
        if let Some(why) = l.strip_prefix("why: ") {
            if !why.ends_with("(more above)") && why.contains(". ") {
                assert!(seen.insert(why), "written twice in full: {why}");
            }
        }
    }
}

#[test]
fn lang_flag_and_locale_choose_korean() {
    let refused = capture("refused.pcapng");
    let (ko, _) = synscope(&["--lang", "ko", "decode", "--explain", &refused]);
    assert!(
        ko.contains("이유: 그 포트에서 기다리는 프로그램이 없어서"),
        "{ko}"
    );
    assert!(!ko.contains("why:"));
    // The flag is global: it may come after the subcommand too.
    let (after, _) = synscope(&["decode", "--explain", &refused, "--lang", "ko"]);
    assert_eq!(after, ko);
    // The locale decides when the flag is absent; the flag wins over it.
    let out = Command::new(env!("CARGO_BIN_EXE_synscope"))
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "ko_KR.UTF-8")
        .args(["decode", "--explain", &refused])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), ko);
    let out = Command::new(env!("CARGO_BIN_EXE_synscope"))
        .env("LC_ALL", "ko_KR.UTF-8")
        .args(["--lang", "en", "decode", "--explain", &refused])
        .output()
        .unwrap();
    let en = String::from_utf8(out.stdout).unwrap();
    assert!(
        en.contains("why: Nothing is listening on that port"),
        "{en}"
    );
    // An unknown language is a usage error.
    let out = Command::new(env!("CARGO_BIN_EXE_synscope"))
        .args(["--lang", "fr", "decode", &refused])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn json_is_unchanged_by_explain() {
    let ws = capture("ws_deflate.pcapng");
    let (plain, _) = synscope(&["decode", "--format", "json", &ws]);
    let (explained, _) = synscope(&[
        "--lang",
        "ko",
        "decode",
        "--explain",
        "--format",
        "json",
        &ws,
    ]);
    assert_eq!(plain, explained);
}
