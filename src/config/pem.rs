//! PEM bundles, X.509 certificates and RSA private keys as the files of a
//! device's TLS context hold them (v7.4 REST guide, chapter 8: "the private
//! key must be specified in PEM format", "Multiple certificates may be
//! specified one after another").
//!
//! Pure: PEM framing by the `pem` crate, X.509 by `x509-parser`, RSA keys by
//! `rsa` (no hand-written ASN.1).
//!
//! # Guarantees
//! - No error message, and no `Debug` output, contains key material or a
//!   password: PEM and base64 errors are reported by block number and a fixed
//!   reason, never by the offending bytes (the `pem` crate's own base64 error
//!   names the invalid symbol, so it is not passed on).
//! - A fingerprint is the lower-case hex SHA-256 of the certificate's DER,
//!   the value `openssl x509 -fingerprint -sha256` shows (without colons).
//!
//! # Caveats
//! - Only RSA keys are accepted: the device's key sizes (512 … 4096 bits)
//!   are RSA moduli, and its private-key status reports a size.

use std::fmt;

use hmac::{Hmac, Mac};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPrivateKey};
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509CertificationRequest};
use x509_parser::public_key::PublicKey;

/// Why a PEM text cannot be used. Messages name the block and the problem,
/// never its content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// No `-----BEGIN …-----` block at all.
    #[error("holds no PEM block (expected {expected})")]
    NoBlock {
        /// What was expected, in words.
        expected: &'static str,
    },
    /// A block whose framing or base64 is broken.
    #[error("PEM block {index} is malformed: {reason}")]
    Malformed {
        /// 1-based position of the block.
        index: usize,
        /// A fixed description of the problem.
        reason: &'static str,
    },
    /// A block of the wrong kind (e.g. a key where certificates belong).
    #[error("PEM block {index} is `{label}`, expected {expected}")]
    UnexpectedBlock {
        /// 1-based position of the block.
        index: usize,
        /// Its label (the text after `BEGIN`), at most 40 characters.
        label: String,
        /// What was expected, in words.
        expected: &'static str,
    },
    /// A `CERTIFICATE` block that is not X.509.
    #[error("certificate {index} is not a valid X.509 certificate ({reason})")]
    Certificate {
        /// 1-based position of the certificate.
        index: usize,
        /// The parser's reason (about structure, never content).
        reason: String,
    },
    /// A `CERTIFICATE REQUEST` that is not PKCS#10.
    #[error("the certificate signing request is not valid PKCS#10 ({reason})")]
    Request {
        /// The parser's reason.
        reason: String,
    },
    /// The key block does not decode as an RSA private key.
    #[error("the private key is not a valid RSA private key ({reason})")]
    InvalidKey {
        /// A fixed description of the problem.
        reason: &'static str,
    },
    /// An encrypted key without a password.
    #[error("the private key is encrypted: give its password (keyPasswordSecretRef)")]
    PasswordRequired,
    /// The password does not open the key.
    #[error("the private key cannot be decrypted: wrong password or unsupported encryption")]
    Decryption,
    /// `Proc-Type: 4,ENCRYPTED` keys (OpenSSL's legacy encryption).
    #[error(
        "legacy OpenSSL-encrypted keys are not supported: convert the key to PKCS#8 (`openssl pkcs8 -topk8`)"
    )]
    LegacyEncryption,
    /// More than one private key in a key file.
    #[error("the key file holds {0} private keys, expected one")]
    SeveralKeys(usize),
}

/// A block's label, shortened so a garbage label cannot flood a message.
fn short_label(label: &str) -> String {
    label.chars().take(40).collect()
}

/// The PEM blocks of `text`, in order. Refuses a text with a `BEGIN` line
/// that does not start a well-formed block (truncated bundles).
fn blocks(text: &str, expected: &'static str) -> Result<Vec<pem::Pem>, PemError> {
    let begins = text.matches("-----BEGIN ").count();
    if begins == 0 {
        return Err(PemError::NoBlock { expected });
    }
    let parsed = pem::parse_many(text).map_err(|e| {
        // `parse_many` stops at the first bad block without saying which:
        // each block on its own (from its BEGIN to the next) tells.
        let starts: Vec<usize> = text.match_indices("-----BEGIN ").map(|(i, _)| i).collect();
        let failing = starts.iter().enumerate().find_map(|(n, &start)| {
            let end = starts.get(n + 1).copied().unwrap_or(text.len());
            pem::parse(&text[start..end]).err().map(|e| (n + 1, e))
        });
        let (index, e) = failing.unwrap_or((1, e));
        PemError::Malformed {
            index,
            reason: pem_reason(&e),
        }
    })?;
    if parsed.len() != begins {
        return Err(PemError::Malformed {
            index: parsed.len() + 1,
            reason: "a BEGIN line without a matching END line (truncated?)",
        });
    }
    Ok(parsed)
}

