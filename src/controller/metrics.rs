//! The controller's Prometheus metrics. Every label takes its value from a
//! bounded set (result, error category, HTTP status class) or names an
//! object (namespace and name of a MediantDevice), never free text.
//!
//! Exposition is OpenMetrics text (what `prometheus-client` writes; Prometheus
//! scrapes it): serve [`Metrics::encode`] with [`Metrics::CONTENT_TYPE`].

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of the reconcile counters and histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    /// The kind reconciled (`MediantDevice`).
    kind: &'static str,
    /// `success` or `error`.
    result: &'static str,
}

/// Labels of the error counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    /// The kind reconciled.
    kind: &'static str,
    /// The bounded error category (`SecretNotFound`, `Unreachable`, ...).
    category: &'static str,
}

/// Labels of the device request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The HTTP status code, or `none` when no answer came.
    code: String,
}

/// Labels naming one device resource.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct DeviceLabels {
    namespace: String,
    name: String,
}

/// The controller's metrics and the registry that exposes them.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    durations: Family<ReconcileLabels, Histogram, fn() -> Histogram>,
    errors: Family<ErrorLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
    drift: Family<DeviceLabels, Gauge>,
    ready: Gauge,
    /// 1 while a device's Ready condition is True, else 0 (per-device
    /// alerts need the object; `devices_ready` only counts).
    device_ready: Family<DeviceLabels, Gauge>,
    /// 1 while a LicenseEntitlement's status.pendingDisruption is set (a
    /// change waits for its disruption window or for the user), else 0.
    license_pending: Family<DeviceLabels, Gauge>,
    /// Devices currently Ready, so the gauge counts each device once.
    ready_set: Mutex<BTreeSet<DeviceLabels>>,
    /// Seconds until a TlsContext's device certificate expires.
    certificate_expiry: Family<DeviceLabels, Gauge>,
    /// The notAfter (Unix seconds) each resource was last warned about, so
    /// an expiry warning is published once per certificate.
    expiry_warned: Mutex<std::collections::BTreeMap<DeviceLabels, i64>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Reconcile durations from 10 ms to about 10 minutes (a reset may take long).
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 16))
}

/// A valid HTTP status code is three digits, so the label set is bounded.
fn code_label(status: Option<u16>) -> String {
    match status {
        Some(code @ 100..=599) => code.to_string(),
        Some(_) => "invalid".into(),
        None => "none".into(),
    }
}

impl Metrics {
    /// The content type of [`Metrics::encode`]'s output.
    pub const CONTENT_TYPE: &'static str =
        "application/openmetrics-text; version=1.0.0; charset=utf-8";

