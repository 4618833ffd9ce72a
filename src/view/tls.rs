//! The labels of TLS events, shared by the text transcript, the Mermaid diagram and the TUI:
//! `ClientHello SNI=localhost ALPN=http/1.1`, `ServerHello TLS 1.3 TLS_AES_128_GCM_SHA256`,
//! `encrypted 1.2 kB`, `Alert fatal handshake_failure`.
//!
//! Wire text (a server name, a protocol, a certificate subject) is escaped with
//! [`escape_unquoted`], so no control character from a packet reaches a terminal.

use std::fmt::Write as _;

use crate::model::{
    EventBody, TlsAlert, TlsContentType, TlsHandshake, TlsHandshakeType, TlsRecord, TlsVersion,
};
use crate::view::text::{bytes, escape_unquoted};

/// Most ALPN protocols, versions or SAN entries named in a label; the rest are counted.
const LABEL_LIST: usize = 3;

/// A handshake message's name as the RFCs' structs spell it: `ClientHello`, `Finished`...
pub fn handshake_name(t: TlsHandshakeType) -> String {
    match t.name() {
        Some(n) => n
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            })
            .collect(),
        None => format!("handshake type {}", t.0),
    }
}

/// A content type for a sentence: `application data`, `handshake`, `type 99`.
fn content_name(t: TlsContentType) -> String {
    match t.name() {
        Some(n) => n.replace('_', " "),
        None => format!("type {}", t.0),
    }
}

/// `encrypted 1.2 kB`, `decrypted application data 1.1 kB`, `ChangeCipherSpec`,
/// `TLS handshake record 517 B`.
pub fn record(out: &mut String, r: &TlsRecord) {
    let len = u64::from(r.length);
    match (r.encrypted, r.inner_type) {
        (true, Some(inner)) => {
            let plain = u64::from(r.plaintext_len.unwrap_or(0));
            let _ = write!(out, "decrypted {} {}", content_name(inner), bytes(plain));
        }
        (true, None) if r.content_type == TlsContentType::APPLICATION_DATA => {
            let _ = write!(out, "encrypted {}", bytes(len));
        }
        (true, None) => {
            let _ = write!(
                out,
                "encrypted {} {}",
                content_name(r.content_type),
                bytes(len)
            );
        }
        (false, _) if r.content_type == TlsContentType::CHANGE_CIPHER_SPEC => {
            out.push_str("ChangeCipherSpec");
        }
        (false, _) => {
            let _ = write!(
                out,
                "TLS {} record {}",
                content_name(r.content_type),
                bytes(len)
            );
        }
    }
}

fn list(out: &mut String, items: &[String]) {
    for (i, s) in items.iter().take(LABEL_LIST).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&escape_unquoted(s));
    }
    if items.len() > LABEL_LIST {
        let _ = write!(out, ",+{}", items.len() - LABEL_LIST);
    }
}

