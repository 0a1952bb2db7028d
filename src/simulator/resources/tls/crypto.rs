//! The real cryptography behind TLS context files: RSA private keys
//! (generated on the device or uploaded as PEM, optionally encrypted),
//! self-signed certificates, certificate signing requests, and the check that
//! a certificate belongs to the context's private key.
//!
//! Keys are RSA, as the document's sizes (512 … 4096 bits) imply. Signing uses
//! the `rsa` crate because `ring` refuses keys below 2048 bits, which the
//! device generates on request; `rcgen` only assembles the DER.

use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs1v15;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, rand_core::OsRng};
use x509_parser::prelude::{FromDer, X509CertificationRequest};
use x509_parser::public_key::PublicKey;

use super::pem::{self, PemError};

/// Key sizes `POST …/privateKey/generate` accepts (v7.4 §8.2.1).
pub const GENERATED_KEY_SIZES: [usize; 5] = [512, 768, 1024, 2048, 4096];
/// The documented default of `size`.
pub const DEFAULT_GENERATED_KEY_SIZE: usize = 1024;
/// Smallest and largest RSA modulus an uploaded key may have: the range of
/// the sizes the device itself generates.
const UPLOAD_KEY_BITS: std::ops::RangeInclusive<usize> = 512..=4096;

/// Why a TLS file or request is refused. Messages never contain key
/// material or passwords.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The upload holds no PEM block of the expected kind.
    #[error("{0} is not in PEM format")]
    NotPem(&'static str),
    /// The PEM armour itself is broken.
    #[error(transparent)]
    Pem(#[from] PemError),
    /// A PEM block that is not a private key where one is expected, or not
    /// a certificate where certificates are expected.
    #[error("unexpected PEM block `{found}`: expected {expected}")]
    UnexpectedBlock {
        /// The label found.
        found: String,
        /// What was expected, in words.
        expected: &'static str,
    },
    /// An encrypted PKCS#8 key without the `password` parameter.
    #[error("private key is encrypted: provide its password in the `password` parameter")]
    PasswordRequired,
    /// An encrypted PKCS#8 key the password does not open.
    #[error("private key could not be decrypted: wrong password or unsupported encryption scheme")]
    Decryption,
    /// An OpenSSL "traditional" encrypted PEM (`Proc-Type: 4,ENCRYPTED`).
    #[error(
        "legacy OpenSSL-encrypted PEM keys are not supported: convert the key to encrypted PKCS#8 (`openssl pkcs8 -topk8`)"
    )]
    LegacyEncryption,
    /// The key is not a well-formed RSA private key.
    #[error("private key is not a valid RSA private key ({0})")]
    InvalidKey(String),
    /// An uploaded key outside the supported sizes.
    #[error("private key size of {0} bits is not supported (512 to 4096 bits)")]
    UploadSize(usize),
    /// `size` of a generate request is not a documented value.
    #[error("key size {0} is not supported: use 512, 768, 1024, 2048 or 4096")]
    GenerateSize(u64),
    /// An uploaded certificate that does not parse as X.509.
    #[error("certificate #{index} is not a valid X.509 certificate ({reason})")]
    InvalidCertificate {
        /// 1-based position of the certificate in the upload.
        index: usize,
        /// What the parser found wrong.
        reason: String,
    },
    /// The certificate's public key is not the context's private key.
    #[error("certificate does not match the private key of TLS context {0}")]
    KeyMismatch(u32),
    /// An unknown `signatureAlgorithm`.
    #[error("signature algorithm `{0}` is not supported: use sha1, sha256 or sha512")]
    SignatureAlgorithm(String),
    /// The key's modulus is too short for a PKCS#1 v1.5 signature with this hash.
    #[error("a {bits}-bit private key is too small to sign with {hash}: generate a larger key")]
    KeyTooSmall {
        /// Modulus size of the key.
        bits: usize,
        /// The requested hash.
        hash: &'static str,
    },
    /// A subject field that X.509 cannot carry (e.g. a country code that is
    /// not two letters).
    #[error("invalid subject field `{field}`: {reason}")]
    Subject {
        /// The request attribute.
        field: &'static str,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The context has no private key yet.
    #[error("TLS context {0} has no private key: upload or generate one first")]
    NoPrivateKey(u32),
    /// Building or signing a certificate failed inside the crypto library.
    #[error("cryptographic operation failed: {0}")]
    Crypto(String),
}

