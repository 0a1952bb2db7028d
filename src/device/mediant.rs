//! REST client of a Mediant device (`/api/v1`, v7.4 and 2015 dialects).
//!
//! # Guarantees
//! - Reads (`GET`) are retried on transport errors, timeouts and 5xx, with
//!   exponential backoff and jitter ([`RetryPolicy`]), within a total
//!   [`ClientOptions::deadline`].
//! - Requests that must not run twice — the full `PUT /files/ini` and
//!   `PUT /files/cliScript`, `POST /actions/reset` (all reset the device),
//!   an incremental CLI script (`no …`, `… new` are not idempotent), and
//!   the licence and software uploads — are retried only when the
//!   connection was never made (nothing was sent). A lost answer after
//!   sending is [`DeviceError::Unconfirmed`]: "the device may have applied
//!   …; re-observe", never a second upload and a second reset.
//! - 409 ("synchronization with the redundant device is in progress", v7.4
//!   document on every write) is waited out with backoff for up to
//!   [`ClientOptions::busy_budget`], except where a 409 is permanent (a
//!   licence key on an HA device).
//! - A TLS verification failure is permanent: reported at once as
//!   [`DeviceError::TlsVerification`], never as "unreachable".
//! - An incremental CLI script answered 200 with a `status` other than
//!   `success` is [`DeviceError::CliFailed`] with the failing output lines,
//!   secrets masked.
//! - Every other answer is final and mapped to its own [`DeviceError`].
//! - The password is sent only in the `Authorization` header; it is redacted
//!   from `Debug` and never part of an error.
//! - TLS is verified unless [`TlsTrust::InsecureSkipVerify`] is chosen, which
//!   [`MediantClient::insecure`] reports so front ends can show it.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::Deserialize;

use super::error::DeviceError;
use super::privilege::required_privilege;
use super::retry::RetryPolicy;

/// A device user's name and password. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The device user name.
    pub username: String,
    password: String,
}

impl Credentials {
    /// Credentials for a device user.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The password, for a client's `Authorization` header only (never a
    /// log, message or status): the clients of systems other than a
    /// MediantDevice authenticate with it too.
    pub fn expose_password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How uploads are encoded, which differs between firmware generations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// v7.4 firmware: `multipart/form-data` with a part named `file`, `/kpi`.
    V74,
    /// The 2015 API (7.0/7.2): `application/octet-stream`, `/performanceMonitoring`.
    V2015,
}

impl FromStr for Dialect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "v7.4" | "7.4" => Ok(Dialect::V74),
            "2015" | "v2015" => Ok(Dialect::V2015),
            other => Err(format!(
                "unknown dialect `{other}` (expected `v7.4` or `2015`)"
            )),
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::V74 => "v7.4",
            Dialect::V2015 => "2015",
        })
    }
}

/// Which server certificates the client accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TlsTrust {
    /// The platform's trust store.
    #[default]
    System,
    /// Only certificates issued by these PEM CA certificates.
    CaBundle(String),
    /// Any certificate: an explicit, visible opt-in.
    InsecureSkipVerify,
}

/// Called once per HTTP attempt with method, resource and status (`None`
/// when no answer came), e.g. to count device requests in metrics.
pub type RequestObserver = Arc<dyn Fn(&str, &str, Option<u16>) + Send + Sync>;

/// Settings of a client.
#[derive(Clone)]
pub struct ClientOptions {
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time for one whole request.
    pub request_timeout: Duration,
    /// The upload dialect; detected from `/api/v1` when `None`.
    pub dialect: Option<Dialect>,
    /// Server certificate trust.
    pub tls: TlsTrust,
    /// Retries of transport errors and 5xx answers to reads (attempts and
    /// delays); the backoff of busy answers too.
    pub retry: RetryPolicy,
    /// Sees every attempt.
    pub observer: Option<RequestObserver>,
    /// How long 409 answers (HA synchronisation in progress) are waited out
    /// before a call gives up with [`DeviceError::Busy`]. HA synchronisation
    /// takes minutes, so the default is three; the plan sets it per device.
    pub busy_budget: Duration,
    /// The longest one call may spend on transport retries (each attempt
    /// also bounded by `request_timeout`): a device that accepts
    /// connections and never answers is reported within this.
    pub deadline: Duration,
}

