//! Size limits, checked before anything is parsed, so one oversized file,
//! ConfigMap or value cannot stall a reconcile or exhaust memory.
//!
//! The defaults follow Kubernetes' own limits, so anything the cluster can
//! hold is accepted and nothing larger: a ConfigMap or Secret holds at most
//! 1 MiB of data ("The data stored in a ConfigMap cannot exceed 1 MiB",
//! kubernetes.io/docs/concepts/configuration/configmap), and etcd refuses an
//! object over 1.5 MiB (its default `--max-request-bytes`), which bounds a
//! custom resource and so its inline INI or CLI text.

/// The sizes accepted, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// One manifest file (several documents).
    pub file: usize,
    /// One YAML document of a manifest file (one object).
    pub document: usize,
    /// One INI, CLI or PEM text, from any source (inline, ConfigMap or
    /// Secret key, file), and any single value of a manifest.
    pub text: usize,
}

/// 1 MiB: a ConfigMap's or Secret's data limit.
const MIB: usize = 1 << 20;

impl Limits {
    /// The defaults (see the module documentation).
    pub const DEFAULT: Limits = Limits {
        file: 8 * MIB,
        document: MIB + MIB / 2,
        text: MIB,
    };
}

// A document holds at least one full text, a file at least one document.
const _: () = assert!(Limits::DEFAULT.document > Limits::DEFAULT.text);
const _: () = assert!(Limits::DEFAULT.file > Limits::DEFAULT.document);

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Something is larger than its limit. The message names what and where,
/// never its content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} is {size} bytes, over the limit of {limit} bytes{hint}")]
pub struct TooLarge {
    /// What was measured (e.g. "ConfigMap `ini` key `device.ini`").
    pub what: String,
    /// Its size.
    pub size: usize,
    /// The limit.
    pub limit: usize,
    /// Why the limit is what it is, or how to stay under it.
    pub hint: &'static str,
}

/// Why the text limit is what it is.
const TEXT_HINT: &str = " (a ConfigMap holds at most 1 MiB; split the configuration)";

/// `Ok` when `size` ≤ `limit`.
pub fn check(what: impl FnOnce() -> String, size: usize, limit: usize) -> Result<(), TooLarge> {
    check_hinted(what, size, limit, "")
}

fn check_hinted(
    what: impl FnOnce() -> String,
    size: usize,
    limit: usize,
    hint: &'static str,
) -> Result<(), TooLarge> {
    if size <= limit {
        Ok(())
    } else {
        Err(TooLarge {
            what: what(),
            size,
            limit,
            hint,
        })
    }
}

/// Checks one INI, CLI or PEM text (as bytes, before decoding) against
/// [`Limits::text`].
pub fn check_text(what: impl FnOnce() -> String, bytes: &[u8]) -> Result<(), TooLarge> {
    check_hinted(what, bytes.len(), Limits::DEFAULT.text, TEXT_HINT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_fit_what_kubernetes_holds() {
        // Exactly a full ConfigMap is accepted, one byte more is not.
        let full = vec![b'a'; MIB];
        assert!(check_text(|| "t".into(), &full).is_ok());
        let over = vec![b'a'; MIB + 1];
        let e = check_text(|| "ConfigMap `c` key `k`".into(), &over).expect_err("over");
        assert_eq!(e.size, MIB + 1);
        assert_eq!(e.limit, MIB);
        let text = e.to_string();
        assert!(
            text.starts_with("ConfigMap `c` key `k` is 1048577 bytes"),
            "{text}"
        );
        assert!(!text.contains("aaaa"), "no content in the message: {text}");
    }
}
