//! The TLS part of the event model: records, handshake messages and alerts as they appear on the
//! wire (or once decrypted), and the TLS summary of a connection.
//!
//! Wire numbers are kept as numbers ([`TlsVersion`], [`TlsContentType`], ...) and named when
//! shown or serialised: a known one by its RFC / IANA name, an unknown one by its number, so
//! that a GREASE value (RFC 8701) or a future suite is reported as it was sent.

use serde::{Serialize, Serializer};

fn is_false(b: &bool) -> bool {
    !*b
}

/// A protocol version as on the wire (`0x0303`); named `"TLS 1.2"`, `"TLS 1.3"`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlsVersion(pub u16);

impl TlsVersion {
    pub const SSL3: TlsVersion = TlsVersion(0x0300);
    pub const TLS10: TlsVersion = TlsVersion(0x0301);
    pub const TLS11: TlsVersion = TlsVersion(0x0302);
    pub const TLS12: TlsVersion = TlsVersion(0x0303);
    pub const TLS13: TlsVersion = TlsVersion(0x0304);

    /// The version's name, when it has one.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0300 => "SSL 3.0",
            0x0301 => "TLS 1.0",
            0x0302 => "TLS 1.1",
            0x0303 => "TLS 1.2",
            0x0304 => "TLS 1.3",
            _ => return None,
        })
    }
}

impl std::fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

impl Serialize for TlsVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A record's content type (RFC 8446 §5.1; heartbeat: RFC 6520). Serialised as its name, or
/// as the number when it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlsContentType(pub u8);

impl TlsContentType {
    pub const CHANGE_CIPHER_SPEC: TlsContentType = TlsContentType(20);
    pub const ALERT: TlsContentType = TlsContentType(21);
    pub const HANDSHAKE: TlsContentType = TlsContentType(22);
    pub const APPLICATION_DATA: TlsContentType = TlsContentType(23);
    pub const HEARTBEAT: TlsContentType = TlsContentType(24);

    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            20 => "change_cipher_spec",
            21 => "alert",
            22 => "handshake",
            23 => "application_data",
            24 => "heartbeat",
            _ => return None,
        })
    }
}

impl Serialize for TlsContentType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.name() {
            Some(n) => s.serialize_str(n),
            None => s.serialize_u8(self.0),
        }
    }
}

/// A handshake message type (RFC 8446 §4, RFC 5246 §7.4). A HelloRetryRequest travels as a
/// `server_hello` (type 2) with a fixed random (RFC 8446 §4.1.3); synscope names it apart as
/// [`TlsHandshakeType::HELLO_RETRY_REQUEST`], the number the TLS 1.3 drafts gave it (RFC 8446
/// keeps 6 reserved for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlsHandshakeType(pub u8);

impl TlsHandshakeType {
    pub const CLIENT_HELLO: TlsHandshakeType = TlsHandshakeType(1);
    pub const SERVER_HELLO: TlsHandshakeType = TlsHandshakeType(2);
    pub const NEW_SESSION_TICKET: TlsHandshakeType = TlsHandshakeType(4);
    pub const HELLO_RETRY_REQUEST: TlsHandshakeType = TlsHandshakeType(6);
    pub const ENCRYPTED_EXTENSIONS: TlsHandshakeType = TlsHandshakeType(8);
    pub const CERTIFICATE: TlsHandshakeType = TlsHandshakeType(11);
    pub const FINISHED: TlsHandshakeType = TlsHandshakeType(20);
    pub const KEY_UPDATE: TlsHandshakeType = TlsHandshakeType(24);

    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "hello_request",
            1 => "client_hello",
            2 => "server_hello",
            3 => "hello_verify_request",
            4 => "new_session_ticket",
            5 => "end_of_early_data",
            6 => "hello_retry_request",
            8 => "encrypted_extensions",
            11 => "certificate",
            12 => "server_key_exchange",
            13 => "certificate_request",
            14 => "server_hello_done",
            15 => "certificate_verify",
            16 => "client_key_exchange",
            20 => "finished",
            21 => "certificate_url",
            22 => "certificate_status",
            23 => "supplemental_data",
            24 => "key_update",
            25 => "compressed_certificate",
            67 => "next_protocol",
            254 => "message_hash",
            _ => return None,
        })
    }
}

