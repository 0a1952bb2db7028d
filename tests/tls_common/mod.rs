//! Test PKI for the TlsContext tests: RSA device keys (any size the device
//! takes, generated with the `rsa` crate) and certificates for them, issued
//! by a throw-away ECDSA CA made with `rcgen`.

#![allow(dead_code)]

use rsa::RsaPrivateKey;
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};

/// An RSA key of `bits` bits.
pub fn rsa_key(bits: usize) -> RsaPrivateKey {
    RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits).expect("rsa key")
}

/// PKCS#1 PEM (`RSA PRIVATE KEY`), what cert-manager writes by default.
pub fn pkcs1_pem(key: &RsaPrivateKey) -> String {
    key.to_pkcs1_pem(LineEnding::LF).expect("pkcs1").to_string()
}

/// Encrypted PKCS#8 PEM (PBES2: PBKDF2-SHA256, AES-256-CBC). Few PBKDF2
/// rounds: the default scheme (scrypt) takes minutes in a debug build.
pub fn encrypted_pem(key: &RsaPrivateKey, password: &str) -> String {
    use rsa::pkcs8::der::pem::PemLabel;
    let der = key.to_pkcs8_der().expect("pkcs8");
    let info = rsa::pkcs8::PrivateKeyInfo::try_from(der.as_bytes()).expect("info");
    let params = rsa::pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(
        1000,
        b"saltsalt",
        &[7u8; 16],
    )
    .expect("params");
    let encrypted = info.encrypt_with_params(params, password).expect("encrypt");
    encrypted
        .to_pem(
            rsa::pkcs8::EncryptedPrivateKeyInfo::PEM_LABEL,
            LineEnding::LF,
        )
        .expect("pem")
        .to_string()
}

/// The public half of an RSA key, for rcgen to put in a certificate.
struct RsaPublic(Vec<u8>);

impl rcgen::PublicKeyData for RsaPublic {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

/// A certificate authority.
pub struct Ca {
    pub cert_pem: String,
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
}

impl Ca {
    /// A self-signed CA named `cn`.
    pub fn new(cn: &str) -> Ca {
        let key = rcgen::KeyPair::generate().expect("ca key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("ca cert");
        Ca {
            cert_pem: cert.pem(),
            params,
            key,
        }
    }

    /// A device certificate for `key` with CN and DNS SAN `cn`, valid for
    /// `days` days from now.
    pub fn issue(&self, key: &RsaPrivateKey, cn: &str, days: i64) -> String {
        let mut params = rcgen::CertificateParams::new(vec![cn.to_string()]).expect("params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(days);
        let public = RsaPublic(
            key.to_public_key()
                .to_pkcs1_der()
                .expect("public der")
                .into_vec(),
        );
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        params.signed_by(&public, &issuer).expect("issue").pem()
    }
}

impl Ca {
    /// Signs a PEM CSR as an issuer would: a certificate for the CSR's
    /// public key, with the CSR's CN (also as DNS SAN), valid `days` days.
    /// Returns the certificate PEM.
    pub fn sign_csr(&self, csr_pem: &str, days: i64) -> String {
        use x509_parser::prelude::FromDer;
        let block = pem::parse(csr_pem).expect("CSR PEM");
        assert_eq!(block.tag(), "CERTIFICATE REQUEST");
        let (_, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(
            block.contents(),
        )
        .expect("CSR DER");
        let info = &csr.certification_request_info;
        let cn = info
            .subject
            .iter_common_name()
            .next()
            .and_then(|c| c.as_str().ok())
            .unwrap_or("device")
            .to_string();
        let mut params = rcgen::CertificateParams::new(vec![cn.clone()]).expect("params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(days);
        let public = RsaPublic(info.subject_pki.subject_public_key.data.to_vec());
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        params.signed_by(&public, &issuer).expect("issue").pem()
    }
}

/// The RSA modulus a PEM CSR requests a certificate for (to tell keys apart).
pub fn csr_public_key(csr_pem: &str) -> Vec<u8> {
    use x509_parser::prelude::FromDer;
    let block = pem::parse(csr_pem).expect("CSR PEM");
    let (_, csr) =
        x509_parser::certification_request::X509CertificationRequest::from_der(block.contents())
            .expect("CSR DER");
    csr.certification_request_info
        .subject_pki
        .subject_public_key
        .data
        .to_vec()
}

/// A PKCS#8 PEM of `key` (unencrypted).
pub fn pkcs8_pem(key: &RsaPrivateKey) -> String {
    key.to_pkcs8_pem(LineEnding::LF).expect("pkcs8").to_string()
}