/// The default of [`ClientOptions::busy_budget`].
pub const DEFAULT_BUSY_BUDGET: Duration = Duration::from_secs(180);

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            dialect: None,
            tls: TlsTrust::System,
            retry: RetryPolicy::default(),
            observer: None,
            busy_budget: DEFAULT_BUSY_BUDGET,
            deadline: Duration::from_secs(120),
        }
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("dialect", &self.dialect)
            .field("tls", &self.tls)
            .field("retry", &self.retry)
            .field("busy_budget", &self.busy_budget)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// The device summary of `GET /api/v1/status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeviceStatus {
    /// e.g. `Mediant 800`.
    pub product_type: String,
    /// Software version, e.g. `7.40A.500.357`.
    #[serde(rename = "versionID")]
    pub version_id: String,
    /// `UNLOCKED`, `LOCKED` …
    pub operational_state: String,
    /// `Not Operational`, `Active`, `Standby` …
    pub high_availability: String,
    /// The device serial number.
    pub serial_number: String,
    /// The device MAC address.
    pub mac_address: String,
    /// Seconds since the device started. `None` when `/status` has no
    /// `systemUpTime`: the 2015 document's examples (firmware 7.00A) end at
    /// `highAvailability`.
    pub system_up_time: Option<u64>,
    /// The management IP address.
    pub ip_address: String,
}

/// The answer to an incremental CLI script.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CliOutput {
    /// The device's summary.
    pub description: String,
    /// What `show` commands printed.
    pub output: String,
    /// `success` or `failure` on real firmware (the v7.4 document's example
    /// omits it; public code driving real devices reads it); `None` when
    /// absent.
    pub status: Option<String>,
}

/// Keywords of output lines that report a failed CLI line.
const FAILURE_MARKERS: &[&str] = &[
    "error",
    "fail",
    "invalid",
    "unknown",
    "incomplete",
    "not ",
    "illegal",
    "denied",
    "cannot",
];

/// The lines of a failed script's output worth showing, secrets masked:
/// those that report an error, or the last few when none does.
pub(crate) fn relevant_output(output: &str) -> Vec<String> {
    let lines: Vec<&str> = output
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let failing: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| {
            let lower = l.to_ascii_lowercase();
            FAILURE_MARKERS.iter().any(|m| lower.contains(m))
        })
        .collect();
    let chosen = if failing.is_empty() {
        &lines[lines.len().saturating_sub(3)..]
    } else {
        &failing[..]
    };
    chosen
        .iter()
        .take(10)
        .map(|l| crate::config::sensitive::device_text(l))
        .collect()
}

/// What a request carries.
pub(crate) enum Body<'a> {
    /// Nothing.
    None,
    /// A JSON document.
    Json(serde_json::Value),
    /// A file, in the dialect's upload encoding.
    Upload {
        /// The file name of the multipart part.
        filename: &'a str,
        /// The content.
        data: &'a [u8],
    },
    /// A multipart upload with extra text parts (a key's `password`, which
    /// must not travel in the URL, where error messages would show it).
    /// v7.4 only: the 2015 API has no such upload.
    UploadWithFields {
        /// The file name of the `file` part.
        filename: &'a str,
        /// The content.
        data: &'a [u8],
        /// Further parts, name and text.
        fields: &'a [(&'a str, &'a str)],
    },
}

/// An answer with a 2xx status.
pub(crate) struct Answer {
    /// The body.
    pub(crate) body: bytes::Bytes,
}

/// How a request may be repeated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Idempotent (reads, incremental INI, save): retried on any transport
    /// error, and on 5xx when it is a read.
    Safe,
    /// Must not run twice: retried only when the connection was never made.
    /// The text says what the device may have applied.
    Once(&'static str),
}

/// What a 409 answer means for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnBusy {
    /// "Not now": wait it out within the busy budget.
    Wait,
    /// Permanent (a licence key on an HA device): report at once.
    Permanent,
}

/// The REST client of one device.
pub struct MediantClient {
    http: reqwest::Client,
    base: String,
    credentials: Credentials,
    dialect: Mutex<Option<Dialect>>,
    insecure: bool,
    retry: RetryPolicy,
    observer: Option<RequestObserver>,
    request_timeout: Duration,
    busy_budget: Duration,
    deadline: Duration,
}