/// The hash of a PKCS#1 v1.5 RSA signature (`signatureAlgorithm` of a CSR).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureHash {
    /// `sha1WithRSAEncryption`, the documented default for CSRs.
    Sha1,
    /// `sha256WithRSAEncryption`.
    Sha256,
    /// `sha512WithRSAEncryption`.
    Sha512,
}

impl SignatureHash {
    /// The request attribute's value for this hash.
    pub fn name(self) -> &'static str {
        match self {
            SignatureHash::Sha1 => "sha1",
            SignatureHash::Sha256 => "sha256",
            SignatureHash::Sha512 => "sha512",
        }
    }

    /// Length of the DER `DigestInfo` a PKCS#1 v1.5 signature wraps
    /// (RFC 8017 §9.2 note 1): algorithm prefix plus digest.
    fn digest_info_len(self) -> usize {
        match self {
            SignatureHash::Sha1 => 15 + 20,
            SignatureHash::Sha256 => 19 + 32,
            SignatureHash::Sha512 => 19 + 64,
        }
    }
}

impl std::str::FromStr for SignatureHash {
    type Err = TlsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "sha1" => Ok(SignatureHash::Sha1),
            "sha256" => Ok(SignatureHash::Sha256),
            "sha512" => Ok(SignatureHash::Sha512),
            _ => Err(TlsError::SignatureAlgorithm(s.to_string())),
        }
    }
}

/// An RSA private key held by a TLS context. It can never leave the device:
/// there is no way to serialise it, and `Debug` shows only its size.
#[derive(Clone)]
pub struct RsaKey {
    key: RsaPrivateKey,
    /// PKCS#1 `RSAPublicKey` DER, what `rcgen` puts in SubjectPublicKeyInfo.
    public_pkcs1: Vec<u8>,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKey")
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

impl RsaKey {
    /// A fresh key of `bits` bits, which must be one of [`GENERATED_KEY_SIZES`].
    /// Slow for large sizes (seconds for 4096): call it off the async runtime.
    pub fn generate(bits: u64) -> Result<Self, TlsError> {
        let size = usize::try_from(bits)
            .ok()
            .filter(|b| GENERATED_KEY_SIZES.contains(b))
            .ok_or(TlsError::GenerateSize(bits))?;
        let key =
            RsaPrivateKey::new(&mut OsRng, size).map_err(|e| TlsError::Crypto(e.to_string()))?;
        Self::from_key(key)
    }

    /// The first private key of a PEM upload: PKCS#1 (`RSA PRIVATE KEY`),
    /// PKCS#8 (`PRIVATE KEY`) or encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`,
    /// opened with `password`).
    pub fn from_pem(upload: &[u8], password: Option<&str>) -> Result<Self, TlsError> {
        let text = std::str::from_utf8(upload).map_err(|_| TlsError::NotPem("private key"))?;
        let blocks = pem::blocks(text)?;
        let block = blocks.first().ok_or(TlsError::NotPem("private key"))?;
        let key = match block.label.as_str() {
            "RSA PRIVATE KEY" => {
                let encrypted = block.headers.iter().any(|(name, value)| {
                    name.eq_ignore_ascii_case("Proc-Type") && value.contains("ENCRYPTED")
                });
                if encrypted {
                    return Err(TlsError::LegacyEncryption);
                }
                RsaPrivateKey::from_pkcs1_der(&block.der)
                    .map_err(|e| TlsError::InvalidKey(e.to_string()))?
            }
            "PRIVATE KEY" => RsaPrivateKey::from_pkcs8_der(&block.der)
                .map_err(|e| TlsError::InvalidKey(e.to_string()))?,
            "ENCRYPTED PRIVATE KEY" => {
                let password = password
                    .filter(|p| !p.is_empty())
                    .ok_or(TlsError::PasswordRequired)?;
                RsaPrivateKey::from_pkcs8_encrypted_der(&block.der, password)
                    .map_err(|_| TlsError::Decryption)?
            }
            other => {
                return Err(TlsError::UnexpectedBlock {
                    found: other.to_string(),
                    expected: "an RSA private key (RSA PRIVATE KEY, PRIVATE KEY or ENCRYPTED PRIVATE KEY)",
                });
            }
        };
        Self::from_key(key)
    }

