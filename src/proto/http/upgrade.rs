//! The WebSocket opening handshake seen from the wire (RFC 6455 §4) and the permessage-deflate
//! parameters the server agreed to (RFC 7692 §7.1).

use base64::Engine as _;
use sha1::{Digest, Sha1};

use super::head::{list, values};
use crate::model::{DeflateParams, Headers, WS_GUID};

/// RFC 6455 §4.2.2 step 5.4: base64(SHA-1(key + GUID)), the Sec-WebSocket-Accept a server must
/// answer to `key`.
pub(super) fn accept_for(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(WS_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// Whether a field holds `token` in its comma-separated list (case-insensitive). For Upgrade,
/// elements are `protocol-name ["/" protocol-version]` (RFC 9110 §7.8): the name is compared.
pub(super) fn has_token(headers: &Headers, name: &str, token: &str) -> bool {
    list(headers, name).any(|e| {
        let e = e.split('/').next().unwrap_or(e).trim();
        e.eq_ignore_ascii_case(token)
    })
}

/// RFC 6455 §4.1 (client requirements 6, 5, 7): the Sec-WebSocket-Key of a request that asks to
/// switch to WebSocket (`Upgrade: websocket`, `Connection: upgrade`, a key), `None` otherwise.
pub(super) fn ws_request_key(headers: &Headers) -> Option<String> {
    if !has_token(headers, "upgrade", "websocket") || !has_token(headers, "connection", "upgrade") {
        return None;
    }
    values(headers, "sec-websocket-key")
        .next()
        .map(|k| k.trim().to_string())
}

/// The comma-separated `values` joined as one field value (RFC 9110 §5.3), `None` if absent.
pub(super) fn joined(headers: &Headers, name: &str) -> Option<String> {
    let mut it = values(headers, name);
    let first = it.next()?;
    let mut s = first.trim().to_string();
    for v in it {
        s.push_str(", ");
        s.push_str(v.trim());
    }
    Some(s)
}

/// Splits `s` at `sep` outside double quotes (RFC 9110 §5.6.4 quoted-string).
fn split_unquoted(s: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut escaped = false;
    s.split(move |c: char| {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            return true;
        }
        false
    })
}

/// The server's acceptance of permessage-deflate in its Sec-WebSocket-Extensions answer, with
/// its parameters (RFC 7692 §7.1). `None` when not accepted. Problems (unknown or repeated
/// parameters, values out of 8..=15, a `client_max_window_bits` without value, which a server
/// must not send) are listed beside the parameters; a parameter in error keeps its default.
/// A window of 8 bits is kept as 8 (what was negotiated) though zlib inflates it with 9.
pub(super) fn deflate_params(extensions: &str) -> Option<(DeflateParams, Vec<String>)> {
    // RFC 7692 §7: a server accepts at most one permessage-deflate offer; the first one counts.
    let ext = split_unquoted(extensions, ',').find(|e| {
        let name = split_unquoted(e, ';').next().unwrap_or("");
        name.trim().eq_ignore_ascii_case("permessage-deflate")
    })?;
    let mut p = DeflateParams::default();
    let mut problems = Vec::new();
    let mut seen = [false; 4];
    for param in split_unquoted(ext, ';').skip(1) {
        let (name, value) = match param.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (param.trim(), None),
        };
        let idx = match name.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" => 0,
            "client_no_context_takeover" => 1,
            "server_max_window_bits" => 2,
            "client_max_window_bits" => 3,
            "" => continue,
            _ => {
                problems.push(format!("unknown parameter {name:?}"));
                continue;
            }
        };
        // RFC 7692 §7.1: a parameter appears at most once.
        if std::mem::replace(&mut seen[idx], true) {
            problems.push(format!("{name} repeated"));
            continue;
        }
        match (idx, value) {
            (0, None) => p.server_no_context_takeover = true,
            (1, None) => p.client_no_context_takeover = true,
            (0 | 1, Some(v)) => problems.push(format!("{name} takes no value (got {v:?})")),
            // RFC 7692 §7.1.2.2: in a response client_max_window_bits must carry a value.
            (_, None) => problems.push(format!("{name} without a value")),
            (_, Some(v)) => match window_bits(v) {
                Some(bits) if idx == 2 => p.server_max_window_bits = bits,
                Some(bits) => p.client_max_window_bits = bits,
                None => problems.push(format!("{name}={v:?} is not 8..=15")),
            },
        }
    }
    Some((p, problems))
}

/// RFC 7692 §7.1.2.1: a decimal 8..=15 without leading zeros.
fn window_bits(v: &str) -> Option<u8> {
    if v.starts_with('0') || v.is_empty() || v.len() > 2 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok().filter(|b| (8..=15).contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_sample_key() {
        assert_eq!(
            accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn upgrade_request_needs_all_three() {
        let full = h(&[
            ("Upgrade", "h2c, WebSocket/13"),
            ("Connection", "keep-alive, Upgrade"),
            ("Sec-WebSocket-Key", " abc== "),
        ]);
        assert_eq!(ws_request_key(&full).as_deref(), Some("abc=="));
        let no_conn = h(&[("Upgrade", "websocket"), ("Sec-WebSocket-Key", "k")]);
        assert_eq!(ws_request_key(&no_conn), None);
        let no_key = h(&[("Upgrade", "websocket"), ("Connection", "upgrade")]);
        assert_eq!(ws_request_key(&no_key), None);
        let h2c = h(&[
            ("Upgrade", "h2c"),
            ("Connection", "upgrade"),
            ("Sec-WebSocket-Key", "k"),
        ]);
        assert_eq!(ws_request_key(&h2c), None);
    }

    #[test]
    fn deflate_parameters() {
        assert_eq!(deflate_params("x-webkit-deflate-frame"), None);
        let (p, bad) = deflate_params("permessage-deflate").unwrap();
        assert_eq!(p, DeflateParams::default());
        assert!(bad.is_empty());
        let (p, bad) = deflate_params(
            "foo; a=\"x,y\", PerMessage-Deflate; server_no_context_takeover; \
             client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=\"8\"",
        )
        .unwrap();
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(
            p,
            DeflateParams {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: 10,
                client_max_window_bits: 8,
            }
        );
    }

    #[test]
    fn deflate_invalid_values() {
        for (ext, want) in [
            (
                "permessage-deflate; client_max_window_bits",
                "without a value",
            ),
            (
                "permessage-deflate; server_max_window_bits",
                "without a value",
            ),
            (
                "permessage-deflate; server_max_window_bits=16",
                "not 8..=15",
            ),
            ("permessage-deflate; server_max_window_bits=7", "not 8..=15"),
            (
                "permessage-deflate; client_max_window_bits=010",
                "not 8..=15",
            ),
            ("permessage-deflate; client_max_window_bits=x", "not 8..=15"),
            (
                "permessage-deflate; server_no_context_takeover=1",
                "takes no value",
            ),
            ("permessage-deflate; bogus", "unknown parameter"),
            (
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                "repeated",
            ),
        ] {
            let (p, bad) = deflate_params(ext).unwrap();
            assert_eq!(bad.len(), 1, "{ext}: {bad:?}");
            assert!(bad[0].contains(want), "{ext}: {bad:?}");
            // The parameter in error keeps its default.
            assert_eq!(p.server_max_window_bits, 15, "{ext}");
            assert_eq!(p.client_max_window_bits, 15, "{ext}");
        }
    }
}
