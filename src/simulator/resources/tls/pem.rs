//! PEM armour as a device reads and writes it: blocks are found anywhere in
//! an upload (text around them is ignored), and downloads are re-armoured in
//! the canonical 64-column form, which is one way a device's download differs
//! from what was uploaded.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// One `-----BEGIN <label>-----` … `-----END <label>-----` block.
pub struct PemBlock {
    /// The label, e.g. `CERTIFICATE` or `RSA PRIVATE KEY`.
    pub label: String,
    /// RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`), name and value trimmed.
    pub headers: Vec<(String, String)>,
    /// The decoded content.
    pub der: Vec<u8>,
}

impl std::fmt::Debug for PemBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The content may be a private key: show only its label and size.
        f.debug_struct("PemBlock")
            .field("label", &self.label)
            .field("bytes", &self.der.len())
            .finish_non_exhaustive()
    }
}

/// Why an upload is not usable PEM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// A BEGIN line without the matching END line.
    #[error("PEM block `{0}` has no matching END line")]
    Unterminated(String),
    /// The body of a block is not valid base64.
    #[error("PEM block `{0}` is not valid base64")]
    BadBase64(String),
}

const BEGIN: &str = "-----BEGIN ";
const END: &str = "-----END ";
const DASHES: &str = "-----";

/// Every PEM block of `text`, in order. Text outside blocks is ignored, as
/// `openssl` does; an empty result means "not in PEM format".
pub fn blocks(text: &str) -> Result<Vec<PemBlock>, PemError> {
    let mut found = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = armour_label(line, BEGIN) else {
            continue;
        };
        let mut headers = Vec::new();
        let mut body = String::new();
        let mut terminated = false;
        for inner in lines.by_ref() {
            if let Some(end) = armour_label(inner, END) {
                terminated = end == label;
                break;
            }
            match inner.split_once(':') {
                // Base64 never contains ':', so a colon marks an RFC 1421 header.
                Some((name, value)) => {
                    headers.push((name.trim().to_string(), value.trim().to_string()))
                }
                None => body.push_str(inner),
            }
        }
        if !terminated {
            return Err(PemError::Unterminated(label.to_string()));
        }
        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|_| PemError::BadBase64(label.to_string()))?;
        found.push(PemBlock {
            label: label.to_string(),
            headers,
            der,
        });
    }
    Ok(found)
}

/// The label of an armour line such as `-----BEGIN CERTIFICATE-----`.
fn armour_label<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.strip_prefix(prefix)?
        .strip_suffix(DASHES)
        .map(str::trim)
}

/// `der` armoured under `label`, base64 in 64-column lines, LF line ends.
pub fn encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = String::with_capacity(body.len() + body.len() / 64 + 2 * label.len() + 40);
    out.push_str(BEGIN);
    out.push_str(label);
    out.push_str(DASHES);
    out.push('\n');
    for chunk in body.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(END);
    out.push_str(label);
    out.push_str(DASHES);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_label_and_content() {
        let der: Vec<u8> = (0..=255u8).collect();
        let text = encode("CERTIFICATE", &der);
        assert!(text.lines().all(|l| l.len() <= 64));
        let parsed = blocks(&text).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].label, "CERTIFICATE");
        assert_eq!(parsed[0].der, der);
    }

    #[test]
    fn finds_several_blocks_among_text_and_crlf() {
        let text = format!(
            "Bag Attributes\r\n{}\r\nsome comment\r\n{}",
            encode("CERTIFICATE", b"one").replace('\n', "\r\n"),
            encode("CERTIFICATE", b"two")
        );
        let parsed = blocks(&text).unwrap();
        assert_eq!(
            parsed.iter().map(|b| b.der.clone()).collect::<Vec<_>>(),
            vec![b"one".to_vec(), b"two".to_vec()]
        );
    }

    #[test]
    fn reads_headers_of_legacy_encrypted_keys() {
        let text = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00FF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        let parsed = blocks(text).unwrap();
        assert_eq!(
            parsed[0].headers[0],
            ("Proc-Type".to_string(), "4,ENCRYPTED".to_string())
        );
        assert_eq!(parsed[0].der, vec![0, 0, 0]);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert_eq!(blocks("no pem here").unwrap().len(), 0);
        assert_eq!(
            blocks("-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap_err(),
            PemError::Unterminated("CERTIFICATE".into())
        );
        assert_eq!(
            blocks("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----").unwrap_err(),
            PemError::BadBase64("CERTIFICATE".into())
        );
        assert!(matches!(
            blocks("-----BEGIN A-----\nAAAA\n-----END B-----"),
            Err(PemError::Unterminated(_))
        ));
    }
}
