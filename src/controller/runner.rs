//! Wiring: one kube-runtime `Controller` per registered kind
//! (`crate::plan::kinds`), each triggered by the Secrets and ConfigMaps its
//! resources name (and, for kinds with a `deviceRef`, by their
//! MediantDevice), all driven until shutdown and sharing one device-lock
//! registry and one metrics registry.

use std::any::TypeId;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::ListParams;
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use crate::api::{LicenseEntitlement, MediantDevice};
use crate::plan::Kind;
use crate::plan::issuer::OWNER_LABEL;
use crate::plan::kinds::{KindVisitor, for_each_kind};

use super::cert_manager::CertificateRequest;
use super::config::ControllerConfig;
use super::context::Context;
use super::error::{ControllerError, ReconcileError};
use super::locks::DeviceLocks;
use super::metrics::Metrics;
use super::reconcile::{error_policy, object_key, reconcile};
use super::watches;

/// Runs the controllers of every kind until `shutdown` resolves; running
/// reconciliations finish first. `ready` turns true once the API server
/// answered a list of every kind (the CRDs are installed, access works)
/// and the controllers run.
///
/// # Errors
/// Only at start: a CRD is not installed, or a first list fails.
/// Failed reconciliations never end the controller.
pub async fn run_controller(
    client: kube::Client,
    config: ControllerConfig,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ControllerError> {
    run_controller_with_locks(
        client,
        config,
        metrics,
        Arc::new(DeviceLocks::new()),
        ready,
        shutdown,
    )
    .await
}

/// [`run_controller`] with a lock registry shared with other controllers
/// that write to the same devices.
pub async fn run_controller_with_locks(
    client: kube::Client,
    config: ControllerConfig,
    metrics: Arc<Metrics>,
    locks: Arc<DeviceLocks>,
    ready: Arc<AtomicBool>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ControllerError> {
    // Fail at start with a clear message rather than retry a watch forever.
    let checks = for_each_kind(&mut CrdCheck {
        client: client.clone(),
        namespace: config.namespace.clone(),
    });
    // Kinds whose (optional) CRD is not installed are not started.
    let skip: Vec<&'static str> = futures::future::try_join_all(checks)
        .await?
        .into_iter()
        .flatten()
        .collect();

    let shutdown: Shared<BoxFuture<'static, ()>> = shutdown.boxed().shared();
    let runs = for_each_kind(&mut Start {
        client,
        config,
        metrics,
        locks,
        shutdown,
        skip,
    });
    // Ready once the API answered a list of every kind and the controllers
    // run. Not `Store::wait_until_ready`: its one-shot channel keeps a
    // single waker, and a second waiter can steal the one the controller's
    // own runner waits on, stalling the first reconciliations.
    ready.store(true, Ordering::SeqCst);
    futures::future::join_all(runs).await;
    Ok(())
}

/// The API of `R` in the watched scope.
fn scoped<R>(client: kube::Client, namespace: Option<&str>) -> Api<R>
where
    R: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    }
}

/// Lists one object of each kind.
struct CrdCheck {
    client: kube::Client,
    namespace: Option<String>,
}

impl KindVisitor for CrdCheck {
    /// `Some(kind)`: an optional kind whose CRD is missing (not started).
    type Output = BoxFuture<'static, Result<Option<&'static str>, ControllerError>>;

    fn visit<K: Kind>(&mut self) -> Self::Output {
        let api: Api<DeserializeGuard<K::Resource>> =
            scoped(self.client.clone(), self.namespace.as_deref());
        // MediantDevice is the operator; the other kinds are optional, so
        // an older CRD set (e.g. only mediantdevices) keeps devices managed.
        let optional = TypeId::of::<K::Resource>() != TypeId::of::<MediantDevice>();
        async move {
            match api.list(&ListParams::default().limit(1)).await {
                Ok(_) => Ok(None),
                Err(kube::Error::Api(s)) if s.is_not_found() && optional => {
                    tracing::warn!(
                        kind = K::KIND,
                        "the {} CRD is not installed: its controller is not started (apply crds/ to manage it)",
                        K::KIND
                    );
                    Ok(Some(K::KIND))
                }
                Err(e) => Err(match &e {
                    kube::Error::Api(s) if s.is_not_found() => ControllerError::CrdMissing(e),
                    _ => ControllerError::List(e),
                }),
            }
        }
        .boxed()
    }
}