impl Serialize for TlsHandshakeType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.name() {
            Some(n) => s.serialize_str(n),
            None => s.serialize_u8(self.0),
        }
    }
}

/// A cipher suite by its IANA number; serialised as its IANA name
/// (`"TLS_AES_128_GCM_SHA256"`), or as `"0x0a0a"` when it has none (GREASE, RFC 8701).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlsCipherSuite(pub u16);

impl TlsCipherSuite {
    /// The IANA name (from tls-parser's table of the IANA registry).
    pub fn name(self) -> Option<&'static str> {
        tls_parser::TlsCipherSuite::from_id(self.0).map(|c| c.name)
    }
}

impl std::fmt::Display for TlsCipherSuite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

impl Serialize for TlsCipherSuite {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A key exchange group (IANA "TLS Supported Groups"); serialised as its name
/// (`"x25519"`, `"secp256r1"`, `"X25519MLKEM768"`) or as `"0x1a1a"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlsGroup(pub u16);

impl TlsGroup {
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            23 => "secp256r1",
            24 => "secp384r1",
            25 => "secp521r1",
            29 => "x25519",
            30 => "x448",
            31 => "brainpoolP256r1tls13",
            32 => "brainpoolP384r1tls13",
            33 => "brainpoolP512r1tls13",
            0x0100 => "ffdhe2048",
            0x0101 => "ffdhe3072",
            0x0102 => "ffdhe4096",
            0x0103 => "ffdhe6144",
            0x0104 => "ffdhe8192",
            0x11eb => "SecP256r1MLKEM768",
            0x11ec => "X25519MLKEM768",
            0x11ed => "SecP384r1MLKEM1024",
            0x6399 => "X25519Kyber768Draft00",
            _ => return None,
        })
    }
}

impl std::fmt::Display for TlsGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

impl Serialize for TlsGroup {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An alert's level (RFC 5246 §7.2): `"warning"`, `"fatal"`, or the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlsAlertLevel(pub u8);

impl TlsAlertLevel {
    pub fn name(self) -> Option<&'static str> {
        match self.0 {
            1 => Some("warning"),
            2 => Some("fatal"),
            _ => None,
        }
    }
}

impl Serialize for TlsAlertLevel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.name() {
            Some(n) => s.serialize_str(n),
            None => s.serialize_u8(self.0),
        }
    }
}

/// An alert's description (RFC 8446 §6, RFC 5246 §7.2, IANA "TLS Alerts"), snake_case as the
/// RFCs spell it (`"close_notify"`, `"handshake_failure"`, `"unknown_ca"`), or the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlsAlertDescription(pub u8);

impl TlsAlertDescription {
    pub const CLOSE_NOTIFY: TlsAlertDescription = TlsAlertDescription(0);

    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            21 => "decryption_failed",
            22 => "record_overflow",
            30 => "decompression_failure",
            40 => "handshake_failure",
            41 => "no_certificate",
            42 => "bad_certificate",
            43 => "unsupported_certificate",
            44 => "certificate_revoked",
            45 => "certificate_expired",
            46 => "certificate_unknown",
            47 => "illegal_parameter",
            48 => "unknown_ca",
            49 => "access_denied",
            50 => "decode_error",
            51 => "decrypt_error",
            60 => "export_restriction",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            100 => "no_renegotiation",
            109 => "missing_extension",
            110 => "unsupported_extension",
            111 => "certificate_unobtainable",
            112 => "unrecognized_name",
            113 => "bad_certificate_status_response",
            114 => "bad_certificate_hash_value",
            115 => "unknown_psk_identity",
            116 => "certificate_required",
            120 => "no_application_protocol",
            121 => "ech_required",
            _ => return None,
        })
    }
}