/// A fixed description of a `pem` crate error (its own text may quote the
/// offending data).
fn pem_reason(e: &pem::PemError) -> &'static str {
    match e {
        pem::PemError::MismatchedTags(..) => "BEGIN and END labels differ",
        pem::PemError::MissingBeginTag => "missing BEGIN line",
        pem::PemError::MissingEndTag => "missing END line",
        pem::PemError::MissingData => "no data between BEGIN and END",
        pem::PemError::InvalidData(_) => "the data is not valid base64",
        pem::PemError::InvalidHeader(_) => "an encapsulated header is malformed",
        pem::PemError::NotUtf8(_) => "not UTF-8 text",
        _ => "broken PEM framing",
    }
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hex SHA-256 of `der`: a certificate's fingerprint.
pub fn fingerprint(der: &[u8]) -> String {
    hex(&Sha256::digest(der))
}

/// One X.509 certificate and the facts status reports about it.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The DER encoding.
    pub der: Vec<u8>,
    /// [`fingerprint`] of `der`.
    pub fingerprint: String,
    /// Subject, RFC 4514 style (`CN=sbc.example.com, O=Example`).
    pub subject: String,
    /// Issuer, same form.
    pub issuer: String,
    /// Subject alternative names (`DNS:sbc.example.com`, `IP:10.0.0.5` …).
    pub sans: Vec<String>,
    /// Start of validity, seconds since the Unix epoch.
    pub not_before: i64,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: i64,
    /// RSA modulus of the public key, big-endian without leading zeros
    /// (`None` for other key types).
    rsa_modulus: Option<Vec<u8>>,
    /// RSA public exponent, same form.
    rsa_exponent: Option<Vec<u8>>,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("fingerprint", &self.fingerprint)
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl Certificate {
    /// Parses one DER certificate (`index` is its 1-based position, for
    /// messages).
    pub fn from_der(der: &[u8], index: usize) -> Result<Self, PemError> {
        let bad = |reason: String| PemError::Certificate { index, reason };
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| bad(e.to_string()))?;
        if !rest.is_empty() {
            return Err(bad("trailing bytes after the certificate".into()));
        }
        let sans = match cert.subject_alternative_name() {
            Ok(Some(ext)) => ext.value.general_names.iter().map(san).collect(),
            Ok(None) => Vec::new(),
            Err(e) => return Err(bad(format!("subjectAltName: {e}"))),
        };
        let (rsa_modulus, rsa_exponent) = match cert.public_key().parsed() {
            Ok(PublicKey::RSA(rsa)) => (
                Some(strip_zeros(rsa.modulus).to_vec()),
                Some(strip_zeros(rsa.exponent).to_vec()),
            ),
            _ => (None, None),
        };
        Ok(Certificate {
            der: der.to_vec(),
            fingerprint: fingerprint(der),
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            sans,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            rsa_modulus,
            rsa_exponent,
        })
    }

    /// Whether the issuer is the subject (a self-signed or root certificate).
    pub fn is_self_issued(&self) -> bool {
        self.subject == self.issuer
    }

    /// The certificate as one PEM block.
    pub fn to_pem(&self) -> String {
        pem::encode_config(
            &pem::Pem::new("CERTIFICATE", self.der.clone()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }

    /// Seconds from `now` (Unix seconds) until the certificate expires,
    /// negative once expired.
    pub fn seconds_to_expiry(&self, now: i64) -> i64 {
        self.not_after.saturating_sub(now)
    }

    /// The value of subject attribute `short` (`CN`, `O`, `OU`, `L`, `ST`,
    /// `C`), when present once.
    pub fn subject_attribute(&self, short: &str) -> Option<String> {
        let (_, cert) = X509Certificate::from_der(&self.der).ok()?;
        attribute(cert.subject(), short)
    }
}

/// The value of the first `short` attribute of `name`.
fn attribute(name: &x509_parser::x509::X509Name<'_>, short: &str) -> Option<String> {
    let oid = match short {
        "CN" => x509_parser::oid_registry::OID_X509_COMMON_NAME,
        "O" => x509_parser::oid_registry::OID_X509_ORGANIZATION_NAME,
        "OU" => x509_parser::oid_registry::OID_X509_ORGANIZATIONAL_UNIT,
        "L" => x509_parser::oid_registry::OID_X509_LOCALITY_NAME,
        "ST" => x509_parser::oid_registry::OID_X509_STATE_OR_PROVINCE_NAME,
        "C" => x509_parser::oid_registry::OID_X509_COUNTRY_NAME,
        _ => return None,
    };
    name.iter_by_oid(&oid)
        .next()
        .and_then(|a| a.as_str().ok().map(str::to_string))
}

fn san(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(s) => format!("DNS:{s}"),
        GeneralName::RFC822Name(s) => format!("email:{s}"),
        GeneralName::URI(s) => format!("URI:{s}"),
        GeneralName::IPAddress(b) => match b.len() {
            4 => format!("IP:{}", std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3])),
            16 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(b);
                format!("IP:{}", std::net::Ipv6Addr::from(octets))
            }
            _ => format!("IP:{}", hex(b)),
        },
        other => other.to_string(),
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Every certificate of a PEM bundle, in order. Refuses an empty bundle,
/// broken framing and blocks that are not `CERTIFICATE`.
pub fn parse_certificates(text: &str) -> Result<Vec<Certificate>, PemError> {
    const EXPECTED: &str = "one or more CERTIFICATE blocks";
    blocks(text, EXPECTED)?
        .iter()
        .enumerate()
        .map(|(i, block)| {
            if block.tag() != "CERTIFICATE" {
                return Err(PemError::UnexpectedBlock {
                    index: i + 1,
                    label: short_label(block.tag()),
                    expected: EXPECTED,
                });
            }
            Certificate::from_der(block.contents(), i + 1)
        })
        .collect()
}

