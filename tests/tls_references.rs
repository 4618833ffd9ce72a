//! The real TLS captures of `assets/captures/tls` (recorded by `scripts/record-tls-captures.sh`)
//! and their Wireshark references (`NAME.tshark.jsonl`, written by
//! `scripts/tshark-dissect-tls.py`; the format is in `assets/captures/tls/README.md`).
//!
//! Checked here: every capture has a reference and a README row; the references hold what the
//! captures are for (tshark decrypted every encrypted record where there are keys, none where
//! there are not; each suite and TLS feature issue 11 asks for is present; HTTP and WebSocket
//! decrypted); and, when tshark is installed (CI installs it), the committed references are
//! re-derived and must not have changed. The agreement of synscope's TLS decoder with these
//! references is a test of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn tls_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/captures/tls")
}

/// Every committed TLS capture, sorted.
fn tls_captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(tls_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcapng" || e == "pcap"))
        .collect();
    v.sort();
    v
}

fn name(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

/// The reference of a capture, one JSON value per frame.
fn reference(capture: &Path) -> Vec<Value> {
    let path = capture.with_extension("tshark.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run scripts/tshark-dissect-tls.py)",
            path.display()
        )
    });
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every TLS record of a reference.
fn records(frames: &[Value]) -> Vec<&Value> {
    frames
        .iter()
        .filter_map(|f| f.get("tls").and_then(Value::as_array))
        .flatten()
        .collect()
}

fn handshakes<'a>(recs: &[&'a Value]) -> Vec<&'a Value> {
    recs.iter()
        .filter_map(|r| r.get("handshakes").and_then(Value::as_array))
        .flatten()
        .collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

#[test]
fn every_tls_capture_has_a_reference_and_a_readme_row() {
    let caps = tls_captures();
    assert!(
        caps.len() >= 25,
        "expected the recorded TLS captures, found {caps:?}"
    );
    let readme = std::fs::read_to_string(tls_dir().join("README.md")).unwrap();
    for cap in &caps {
        let n = name(cap);
        assert!(
            cap.with_extension("tshark.jsonl").exists(),
            "{n}: no reference (scripts/tshark-dissect-tls.py)"
        );
        assert!(
            readme.contains(&format!("| `{n}` |")),
            "{n}: no row in assets/captures/tls/README.md"
        );
        let keys = cap.with_extension("keys");
        if n.starts_with("nokeys_") || n.starts_with("dsb_") {
            assert!(!keys.exists(), "{n}: must not have a .keys file");
        }
    }
}

#[test]
fn references_are_decrypted_where_there_are_keys_and_only_there() {
    for cap in tls_captures() {
        let n = name(&cap);
        let frames = reference(&cap);
        let recs = records(&frames);
        assert!(!recs.is_empty(), "{n}: no TLS record");
        let has_keys = cap.with_extension("keys").exists() || n.starts_with("dsb_");
        let encrypted = recs.iter().filter(|r| r.get("encrypted").is_some()).count();
        let decrypted = recs.iter().filter(|r| r.get("inner").is_some()).count();
        if has_keys {
            assert_eq!(encrypted, 0, "{n}: tshark left records encrypted");
            assert!(decrypted > 0, "{n}: keys but nothing decrypted");
        } else if n.starts_with("nokeys_") {
            assert!(encrypted > 0, "{n}: nothing encrypted");
            assert_eq!(decrypted, 0, "{n}: decrypted without keys");
        } else {
            // Handshakes that failed before any secret existed.
            assert!(
                n.starts_with("alert_"),
                "{n}: no keys and not an alert capture"
            );
            assert_eq!(encrypted + decrypted, 0, "{n}");
        }
    }
}