impl Serialize for TlsAlertDescription {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.name() {
            Some(n) => s.serialize_str(n),
            None => s.serialize_u8(self.0),
        }
    }
}

/// One TLS record (RFC 8446 §5.1, RFC 5246 §6.2), as its header gives it; once decrypted, with
/// the type of what it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TlsRecord {
    /// The content type on the wire (`application_data` for every TLS 1.3 encrypted record).
    pub content_type: TlsContentType,
    /// The record layer's version field (`legacy_record_version` in TLS 1.3).
    pub version: TlsVersion,
    /// Bytes after the 5-byte header (ciphertext, for an encrypted record).
    pub length: u16,
    /// The body is ciphertext (decrypted or not: see `inner_type`).
    #[serde(skip_serializing_if = "is_false")]
    pub encrypted: bool,
    /// Decrypted: the type of the content inside (TLS 1.3 hides it in the ciphertext; TLS 1.2
    /// keeps the outer one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_type: Option<TlsContentType>,
    /// Decrypted: the plaintext's length (padding, MAC and nonce removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plaintext_len: Option<u16>,
}

/// One handshake message, with what it says that a reader of the conversation wants to see.
/// Fields that do not apply to the message's type are absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsHandshake {
    pub handshake_type: TlsHandshakeType,
    /// Body length in bytes (after the 4-byte header).
    pub length: u32,
    /// ClientHello: the server name asked for (`server_name`, RFC 6066).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// ClientHello: the application protocols offered (RFC 7301); ServerHello (TLS 1.2) and
    /// EncryptedExtensions (TLS 1.3): the one selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<Vec<String>>,
    /// ClientHello: `legacy_version` (`"TLS 1.2"` even when 1.3 is offered: see
    /// `supported_versions`); ServerHello and HelloRetryRequest: the version negotiated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<TlsVersion>,
    /// ClientHello: the `supported_versions` extension (RFC 8446 §4.2.1), in offer order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported_versions: Option<Vec<TlsVersion>>,
    /// ServerHello and HelloRetryRequest: the cipher suite chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<TlsCipherSuite>,
    /// ClientHello: the cipher suites offered, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher_suites: Option<Vec<TlsCipherSuite>>,
    /// ClientHello: the groups of its key shares (RFC 8446 §4.2.8); ServerHello: the group of
    /// the server's share; HelloRetryRequest: the group it asks for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_share_groups: Option<Vec<TlsGroup>>,
    /// ServerHello: the session is resumed (TLS 1.3: a pre-shared key was accepted; TLS 1.2:
    /// the server echoed the client's session id).
    #[serde(skip_serializing_if = "is_false")]
    pub resumed: bool,
    /// Certificate: how many certificates the chain holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificates: Option<u32>,
    /// Certificate: the first (end-entity) certificate's subject, as RFC 4514 writes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Certificate: its subjectAltName DNS names and IP addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub san: Option<Vec<String>>,
    /// KeyUpdate: whether the peer is asked to update its keys too (RFC 8446 §4.6.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_requested: Option<bool>,
}

impl TlsHandshake {
    /// A message of `handshake_type` with nothing else known yet.
    pub fn new(handshake_type: TlsHandshakeType, length: u32) -> TlsHandshake {
        TlsHandshake {
            handshake_type,
            length,
            sni: None,
            alpn: None,
            version: None,
            supported_versions: None,
            cipher_suite: None,
            cipher_suites: None,
            key_share_groups: None,
            resumed: false,
            certificates: None,
            subject: None,
            san: None,
            update_requested: None,
        }
    }
}

/// One alert message (RFC 8446 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TlsAlert {
    pub level: TlsAlertLevel,
    pub description: TlsAlertDescription,
}

/// What TLS a connection ran (`connection_end`'s `tls`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsSummary {
    /// The version negotiated (absent when the ServerHello was not seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<TlsVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<TlsCipherSuite>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// The application protocol selected by ALPN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// Whether application data was decrypted (with secrets from a key log).
    pub decrypted: bool,
}