    fn from_key(key: RsaPrivateKey) -> Result<Self, TlsError> {
        key.validate()
            .map_err(|e| TlsError::InvalidKey(e.to_string()))?;
        let bits = key.n().bits();
        if !UPLOAD_KEY_BITS.contains(&bits) {
            return Err(TlsError::UploadSize(bits));
        }
        let public_pkcs1 = key
            .to_public_key()
            .to_pkcs1_der()
            .map_err(|e| TlsError::Crypto(e.to_string()))?
            .into_vec();
        Ok(RsaKey { key, public_pkcs1 })
    }

    /// Size of the modulus in bits (`size` of `GET …/privateKey`).
    pub fn bits(&self) -> usize {
        self.key.n().bits()
    }

    /// The modulus, big-endian without leading zeros.
    fn modulus(&self) -> Vec<u8> {
        self.key.n().to_bytes_be()
    }

    /// Refuses a hash whose PKCS#1 v1.5 encoding does not fit this key's
    /// modulus (k >= tLen + 11, RFC 8017 §9.2), with a plain reason.
    fn check_can_sign(&self, hash: SignatureHash) -> Result<(), TlsError> {
        if self.key.size() < hash.digest_info_len() + 11 {
            return Err(TlsError::KeyTooSmall {
                bits: self.bits(),
                hash: hash.name(),
            });
        }
        Ok(())
    }

    /// A PKCS#1 v1.5 signature of `message` with `hash`.
    fn sign(&self, hash: SignatureHash, message: &[u8]) -> Result<Vec<u8>, TlsError> {
        self.check_can_sign(hash)?;
        let key = self.key.clone();
        let signed = match hash {
            SignatureHash::Sha1 => pkcs1v15::SigningKey::<sha1::Sha1>::new(key).try_sign(message),
            SignatureHash::Sha256 => {
                pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(key).try_sign(message)
            }
            SignatureHash::Sha512 => {
                pkcs1v15::SigningKey::<rsa::sha2::Sha512>::new(key).try_sign(message)
            }
        };
        signed
            .map(|s| s.to_vec())
            .map_err(|e| TlsError::Crypto(e.to_string()))
    }

