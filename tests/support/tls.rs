//! TLS test material made in the test (never committed): a CA, a server
//! certificate for 127.0.0.1 and client certificates, all with rcgen; and a
//! blocking rustls client for one request over a loopback connection.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls;

/// A CA that issues server and client certificates.
pub struct TestCa {
    pub cert_pem: String,
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

/// A certificate and its key, PEM.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(rcgen::DnType::CommonName, name.to_owned());
        p.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let cert = p.self_signed(&key).unwrap();
        TestCa {
            cert_pem: cert.pem(),
            cert,
            key,
        }
    }

    fn issue(&self, cn: &str, server: bool) -> Issued {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(if server {
            vec!["localhost".to_owned()]
        } else {
            vec![]
        })
        .unwrap();
        if server {
            p.subject_alt_names
                .push(rcgen::SanType::IpAddress(std::net::IpAddr::V4(
                    std::net::Ipv4Addr::LOCALHOST,
                )));
            p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        } else {
            p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        }
        p.distinguished_name
            .push(rcgen::DnType::CommonName, cn.to_owned());
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A server certificate for 127.0.0.1 and localhost.
    pub fn server(&self) -> Issued {
        self.issue("shaken serve test", true)
    }

    /// A client certificate.
    pub fn client(&self, cn: &str) -> Issued {
        self.issue(cn, false)
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    shaken::crypto::tls_provider()
}

/// A client trusting `ca`, presenting `identity` if given.
pub fn client_config(ca: &TestCa, identity: Option<&Issued>) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.cert_pem.as_bytes()).unwrap())
        .unwrap();
    let b = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        None => b.with_no_client_auth(),
        Some(id) => {
            let chain = vec![CertificateDer::from_pem_slice(id.cert_pem.as_bytes()).unwrap()];
            let key = PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).unwrap();
            b.with_client_auth_cert(chain, key).unwrap()
        }
    };
    Arc::new(config)
}

/// Send `request` (which should say `Connection: close`) over TLS to the
/// server at `addr` (name 127.0.0.1) and return what came back. `Err` when
/// the handshake fails or the server closes without answering.
pub fn exchange(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    request: &[u8],
) -> std::io::Result<Vec<u8>> {
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(request)?;
    tls.flush()?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // A peer that closes without close_notify after a full answer.
            Err(e) if !out.is_empty() && e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
    }
    if out.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "closed without an answer",
        ));
    }
    Ok(out)
}