/// `ClientHello SNI=localhost ALPN=h2,http/1.1`, `ServerHello TLS 1.3
/// TLS_AES_128_GCM_SHA256`, `HelloRetryRequest secp384r1`, `Certificate CN=localhost`...
pub fn handshake(out: &mut String, h: &TlsHandshake) {
    out.push_str(&handshake_name(h.handshake_type));
    match h.handshake_type {
        TlsHandshakeType::CLIENT_HELLO => {
            if let Some(sni) = &h.sni {
                let _ = write!(out, " SNI={}", escape_unquoted(sni));
            }
            if let Some(a) = &h.alpn {
                out.push_str(" ALPN=");
                list(out, a);
            }
            // The newest version offered: what the client hopes for.
            let best = h
                .supported_versions
                .iter()
                .flatten()
                .filter(|v| v.name().is_some())
                .max_by_key(|v| v.0)
                .or(h.version.as_ref());
            if let Some(v) = best {
                let _ = write!(out, " up to {v}");
            }
        }
        TlsHandshakeType::SERVER_HELLO => {
            if let Some(v) = h.version {
                let _ = write!(out, " {v}");
            }
            if let Some(c) = h.cipher_suite {
                let _ = write!(out, " {c}");
            }
            if let Some(a) = &h.alpn {
                out.push_str(" ALPN=");
                list(out, a);
            }
            if h.resumed {
                out.push_str(" (resumed)");
            }
        }
        TlsHandshakeType::HELLO_RETRY_REQUEST => {
            if let Some(g) = h.key_share_groups.as_ref().and_then(|g| g.first()) {
                let _ = write!(out, " wants {g}");
            }
        }
        TlsHandshakeType::ENCRYPTED_EXTENSIONS => {
            if let Some(a) = &h.alpn {
                out.push_str(" ALPN=");
                list(out, a);
            }
        }
        TlsHandshakeType::CERTIFICATE => {
            if let Some(s) = &h.subject {
                let _ = write!(out, " {}", escape_unquoted(s));
            }
            if let Some(san) = &h.san {
                out.push_str(" SAN=");
                list(out, san);
            }
            match h.certificates {
                Some(0) => out.push_str(" (empty)"),
                Some(n) if n > 1 => {
                    let _ = write!(out, " (chain of {n})");
                }
                _ => {}
            }
        }
        TlsHandshakeType::KEY_UPDATE if h.update_requested == Some(true) => {
            out.push_str(" (update requested)");
        }
        _ => {}
    }
}

/// `Alert fatal handshake_failure`, `Alert warning close_notify`.
pub fn alert(out: &mut String, a: &TlsAlert) {
    out.push_str("Alert ");
    match a.level.name() {
        Some(n) => out.push_str(n),
        None => {
            let _ = write!(out, "level {}", a.level.0);
        }
    }
    out.push(' ');
    match a.description.name() {
        Some(n) => out.push_str(n),
        None => {
            let _ = write!(out, "{}", a.description.0);
        }
    }
}

/// The version of a record or hello, for a detail line: `TLS 1.2 (0x0303)`.
pub fn version_detail(v: TlsVersion) -> String {
    format!("{v} (0x{:04x})", v.0)
}

/// `a, b, c` (escaped), for a detail line.
fn joined<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| escape_unquoted(&i.to_string()).into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The detail pane's fields of a TLS event, `(name, value)`, values escaped.
pub fn fields(body: &EventBody) -> Vec<(&'static str, String)> {
    let mut f = Vec::new();
    match body {
        EventBody::TlsRecord(r) => {
            let ty = match r.content_type.name() {
                Some(n) => format!("{n} ({})", r.content_type.0),
                None => r.content_type.0.to_string(),
            };
            f.push(("content type", ty));
            f.push(("record version", version_detail(r.version)));
            f.push(("length", format!("{} B", r.length)));
            match (r.encrypted, r.inner_type) {
                (true, Some(inner)) => {
                    f.push(("decrypted", content_name(inner)));
                    if let Some(n) = r.plaintext_len {
                        f.push(("plaintext", format!("{n} B")));
                    }
                }
                (true, None) => f.push(("decrypted", "no (see the connection's notes)".into())),
                (false, _) => {}
            }
        }
        EventBody::TlsHandshake(h) => {
            f.push(("message", handshake_name(h.handshake_type)));
            f.push(("length", format!("{} B", h.length)));
            if let Some(s) = &h.sni {
                f.push(("server name (SNI)", escape_unquoted(s).into_owned()));
            }
            if let Some(a) = &h.alpn {
                f.push(("ALPN", joined(a)));
            }
            if let Some(v) = h.version {
                f.push(("version", version_detail(v)));
            }
            if let Some(v) = &h.supported_versions {
                f.push(("supported versions", joined(v)));
            }
            if let Some(c) = h.cipher_suite {
                f.push(("cipher suite", c.to_string()));
            }
            if let Some(c) = &h.cipher_suites {
                f.push((
                    "cipher suites",
                    format!("{} offered: {}", c.len(), joined(c)),
                ));
            }
            if let Some(g) = &h.key_share_groups {
                f.push(("key share groups", joined(g)));
            }
            if h.resumed {
                f.push(("resumed", "yes".into()));
            }
            if let Some(n) = h.certificates {
                f.push(("certificates", n.to_string()));
            }
            if let Some(s) = &h.subject {
                f.push(("subject", escape_unquoted(s).into_owned()));
            }
            if let Some(s) = &h.san {
                f.push(("subject alt names", joined(s)));
            }
            if let Some(u) = h.update_requested {
                f.push(("update requested", if u { "yes" } else { "no" }.into()));
            }
        }
        EventBody::TlsAlert(a) => {
            f.push((
                "level",
                a.level
                    .name()
                    .map_or_else(|| a.level.0.to_string(), str::to_string),
            ));
            f.push((
                "description",
                match a.description.name() {
                    Some(n) => format!("{n} ({})", a.description.0),
                    None => a.description.0.to_string(),
                },
            ));
        }
        _ => {}
    }
    f
}