impl fmt::Debug for MediantClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediantClient")
            .field("endpoint", &self.base)
            .field("credentials", &self.credentials)
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

impl MediantClient {
    /// A client of the device at `endpoint` (`https://10.0.0.5`, with or
    /// without `/api/v1`).
    pub fn new(
        endpoint: &str,
        credentials: Credentials,
        options: ClientOptions,
    ) -> Result<Self, DeviceError> {
        let config = |reason: String| DeviceError::Config { reason };
        let url = reqwest::Url::parse(endpoint)
            .map_err(|e| config(format!("endpoint `{endpoint}` is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(config(format!(
                "endpoint `{endpoint}` must start with http:// or https://"
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            // Never echo the URL here: it holds the credentials.
            return Err(config(
                "the endpoint URL contains credentials: put them in the credentials Secret instead"
                    .into(),
            ));
        }
        let base = url
            .as_str()
            .trim_end_matches('/')
            .trim_end_matches("/api/v1")
            .to_string();

        // rustls needs a process-wide crypto provider; ring needs no C toolchain.
        // An error only means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("mediant-operator/", env!("CARGO_PKG_VERSION")));
        let insecure = options.tls == TlsTrust::InsecureSkipVerify;
        match &options.tls {
            TlsTrust::System => {}
            TlsTrust::CaBundle(pem) => {
                // Our PEM reader first: it says what is wrong (no block, a
                // `PRIVATE KEY` block, bad base64, not X.509) where
                // reqwest only says "builder error".
                crate::config::pem::parse_certificates(pem)
                    .map_err(|e| config(format!("the CA bundle is not usable: {e}")))?;
                let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                    .map_err(|e| config(format!("the CA bundle is not PEM: {e}")))?;
                if certs.is_empty() {
                    return Err(config("the CA bundle holds no certificate".into()));
                }
                builder = builder.tls_certs_only(certs);
            }
            TlsTrust::InsecureSkipVerify => builder = builder.tls_danger_accept_invalid_certs(true),
        }
        let http = builder
            .build()
            .map_err(|e| config(format!("cannot build the HTTP client: {e}")))?;
        Ok(MediantClient {
            http,
            base,
            credentials,
            dialect: Mutex::new(options.dialect),
            insecure,
            retry: options.retry,
            observer: options.observer,
            request_timeout: options.request_timeout,
            busy_budget: options.busy_budget,
            deadline: options.deadline.max(options.request_timeout),
        })
    }

    /// Sends a write that must not run twice (a licence key or file, a
    /// software load …): JSON when `file` is `None`, else the file in the
    /// dialect's upload encoding. Retried only when no connection was made;
    /// a lost answer is [`DeviceError::Unconfirmed`] naming `what`. With
    /// [`OnBusy::Permanent`] a 409 is reported at once (the licence key of
    /// an HA device: "409 Conflict" is the document's permanent answer).
    /// Returns the answer's body.
    pub async fn write_once(
        &self,
        method: &str,
        resource: &str,
        json: Option<serde_json::Value>,
        file: Option<(&str, &[u8])>,
        what: &'static str,
        on_busy: OnBusy,
    ) -> Result<bytes::Bytes, DeviceError> {
        let method = Method::from_bytes(method.as_bytes()).map_err(|_| DeviceError::Config {
            reason: format!("`{method}` is not an HTTP method"),
        })?;
        let body = match (json, file) {
            (_, Some((filename, data))) => {
                self.dialect().await?;
                Body::Upload { filename, data }
            }
            (Some(value), None) => Body::Json(value),
            (None, None) => Body::None,
        };
        self.send_with(method, resource, body, Repeat::Once(what), on_busy)
            .await
            .map(|a| a.body)
    }

    /// How long 409 answers are waited out (see [`ClientOptions::busy_budget`]).
    pub fn busy_budget(&self) -> Duration {
        self.busy_budget
    }

    /// The device's base URL.
    pub fn endpoint(&self) -> &str {
        &self.base
    }

    /// Whether server certificates go unverified.
    pub fn insecure(&self) -> bool {
        self.insecure
    }

    /// The upload dialect: pinned, or detected once from the navigation tree
    /// (the 2015 API lists `performanceMonitoring`, v7.4 lists `kpi`).
    pub async fn dialect(&self) -> Result<Dialect, DeviceError> {
        if let Some(d) = *self.lock_dialect() {
            return Ok(d);
        }
        let answer = self.send(Method::GET, "", Body::None).await?;
        let tree: serde_json::Value = self.json("GET", "", &answer)?;
        let ids: Vec<&str> = tree
            .get("items")
            .and_then(|i| i.as_array())
            .map(|items| items.iter().filter_map(|i| i.get("id")?.as_str()).collect())
            .unwrap_or_default();
        let detected = if ids.contains(&"performanceMonitoring") && !ids.contains(&"kpi") {
            Dialect::V2015
        } else {
            Dialect::V74
        };
        *self.lock_dialect() = Some(detected);
        Ok(detected)
    }

    fn lock_dialect(&self) -> std::sync::MutexGuard<'_, Option<Dialect>> {
        // A poisoned lock only means another task panicked mid-assignment of
        // a Copy value; the value is still whole.
        crate::sync::lock(&self.dialect)
    }

    /// `GET /status`.
    pub async fn status(&self) -> Result<DeviceStatus, DeviceError> {
        let answer = self.send(Method::GET, "status", Body::None).await?;
        self.json("GET", "status", &answer)
    }

    /// `GET /files/ini`: the device's rendering of its running configuration,
    /// refused (naming the line) when it is not UTF-8.
    pub async fn ini(&self) -> Result<String, DeviceError> {
        let answer = self.send(Method::GET, "files/ini", Body::None).await?;
        match crate::config::ini::decode(&answer.body) {
            Ok(text) => Ok(text.to_string()),
            Err(e) => Err(DeviceError::InvalidResponse {
                method: "GET".into(),
                resource: "files/ini".into(),
                reason: format!("the INI file is not text: {e}"),
            }),
        }
    }

    /// `PUT /files/ini/incremental`: applies to running configuration, no
    /// reset. Idempotent (the same cells set again), so retried.
    pub async fn put_ini_incremental(&self, ini: &str) -> Result<(), DeviceError> {
        self.upload(
            "files/ini/incremental",
            "ini.txt",
            ini.as_bytes(),
            Repeat::Safe,
        )
        .await
        .map(drop)
    }

    /// `PUT /files/ini`: replaces the whole configuration and resets the
    /// device. Sent once: a lost answer is [`DeviceError::Unconfirmed`].
    pub async fn put_ini_full(&self, ini: &str) -> Result<(), DeviceError> {
        self.upload(
            "files/ini",
            "ini.txt",
            ini.as_bytes(),
            Repeat::Once("the whole INI file and reset to load it"),
        )
        .await
        .map(drop)
    }

    /// `GET /files/cliScript`: the running configuration as CLI.
    pub async fn cli_script(&self) -> Result<String, DeviceError> {
        let answer = self
            .send(Method::GET, "files/cliScript", Body::None)
            .await?;
        Ok(String::from_utf8_lossy(&answer.body).into_owned())
    }

    /// `PUT /files/cliScript/incremental`: runs commands, returns their
    /// output. A 200 whose `status` is not `success` is
    /// [`DeviceError::CliFailed`] (the device may have applied the lines
    /// before the failing one); sent once, as `no …` and `… new` lines are
    /// not idempotent.
    pub async fn put_cli_incremental(&self, script: &str) -> Result<CliOutput, DeviceError> {
        let answer = self
            .upload(
                "files/cliScript/incremental",
                "cli.txt",
                script.as_bytes(),
                Repeat::Once("the CLI script, in part or whole"),
            )
            .await?;
        if answer.body.is_empty() {
            return Ok(CliOutput::default());
        }
        let out: CliOutput = self.json("PUT", "files/cliScript/incremental", &answer)?;
        match out.status.as_deref() {
            None => Ok(out),
            Some(s) if s.eq_ignore_ascii_case("success") => Ok(out),
            Some(s) => Err(DeviceError::CliFailed {
                status: s.chars().take(32).collect(),
                description: crate::config::sensitive::device_text(&out.description),
                lines: relevant_output(&out.output),
            }),
        }
    }

    /// `PUT /files/cliScript`: replaces the whole configuration and resets
    /// the device. Sent once.
    pub async fn put_cli_full(&self, script: &str) -> Result<(), DeviceError> {
        self.upload(
            "files/cliScript",
            "cli.txt",
            script.as_bytes(),
            Repeat::Once("the whole CLI script and reset to load it"),
        )
        .await
        .map(drop)
    }

    /// `POST /actions/saveConfiguration`: running configuration becomes
    /// startup. Idempotent.
    pub async fn save_configuration(&self) -> Result<(), DeviceError> {
        self.send(Method::POST, "actions/saveConfiguration", Body::None)
            .await
            .map(drop)
    }

    /// `POST /actions/reset`. Sent once.
    pub async fn reset(&self, save_first: bool) -> Result<(), DeviceError> {
        let body = serde_json::json!({ "saveConfiguration": save_first, "gracefulTimeout": 0 });
        self.send_with(
            Method::POST,
            "actions/reset",
            Body::Json(body),
            Repeat::Once("the reset"),
            OnBusy::Wait,
        )
        .await
        .map(drop)
    }

    /// Waits until the device is back after a reset it was asked for, and
    /// returns its `/status` then. With an uptime before (`uptime_before`)
    /// and after, "back" is an uptime showing it restarted since. Without
    /// one (firmware whose `/status` has no `systemUpTime`, as in the 2015
    /// document's examples), it is the reset's unreachable window: `/status`
    /// failed to connect (or timed out) at least once, then answered — the
    /// device may keep answering for a while after "Device will reset now",
    /// so an answer before it went away is not taken for its return. Polls
    /// are at most 1 s apart then, so a window is not missed (a real reset
    /// keeps the device away for far longer).
    pub async fn wait_for_restart(
        &self,
        uptime_before: Option<u64>,
        timeout: Duration,
    ) -> Result<DeviceStatus, DeviceError> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(100);
        let mut went_away = false;
        let mut longest = Duration::from_secs(2);
        loop {
            // One attempt per poll: the loop itself is the retry.
            match self.status_once().await {
                Ok(status) => {
                    let elapsed = started.elapsed().as_secs();
                    let restarted = match (uptime_before, status.system_up_time) {
                        (Some(before), Some(now)) => now < before.saturating_add(elapsed),
                        _ => went_away,
                    };
                    if restarted {
                        return Ok(status);
                    }
                    if status.system_up_time.is_none() {
                        longest = Duration::from_secs(1);
                    }
                }
                Err(e) if e.is_unreachable() => went_away = true,
                Err(_) => {}
            }
            if started.elapsed() >= timeout {
                return Err(DeviceError::ResetTimeout {
                    endpoint: self.base.clone(),
                    seconds: timeout.as_secs(),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(longest);
        }
    }

    /// `GET /status` once, without retries (polling loops retry themselves).
    async fn status_once(&self) -> Result<DeviceStatus, DeviceError> {
        let (method, resource) = (Method::GET, "status");
        let response = self
            .request(method.clone(), resource, &Body::None)?
            .send()
            .await
            .map_err(|e| self.transport_error(&method, resource, &e))?;
        let status = response.status();
        self.observe(&method, resource, Some(status.as_u16()));
        if !status.is_success() {
            return Err(DeviceError::Server {
                method: method.to_string(),
                resource: resource.to_string(),
                status: status.as_u16(),
                description: String::new(),
            });
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&method, resource, &e))?;
        self.json(method.as_str(), resource, &Answer { body })
    }

    /// `GET /alarms/active` through every page: the number of active alarms.
    /// The cursor is a string in both documents (`"after": "2"`, `"-1"` for
    /// "no more"); a number is accepted too.
    pub async fn active_alarm_count(&self) -> Result<usize, DeviceError> {
        let mut count = 0;
        let mut after: Option<String> = None;
        // A bounded walk: a device has at most a few thousand active alarms.
        for _ in 0..1000 {
            let resource = match &after {
                Some(cursor) => format!("alarms/active?limit=100&after={cursor}"),
                None => "alarms/active?limit=100".to_string(),
            };
            let answer = self.send(Method::GET, &resource, Body::None).await?;
            if answer.body.is_empty() {
                break; // 204: nothing (more)
            }
            let page: serde_json::Value = self.json("GET", &resource, &answer)?;
            let alarms = page
                .get("alarms")
                .and_then(|a| a.as_array())
                .map_or(0, Vec::len);
            count += alarms;
            let next = page
                .get("cursor")
                .and_then(|c| c.get("after"))
                .and_then(|a| match a {
                    serde_json::Value::String(s) => Some(s.trim().to_string()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                // "-1" means no more; anything but a plain token would not
                // be a cursor (and must not be spliced into a URL).
                .filter(|a| {
                    a != "-1"
                        && !a.is_empty()
                        && a.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                });
            match next {
                Some(n) if alarms > 0 && after.as_deref() != Some(n.as_str()) => after = Some(n),
                _ => break,
            }
        }
        Ok(count)
    }

    /// Uploads a file in the device's dialect.
    pub(crate) async fn upload(
        &self,
        resource: &str,
        filename: &str,
        data: &[u8],
        repeat: Repeat,
    ) -> Result<Answer, DeviceError> {
        self.dialect().await?;
        self.send_with(
            Method::PUT,
            resource,
            Body::Upload { filename, data },
            repeat,
            OnBusy::Wait,
        )
        .await
    }

    fn request(
        &self,
        method: Method,
        resource: &str,
        body: &Body<'_>,
    ) -> Result<reqwest::RequestBuilder, DeviceError> {
        let url = if resource.is_empty() {
            format!("{}/api/v1", self.base)
        } else {
            format!("{}/api/v1/{resource}", self.base)
        };
        let request = self
            .http
            .request(method, url)
            .basic_auth(&self.credentials.username, Some(&self.credentials.password));
        Ok(match body {
            Body::None => request,
            Body::Json(value) => request.json(value),
            Body::Upload { filename, data } => match *self.lock_dialect() {
                Some(Dialect::V2015) => request
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(data.to_vec()),
                _ => {
                    let part = reqwest::multipart::Part::bytes(data.to_vec())
                        .file_name(filename.to_string())
                        .mime_str("application/octet-stream")
                        .map_err(|e| DeviceError::Config {
                            reason: format!("cannot build the upload: {e}"),
                        })?;
                    request.multipart(reqwest::multipart::Form::new().part("file", part))
                }
            },
            Body::UploadWithFields {
                filename,
                data,
                fields,
            } => {
                let part = reqwest::multipart::Part::bytes(data.to_vec())
                    .file_name(filename.to_string())
                    .mime_str("application/octet-stream")
                    .map_err(|e| DeviceError::Config {
                        reason: format!("cannot build the upload: {e}"),
                    })?;
                let mut form = reqwest::multipart::Form::new().part("file", part);
                for (name, value) in fields.iter() {
                    form = form.text(name.to_string(), value.to_string());
                }
                request.multipart(form)
            }
        })
    }

    /// Sends an idempotent request (see [`Self::send_with`]).
    pub(crate) async fn send(
        &self,
        method: Method,
        resource: &str,
        body: Body<'_>,
    ) -> Result<Answer, DeviceError> {
        self.send_with(method, resource, body, Repeat::Safe, OnBusy::Wait)
            .await
    }

    /// Sends a request under the retry rules of the module docs: `repeat`
    /// says whether it may be sent twice, `on_busy` what a 409 means. Every
    /// non-2xx answer that is not retried is mapped to its error.
    pub(crate) async fn send_with(
        &self,
        method: Method,
        resource: &str,
        body: Body<'_>,
        repeat: Repeat,
        on_busy: OnBusy,
    ) -> Result<Answer, DeviceError> {
        let started = Instant::now();
        let attempts = self.retry.attempts.max(1);
        let read = method == Method::GET;
        let mut transport_attempts = 0u32;
        let mut busy_attempts = 0u32;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let remaining = self.deadline.saturating_sub(started.elapsed());
            let timeout = self
                .request_timeout
                .min(remaining.max(Duration::from_millis(1)));
            let result = self
                .request(method.clone(), resource, &body)?
                .timeout(timeout)
                .send()
                .await;
            let response = match result {
                Ok(r) => r,
                Err(e) => {
                    self.observe(&method, resource, None);
                    transport_attempts += 1;
                    if let Some(tls) = self.tls_failure(&e) {
                        return Err(tls);
                    }
                    // A connection that was never made carried nothing.
                    let sent = !e.is_connect();
                    if sent && let Repeat::Once(what) = repeat {
                        return Err(self.unconfirmed(&method, resource, what, &e));
                    }
                    let delay = self.retry.delay(transport_attempts);
                    if transport_attempts >= attempts || started.elapsed() + delay >= self.deadline
                    {
                        return Err(self.transport_error(&method, resource, &e));
                    }
                    tokio::time::sleep(delay).await;
                    continue;
                }
            };
            let status = response.status();
            self.observe(&method, resource, Some(status.as_u16()));
            let body_bytes = match response.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    transport_attempts += 1;
                    if let Repeat::Once(what) = repeat {
                        return Err(self.unconfirmed(&method, resource, what, &e));
                    }
                    let delay = self.retry.delay(transport_attempts);
                    if transport_attempts >= attempts || started.elapsed() + delay >= self.deadline
                    {
                        return Err(self.transport_error(&method, resource, &e));
                    }
                    tokio::time::sleep(delay).await;
                    continue;
                }
            };
            if status.is_success() {
                return Ok(Answer { body: body_bytes });
            }
            let description = describe(&body_bytes);
            if status == StatusCode::CONFLICT && on_busy == OnBusy::Wait {
                busy_attempts += 1;
                let delay = self.retry.delay(busy_attempts).max(self.retry.base_delay);
                if started.elapsed() + delay < self.busy_budget {
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            // A 5xx to a read is a passing fault worth another try.
            if read && status.is_server_error() {
                transport_attempts += 1;
                let delay = self.retry.delay(transport_attempts);
                if transport_attempts < attempts && started.elapsed() + delay < self.deadline {
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            return Err(self.status_error(&method, resource, status, description, attempt));
        }
    }

    /// The error for a request that may have been applied.
    fn unconfirmed(
        &self,
        method: &Method,
        resource: &str,
        what: &'static str,
        e: &reqwest::Error,
    ) -> DeviceError {
        let reason = if e.is_timeout() {
            "no answer in time".to_string()
        } else {
            error_chain(e)
        };
        DeviceError::Unconfirmed {
            endpoint: self.base.clone(),
            request: format!(
                "{method} {}",
                resource.split('?').next().unwrap_or(resource)
            ),
            what,
            reason,
        }
    }

    /// A certificate verification failure in the error's chain, if any.
    fn tls_failure(&self, e: &reqwest::Error) -> Option<DeviceError> {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(s) = source {
            if let Some(tls) = s.downcast_ref::<rustls::Error>() {
                return match tls {
                    rustls::Error::InvalidCertificate(_)
                    | rustls::Error::NoCertificatesPresented
                    | rustls::Error::InvalidCertRevocationList(_) => {
                        Some(DeviceError::TlsVerification {
                            endpoint: self.base.clone(),
                            reason: tls.to_string(),
                        })
                    }
                    _ => None,
                };
            }
            if let Some(io) = s.downcast_ref::<std::io::Error>()
                && let Some(inner) = io.get_ref()
                && let Some(tls) = inner.downcast_ref::<rustls::Error>()
                && matches!(tls, rustls::Error::InvalidCertificate(_))
            {
                return Some(DeviceError::TlsVerification {
                    endpoint: self.base.clone(),
                    reason: tls.to_string(),
                });
            }
            source = s.source();
        }
        // hyper-util boxes the connector's io::Error, whose `source()` skips
        // the rustls error inside: fall back to rustls' own wording
        // ("invalid peer certificate: UnknownIssuer").
        let chain = error_chain(e);
        let marker = "invalid peer certificate";
        chain.find(marker).map(|at| DeviceError::TlsVerification {
            endpoint: self.base.clone(),
            reason: chain[at..].chars().take(160).collect(),
        })
    }

    fn status_error(
        &self,
        method: &Method,
        resource: &str,
        status: StatusCode,
        description: String,
        attempts: u32,
    ) -> DeviceError {
        let method_s = method.to_string();
        let resource_s = resource.split('?').next().unwrap_or(resource).to_string();
        match status.as_u16() {
            401 => DeviceError::Unauthorized {
                endpoint: self.base.clone(),
            },
            403 | 405 => match required_privilege(method.as_str(), &resource_s) {
                Some(needed) => DeviceError::Forbidden {
                    method: method_s,
                    resource: resource_s,
                    status: status.as_u16(),
                    needed,
                },
                None => DeviceError::NotSupported {
                    method: method_s,
                    resource: resource_s,
                },
            },
            409 => DeviceError::Busy {
                method: method_s,
                resource: resource_s,
                attempts,
                description,
            },
            400 => DeviceError::Rejected {
                method: method_s,
                resource: resource_s,
                description,
            },
            404 => DeviceError::NotFound {
                method: method_s,
                resource: resource_s,
            },
            code => DeviceError::Server {
                method: method_s,
                resource: resource_s,
                status: code,
                description,
            },
        }
    }

    fn transport_error(&self, method: &Method, resource: &str, e: &reqwest::Error) -> DeviceError {
        if e.is_timeout() {
            return DeviceError::Timeout {
                endpoint: self.base.clone(),
                method: method.to_string(),
                resource: resource.to_string(),
            };
        }
        DeviceError::Unreachable {
            endpoint: self.base.clone(),
            reason: error_chain(e),
        }
    }

    fn observe(&self, method: &Method, resource: &str, status: Option<u16>) {
        if let Some(observer) = &self.observer {
            observer(
                method.as_str(),
                resource.split('?').next().unwrap_or(resource),
                status,
            );
        }
    }

    pub(super) fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        resource: &str,
        answer: &Answer,
    ) -> Result<T, DeviceError> {
        serde_json::from_slice(&answer.body).map_err(|e| DeviceError::InvalidResponse {
            method: method.to_string(),
            resource: resource.to_string(),
            reason: format!("not the documented JSON: {e}"),
        })
    }
}

/// What a single-attempt PUT carries (see [`MediantClient::put_once`]).
pub(super) enum PutBody<'a> {
    /// A JSON document.
    Json(serde_json::Value),
    /// A file, encoded in the device's upload dialect.
    File {
        /// The multipart file name (v7.4).
        filename: &'a str,
        /// The file.
        data: &'a [u8],
    },
}

/// Requests for the sibling clients of this module (`device::license`): the
/// same request building, dialect, observer and error mapping as every
/// other call, so they are not forked.
impl MediantClient {
    /// `GET resource` with the client's retries: the body.
    pub(super) async fn get_body(&self, resource: &str) -> Result<bytes::Bytes, DeviceError> {
        self.send(Method::GET, resource, Body::None)
            .await
            .map(|a| a.body)
    }

    /// `PUT resource` once, for writes that reset the device (a licence),
    /// where a second request would be a second reset: a 409 is answered
    /// at once ([`OnBusy::Permanent`]), a request is repeated only when its
    /// connection was never made (nothing sent), and a lost answer is
    /// [`DeviceError::Unconfirmed`] ("the device may have applied the
    /// licence"). Returns the device's `description`.
    pub(super) async fn put_once(
        &self,
        resource: &str,
        body: PutBody<'_>,
    ) -> Result<String, DeviceError> {
        let body = match body {
            PutBody::Json(value) => Body::Json(value),
            PutBody::File { filename, data } => {
                self.dialect().await?;
                Body::Upload { filename, data }
            }
        };
        let answer = self
            .send_with(
                Method::PUT,
                resource,
                body,
                Repeat::Once("the licence and reset to activate it"),
                OnBusy::Permanent,
            )
            .await?;
        Ok(describe(&answer.body))
    }
}

/// The error and its sources, for "connection refused" and the like; the
/// URL in it holds no credentials (they travel in a header).
fn error_chain(e: &reqwest::Error) -> String {
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    reason
}

/// The device's `description`, or the start of a non-JSON body.
fn describe(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Described {
        description: String,
    }
    // The device's words go into errors, conditions and events: sanitised
    // (control characters, secrets, length) in one place.
    match serde_json::from_slice::<Described>(body) {
        Ok(d) => crate::config::sensitive::device_text(&d.description),
        Err(_) => crate::config::sensitive::device_text(&String::from_utf8_lossy(
            &body[..body.len().min(16 * 1024)],
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_script_output_keeps_the_failing_lines_with_secrets_masked() {
        let output = "configure system\n cli-settings\n  privilege-password MARKER-pw\nError: invalid command \"foo\"\n password MARKER-2\nexit\n";
        let lines = relevant_output(output);
        assert_eq!(lines, vec!["Error: invalid command \"foo\"".to_string()]);
        let lines = relevant_output("a\nb\n password MARKER-3\n");
        assert!(lines.iter().all(|l| !l.contains("MARKER")), "{lines:?}");
        assert_eq!(lines.len(), 3);
    }
}
