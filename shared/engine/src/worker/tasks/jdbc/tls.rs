//! TLS for the PostgreSQL client: rustls (ring provider) behind `tokio-postgres`'s
//! `MakeTlsConnect`, with the JDBC driver's `sslmode`s:
//!
//! | mode | TLS | server certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `allow`, `prefer` (default) | when the server offers it | not checked (checked against `sslRootCert` when given) |
//! | `require` | always | not checked (checked against `sslRootCert` when given) |
//! | `verify-ca` | always | chain to `sslRootCert` (or the system's roots), any host name |
//! | `verify-full` | always | chain and host name |
//!
//! A client certificate (`sslCert` + `sslKey`, PEM) is presented when given; an encrypted
//! key (`sslKeyPassword`) is refused. SCRAM channel binding is not offered.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

use super::JdbcError;

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Not at all (the connection is encrypted, not authenticated).
    None,
    /// The chain, not the host name.
    Chain,
    /// The chain and the host name.
    Full,
}

/// The TLS material of one connection (PEM texts).
#[derive(Debug, Default)]
pub(crate) struct Material<'a> {
    pub root_cert: Option<&'a str>,
    pub cert: Option<&'a str>,
    pub key: Option<&'a str>,
    pub key_password: Option<&'a str>,
}

/// The connector for `check` with `material`.
pub(crate) fn connector(check: Check, material: &Material<'_>) -> Result<RustlsConnect, JdbcError> {
    crate::tls::ensure_crypto_provider();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let invalid = |what: &str, e: &dyn std::fmt::Display| {
        JdbcError::Invalid(format!("PostgreSQL TLS: {what}: {e}"))
    };
    let roots = match material.root_cert {
        Some(pem) => {
            let mut store = RootCertStore::empty();
            let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid("`sslRootCert` is not PEM", &e))?;
            if certs.is_empty() {
                return Err(JdbcError::Invalid(
                    "PostgreSQL TLS: `sslRootCert` holds no certificate (PEM `-----BEGIN CERTIFICATE-----`)"
                        .into(),
                ));
            }
            for c in certs {
                store
                    .add(c)
                    .map_err(|e| invalid("a certificate of `sslRootCert` is unusable", &e))?;
            }
            Some(Arc::new(store))
        }
        None => None,
    };
    // With a root certificate, `prefer`/`require` check the chain too (as libpq does).
    let check = match (check, &roots) {
        (Check::None, Some(_)) => Check::Chain,
        (c, _) => c,
    };
    let verifier: Arc<dyn ServerCertVerifier> = match (&roots, check) {
        (_, Check::None) => Arc::new(AnyCertificate(provider.clone())),
        (Some(r), c) => {
            let inner = WebPkiServerVerifier::builder_with_provider(r.clone(), provider.clone())
                .build()
                .map_err(|e| invalid("`sslRootCert`", &e))?;
            if c == Check::Full {
                inner
            } else {
                Arc::new(AnyName(inner))
            }
        }
        (None, c) => {
            let inner: Arc<dyn ServerCertVerifier> = Arc::new(
                rustls_platform_verifier::Verifier::new(provider.clone())
                    .map_err(|e| invalid("the system's root certificates", &e))?,
            );
            if c == Check::Full {
                inner
            } else {
                Arc::new(AnyName(inner))
            }
        }
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("protocol versions", &e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (material.cert, material.key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            if material.key_password.is_some_and(|p| !p.is_empty()) {
                return Err(JdbcError::Invalid(
                    "PostgreSQL TLS: encrypted client keys (`sslKeyPassword`) are not supported: \
                     give `sslKey` unencrypted (PEM)"
                        .into(),
                ));
            }
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid("`sslCert` is not PEM", &e))?;
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                .map_err(|e| invalid("`sslKey` is not an unencrypted PEM private key", &e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| invalid("the client certificate", &e))?
        }
        _ => {
            return Err(JdbcError::Invalid(
                "PostgreSQL TLS: `sslCert` and `sslKey` go together".into(),
            ));
        }
    };
    Ok(RustlsConnect(Arc::new(config)))
}

/// Accepts any certificate (still checking the handshake signatures).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Checks the chain with the inner verifier, whatever the host name (`verify-ca`).
#[derive(Debug)]
struct AnyName(Arc<dyn ServerCertVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `tokio-postgres`'s TLS connector over rustls.
#[derive(Debug, Clone)]
pub(crate) struct RustlsConnect(Arc<ClientConfig>);

impl<S> MakeTlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type TlsConnect = RustlsTlsConnect;
    type Error = rustls::pki_types::InvalidDnsNameError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsTlsConnect, Self::Error> {
        let name = ServerName::try_from(domain.to_owned())?;
        Ok(RustlsTlsConnect {
            config: self.0.clone(),
            name,
        })
    }
}

/// One connection's TLS handshake.
#[derive(Debug)]
pub(crate) struct RustlsTlsConnect {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for RustlsTlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            tokio_rustls::TlsConnector::from(self.config)
                .connect(self.name, stream)
                .await
                .map(TlsStream)
        })
    }
}

/// An established TLS stream.
#[derive(Debug)]
pub(crate) struct TlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for TlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}