    /// A fresh set of metrics, registered under the prefix `mediant`.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("mediant");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        let durations =
            Family::<ReconcileLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        let errors = Family::<ErrorLabels, Counter>::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let drift = Family::<DeviceLabels, Gauge>::default();
        let ready = Gauge::default();
        let device_ready = Family::<DeviceLabels, Gauge>::default();
        let license_pending = Family::<DeviceLabels, Gauge>::default();
        let certificate_expiry = Family::<DeviceLabels, Gauge>::default();
        registry.register(
            "tls_certificate_expiry_seconds",
            "Seconds until the device certificate of a TlsContext expires (negative: expired)",
            certificate_expiry.clone(),
        );
        registry.register(
            "reconciles",
            "Reconciliations by kind and result",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time one reconciliation took, by kind and result",
            durations.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciliations by kind and error category",
            errors.clone(),
        );
        registry.register(
            "device_requests",
            "HTTP requests sent to devices, by status code (none: no answer)",
            requests.clone(),
        );
        registry.register(
            "device_drift",
            "Settings that differ from the desired configuration at the last check",
            drift.clone(),
        );
        registry.register(
            "devices_ready",
            "MediantDevices whose Ready condition is True",
            ready.clone(),
        );
        registry.register(
            "device_ready",
            "1 when the MediantDevice's Ready condition is True, else 0",
            device_ready.clone(),
        );
        registry.register(
            "license_pending",
            "1 when the LicenseEntitlement has a change waiting (status.pendingDisruption), else 0",
            license_pending.clone(),
        );
        Arc::new(Metrics {
            registry,
            reconciles,
            durations,
            errors,
            requests,
            drift,
            ready,
            device_ready,
            license_pending,
            ready_set: Mutex::new(BTreeSet::new()),
            certificate_expiry,
            expiry_warned: Mutex::new(std::collections::BTreeMap::new()),
        })
    }

    /// The metrics in OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Starts timing one reconciliation of `kind`; the timer records its
    /// duration when dropped, as `error` unless [`ReconcileTimer::succeeded`]
    /// was called (so a reconcile that panics or is cancelled still counts).
    pub fn reconcile_timer(self: &Arc<Self>, kind: &'static str) -> ReconcileTimer {
        ReconcileTimer {
            metrics: Arc::clone(self),
            kind,
            started: Instant::now(),
            success: false,
        }
    }

    /// Counts a failed reconciliation of `kind` by its bounded `category`.
    pub fn count_error(&self, kind: &'static str, category: &'static str) {
        self.errors
            .get_or_create(&ErrorLabels { kind, category })
            .inc();
    }

    /// Counts one HTTP attempt to a device; `status` is `None` when no answer came.
    pub fn count_device_request(&self, status: Option<u16>) {
        self.requests
            .get_or_create(&RequestLabels {
                code: code_label(status),
            })
            .inc();
    }

    /// Records a device's drift and readiness after a reconciliation.
    pub fn set_device(&self, namespace: &str, name: &str, drift: u32, ready: bool) {
        let labels = DeviceLabels {
            namespace: namespace.into(),
            name: name.into(),
        };
        self.drift.get_or_create(&labels).set(i64::from(drift));
        self.device_ready
            .get_or_create(&labels)
            .set(i64::from(ready));
        let mut set = self.lock_ready();
        if ready {
            set.insert(labels);
        } else {
            set.remove(&labels);
        }
        self.ready.set(i64::try_from(set.len()).unwrap_or(i64::MAX));
    }

    /// Forgets a deleted device, so its series disappear.
    pub fn forget_device(&self, namespace: &str, name: &str) {
        let labels = DeviceLabels {
            namespace: namespace.into(),
            name: name.into(),
        };
        self.drift.remove(&labels);
        self.device_ready.remove(&labels);
        let mut set = self.lock_ready();
        set.remove(&labels);
        self.ready.set(i64::try_from(set.len()).unwrap_or(i64::MAX));
    }

    /// Records the seconds until resource `namespace/name`'s certificate
    /// (expiring at `not_after`, Unix seconds) expires; whether a warning
    /// is due: within `warn_within` seconds and not yet warned about this
    /// certificate.
    pub fn set_certificate_expiry(
        &self,
        namespace: &str,
        name: &str,
        not_after: i64,
        now: i64,
        warn_within: i64,
    ) -> bool {
        let labels = DeviceLabels {
            namespace: namespace.into(),
            name: name.into(),
        };
        let left = not_after.saturating_sub(now);
        self.certificate_expiry.get_or_create(&labels).set(left);
        if left > warn_within {
            return false;
        }
        let mut warned = crate::sync::lock(&self.expiry_warned);
        warned.insert(labels, not_after) != Some(not_after)
    }

    /// Records whether LicenseEntitlement `namespace/name` has a change
    /// waiting in status.pendingDisruption.
    pub fn set_license_pending(&self, namespace: &str, name: &str, pending: bool) {
        let labels = DeviceLabels {
            namespace: namespace.into(),
            name: name.into(),
        };
        self.license_pending
            .get_or_create(&labels)
            .set(i64::from(pending));
    }

    /// Forgets a deleted LicenseEntitlement's series.
    pub fn forget_license(&self, namespace: &str, name: &str) {
        self.license_pending.remove(&DeviceLabels {
            namespace: namespace.into(),
            name: name.into(),
        });
    }

    /// Forgets a deleted resource's certificate series.
    pub fn forget_certificate(&self, namespace: &str, name: &str) {
        let labels = DeviceLabels {
            namespace: namespace.into(),
            name: name.into(),
        };
        self.certificate_expiry.remove(&labels);
        crate::sync::lock(&self.expiry_warned).remove(&labels);
    }

    fn lock_ready(&self) -> std::sync::MutexGuard<'_, BTreeSet<DeviceLabels>> {
        // A poisoned lock means a panic between insert and set; the set is
        // still a valid set, so keep using it.
        crate::sync::lock(&self.ready_set)
    }
}

