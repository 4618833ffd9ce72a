//! TLS for the demo's `wss` round (and for tests that need real TLS between real peers): a
//! certificate authority and a `localhost` certificate made at start with rcgen, rustls
//! server and client configurations, and a [`KeyCollector`] that receives every secret the
//! two stacks log (rustls's `KeyLog`), in the NSS key log format, for the engine to decrypt
//! with.

use std::sync::{Arc, Mutex};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("certificate: {0}")]
    Cert(#[from] rcgen::Error),
    #[error("tls: {0}")]
    Tls(#[from] rustls::Error),
}

/// Secrets logged by rustls, as NSS key log lines, waiting to be taken.
#[derive(Debug, Clone, Default)]
pub struct KeyCollector {
    lines: Arc<Mutex<Vec<u8>>>,
}

impl KeyCollector {
    pub fn new() -> KeyCollector {
        KeyCollector::default()
    }

    /// The lines logged since the last call (whole lines, each ending in `\n`).
    pub fn take(&self) -> Vec<u8> {
        match self.lines.lock() {
            Ok(mut l) => std::mem::take(&mut *l),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }
}

impl rustls::KeyLog for KeyCollector {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let mut line = String::with_capacity(label.len() + 2 + 2 * (32 + secret.len()));
        line.push_str(label);
        line.push(' ');
        for b in client_random {
            line.push_str(&format!("{b:02x}"));
        }
        line.push(' ');
        for b in secret {
            line.push_str(&format!("{b:02x}"));
        }
        line.push('\n');
        let mut l = match self.lines.lock() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
        l.extend_from_slice(line.as_bytes());
    }
}

/// What to offer: versions, suites and key exchange groups (empty: rustls's defaults), ALPN.
#[derive(Debug, Clone, Default)]
pub struct Offer {
    pub versions: Vec<&'static SupportedProtocolVersion>,
    pub suites: Vec<SupportedCipherSuite>,
    pub groups: Vec<&'static dyn rustls::crypto::SupportedKxGroup>,
    pub alpn: Vec<Vec<u8>>,
}

impl Offer {
    fn provider(&self) -> Arc<CryptoProvider> {
        // ring, not aws-lc-rs: no C toolchain beyond cc, no cmake. rustls deprecates it for
        // lacking post-quantum key exchange, which a loopback demo does not need (and the
        // classic groups are what synscope's explanations describe).
        #[allow(deprecated)]
        let mut p = rustls::crypto::ring::default_provider();
        if !self.suites.is_empty() {
            p.cipher_suites = self.suites.clone();
        }
        if !self.groups.is_empty() {
            p.kx_groups = self.groups.clone();
        }
        Arc::new(p)
    }

    fn versions(&self) -> Vec<&'static SupportedProtocolVersion> {
        if self.versions.is_empty() {
            rustls::DEFAULT_VERSIONS.to_vec()
        } else {
            self.versions.clone()
        }
    }
}

/// A certificate authority made at start and a `localhost` / `127.0.0.1` / `::1` certificate
/// it signed.
pub struct Pki {
    ca: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Pki {
    pub fn new() -> Result<Pki, TlsSetupError> {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "synscope demo CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_key = rcgen::KeyPair::generate()?;
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)?;
        let mut params = rcgen::CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ])?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let key = rcgen::KeyPair::generate()?;
        let leaf = params.signed_by(&key, &ca)?;
        let ca_der = ca.der().clone();
        Ok(Pki {
            chain: vec![leaf.der().clone(), ca_der.clone()],
            ca: ca_der,
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        })
    }

    /// A server with this certificate, logging its secrets to `keys` when given.
    pub fn server(
        &self,
        offer: &Offer,
        keys: Option<&KeyCollector>,
    ) -> Result<Arc<ServerConfig>, TlsSetupError> {
        let mut c = ServerConfig::builder_with_provider(offer.provider())
            .with_protocol_versions(&offer.versions())?
            .with_no_client_auth()
            .with_single_cert(
                self.chain.clone(),
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )?;
        c.alpn_protocols = offer.alpn.clone();
        if let Some(k) = keys {
            c.key_log = Arc::new(k.clone());
        }
        Ok(Arc::new(c))
    }

    /// A client that trusts this authority, logging its secrets to `keys` when given.
    pub fn client(
        &self,
        offer: &Offer,
        keys: Option<&KeyCollector>,
    ) -> Result<Arc<ClientConfig>, TlsSetupError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.clone())?;
        let mut c = ClientConfig::builder_with_provider(offer.provider())
            .with_protocol_versions(&offer.versions())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        c.alpn_protocols = offer.alpn.clone();
        if let Some(k) = keys {
            c.key_log = Arc::new(k.clone());
        }
        Ok(Arc::new(c))
    }
}

/// A rustls client and server talking in memory, every byte each side writes recorded in
/// order: real TLS between real peers without sockets, for tests (the decoder is fed the
/// recording as a capture would deliver it).
pub struct InMemory {
    pub client: rustls::ClientConnection,
    pub server: rustls::ServerConnection,
    /// `(from the client, bytes of one write)`, in order.
    pub trace: Vec<(bool, Vec<u8>)>,
}