/// Starts each kind's controller.
struct Start {
    client: kube::Client,
    config: ControllerConfig,
    metrics: Arc<Metrics>,
    locks: Arc<DeviceLocks>,
    shutdown: Shared<BoxFuture<'static, ()>>,
    /// Kinds not to start (their CRD is missing).
    skip: Vec<&'static str>,
}

impl KindVisitor for Start {
    type Output = BoxFuture<'static, ()>;

    fn visit<K: Kind>(&mut self) -> Self::Output {
        if self.skip.contains(&K::KIND) {
            return std::future::ready(()).boxed();
        }
        run_kind::<K>(
            self.client.clone(),
            self.config.clone(),
            Arc::clone(&self.metrics),
            Arc::clone(&self.locks),
            self.shutdown.clone(),
        )
        .boxed()
    }
}

/// One kind's controller, until `shutdown`.
///
/// A kind that signs through cert-manager ([`Kind::USES_ISSUER`]) follows
/// its CertificateRequests when the cluster serves them. When it does not
/// at start, they are listed again every
/// [`ControllerConfig::cert_manager_recheck`]; once they answer, the
/// controller is shut down gracefully (running reconciliations finish) and
/// built again with the CertificateRequest watch. Not a watch of the
/// unserved API instead: the watcher retries a 404 without backoff, and
/// adding a stream to a running `Controller` needs kube-runtime's unstable
/// `unstable-runtime-stream-control` feature.
///
/// What the controller remembers (the [`Context`] with every object's
/// record: own writes, when it is due, its backoff, its kept client) and
/// what the watches last delivered ([`Delivered`]) outlive the rebuild, so
/// the new controller's first pass skips what the old one had done and
/// its watches' first deliveries trigger nothing that did not change.
async fn run_kind<K: Kind>(
    client: kube::Client,
    config: ControllerConfig,
    metrics: Arc<Metrics>,
    locks: Arc<DeviceLocks>,
    shutdown: Shared<BoxFuture<'static, ()>>,
) {
    let ns = config.namespace.clone();
    let ctx = Arc::new(Context::for_kind(
        K::KIND,
        client.clone(),
        config.clone(),
        Arc::clone(&metrics),
        locks,
    ));
    let mut requests: Option<Api<CertificateRequest>> = if K::USES_ISSUER {
        certificate_requests(client.clone(), ns.as_deref(), config.cert_manager_recheck).await
    } else {
        None
    };
    let delivered = Arc::new(Delivered::new(K::USES_ISSUER && requests.is_none()));

    loop {
        let waiting = K::USES_ISSUER && requests.is_none();
        let controller = controller_for::<K>(
            &client,
            ns.as_deref(),
            config.concurrency,
            &ctx,
            &delivered,
            requests.clone(),
        );
        let store = controller.store();
        // Ends this controller: the operator's shutdown, or a rebuild.
        let (rebuild, rebuilt) = tokio::sync::oneshot::channel::<()>();
        let stop = futures::future::select(shutdown.clone(), rebuilt).map(drop);
        let run = controller
            .graceful_shutdown_on(stop)
            .run(reconcile::<K>, error_policy::<K>, Arc::clone(&ctx))
            .for_each(|result| {
                outcome::<K>(result, &ctx, &metrics);
                std::future::ready(())
            });
        let served = async {
            if waiting {
                served_later(
                    scoped(client.clone(), ns.as_deref()),
                    config.cert_manager_recheck,
                )
                .await
            } else {
                std::future::pending().await
            }
        };
        tokio::pin!(run, served);
        // The recheck runs inside this task, never spawned: when the
        // operator shuts down, the controller ends and the recheck is
        // dropped with it.
        let api = tokio::select! {
            () = &mut run => break,
            api = &mut served => api,
        };
        tracing::info!(
            kind = K::KIND,
            "CertificateRequests are served now: following them"
        );
        let _ = rebuild.send(());
        run.await;
        if shutdown.peek().is_some() {
            break;
        }
        // cert-manager was what these were missing: they are retried at
        // once, not at the end of their backoff (the others keep theirs).
        for resource in store.state() {
            if let Ok(r) = &resource.0
                && K::requests_certificates(r)
            {
                ctx.mark_triggered(&object_key(
                    &r.namespace().unwrap_or_default(),
                    &r.name_any(),
                ));
            }
        }
        requests = Some(api);
    }
    tracing::info!("{} controller stopped", K::KIND);
}