/// Times one reconciliation (see [`Metrics::reconcile_timer`]).
#[must_use = "the duration is recorded when the timer is dropped"]
pub struct ReconcileTimer {
    metrics: Arc<Metrics>,
    kind: &'static str,
    started: Instant,
    success: bool,
}

impl ReconcileTimer {
    /// Marks the reconciliation as successful.
    pub fn succeeded(&mut self) {
        self.success = true;
    }
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        let labels = ReconcileLabels {
            kind: self.kind,
            result: if self.success { "success" } else { "error" },
        };
        self.metrics.reconciles.get_or_create(&labels).inc();
        self.metrics
            .durations
            .get_or_create(&labels)
            .observe(self.started.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_counters_with_bounded_labels() {
        let m = Metrics::new();
        {
            let mut t = m.reconcile_timer("MediantDevice");
            t.succeeded();
        }
        drop(m.reconcile_timer("MediantDevice"));
        m.count_error("MediantDevice", "SecretNotFound");
        m.count_device_request(Some(200));
        m.count_device_request(None);
        m.count_device_request(Some(9999));
        m.set_device("ns", "a", 3, true);
        m.set_device("ns", "b", 0, true);
        m.set_device("ns", "b", 0, false);
        let text = m.encode();
        assert!(
            text.contains(r#"mediant_reconciles_total{kind="MediantDevice",result="success"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"mediant_reconciles_total{kind="MediantDevice",result="error"} 1"#)
        );
        assert!(text.contains(
            r#"mediant_reconcile_errors_total{kind="MediantDevice",category="SecretNotFound"} 1"#
        ));
        assert!(text.contains(r#"mediant_device_requests_total{code="200"} 1"#));
        assert!(text.contains(r#"mediant_device_requests_total{code="none"} 1"#));
        assert!(text.contains(r#"mediant_device_requests_total{code="invalid"} 1"#));
        assert!(text.contains(r#"mediant_device_drift{namespace="ns",name="a"} 3"#));
        assert!(text.contains("mediant_devices_ready 1"));
        assert!(text.contains(r#"mediant_device_ready{namespace="ns",name="a"} 1"#));
        assert!(text.contains(r#"mediant_device_ready{namespace="ns",name="b"} 0"#));
        assert!(text.contains("mediant_reconcile_duration_seconds_bucket"));
        assert!(text.ends_with("# EOF\n"));

        m.forget_device("ns", "a");
        let text = m.encode();
        assert!(!text.contains(r#"name="a""#));
        assert!(text.contains("mediant_devices_ready 0"));
        assert!(!text.contains(r#"mediant_device_ready{namespace="ns",name="a"}"#));
        assert!(text.contains(r#"mediant_device_ready{namespace="ns",name="b"} 0"#));
    }

    #[test]
    fn license_pending_follows_the_status_and_is_forgotten() {
        let m = Metrics::new();
        m.set_license_pending("voice", "lic", true);
        m.set_license_pending("voice", "other", false);
        let text = m.encode();
        assert!(
            text.contains(r#"mediant_license_pending{namespace="voice",name="lic"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"mediant_license_pending{namespace="voice",name="other"} 0"#));
        m.set_license_pending("voice", "lic", false);
        assert!(
            m.encode()
                .contains(r#"mediant_license_pending{namespace="voice",name="lic"} 0"#)
        );
        m.forget_license("voice", "lic");
        let text = m.encode();
        assert!(!text.contains(r#"name="lic""#), "{text}");
        assert!(text.contains(r#"name="other""#));
    }
}