/// A PEM bundle of `certificates`, one block after another.
pub fn bundle(certificates: &[Certificate]) -> String {
    certificates.iter().map(Certificate::to_pem).collect()
}

/// A parsed RSA private key. It is only held to check it against a
/// certificate and to digest it: `Debug` shows its size, nothing else.
#[derive(Clone)]
pub struct PrivateKey {
    key: RsaPrivateKey,
    /// The key block as uploaded (still encrypted if it was).
    pem: String,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

/// HMAC-SHA256, keyed by device and context (see [`PrivateKey::digest`]).
type HmacSha256 = Hmac<Sha256>;

impl PrivateKey {
    /// Parses the single private key of a PEM text: PKCS#1 (`RSA PRIVATE
    /// KEY`), PKCS#8 (`PRIVATE KEY`) or encrypted PKCS#8 (`ENCRYPTED PRIVATE
    /// KEY`, opened with `password`).
    pub fn parse(text: &str, password: Option<&str>) -> Result<Self, PemError> {
        const EXPECTED: &str =
            "an RSA private key (RSA PRIVATE KEY, PRIVATE KEY or ENCRYPTED PRIVATE KEY)";
        let found = blocks(text, EXPECTED)?;
        if found.len() > 1 {
            return Err(PemError::SeveralKeys(found.len()));
        }
        let block = &found[0]; // `blocks` returns at least one
        let invalid = |reason| PemError::InvalidKey { reason };
        let key = match block.tag() {
            "RSA PRIVATE KEY" => {
                if block
                    .headers()
                    .get("Proc-Type")
                    .is_some_and(|v| v.contains("ENCRYPTED"))
                {
                    return Err(PemError::LegacyEncryption);
                }
                RsaPrivateKey::from_pkcs1_der(block.contents())
                    .map_err(|_| invalid("PKCS#1 structure does not decode"))?
            }
            "PRIVATE KEY" => RsaPrivateKey::from_pkcs8_der(block.contents())
                .map_err(|_| invalid("not an RSA key in PKCS#8, or a broken structure"))?,
            "ENCRYPTED PRIVATE KEY" => {
                let password = password
                    .filter(|p| !p.is_empty())
                    .ok_or(PemError::PasswordRequired)?;
                RsaPrivateKey::from_pkcs8_encrypted_der(block.contents(), password)
                    .map_err(|_| PemError::Decryption)?
            }
            "EC PRIVATE KEY" => {
                return Err(invalid(
                    "an EC key: the device takes RSA keys (set privateKey.algorithm: RSA in the cert-manager Certificate)",
                ));
            }
            other => {
                return Err(PemError::UnexpectedBlock {
                    index: 1,
                    label: short_label(other),
                    expected: EXPECTED,
                });
            }
        };
        key.validate()
            .map_err(|_| invalid("its components are inconsistent"))?;
        let pem = pem::encode_config(
            block,
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        );
        Ok(PrivateKey { key, pem })
    }

