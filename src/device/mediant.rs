//! REST client of a Mediant device (`/api/v1`, v7.4 and 2015 dialects).
//!
//! # Guarantees
//! - Only a busy device (409) and transport failures are retried, with
//!   exponential backoff and jitter ([`RetryPolicy`]); every other answer is
//!   final and mapped to its own [`DeviceError`].
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
    /// Retries of busy answers and transport errors.
    pub retry: RetryPolicy,
    /// Sees every attempt.
    pub observer: Option<RequestObserver>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            dialect: None,
            tls: TlsTrust::System,
            retry: RetryPolicy::default(),
            observer: None,
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
    /// Seconds since the device started.
    pub system_up_time: u64,
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
}

/// What a request carries.
enum Body<'a> {
    None,
    Json(serde_json::Value),
    Upload { filename: &'a str, data: &'a [u8] },
}

/// An answer with a 2xx status.
struct Answer {
    body: bytes::Bytes,
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
        })
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
        self.dialect.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `GET /status`.
    pub async fn status(&self) -> Result<DeviceStatus, DeviceError> {
        let answer = self.send(Method::GET, "status", Body::None).await?;
        self.json("GET", "status", &answer)
    }

    /// `GET /files/ini`: the device's rendering of its running configuration.
    pub async fn ini(&self) -> Result<String, DeviceError> {
        let answer = self.send(Method::GET, "files/ini", Body::None).await?;
        Ok(String::from_utf8_lossy(&answer.body).into_owned())
    }

    /// `PUT /files/ini/incremental`: applies to running configuration, no reset.
    pub async fn put_ini_incremental(&self, ini: &str) -> Result<(), DeviceError> {
        self.upload("files/ini/incremental", "ini.txt", ini.as_bytes())
            .await
            .map(drop)
    }

    /// `PUT /files/ini`: replaces the whole configuration and resets the device.
    pub async fn put_ini_full(&self, ini: &str) -> Result<(), DeviceError> {
        self.upload("files/ini", "ini.txt", ini.as_bytes())
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

    /// `PUT /files/cliScript/incremental`: runs commands, returns their output.
    pub async fn put_cli_incremental(&self, script: &str) -> Result<CliOutput, DeviceError> {
        let answer = self
            .upload("files/cliScript/incremental", "cli.txt", script.as_bytes())
            .await?;
        if answer.body.is_empty() {
            return Ok(CliOutput::default());
        }
        self.json("PUT", "files/cliScript/incremental", &answer)
    }

    /// `PUT /files/cliScript`: replaces the whole configuration and resets the device.
    pub async fn put_cli_full(&self, script: &str) -> Result<(), DeviceError> {
        self.upload("files/cliScript", "cli.txt", script.as_bytes())
            .await
            .map(drop)
    }

    /// `POST /actions/saveConfiguration`: running configuration becomes startup.
    pub async fn save_configuration(&self) -> Result<(), DeviceError> {
        self.send(Method::POST, "actions/saveConfiguration", Body::None)
            .await
            .map(drop)
    }

    /// `POST /actions/reset`.
    pub async fn reset(&self, save_first: bool) -> Result<(), DeviceError> {
        let body = serde_json::json!({ "saveConfiguration": save_first, "gracefulTimeout": 0 });
        self.send(Method::POST, "actions/reset", Body::Json(body))
            .await
            .map(drop)
    }

    /// Waits until the device answers `/status` again with an uptime showing it
    /// restarted after `started` (its uptime then).
    pub async fn wait_for_restart(
        &self,
        uptime_before: u64,
        timeout: Duration,
    ) -> Result<DeviceStatus, DeviceError> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            // One attempt per poll: the loop itself is the retry.
            if let Ok(status) = self.status_once().await {
                let elapsed = started.elapsed().as_secs();
                if status.system_up_time < uptime_before.saturating_add(elapsed) {
                    return Ok(status);
                }
            }
            if started.elapsed() >= timeout {
                return Err(DeviceError::ResetTimeout {
                    endpoint: self.base.clone(),
                    seconds: timeout.as_secs(),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
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
    pub async fn active_alarm_count(&self) -> Result<usize, DeviceError> {
        let mut count = 0;
        let mut after: Option<i64> = None;
        // A bounded walk: a device has at most a few thousand active alarms.
        for _ in 0..1000 {
            let resource = match after {
                Some(id) => format!("alarms/active?limit=100&after={id}"),
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
                .and_then(|a| a.as_i64())
                .filter(|a| *a >= 0);
            match next {
                Some(n) if alarms > 0 => after = Some(n),
                _ => break,
            }
        }
        Ok(count)
    }

    async fn upload(
        &self,
        resource: &str,
        filename: &str,
        data: &[u8],
    ) -> Result<Answer, DeviceError> {
        self.dialect().await?;
        self.send(Method::PUT, resource, Body::Upload { filename, data })
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
        })
    }

    /// Sends with retries of 409 and transport errors; maps every other
    /// non-2xx answer to its error.
    async fn send(
        &self,
        method: Method,
        resource: &str,
        body: Body<'_>,
    ) -> Result<Answer, DeviceError> {
        let attempts = self.retry.attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= attempts;
            let result = self.request(method.clone(), resource, &body)?.send().await;
            let response = match result {
                Ok(r) => r,
                Err(e) => {
                    self.observe(&method, resource, None);
                    if last {
                        return Err(self.transport_error(&method, resource, &e));
                    }
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    continue;
                }
            };
            let status = response.status();
            self.observe(&method, resource, Some(status.as_u16()));
            let body_bytes = match response.bytes().await {
                Ok(b) => b,
                Err(e) if last => return Err(self.transport_error(&method, resource, &e)),
                Err(_) => {
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    continue;
                }
            };
            if status.is_success() {
                return Ok(Answer { body: body_bytes });
            }
            let description = describe(&body_bytes);
            if status == StatusCode::CONFLICT && !last {
                tokio::time::sleep(self.retry.delay(attempt)).await;
                continue;
            }
            return Err(self.status_error(&method, resource, status, description, attempt));
        }
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
        // The chain of sources says "connection refused" and the like; the
        // URL in it holds no credentials (they travel in a header).
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            reason.push_str(": ");
            reason.push_str(&s.to_string());
            source = s.source();
        }
        DeviceError::Unreachable {
            endpoint: self.base.clone(),
            reason,
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

    fn json<T: serde::de::DeserializeOwned>(
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

    /// `PUT resource` exactly once: neither a 409 nor a lost connection is
    /// retried, for writes that reset the device (a licence), where a second
    /// request would be a second reset. Returns the device's `description`.
    pub(super) async fn put_once(
        &self,
        resource: &str,
        body: PutBody<'_>,
    ) -> Result<String, DeviceError> {
        let method = Method::PUT;
        let body = match body {
            PutBody::Json(value) => Body::Json(value),
            PutBody::File { filename, data } => {
                self.dialect().await?;
                Body::Upload { filename, data }
            }
        };
        let response = match self.request(method.clone(), resource, &body)?.send().await {
            Ok(r) => r,
            Err(e) => {
                self.observe(&method, resource, None);
                return Err(self.transport_error(&method, resource, &e));
            }
        };
        let status = response.status();
        self.observe(&method, resource, Some(status.as_u16()));
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&method, resource, &e))?;
        let description = describe(&bytes);
        if status.is_success() {
            return Ok(description);
        }
        Err(self.status_error(&method, resource, status, description, 1))
    }
}

/// The device's `description`, or the start of a non-JSON body.
fn describe(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Described {
        description: String,
    }
    match serde_json::from_slice::<Described>(body) {
        Ok(d) => d.description,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            match text.char_indices().nth(200) {
                Some((cut, _)) => format!("{}…", &text[..cut]),
                None if text.is_empty() => "(no description)".to_string(),
                None => text.to_string(),
            }
        }
    }
}
