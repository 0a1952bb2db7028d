//! Wiring: the kube-runtime `Controller` over MediantDevices, triggered by
//! the Secrets and ConfigMaps they name, driven until shutdown.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::ListParams;
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use super::config::ControllerConfig;
use super::context::Context;
use super::error::ControllerError;
use super::locks::DeviceLocks;
use super::metrics::Metrics;
use super::reconcile::{error_policy, object_key, reconcile};
use super::watches::{self, Guarded};

/// Runs the MediantDevice controller until `shutdown` resolves; running
/// reconciliations finish first. `ready` turns true once the API server
/// answered a list of MediantDevices (the CRD is installed, access works)
/// and the controller runs.
///
/// # Errors
/// Only at start: the CRD is not installed, or the first list fails.
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

/// [`run_controller`] with a lock registry shared with the controllers of
/// other kinds that write to the same devices.
pub async fn run_controller_with_locks(
    client: kube::Client,
    config: ControllerConfig,
    metrics: Arc<Metrics>,
    locks: Arc<DeviceLocks>,
    ready: Arc<AtomicBool>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ControllerError> {
    let scoped = |client: kube::Client| match &config.namespace {
        Some(ns) => (
            Api::<Guarded>::namespaced(client.clone(), ns),
            Api::<Secret>::namespaced(client.clone(), ns),
            Api::<ConfigMap>::namespaced(client, ns),
        ),
        None => (
            Api::<Guarded>::all(client.clone()),
            Api::<Secret>::all(client.clone()),
            Api::<ConfigMap>::all(client),
        ),
    };
    let (devices, secrets, config_maps) = scoped(client.clone());

    // Fail at start with a clear message rather than retry a watch forever.
    if let Err(e) = devices.list(&ListParams::default().limit(1)).await {
        return Err(match &e {
            kube::Error::Api(s) if s.is_not_found() => ControllerError::CrdMissing(e),
            _ => ControllerError::List(e),
        });
    }

    let ctx = Arc::new(Context::new(
        client,
        config.clone(),
        Arc::clone(&metrics),
        locks,
    ));
    let controller = Controller::new(devices, watcher::Config::default())
        .with_config(controller::Config::default().concurrency(config.concurrency));
    let store = controller.store();
    let for_secrets = (store.clone(), Arc::clone(&ctx));
    let for_config_maps = (store, Arc::clone(&ctx));

    // kube-runtime wants a `Sync` shutdown future; ours need not be.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stopper = tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(());
    });
    // Ready once the API answered a list of MediantDevices and the
    // controller runs. Not `Store::wait_until_ready`: its one-shot channel
    // keeps a single waker, and a second waiter can steal the one the
    // controller's own runner waits on, stalling the first reconciliations.
    ready.store(true, Ordering::SeqCst);

    controller
        .watches(secrets, watcher::Config::default(), move |s: Secret| {
            let (store, ctx) = &for_secrets;
            triggered(
                ctx,
                watches::for_secret(store, s.namespace().as_deref(), &s.name_any()),
            )
        })
        .watches(
            config_maps,
            watcher::Config::default(),
            move |cm: ConfigMap| {
                let (store, ctx) = &for_config_maps;
                let name = cm.name_any();
                triggered(
                    ctx,
                    watches::for_config_map(store, cm.namespace().as_deref(), &name),
                )
            },
        )
        .graceful_shutdown_on(async move {
            let _ = stop_rx.await;
        })
        .run(reconcile, error_policy, Arc::clone(&ctx))
        .for_each(|result| {
            match result {
                Ok(_) => {}
                // The object is gone (deleted): forget its series and backoff.
                // Deletion policy Orphan leaves the device as it is.
                Err(controller::Error::ObjectNotFound(obj)) => {
                    let namespace = obj.namespace.clone().unwrap_or_default();
                    metrics.forget_device(&namespace, &obj.name);
                    ctx.forget(&object_key(&namespace, &obj.name));
                }
                // Logged with its category where it happened.
                Err(controller::Error::ReconcilerFailed(..)) => {}
                Err(e) => tracing::warn!("controller: {e}"),
            }
            std::future::ready(())
        })
        .await;

    stopper.abort();
    tracing::info!("MediantDevice controller stopped");
    Ok(())
}

/// Marks the devices a Secret or ConfigMap change concerns, so their next
/// reconciliation is not mistaken for the echo of a status write.
fn triggered(ctx: &Context, refs: Vec<ObjectRef<Guarded>>) -> Vec<ObjectRef<Guarded>> {
    for r in &refs {
        ctx.mark_triggered(&object_key(
            r.namespace.as_deref().unwrap_or_default(),
            &r.name,
        ));
    }
    refs
}