    /// Size of the modulus in bits, what `GET …/privateKey` reports.
    pub fn bits(&self) -> usize {
        self.key.n().bits()
    }

    /// The key block as uploaded (encrypted keys stay encrypted): what is
    /// sent to the device.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// Whether `certificate` carries this key's public half.
    pub fn matches(&self, certificate: &Certificate) -> bool {
        let modulus = self.key.n().to_bytes_be();
        let exponent = self.key.e().to_bytes_be();
        certificate.rsa_modulus.as_deref() == Some(strip_zeros(&modulus))
            && certificate.rsa_exponent.as_deref() == Some(strip_zeros(&exponent))
    }

    /// A keyed digest of this key, for status: hex HMAC-SHA256 of the key's
    /// PKCS#1 DER (the same for PKCS#1, PKCS#8 and encrypted PEM of one key),
    /// keyed by `salt` (device serial and context). It identifies the key
    /// without revealing it, and differs between devices.
    pub fn digest(&self, salt: &str) -> String {
        // HMAC accepts keys of any length.
        let mut mac = match HmacSha256::new_from_slice(salt.as_bytes()) {
            Ok(mac) => mac,
            Err(_) => return String::new(),
        };
        match self.key.to_pkcs1_der() {
            Ok(der) => mac.update(der.as_bytes()),
            // Encoding a validated key cannot fail; digest the public half
            // rather than panic should it ever.
            Err(_) => mac.update(&self.key.n().to_bytes_be()),
        }
        hex(&mac.finalize().into_bytes())
    }

    /// The public modulus (for comparison with a CSR's key).
    fn modulus(&self) -> BigUint {
        self.key.n().clone()
    }
}

/// A PKCS#10 certificate signing request, as `POST …/certificate/request`
/// returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningRequest {
    /// The request as one PEM block (`CERTIFICATE REQUEST`).
    pub pem: String,
    /// Its subject.
    pub subject: String,
    /// RSA modulus of the requested key, big-endian without leading zeros.
    rsa_modulus: Option<Vec<u8>>,
}

impl SigningRequest {
    /// Parses the first `CERTIFICATE REQUEST` block of `text`.
    pub fn parse(text: &str) -> Result<Self, PemError> {
        const EXPECTED: &str = "a CERTIFICATE REQUEST block";
        let found = blocks(text, EXPECTED)?;
        let block = found
            .iter()
            .find(|b| matches!(b.tag(), "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST"))
            .ok_or_else(|| PemError::UnexpectedBlock {
                index: 1,
                label: short_label(found[0].tag()),
                expected: EXPECTED,
            })?;
        let (_, request) = X509CertificationRequest::from_der(block.contents()).map_err(|e| {
            PemError::Request {
                reason: e.to_string(),
            }
        })?;
        let info = &request.certification_request_info;
        let rsa_modulus = match info.subject_pki.parsed() {
            Ok(PublicKey::RSA(rsa)) => Some(strip_zeros(rsa.modulus).to_vec()),
            _ => None,
        };
        Ok(SigningRequest {
            pem: pem::encode_config(
                &pem::Pem::new("CERTIFICATE REQUEST", block.contents().to_vec()),
                pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
            ),
            subject: info.subject.to_string(),
            rsa_modulus,
        })
    }

    /// Whether `certificate` was issued for this request's key.
    pub fn matches(&self, certificate: &Certificate) -> bool {
        self.rsa_modulus.is_some() && self.rsa_modulus == certificate.rsa_modulus
    }

    /// Whether this request is for `key`.
    pub fn is_for(&self, key: &PrivateKey) -> bool {
        self.rsa_modulus.as_deref() == Some(strip_zeros(&key.modulus().to_bytes_be()))
    }
}