#[test]
fn the_captures_cover_every_suite_and_feature_of_issue_11() {
    let mut suites = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    let mut alerts = BTreeSet::new();
    let mut http_in_tls = 0;
    let mut ws_opcodes = BTreeSet::new();
    let mut etm = BTreeSet::new();
    let mut packed_encrypted = false;
    let mut spanning_certificate = false;
    let mut stacks = BTreeSet::new();
    for cap in tls_captures() {
        let n = name(&cap);
        stacks.insert(n.split('_').next().unwrap().to_string());
        let frames = reference(&cap);
        let recs = records(&frames);
        // Several handshake messages in one encrypted record (rustls's server flight).
        packed_encrypted |= recs.iter().any(|r| {
            str_of(r, "inner") == "handshake"
                && r["handshakes"].as_array().is_some_and(|h| h.len() >= 2)
        });
        for h in handshakes(&recs) {
            let t = str_of(h, "handshake_type");
            kinds.insert(t.to_string());
            if t == "server_hello" {
                suites.insert(format!(
                    "{} {}",
                    str_of(h, "version"),
                    str_of(h, "cipher_suite")
                ));
                if h.get("encrypt_then_mac").is_some() {
                    etm.insert(n.clone());
                }
            }
            if t == "key_update" {
                kinds.insert(format!("key_update {}", h["request_update"]));
            }
            if t == "client_hello" && h.get("pre_shared_key").is_some() {
                kinds.insert("psk offered".into());
            }
            // A handshake message longer than a record can hold spans records.
            if t == "certificate" && h["length"].as_u64().unwrap() > 16384 {
                spanning_certificate = true;
            }
        }
        for r in &recs {
            if let Some(a) = r.get("alert") {
                alerts.insert(str_of(a, "description").to_string());
            }
        }
        for f in &frames {
            if f.get("tls").is_some() {
                http_in_tls += f.get("http").and_then(Value::as_array).map_or(0, Vec::len);
            }
            for w in f.get("ws").and_then(Value::as_array).into_iter().flatten() {
                ws_opcodes.insert(w[0].as_u64().unwrap());
            }
        }
    }
    for s in [
        "TLS 1.3 TLS_AES_128_GCM_SHA256",
        "TLS 1.3 TLS_AES_256_GCM_SHA384",
        "TLS 1.3 TLS_CHACHA20_POLY1305_SHA256",
        "TLS 1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS 1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS 1.2 TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS 1.2 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS 1.2 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        "TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    ] {
        assert!(suites.contains(s), "no capture negotiates {s}: {suites:?}");
    }
    for k in [
        "hello_retry_request",
        "new_session_ticket",
        "encrypted_extensions",
        "certificate",
        "certificate_verify",
        "certificate_request",
        "server_key_exchange",
        "server_hello_done",
        "client_key_exchange",
        "finished",
        "key_update false",
        "key_update true",
        "psk offered",
    ] {
        assert!(kinds.contains(k), "no capture has {k}: {kinds:?}");
    }
    for a in [
        "close_notify",
        "handshake_failure",
        "unknown_ca",
        "protocol_version",
        "certificate_required",
    ] {
        assert!(
            alerts.contains(a),
            "no capture has the alert {a}: {alerts:?}"
        );
    }
    // CBC with and without encrypt-then-MAC.
    assert!(etm.contains("openssl12_aes128cbc_etm") && !etm.contains("openssl12_aes128cbc_noetm"));
    assert!(http_in_tls >= 20, "only {http_in_tls} HTTP items decrypted");
    assert!(
        packed_encrypted,
        "no encrypted record holding several handshake messages"
    );
    assert!(spanning_certificate, "no Certificate spanning records");
    for s in [
        "openssl12",
        "openssl13",
        "gnutls13",
        "gnutls12",
        "python",
        "curl",
        "aiohttp",
        "node",
        "rustls",
        "nokeys",
        "dsb",
        "ladder",
    ] {
        assert!(stacks.contains(s), "no {s} capture: {stacks:?}");
    }
    for op in [1, 2, 8, 9, 10] {
        assert!(ws_opcodes.contains(&op), "no WebSocket opcode {op} in TLS");
    }
}

#[test]
fn committed_tls_references_match_tshark_when_installed() {
    let have_tshark = Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_tshark {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install tshark to re-check the TLS references"
        );
        eprintln!("tshark not installed: TLS references not re-derived");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tshark-dissect-tls.py");
    let out = Command::new("python3")
        .arg(script)
        .arg("--check")
        .args(tls_captures())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