impl InMemory {
    pub fn new(
        client: Arc<ClientConfig>,
        server: Arc<ServerConfig>,
    ) -> Result<InMemory, TlsSetupError> {
        let name = rustls::pki_types::ServerName::try_from("localhost")
            .map_err(|_| rustls::Error::General("server name".into()))?;
        Ok(InMemory {
            client: rustls::ClientConnection::new(client, name)?,
            server: rustls::ServerConnection::new(server)?,
            trace: Vec::new(),
        })
    }

    /// Moves TLS bytes both ways until neither side has anything to send.
    pub fn pump(&mut self) -> Result<(), TlsSetupError> {
        fn move_all(
            from: &mut dyn WriteTls,
            to: &mut dyn ReadTls,
        ) -> Result<Option<Vec<u8>>, TlsSetupError> {
            if !from.wants() {
                return Ok(None);
            }
            let mut buf = Vec::new();
            while from.wants() {
                from.write(&mut buf)?;
            }
            let mut rest = &buf[..];
            while !rest.is_empty() {
                to.read(&mut rest)?;
            }
            Ok(Some(buf))
        }
        for _ in 0..1000 {
            let c = move_all(&mut *self.client, &mut *self.server)?;
            if let Some(b) = &c {
                self.trace.push((true, b.clone()));
            }
            let s = move_all(&mut *self.server, &mut *self.client)?;
            if let Some(b) = &s {
                self.trace.push((false, b.clone()));
            }
            if c.is_none() && s.is_none() {
                return Ok(());
            }
        }
        Err(rustls::Error::General("the peers never went quiet".into()).into())
    }

    /// `data` from one side (in writes of at most 16 KiB, as the receiver reads them), and
    /// what the other side read.
    pub fn say(&mut self, from_client: bool, mut data: &[u8]) -> Result<Vec<u8>, TlsSetupError> {
        use std::io::{Read, Write};
        let mut got = Vec::new();
        while !data.is_empty() {
            let n = data.len().min(16 << 10);
            let w = if from_client {
                self.client.writer().write(&data[..n])
            } else {
                self.server.writer().write(&data[..n])
            }
            .map_err(|e| rustls::Error::General(e.to_string()))?;
            data = &data[w..];
            self.pump()?;
            let mut buf = [0u8; 4096];
            loop {
                let r = if from_client {
                    self.server.reader().read(&mut buf)
                } else {
                    self.client.reader().read(&mut buf)
                };
                match r {
                    Ok(0) | Err(_) => break,
                    Ok(k) => got.extend_from_slice(&buf[..k]),
                }
            }
        }
        Ok(got)
    }
}

/// The sending side of a connection, for [`InMemory::pump`].
trait WriteTls {
    fn wants(&self) -> bool;
    fn write(&mut self, out: &mut Vec<u8>) -> Result<(), TlsSetupError>;
}

/// The receiving side of a connection, for [`InMemory::pump`].
trait ReadTls {
    fn read(&mut self, input: &mut &[u8]) -> Result<(), TlsSetupError>;
}

impl<D> WriteTls for rustls::ConnectionCommon<D> {
    fn wants(&self) -> bool {
        self.wants_write()
    }
    fn write(&mut self, out: &mut Vec<u8>) -> Result<(), TlsSetupError> {
        self.write_tls(out)
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        Ok(())
    }
}

impl<D: rustls::SideData> ReadTls for rustls::ConnectionCommon<D> {
    fn read(&mut self, input: &mut &[u8]) -> Result<(), TlsSetupError> {
        self.read_tls(input)
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        self.process_new_packets()?;
        Ok(())
    }
}

/// What the demo's `wss` round uses: the certificate authority and `localhost` certificate made
/// at start, the server's and the client's configurations (ALPN `http/1.1`, rustls's default
/// versions and suites), and the secrets the client logs, for the engine to decrypt with (no
/// file: [`KeyCollector::take`]).
pub struct DemoTls {
    pub server: Arc<ServerConfig>,
    pub client: Arc<ClientConfig>,
    pub keys: KeyCollector,
}

/// The demo's TLS, made at the first call (one per process: the server on 127.0.0.1 and its
/// clients share it).
pub fn demo() -> Result<&'static DemoTls, String> {
    static DEMO: std::sync::OnceLock<Result<DemoTls, String>> = std::sync::OnceLock::new();
    DEMO.get_or_init(|| {
        let make = || -> Result<DemoTls, TlsSetupError> {
            let pki = Pki::new()?;
            let offer = Offer {
                alpn: vec![b"http/1.1".to_vec()],
                ..Offer::default()
            };
            let keys = KeyCollector::new();
            Ok(DemoTls {
                server: pki.server(&offer, None)?,
                client: pki.client(&offer, Some(&keys))?,
                keys,
            })
        };
        make().map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(Clone::clone)
}