/// What the watches of one kind's controller last delivered, kept across
/// its rebuilds: the devices its resources name, and the resourceVersion
/// of the Secrets and ConfigMaps that concerned them.
#[derive(Debug)]
struct Delivered {
    devices: watches::FollowedDevices,
    secrets: watches::SeenVersions,
    config_maps: watches::SeenVersions,
}

impl Delivered {
    /// Nothing delivered yet; Secret and ConfigMap versions are remembered
    /// only when the controller may be rebuilt (`rebuild`).
    fn new(rebuild: bool) -> Self {
        Delivered {
            devices: watches::FollowedDevices::default(),
            secrets: watches::SeenVersions::new(rebuild),
            config_maps: watches::SeenVersions::new(rebuild),
        }
    }
}

/// The controller of kind `K`: its resources, the Secrets and ConfigMaps
/// they name, their MediantDevice (kinds with a `deviceRef`), and their
/// CertificateRequests when `requests` is given.
fn controller_for<K: Kind>(
    client: &kube::Client,
    ns: Option<&str>,
    concurrency: u16,
    ctx: &Arc<Context>,
    delivered: &Arc<Delivered>,
    requests: Option<Api<CertificateRequest>>,
) -> Controller<DeserializeGuard<K::Resource>> {
    let resources: Api<DeserializeGuard<K::Resource>> = scoped(client.clone(), ns);
    // `Api<PartialObjectMeta<_>>` lists and watches metadata only (kube 5).
    let secrets: Api<PartialObjectMeta<Secret>> = scoped(client.clone(), ns);
    let config_maps: Api<PartialObjectMeta<ConfigMap>> = scoped(client.clone(), ns);
    let devices: Api<MediantDevice> = scoped(client.clone(), ns);

    let controller = Controller::new(resources, watcher::Config::default())
        .with_config(controller::Config::default().concurrency(concurrency));
    let store = controller.store();
    let for_secrets = (store.clone(), Arc::clone(ctx), Arc::clone(delivered));
    let for_config_maps = (store.clone(), Arc::clone(ctx), Arc::clone(delivered));
    let for_devices = (store, Arc::clone(ctx), Arc::clone(delivered));

    let controller = controller
        // Metadata only: a Secret's data never enters the watch (nor the
        // process) — the reconcile reads the one key it needs. The name is
        // all the mapping uses; a data change bumps the resourceVersion, so
        // it still triggers.
        .watches(
            secrets,
            watcher::Config::default(),
            move |s: PartialObjectMeta<Secret>| {
                let (store, ctx, delivered) = &for_secrets;
                let name = s.name_any();
                let namespace = s.namespace();
                let ns = namespace.as_deref().unwrap_or_default();
                // Delivered again unchanged (the controller rebuilt).
                if !delivered
                    .secrets
                    .changed(ns, &name, s.resource_version().as_deref())
                {
                    return Vec::new();
                }
                // A named device's credentials or CA bundle are its dependents' too.
                let devices = delivered
                    .devices
                    .naming(namespace.as_deref(), |d| watches::names_secret(d, &name));
                let refs = watches::naming::<K>(store, namespace.as_deref(), |r| {
                    watches::kind_names_secret::<K>(r, &name)
                        || watches::names_one_of::<K>(r, &devices)
                });
                triggered(ctx, refs)
            },
        )
        .watches(
            config_maps,
            watcher::Config::default(),
            move |cm: PartialObjectMeta<ConfigMap>| {
                let (store, ctx, delivered) = &for_config_maps;
                let name = cm.name_any();
                let namespace = cm.namespace();
                let ns = namespace.as_deref().unwrap_or_default();
                if !delivered
                    .config_maps
                    .changed(ns, &name, cm.resource_version().as_deref())
                {
                    return Vec::new();
                }
                // A named device's CA bundle is its dependents' too (its
                // configuration texts are not: they only shape the device).
                let devices = delivered.devices.naming(namespace.as_deref(), |d| {
                    watches::names_ca_config_map(d, &name)
                });
                let refs = watches::naming::<K>(store, namespace.as_deref(), |r| {
                    watches::kind_names_config_map::<K>(r, &name)
                        || watches::names_one_of::<K>(r, &devices)
                });
                triggered(ctx, refs)
            },
        );
    // A kind that names its device (`deviceRef`) follows that device.
    let controller = if TypeId::of::<K::Resource>() == TypeId::of::<MediantDevice>() {
        controller
    } else {
        controller.watches(
            devices,
            watcher::Config::default(),
            move |d: MediantDevice| {
                let (store, ctx, delivered) = &for_devices;
                // Its status is not what dependents read: a status write
                // (every device failure writes one) triggers nothing.
                if !delivered.devices.changed(&d) {
                    return Vec::new();
                }
                let name = d.name_any();
                triggered(
                    ctx,
                    watches::naming::<K>(store, d.namespace().as_deref(), |r| {
                        watches::kind_names_device::<K>(r, &name)
                    }),
                )
            },
        )
    };

    // A kind that requests certificates follows its CertificateRequests, so
    // a signed certificate reaches the device within seconds.
    match requests {
        None => controller,
        Some(requests) => {
            let ctx = Arc::clone(ctx);
            controller.watches(
                requests,
                watcher::Config::default().labels(OWNER_LABEL),
                move |cr: CertificateRequest| {
                    let namespace = cr.namespace().unwrap_or_default();
                    let refs: Vec<_> = cr
                        .labels()
                        .get(OWNER_LABEL)
                        .map(|owner| ObjectRef::new(owner).within(&namespace))
                        .into_iter()
                        .collect();
                    triggered(&ctx, refs)
                },
            )
        }
    }
}

