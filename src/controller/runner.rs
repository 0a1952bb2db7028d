//! Wiring: one kube-runtime `Controller` per registered kind
//! (`crate::plan::kinds`), each triggered by the Secrets and ConfigMaps its
//! resources name (and, for kinds with a `deviceRef`, by their
//! MediantDevice), all driven until shutdown and sharing one device-lock
//! registry and one metrics registry.

use std::any::TypeId;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::ListParams;
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use crate::api::MediantDevice;
use crate::plan::Kind;
use crate::plan::issuer::OWNER_LABEL;
use crate::plan::kinds::{KindVisitor, for_each_kind};

use super::cert_manager::CertificateRequest;
use super::config::ControllerConfig;
use super::context::Context;
use super::error::ControllerError;
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
async fn run_kind<K: Kind>(
    client: kube::Client,
    config: ControllerConfig,
    metrics: Arc<Metrics>,
    locks: Arc<DeviceLocks>,
    shutdown: Shared<BoxFuture<'static, ()>>,
) {
    let ns = config.namespace.clone();
    let resources: Api<DeserializeGuard<K::Resource>> = scoped(client.clone(), ns.as_deref());
    // `Api<PartialObjectMeta<_>>` lists and watches metadata only (kube 5).
    let secrets: Api<PartialObjectMeta<Secret>> = scoped(client.clone(), ns.as_deref());
    let config_maps: Api<PartialObjectMeta<ConfigMap>> = scoped(client.clone(), ns.as_deref());
    let devices: Api<MediantDevice> = scoped(client.clone(), ns.as_deref());
    let requests: Option<Api<CertificateRequest>> = if K::USES_ISSUER {
        certificate_requests(client.clone(), ns.as_deref()).await
    } else {
        None
    };

    let ctx = Arc::new(Context::for_kind(
        K::KIND,
        client,
        config.clone(),
        Arc::clone(&metrics),
        locks,
    ));
    let controller = Controller::new(resources, watcher::Config::default())
        .with_config(controller::Config::default().concurrency(config.concurrency));
    let store = controller.store();
    // The devices this kind's resources name, as the device watch saw them.
    let followed = Arc::new(watches::FollowedDevices::default());
    let for_secrets = (store.clone(), Arc::clone(&ctx), Arc::clone(&followed));
    let for_config_maps = (store.clone(), Arc::clone(&ctx), Arc::clone(&followed));
    let for_devices = (store, Arc::clone(&ctx), followed);

    let controller = controller
        // Metadata only: a Secret's data never enters the watch (nor the
        // process) — the reconcile reads the one key it needs. The name is
        // all the mapping uses; a data change bumps the resourceVersion, so
        // it still triggers.
        .watches(
            secrets,
            watcher::Config::default(),
            move |s: PartialObjectMeta<Secret>| {
                let (store, ctx, followed) = &for_secrets;
                let name = s.name_any();
                let namespace = s.namespace();
                // A named device's credentials or CA bundle are its dependents' too.
                let devices =
                    followed.naming(namespace.as_deref(), |d| watches::names_secret(d, &name));
                triggered(
                    ctx,
                    watches::naming::<K>(store, namespace.as_deref(), |r| {
                        watches::kind_names_secret::<K>(r, &name)
                            || watches::names_one_of::<K>(r, &devices)
                    }),
                )
            },
        )
        .watches(
            config_maps,
            watcher::Config::default(),
            move |cm: PartialObjectMeta<ConfigMap>| {
                let (store, ctx, followed) = &for_config_maps;
                let name = cm.name_any();
                let namespace = cm.namespace();
                // A named device's CA bundle is its dependents' too (its
                // configuration texts are not: they only shape the device).
                let devices = followed.naming(namespace.as_deref(), |d| {
                    watches::names_ca_config_map(d, &name)
                });
                triggered(
                    ctx,
                    watches::naming::<K>(store, namespace.as_deref(), |r| {
                        watches::kind_names_config_map::<K>(r, &name)
                            || watches::names_one_of::<K>(r, &devices)
                    }),
                )
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
                let (store, ctx, followed) = &for_devices;
                // Its status is not what dependents read: a status write
                // (every device failure writes one) triggers nothing.
                if !followed.changed(&d) {
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
    let controller = match requests {
        None => controller,
        Some(requests) => {
            let ctx = Arc::clone(&ctx);
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
    };

    controller
        .graceful_shutdown_on(shutdown)
        .run(reconcile::<K>, error_policy::<K>, Arc::clone(&ctx))
        .for_each(|result| {
            match result {
                Ok(_) => {}
                // The object is gone (deleted): forget its series and backoff.
                // Deletion policy Orphan leaves the device as it is.
                Err(controller::Error::ObjectNotFound(obj)) => {
                    let namespace = obj.namespace.clone().unwrap_or_default();
                    if TypeId::of::<K::Resource>() == TypeId::of::<MediantDevice>() {
                        metrics.forget_device(&namespace, &obj.name);
                    } else {
                        metrics.forget_certificate(&namespace, &obj.name);
                    }
                    ctx.forget(&object_key(&namespace, &obj.name));
                }
                // Logged with its category where it happened.
                Err(controller::Error::ReconcilerFailed(..)) => {}
                Err(e) => tracing::warn!(kind = K::KIND, "controller: {e}"),
            }
            std::future::ready(())
        })
        .await;
    tracing::info!("{} controller stopped", K::KIND);
}

/// The CertificateRequests API in the watched scope, when the cluster
/// serves it (cert-manager installed); `None` otherwise, and the CSR flow
/// then reports cert-manager missing on each reconciliation.
async fn certificate_requests(
    client: kube::Client,
    namespace: Option<&str>,
) -> Option<Api<CertificateRequest>> {
    let api: Api<CertificateRequest> = scoped(client, namespace);
    match api.list(&ListParams::default().limit(1)).await {
        Ok(_) => Some(api),
        Err(e) => {
            tracing::warn!(
                "cert-manager.io/v1 CertificateRequests cannot be listed ({e}): TlsContexts with generateOnDevice.certificateRequest are not triggered by their requests (install cert-manager and restart the operator)"
            );
            None
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
