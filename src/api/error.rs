//! Why a resource's spec cannot be used. Messages name the field and what to
//! change; they never quote a value that could be a secret.

/// A spec the operator cannot act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The endpoint is not a usable http(s) URL.
    #[error("spec.endpoint: {reason}")]
    Endpoint {
        /// What is wrong (the endpoint itself is not echoed: it may hold a
        /// password).
        reason: &'static str,
    },
    /// Neither INI nor CLI configuration is declared.
    #[error("declare the desired configuration in spec.ini and/or spec.cliScript")]
    NothingDeclared,
    /// A configuration block names no source.
    #[error("{field}: name at least one source: inline, configMapRefs, secretRefs or files")]
    NoSource {
        /// `spec.ini` or `spec.cliScript`.
        field: &'static str,
    },
    /// `files` in a resource the controller reads from the cluster.
    #[error(
        "{field}.files is read only by `mediant-operator diff/apply -f`; in a cluster, put the \
         text in a ConfigMap and name it in {field}.configMapRefs"
    )]
    FilesInCluster {
        /// `spec.ini` or `spec.cliScript`.
        field: &'static str,
    },
    /// INI text does not parse.
    #[error("{origin}: line {line}: {reason}")]
    Ini {
        /// Where the text came from (`spec.ini.inline`, a ConfigMap, a file).
        origin: String,
        /// The 1-based line.
        line: usize,
        /// What is wrong, with excerpts of the line left out.
        reason: String,
    },
    /// CLI text does not parse.
    #[error("{origin}: {reason}")]
    Cli {
        /// Where the text came from.
        origin: String,
        /// The parser's explanation (it names the line and keywords, never
        /// values). Text, not the parser's error type: `api` does not use
        /// `config`.
        reason: String,
    },
    /// A CLI prune path or default is malformed.
    #[error("spec.cliScript.prune: {reason}")]
    CliPrune {
        /// The engine's explanation.
        reason: String,
    },
    /// A referenced ConfigMap key or file was not loaded.
    #[error("{reference} was not loaded: it is missing, or lacks the key")]
    Unresolved {
        /// The reference, e.g. "ConfigMap `base` key `device.ini`".
        reference: String,
    },
    /// A name or key is not a valid Kubernetes name.
    #[error("{field}: {reason}")]
    Name {
        /// The field.
        field: &'static str,
        /// What a valid value looks like.
        reason: &'static str,
    },
    /// A table name in `spec.ini.pruneTables` is malformed.
    #[error(
        "spec.ini.pruneTables: `{name}` is not a table name (letters, digits and _, starting with a letter)"
    )]
    TableName {
        /// The name, cut to 64 characters.
        name: String,
    },
    /// A duration is malformed or out of range.
    #[error(
        "{field}: `{value}` is not a duration such as 30s, 5m or 1h30m (units ns, us, ms, s, m, h)"
    )]
    Duration {
        /// The field.
        field: &'static str,
        /// The value, cut to 32 characters.
        value: String,
    },
    /// A duration is outside its allowed range.
    #[error("{field} must be {range}")]
    DurationRange {
        /// The field.
        field: &'static str,
        /// The allowed range, in words.
        range: &'static str,
    },
    /// `resetPolicy: MaintenanceWindow` without a window.
    #[error("resetPolicy MaintenanceWindow needs spec.maintenanceWindow (days, start, duration)")]
    MaintenanceWindowMissing,
    /// The maintenance window is malformed.
    #[error("spec.maintenanceWindow: {reason}")]
    MaintenanceWindow {
        /// What is wrong.
        reason: &'static str,
    },
    /// Both a CA bundle and `insecureSkipVerify`.
    #[error(
        "spec.tls.caBundle and spec.tls.insecureSkipVerify exclude each other: verify with the CA \
         bundle, or skip verification, not both"
    )]
    TlsConflict,
    /// A CA bundle source names neither or both of Secret and ConfigMap.
    #[error("spec.tls.caBundle needs exactly one of secretKeyRef and configMapKeyRef")]
    CaBundleSource,
    /// A LicenseEntitlement spec cannot be used.
    #[error(transparent)]
    Entitlement(#[from] crate::api::EntitlementSpecError),
    /// A TlsContext's spec, or the PEM texts it names, cannot be used
    /// (the message names the field or Secret, never a key).
    #[error("{0}")]
    TlsContext(String),
}