/// One reconciliation's outcome, as a kube-runtime `Controller` yields it.
type Outcome<K> = Result<
    (
        ObjectRef<DeserializeGuard<<K as Kind>::Resource>>,
        controller::Action,
    ),
    controller::Error<ReconcileError, watcher::Error>,
>;

/// What the controller does with one reconciliation's outcome.
fn outcome<K: Kind>(result: Outcome<K>, ctx: &Context, metrics: &Metrics) {
    match result {
        Ok(_) => {}
        // The object is gone (deleted): forget its series and backoff.
        // Deletion policy Orphan leaves the device as it is.
        Err(controller::Error::ObjectNotFound(obj)) => {
            let namespace = obj.namespace.clone().unwrap_or_default();
            if TypeId::of::<K::Resource>() == TypeId::of::<MediantDevice>() {
                metrics.forget_device(&namespace, &obj.name);
            } else if TypeId::of::<K::Resource>() == TypeId::of::<LicenseEntitlement>() {
                metrics.forget_license(&namespace, &obj.name);
            } else {
                metrics.forget_certificate(&namespace, &obj.name);
            }
            ctx.forget(&object_key(&namespace, &obj.name));
        }
        // Logged with its category where it happened.
        Err(controller::Error::ReconcilerFailed(..)) => {}
        Err(e) => tracing::warn!(kind = K::KIND, "controller: {e}"),
    }
}

/// The CertificateRequests API in the watched scope, when the cluster
/// serves it (cert-manager installed); `None` otherwise: the CSR flow then
/// reports cert-manager missing on each reconciliation, and
/// [`served_later`] checks again every `recheck`.
async fn certificate_requests(
    client: kube::Client,
    namespace: Option<&str>,
    recheck: Duration,
) -> Option<Api<CertificateRequest>> {
    let api: Api<CertificateRequest> = scoped(client, namespace);
    match api.list(&ListParams::default().limit(1)).await {
        Ok(_) => Some(api),
        Err(e) => {
            tracing::warn!(
                "cert-manager.io/v1 CertificateRequests cannot be listed ({e}): TlsContexts with generateOnDevice.certificateRequest are not triggered by their requests until they can (checked again every {} s)",
                recheck.as_secs_f64()
            );
            None
        }
    }
}

/// The shortest recheck: a zero setting must not list in a hot loop.
const MIN_RECHECK: Duration = Duration::from_millis(100);

/// `api` once a list of it succeeds, trying every `recheck`.
async fn served_later(api: Api<CertificateRequest>, recheck: Duration) -> Api<CertificateRequest> {
    loop {
        tokio::time::sleep(recheck.max(MIN_RECHECK)).await;
        match api.list(&ListParams::default().limit(1)).await {
            Ok(_) => return api,
            Err(e) => tracing::debug!("CertificateRequests still cannot be listed: {e}"),
        }
    }
}

/// Marks the resources a Secret, ConfigMap or device change concerns, so
/// their next reconciliation is not mistaken for the echo of a status write.
fn triggered<R>(ctx: &Context, refs: Vec<ObjectRef<R>>) -> Vec<ObjectRef<R>>
where
    R: kube::Resource<DynamicType = ()>,
{
    for r in &refs {
        ctx.mark_triggered(&object_key(
            r.namespace.as_deref().unwrap_or_default(),
            &r.name,
        ));
    }
    refs
}