/// The arrow label of a TLS event (nothing for other kinds).
pub fn describe(out: &mut String, body: &EventBody) {
    match body {
        EventBody::TlsRecord(r) => record(out, r),
        EventBody::TlsHandshake(h) => handshake(out, h),
        EventBody::TlsAlert(a) => alert(out, a),
        _ => {}
    }
}

/// Whether a `tls_record` stands on its own in a diagram of the application layer: an
/// encrypted record nobody could read, or a ChangeCipherSpec. A plaintext handshake or alert
/// record shows as its messages, a decrypted one as what it carried.
pub fn record_shows(r: &TlsRecord) -> bool {
    (r.encrypted && r.inner_type.is_none())
        || (!r.encrypted && r.content_type == TlsContentType::CHANGE_CIPHER_SPEC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TlsAlertDescription, TlsAlertLevel, TlsCipherSuite};

    #[test]
    fn labels_read_as_the_issue_shows_them() {
        let mut ch = TlsHandshake::new(TlsHandshakeType::CLIENT_HELLO, 500);
        ch.sni = Some("localhost".into());
        ch.alpn = Some(vec!["http/1.1".into()]);
        let mut s = String::new();
        handshake(&mut s, &ch);
        assert_eq!(s, "ClientHello SNI=localhost ALPN=http/1.1");
        let mut sh = TlsHandshake::new(TlsHandshakeType::SERVER_HELLO, 90);
        sh.version = Some(TlsVersion::TLS13);
        sh.cipher_suite = Some(TlsCipherSuite(0x1301));
        let mut s = String::new();
        handshake(&mut s, &sh);
        assert_eq!(s, "ServerHello TLS 1.3 TLS_AES_128_GCM_SHA256");
        let r = TlsRecord {
            content_type: TlsContentType::APPLICATION_DATA,
            version: TlsVersion::TLS12,
            length: 1234,
            encrypted: true,
            inner_type: None,
            plaintext_len: None,
        };
        let mut s = String::new();
        record(&mut s, &r);
        assert_eq!(s, "encrypted 1.2 kB");
        let mut s = String::new();
        alert(
            &mut s,
            &TlsAlert {
                level: TlsAlertLevel(2),
                description: TlsAlertDescription(40),
            },
        );
        assert_eq!(s, "Alert fatal handshake_failure");
        assert_eq!(
            handshake_name(TlsHandshakeType::HELLO_RETRY_REQUEST),
            "HelloRetryRequest"
        );
        assert_eq!(handshake_name(TlsHandshakeType(99)), "handshake type 99");
    }

    #[test]
    fn wire_text_is_escaped() {
        let mut ch = TlsHandshake::new(TlsHandshakeType::CLIENT_HELLO, 500);
        ch.sni = Some("evil\u{1b}[2J".into());
        let mut s = String::new();
        handshake(&mut s, &ch);
        assert!(!s.contains('\u{1b}'), "{s}");
    }
}