    /// Whether the X.509 certificate `der` carries this key's public half.
    pub fn matches_certificate(&self, der: &[u8]) -> Result<bool, TlsError> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(der).map_err(|e| TlsError::InvalidCertificate {
                index: 1,
                reason: e.to_string(),
            })?;
        Ok(match cert.public_key().parsed() {
            Ok(PublicKey::RSA(public)) => {
                strip_leading_zeros(public.modulus) == self.modulus().as_slice()
            }
            _ => false,
        })
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// The subject attributes of `certificate/generate` and `certificate/request`
/// (all optional; empty ones are left out of the name).
/// Unknown attributes are refused: a misspelt one would otherwise silently
/// produce a different certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Subject {
    /// CN.
    pub subject_name: String,
    /// OU.
    pub organizational_unit: String,
    /// O.
    pub company_name: String,
    /// L.
    pub locality_name: String,
    /// ST.
    pub state: String,
    /// C, two letters.
    pub country_code: String,
}

impl Subject {
    fn distinguished_name(&self) -> Result<rcgen::DistinguishedName, TlsError> {
        use rcgen::{DnType, DnValue};
        let mut dn = rcgen::DistinguishedName::new();
        if !self.country_code.is_empty() {
            if self.country_code.len() != 2
                || !self.country_code.bytes().all(|b| b.is_ascii_alphabetic())
            {
                return Err(TlsError::Subject {
                    field: "countryCode",
                    reason: "must be two letters (ISO 3166)",
                });
            }
            let country =
                rcgen::string::PrintableString::try_from(self.country_code.to_ascii_uppercase())
                    .map_err(|_| TlsError::Subject {
                        field: "countryCode",
                        reason: "must be two letters (ISO 3166)",
                    })?;
            dn.push(DnType::CountryName, DnValue::PrintableString(country));
        }
        for (kind, value) in [
            (DnType::StateOrProvinceName, &self.state),
            (DnType::LocalityName, &self.locality_name),
            (DnType::OrganizationName, &self.company_name),
            (DnType::OrganizationalUnitName, &self.organizational_unit),
            (DnType::CommonName, &self.subject_name),
        ] {
            if !value.is_empty() {
                dn.push(kind, value.as_str());
            }
        }
        Ok(dn)
    }

    fn params(&self) -> Result<rcgen::CertificateParams, TlsError> {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = self.distinguished_name()?;
        Ok(params)
    }
}

/// Lets `rcgen` sign with an [`RsaKey`] (SHA-256 or SHA-512 only: `rcgen`
/// has no SHA-1 RSA algorithm).
struct RcgenSigner<'a> {
    key: &'a RsaKey,
    hash: SignatureHash,
}

impl rcgen::PublicKeyData for RcgenSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.key.public_pkcs1
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self.hash {
            SignatureHash::Sha512 => &rcgen::PKCS_RSA_SHA512,
            SignatureHash::Sha1 | SignatureHash::Sha256 => &rcgen::PKCS_RSA_SHA256,
        }
    }
}

impl rcgen::SigningKey for RcgenSigner<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.key
            .sign(self.hash, msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// How long a self-signed certificate is valid: ten years, like the
/// certificates devices ship with (the document's sample runs 2000 to 2030).
const SELF_SIGNED_VALIDITY_DAYS: i64 = 3650;

/// A self-signed X.509 certificate (DER) for `key` with `subject`, signed
/// with SHA-256, valid from `now` for ten years.
pub fn self_signed_certificate(
    key: &RsaKey,
    subject: &Subject,
    now: time::OffsetDateTime,
) -> Result<Vec<u8>, TlsError> {
    let signer = RcgenSigner {
        key,
        hash: SignatureHash::Sha256,
    };
    // Checked here so the caller gets the plain reason, not rcgen's.
    key.check_can_sign(signer.hash)?;
    let mut params = subject.params()?;
    params.not_before = now;
    params.not_after = now + time::Duration::days(SELF_SIGNED_VALIDITY_DAYS);
    let mut serial = [0u8; 16];
    rsa::rand_core::RngCore::fill_bytes(&mut OsRng, &mut serial);
    serial[0] &= 0x7f; // a positive INTEGER
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let cert = params
        .self_signed(&signer)
        .map_err(|e| TlsError::Crypto(e.to_string()))?;
    Ok(cert.der().to_vec())
}

/// A PKCS#10 certificate signing request (DER) for `key` with `subject`,
/// signed with `hash`.
pub fn signing_request(
    key: &RsaKey,
    subject: &Subject,
    hash: SignatureHash,
) -> Result<Vec<u8>, TlsError> {
    key.check_can_sign(hash)?;
    let params = subject.params()?;
    let signer = RcgenSigner { key, hash };
    let csr = params
        .serialize_request(&signer)
        .map_err(|e| TlsError::Crypto(e.to_string()))?;
    let der = csr.der().to_vec();
    match hash {
        SignatureHash::Sha1 => resign_request(&der, key, hash),
        SignatureHash::Sha256 | SignatureHash::Sha512 => Ok(der),
    }
}

/// DER `AlgorithmIdentifier { sha1WithRSAEncryption, NULL }`.
const SHA1_WITH_RSA: [u8; 15] = [
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00,
];

/// Re-signs the `CertificationRequestInfo` of `csr` with `hash`. A CSR names
/// its signature algorithm only outside the signed part, so the request
/// `rcgen` built stays valid apart from the outer algorithm and signature.
fn resign_request(csr: &[u8], key: &RsaKey, hash: SignatureHash) -> Result<Vec<u8>, TlsError> {
    let (_, request) =
        X509CertificationRequest::from_der(csr).map_err(|e| TlsError::Crypto(e.to_string()))?;
    let info = request.certification_request_info.raw;
    let mut signature = vec![0u8]; // BIT STRING: no unused bits
    signature.extend(key.sign(hash, info)?);
    let mut content = info.to_vec();
    content.extend_from_slice(&SHA1_WITH_RSA);
    content.extend(der_tlv(0x03, &signature));
    Ok(der_tlv(0x30, &content))
}

/// A DER tag-length-value with definite length.
fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8); // < 0x80, fits
    } else {
        let bytes = len.to_be_bytes();
        let first = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        let significant = &bytes[first..];
        out.push(0x80 | significant.len() as u8); // at most 8 length bytes
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

/// Every certificate of a PEM upload (DER, in order), each checked to be
/// X.509. Refuses an upload with no certificate or with other PEM blocks.
pub fn parse_certificates(upload: &[u8]) -> Result<Vec<Vec<u8>>, TlsError> {
    let text = std::str::from_utf8(upload).map_err(|_| TlsError::NotPem("certificate file"))?;
    let blocks = pem::blocks(text)?;
    if blocks.is_empty() {
        return Err(TlsError::NotPem("certificate file"));
    }
    let mut certificates = Vec::with_capacity(blocks.len());
    for (position, block) in blocks.into_iter().enumerate() {
        if block.label != "CERTIFICATE" {
            return Err(TlsError::UnexpectedBlock {
                found: block.label,
                expected: "CERTIFICATE blocks only",
            });
        }
        x509_parser::parse_x509_certificate(&block.der).map_err(|e| {
            TlsError::InvalidCertificate {
                index: position + 1,
                reason: e.to_string(),
            }
        })?;
        certificates.push(block.der);
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    use rsa::signature::Verifier;
    use x509_parser::prelude::X509Certificate;

    fn key(bits: u64) -> RsaKey {
        RsaKey::generate(bits).unwrap()
    }

    fn verify(key: &RsaKey, hash: SignatureHash, message: &[u8], signature: &[u8]) -> bool {
        let public = key.key.to_public_key();
        let signature = match pkcs1v15::Signature::try_from(signature) {
            Ok(s) => s,
            Err(_) => return false,
        };
        match hash {
            SignatureHash::Sha1 => {
                pkcs1v15::VerifyingKey::<sha1::Sha1>::new(public).verify(message, &signature)
            }
            SignatureHash::Sha256 => {
                pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(public).verify(message, &signature)
            }
            SignatureHash::Sha512 => {
                pkcs1v15::VerifyingKey::<rsa::sha2::Sha512>::new(public).verify(message, &signature)
            }
        }
        .is_ok()
    }

    #[test]
    fn generates_every_documented_size_but_4096_quickly_and_refuses_others() {
        for bits in [512u64, 768, 1024] {
            assert_eq!(key(bits).bits(), bits as usize);
        }
        assert_eq!(
            RsaKey::generate(1000).unwrap_err(),
            TlsError::GenerateSize(1000)
        );
        assert_eq!(RsaKey::generate(0).unwrap_err(), TlsError::GenerateSize(0));
    }

    #[test]
    fn debug_never_shows_key_material() {
        let k = key(512);
        let shown = format!("{k:?}");
        assert_eq!(shown, "RsaKey { bits: 512, .. }");
    }

    /// Encrypted PKCS#8 as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it
    /// (PBKDF2-HMAC-SHA256, 2048 iterations); scrypt would be very slow in
    /// unoptimised test builds.
    fn encrypted_pkcs8(k: &RsaKey, password: &str) -> String {
        use rsa::pkcs8::{PrivateKeyInfo, pkcs5::pbes2};
        let der = k.key.to_pkcs8_der().unwrap();
        let info = PrivateKeyInfo::try_from(der.as_bytes()).unwrap();
        let params =
            pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, b"saltsalt", &[7u8; 16]).unwrap();
        let encrypted = info.encrypt_with_params(params, password).unwrap();
        encrypted
            .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .unwrap()
            .to_string()
    }

    #[test]
    fn reads_pkcs1_pkcs8_and_encrypted_pkcs8() {
        let k = key(768);
        let pkcs1 = rsa::pkcs1::EncodeRsaPrivateKey::to_pkcs1_pem(&k.key, LineEnding::LF).unwrap();
        assert_eq!(
            RsaKey::from_pem(pkcs1.as_bytes(), None).unwrap().modulus(),
            k.modulus()
        );
        let pkcs8 = k.key.to_pkcs8_pem(LineEnding::CRLF).unwrap();
        assert_eq!(
            RsaKey::from_pem(pkcs8.as_bytes(), Some("ignored"))
                .unwrap()
                .modulus(),
            k.modulus()
        );
        let encrypted = encrypted_pkcs8(&k, "s3cret");
        assert_eq!(
            RsaKey::from_pem(encrypted.as_bytes(), Some("s3cret"))
                .unwrap()
                .modulus(),
            k.modulus()
        );
        assert_eq!(
            RsaKey::from_pem(encrypted.as_bytes(), None).unwrap_err(),
            TlsError::PasswordRequired
        );
        let wrong = RsaKey::from_pem(encrypted.as_bytes(), Some("guess")).unwrap_err();
        assert_eq!(wrong, TlsError::Decryption);
        assert!(!wrong.to_string().contains("guess"));
    }

    #[test]
    fn refuses_what_is_not_a_usable_key() {
        assert_eq!(
            RsaKey::from_pem(b"hello", None).unwrap_err(),
            TlsError::NotPem("private key")
        );
        assert_eq!(
            RsaKey::from_pem(&[0xff, 0xfe], None).unwrap_err(),
            TlsError::NotPem("private key")
        );
        let cert_block = pem::encode("CERTIFICATE", b"x");
        assert!(matches!(
            RsaKey::from_pem(cert_block.as_bytes(), None),
            Err(TlsError::UnexpectedBlock { .. })
        ));
        let garbage = pem::encode("RSA PRIVATE KEY", b"not der");
        assert!(matches!(
            RsaKey::from_pem(garbage.as_bytes(), None),
            Err(TlsError::InvalidKey(_))
        ));
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert_eq!(
            RsaKey::from_pem(legacy.as_bytes(), Some("x")).unwrap_err(),
            TlsError::LegacyEncryption
        );
    }

    #[test]
    fn self_signed_certificate_parses_carries_subject_and_verifies() {
        let k = key(1024);
        let subject = Subject {
            subject_name: "lync-gw.company.com".into(),
            company_name: "Company".into(),
            country_code: "il".into(),
            ..Subject::default()
        };
        let der = self_signed_certificate(&k, &subject, time::OffsetDateTime::now_utc()).unwrap();
        let (rest, cert) = X509Certificate::from_der(&der).unwrap();
        assert!(rest.is_empty());
        assert_eq!(
            cert.subject().to_string(),
            "C=IL, O=Company, CN=lync-gw.company.com"
        );
        assert_eq!(cert.subject(), cert.issuer());
        assert!(k.matches_certificate(&der).unwrap());
        assert!(!key(512).matches_certificate(&der).unwrap());
        let signature = cert.signature_value.data.to_vec();
        assert!(verify(
            &k,
            SignatureHash::Sha256,
            cert.tbs_certificate.as_ref(),
            &signature
        ));
    }

    #[test]
    fn signing_requests_use_each_documented_algorithm() {
        let k = key(1024);
        let subject = Subject {
            subject_name: "gw.example.com".into(),
            ..Subject::default()
        };
        for (hash, oid) in [
            (SignatureHash::Sha1, "1.2.840.113549.1.1.5"),
            (SignatureHash::Sha256, "1.2.840.113549.1.1.11"),
            (SignatureHash::Sha512, "1.2.840.113549.1.1.13"),
        ] {
            let der = signing_request(&k, &subject, hash).unwrap();
            let (rest, csr) = X509CertificationRequest::from_der(&der).unwrap();
            assert!(rest.is_empty(), "{hash:?}");
            assert_eq!(csr.signature_algorithm.algorithm.to_id_string(), oid);
            assert_eq!(
                csr.certification_request_info.subject.to_string(),
                "CN=gw.example.com"
            );
            let info = csr.certification_request_info.raw;
            assert!(
                verify(&k, hash, info, &csr.signature_value.data),
                "{hash:?} signature verifies"
            );
        }
    }

    #[test]
    fn small_keys_cannot_sign_sha512_and_say_so() {
        let k = key(512);
        let err = signing_request(&k, &Subject::default(), SignatureHash::Sha512).unwrap_err();
        assert_eq!(
            err,
            TlsError::KeyTooSmall {
                bits: 512,
                hash: "sha512"
            }
        );
        // sha256 fits in 512 bits.
        assert!(signing_request(&k, &Subject::default(), SignatureHash::Sha256).is_ok());
    }

    #[test]
    fn subject_fields_are_validated() {
        let k = key(512);
        let bad = Subject {
            country_code: "ISR".into(),
            ..Subject::default()
        };
        assert!(matches!(
            self_signed_certificate(&k, &bad, time::OffsetDateTime::now_utc()),
            Err(TlsError::Subject {
                field: "countryCode",
                ..
            })
        ));
    }

    #[test]
    fn signature_algorithm_names_are_the_documented_ones() {
        assert_eq!(
            "SHA256".parse::<SignatureHash>().unwrap(),
            SignatureHash::Sha256
        );
        assert_eq!(
            "sha1".parse::<SignatureHash>().unwrap(),
            SignatureHash::Sha1
        );
        assert_eq!(
            "md5".parse::<SignatureHash>().unwrap_err(),
            TlsError::SignatureAlgorithm("md5".into())
        );
    }

    #[test]
    fn certificate_uploads_are_checked_block_by_block() {
        let k = key(512);
        let der = self_signed_certificate(&k, &Subject::default(), time::OffsetDateTime::now_utc())
            .unwrap();
        let two = format!(
            "{}\n{}",
            pem::encode("CERTIFICATE", &der),
            pem::encode("CERTIFICATE", &der)
        );
        assert_eq!(parse_certificates(two.as_bytes()).unwrap().len(), 2);
        assert_eq!(
            parse_certificates(b"").unwrap_err(),
            TlsError::NotPem("certificate file")
        );
        let bad = pem::encode("CERTIFICATE", b"junk");
        assert!(matches!(
            parse_certificates(bad.as_bytes()),
            Err(TlsError::InvalidCertificate { index: 1, .. })
        ));
        let key_block = pem::encode("PRIVATE KEY", b"junk");
        assert!(matches!(
            parse_certificates(key_block.as_bytes()),
            Err(TlsError::UnexpectedBlock { .. })
        ));
    }

    #[test]
    fn der_lengths_use_the_long_form_when_needed() {
        assert_eq!(der_tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = der_tlv(0x04, &[0u8; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(long.len(), 304);
    }
}
