//! Tests of the in-process Kubernetes API server double
//! (`tests/support/apiserver`), driven by the real `kube` 5 client over HTTP.
//!
//! Expected behaviour comes from kube-apiserver, not from the double: the
//! generic registry (`k8s.io/apiserver/pkg/registry/generic/registry`), the
//! CustomResource strategies (`apiextensions-apiserver/pkg/registry/
//! customresource/{strategy,status_strategy}.go`) and the "API Concepts"
//! page (watch, resourceVersion semantics, 410 Gone, streaming lists).

mod support;

use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http;
use futures::{Stream, StreamExt};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event as RecorderEvent, EventType, Recorder, Reporter};
use kube::runtime::watcher::{self, Event};
use kube::{Client, CustomResource, Resource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use support::apiserver::{ApiServer, ResourceKey, ResourceType, Verb};

/// The spec of a small stand-in for the operator's CRD.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "mediant.io",
    version = "v1alpha1",
    kind = "MediantDevice",
    namespaced,
    status = "DeviceStatus",
    derive = "PartialEq"
)]
pub struct DeviceSpec {
    host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
}

/// Its status.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ready: Option<bool>,
}

/// A cluster-scoped custom resource.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(group = "mediant.io", version = "v1alpha1", kind = "Fleet")]
pub struct FleetSpec {
    size: u32,
}

const NS: &str = "devices";
const TIMEOUT: Duration = Duration::from_secs(5);

async fn server_with_crd() -> (ApiServer, Client) {
    let server = ApiServer::start().await;
    server.register(ResourceType::custom::<MediantDevice>().with_status_subresource());
    let client = server.client();
    (server, client)
}

fn device(name: &str, host: &str) -> MediantDevice {
    let mut d = MediantDevice::new(
        name,
        DeviceSpec {
            host: host.to_owned(),
            port: None,
        },
    );
    d.metadata.namespace = Some(NS.to_owned());
    d
}

fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        ..ConfigMap::default()
    }
}

fn api_status(err: kube::Error) -> Box<kube::core::Status> {
    match err {
        kube::Error::Api(status) => status,
        other => panic!("expected a Kubernetes Status error, got {other:?}"),
    }
}

fn rv<K: Resource>(obj: &K) -> u64 {
    obj.meta()
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric resourceVersion"))
}

async fn next<S, T>(stream: &mut S) -> T
where
    S: Stream<Item = T> + Unpin,
{
    match tokio::time::timeout(TIMEOUT, stream.next()).await {
        Ok(Some(item)) => item,
        Ok(None) => panic!("stream ended"),
        Err(_) => panic!("no event within {TIMEOUT:?}"),
    }
}

/// Polls `done` every 20 ms until it holds or [`TIMEOUT`] passes.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let began = Instant::now();
    while !done() {
        assert!(began.elapsed() < TIMEOUT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends a raw request and returns the status code and JSON body.
async fn send(
    client: &Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(kube::client::Body::from(body.as_bytes().to_vec()))
        .unwrap();
    let response = client.send(request).await.unwrap();
    let code = response.status().as_u16();
    let bytes = response.into_body().collect_bytes().await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (code, json)
}

// ---------------------------------------------------------------- CRUD ---

#[tokio::test]
async fn secret_crud_round_trips_and_string_data_becomes_data() {
    let server = ApiServer::start().await;
    let secrets: Api<Secret> = Api::namespaced(server.client(), NS);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("device-credentials".into()),
            ..ObjectMeta::default()
        },
        string_data: Some([("password".to_owned(), "s3cret".to_owned())].into()),
        ..Secret::default()
    };
    let created = secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    // The Secret registry folds stringData into base64 data and defaults type.
    assert_eq!(created.string_data, None);
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
    let data = created.data.clone().unwrap();
    assert_eq!(data["password"].0, b"s3cret");
    assert_eq!(created.metadata.namespace.as_deref(), Some(NS));

    let fetched = secrets.get("device-credentials").await.unwrap();
    assert_eq!(fetched, created);
    let listed = secrets.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(
        listed.metadata.resource_version,
        Some(rv(&created).to_string())
    );

    let mut changed = fetched.clone();
    changed.string_data = Some([("password".to_owned(), "n3w".to_owned())].into());
    let replaced = secrets
        .replace("device-credentials", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_eq!(replaced.data.clone().unwrap()["password"].0, b"n3w");
    assert!(rv(&replaced) > rv(&created));
    // Built-in types keep no generation.
    assert_eq!(replaced.metadata.generation, None);

    let deleted = secrets
        .delete("device-credentials", &DeleteParams::default())
        .await
        .unwrap();
    let status = deleted
        .right()
        .expect("a Status for an object that is gone");
    assert!(status.is_success());
    assert_eq!(
        status.details.as_ref().map(|d| d.name.as_str()),
        Some("device-credentials")
    );
    let missing = api_status(secrets.get("device-credentials").await.unwrap_err());
    assert!(missing.is_not_found());
    assert_eq!(missing.code, 404);
    assert_eq!(missing.message, "secrets \"device-credentials\" not found");
    assert_eq!(secrets.get_opt("device-credentials").await.unwrap(), None);
}

#[tokio::test]
async fn config_map_create_twice_is_already_exists_and_patch_merges() {
    let server = ApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    let cm = config_map("ini", &[("a", "1")]);
    let created = cms.create(&PostParams::default(), &cm).await.unwrap();
    let again = api_status(cms.create(&PostParams::default(), &cm).await.unwrap_err());
    assert!(again.is_already_exists());
    assert_eq!(again.code, 409);

    let patched = cms
        .patch(
            "ini",
            &PatchParams::default(),
            &Patch::Merge(json!({ "data": { "b": "2" } })),
        )
        .await
        .unwrap();
    let data = patched.data.clone().unwrap();
    assert_eq!(data.get("a").map(String::as_str), Some("1"));
    assert_eq!(data.get("b").map(String::as_str), Some("2"));
    assert_eq!(rv(&patched), rv(&created) + 1);

    // Strategic merge on a built-in kind without merge-keyed lists.
    let strategic = cms
        .patch(
            "ini",
            &PatchParams::default(),
            &Patch::Strategic(json!({ "data": { "a": null } })),
        )
        .await
        .unwrap();
    assert_eq!(strategic.data.unwrap().get("a"), None);
}

#[tokio::test]
async fn create_assigns_uid_timestamp_generation_and_global_resource_versions() {
    let (server, client) = server_with_crd().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let devices: Api<MediantDevice> = Api::namespaced(client, NS);
    let before = server.resource_version();
    let cm = cms
        .create(&PostParams::default(), &config_map("x", &[]))
        .await
        .unwrap();
    let dev = devices
        .create(&PostParams::default(), &device("sbc-1", "10.0.0.1"))
        .await
        .unwrap();
    // One counter for all resources, bumped on every write.
    assert_eq!(rv(&cm), before + 1);
    assert_eq!(rv(&dev), before + 2);
    assert_eq!(server.resource_version(), before + 2);
    let uid = dev.metadata.uid.clone().unwrap();
    assert_eq!(uid.len(), 36);
    assert_eq!(uid.as_bytes()[14], b'4', "a v4 UUID: {uid}");
    assert_ne!(Some(uid), cm.metadata.uid);
    assert!(dev.metadata.creation_timestamp.is_some());
    assert_eq!(dev.metadata.generation, Some(1));
    assert_eq!(cm.metadata.generation, None);
}

#[tokio::test]
async fn generate_name_and_name_validation() {
    let server = ApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    let mut cm = config_map("", &[]);
    cm.metadata.name = None;
    cm.metadata.generate_name = Some("probe-".into());
    let a = cms.create(&PostParams::default(), &cm).await.unwrap();
    let b = cms.create(&PostParams::default(), &cm).await.unwrap();
    let (a, b) = (a.name_any(), b.name_any());
    assert!(
        a.starts_with("probe-") && a.len() == "probe-".len() + 5,
        "{a}"
    );
    assert_ne!(a, b);

    cm.metadata.generate_name = None;
    let missing = api_status(cms.create(&PostParams::default(), &cm).await.unwrap_err());
    assert!(missing.is_invalid());
    assert_eq!(missing.code, 422);
    assert!(
        missing.message.contains("metadata.name: Required value"),
        "{}",
        missing.message
    );

    cm.metadata.name = Some("Upper_Case".into());
    let bad = api_status(cms.create(&PostParams::default(), &cm).await.unwrap_err());
    assert_eq!(bad.code, 422);
    let causes = bad.details.unwrap().causes;
    assert_eq!(causes[0].field, "metadata.name");
    assert_eq!(causes[0].reason, "FieldValueInvalid");
}

#[tokio::test]
async fn cluster_scoped_custom_resources_live_outside_namespaces() {
    let server = ApiServer::start().await;
    server.register(ResourceType::custom::<Fleet>());
    let fleets: Api<Fleet> = Api::all(server.client());
    let created = fleets
        .create(
            &PostParams::default(),
            &Fleet::new("lab", FleetSpec { size: 3 }),
        )
        .await
        .unwrap();
    assert_eq!(created.metadata.namespace, None);
    assert_eq!(fleets.get("lab").await.unwrap().spec.size, 3);
    // A namespaced path for a cluster-scoped resource does not exist.
    let (code, body) = send(
        &server.client(),
        "GET",
        "/apis/mediant.io/v1alpha1/namespaces/x/fleets/lab",
        "application/json",
        "",
    )
    .await;
    assert_eq!(code, 404, "{body}");
    assert_eq!(body["kind"], "Status");
}

// -------------------------------------------------- generation & status ---

#[tokio::test]
async fn generation_changes_only_when_the_spec_changes() {
    let (_server, client) = server_with_crd().await;
    let devices: Api<MediantDevice> = Api::namespaced(client, NS);
    let created = devices
        .create(&PostParams::default(), &device("sbc", "10.0.0.1"))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));

    let labelled = devices
        .patch(
            "sbc",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "labels": { "site": "a" } } })),
        )
        .await
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(1), "metadata only");
    assert!(rv(&labelled) > rv(&created));

    let respecced = devices
        .patch(
            "sbc",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "port": 443 } })),
        )
        .await
        .unwrap();
    assert_eq!(respecced.metadata.generation, Some(2));
    assert_eq!(respecced.spec.port, Some(443));

    // A write that changes nothing is not a write: same resourceVersion.
    let same = devices
        .patch(
            "sbc",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "port": 443 } })),
        )
        .await
        .unwrap();
    assert_eq!(rv(&same), rv(&respecced));
    assert_eq!(same.metadata.generation, Some(2));
}

#[tokio::test]
async fn status_subresource_isolates_status_from_spec() {
    let (server, client) = server_with_crd().await;
    let devices: Api<MediantDevice> = Api::namespaced(client, NS);
    let mut new = device("sbc", "10.0.0.1");
    new.status = Some(DeviceStatus {
        observed_generation: Some(7),
        ready: Some(true),
    });
    let created = devices.create(&PostParams::default(), &new).await.unwrap();
    assert_eq!(created.status, None, "create cannot set status");

    // A status write changes only .status: spec edits in it are ignored
    // and generation stays.
    let status_patch = json!({
        "spec": { "host": "ignored" },
        "status": { "observedGeneration": 1, "ready": true }
    });
    let after_status = devices
        .patch_status("sbc", &PatchParams::default(), &Patch::Merge(&status_patch))
        .await
        .unwrap();
    assert_eq!(after_status.spec.host, "10.0.0.1");
    assert_eq!(after_status.metadata.generation, Some(1));
    assert_eq!(
        after_status.status,
        Some(DeviceStatus {
            observed_generation: Some(1),
            ready: Some(true)
        })
    );

    // A main-resource write keeps the old status.
    let main = devices
        .patch(
            "sbc",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "host": "10.0.0.2" }, "status": { "ready": false } })),
        )
        .await
        .unwrap();
    assert_eq!(main.spec.host, "10.0.0.2");
    assert_eq!(main.status.as_ref().and_then(|s| s.ready), Some(true));
    assert_eq!(main.metadata.generation, Some(2));

    // PUT /status replaces status (absent fields go), nothing else.
    let mut whole = devices.get_status("sbc").await.unwrap();
    whole.spec.host = "also-ignored".into();
    whole.status = Some(DeviceStatus {
        observed_generation: Some(2),
        ready: None,
    });
    let replaced = devices
        .replace_status("sbc", &PostParams::default(), &whole)
        .await
        .unwrap();
    assert_eq!(replaced.spec.host, "10.0.0.2");
    assert_eq!(
        replaced.status,
        Some(DeviceStatus {
            observed_generation: Some(2),
            ready: None
        })
    );
    assert_eq!(server.count(Verb::Patch, "mediantdevices/status"), 1);
    assert_eq!(server.count(Verb::Update, "mediantdevices/status"), 1);
    assert_eq!(server.writes("mediantdevices"), 2, "create and one patch");
}

#[tokio::test]
async fn without_a_status_subresource_status_is_ordinary_content() {
    let server = ApiServer::start().await;
    server.register(ResourceType::custom::<MediantDevice>());
    let devices: Api<MediantDevice> = Api::namespaced(server.client(), NS);
    let mut new = device("sbc", "h");
    new.status = Some(DeviceStatus {
        observed_generation: None,
        ready: Some(true),
    });
    let created = devices.create(&PostParams::default(), &new).await.unwrap();
    assert_eq!(created.status.and_then(|s| s.ready), Some(true));
    let patched = devices
        .patch(
            "sbc",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": { "ready": false } })),
        )
        .await
        .unwrap();
    // copyNonMetadata: any change outside metadata bumps generation.
    assert_eq!(patched.metadata.generation, Some(2));
    let err = api_status(devices.get_status("sbc").await.unwrap_err());
    assert!(err.is_not_found());
}

// ------------------------------------------------------------- patches ---

#[tokio::test]
async fn merge_patch_follows_rfc_7386() {
    let (_server, client) = server_with_crd().await;
    let devices: Api<MediantDevice> = Api::namespaced(client, NS);
    let mut d = device("sbc", "h");
    d.spec.port = Some(80);
    d.metadata.labels = Some(
        [
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ]
        .into(),
    );
    devices.create(&PostParams::default(), &d).await.unwrap();
    let patched = devices
        .patch(
            "sbc",
            &PatchParams::default(),
            &Patch::Merge(json!({
                "metadata": { "labels": { "a": null, "c": "3" } },
                "spec": { "port": null }
            })),
        )
        .await
        .unwrap();
    let labels = patched.labels();
    assert_eq!(labels.get("a"), None);
    assert_eq!(labels.get("b").map(String::as_str), Some("2"));
    assert_eq!(labels.get("c").map(String::as_str), Some("3"));
    assert_eq!(patched.spec.port, None);
    assert_eq!(patched.spec.host, "h");
}

#[tokio::test]
async fn server_side_apply_creates_then_merges_and_honours_status_isolation() {
    let (server, client) = server_with_crd().await;
    let devices: Api<MediantDevice> = Api::namespaced(client.clone(), NS);
    let apply = PatchParams::apply("mediant-operator");
    let first = devices
        .patch(
            "sbc",
            &apply,
            &Patch::Apply(json!({
                "apiVersion": "mediant.io/v1alpha1",
                "kind": "MediantDevice",
                "spec": { "host": "10.0.0.1" },
                "status": { "ready": true }
            })),
        )
        .await
        .unwrap();
    assert_eq!(first.spec.host, "10.0.0.1");
    assert_eq!(first.metadata.generation, Some(1));
    assert_eq!(first.status, None, "status only through /status");

    let second = devices
        .patch(
            "sbc",
            &apply.clone().force(),
            &Patch::Apply(json!({
                "apiVersion": "mediant.io/v1alpha1",
                "kind": "MediantDevice",
                "spec": { "port": 8443 }
            })),
        )
        .await
        .unwrap();
    assert_eq!(second.spec.host, "10.0.0.1", "merged, not replaced");
    assert_eq!(second.spec.port, Some(8443));
    assert_eq!(second.metadata.generation, Some(2));

    let status = devices
        .patch_status(
            "sbc",
            &apply,
            &Patch::Apply(json!({
                "apiVersion": "mediant.io/v1alpha1",
                "kind": "MediantDevice",
                "status": { "observedGeneration": 2, "ready": true }
            })),
        )
        .await
        .unwrap();
    assert_eq!(
        status.status.as_ref().and_then(|s| s.observed_generation),
        Some(2)
    );
    assert_eq!(status.metadata.generation, Some(2));

    // Applying the same status again writes nothing.
    let again = devices
        .patch_status(
            "sbc",
            &apply,
            &Patch::Apply(json!({
                "apiVersion": "mediant.io/v1alpha1",
                "kind": "MediantDevice",
                "status": { "observedGeneration": 2, "ready": true }
            })),
        )
        .await
        .unwrap();
    assert_eq!(rv(&again), rv(&status));

    // Status apply of an absent object is NotFound, not a create.
    let absent = api_status(
        devices
            .patch_status(
                "nope",
                &apply,
                &Patch::Apply(json!({
                    "apiVersion": "mediant.io/v1alpha1",
                    "kind": "MediantDevice",
                    "status": { "ready": true }
                })),
            )
            .await
            .unwrap_err(),
    );
    assert!(absent.is_not_found());

    // Apply needs a field manager.
    let anonymous = api_status(
        devices
            .patch(
                "sbc",
                &PatchParams::default(),
                &Patch::Apply(
                    json!({ "apiVersion": "mediant.io/v1alpha1", "kind": "MediantDevice" }),
                ),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(anonymous.code, 422);
    assert!(
        anonymous.message.contains("fieldManager"),
        "{}",
        anonymous.message
    );

    // The HTTP answer for an apply that creates is 201, and YAML is accepted.
    let (code, body) = send(
        &client,
        "PATCH",
        "/apis/mediant.io/v1alpha1/namespaces/devices/mediantdevices/yaml-one?fieldManager=t",
        "application/apply-patch+yaml",
        "apiVersion: mediant.io/v1alpha1\nkind: MediantDevice\nspec:\n  host: from-yaml\n",
    )
    .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["spec"]["host"], "from-yaml");
    assert_eq!(server.count(Verb::Patch, "mediantdevices/status"), 3);
}

#[tokio::test]
async fn patch_types_a_resource_does_not_accept_are_refused() {
    let (_server, client) = server_with_crd().await;
    let devices: Api<MediantDevice> = Api::namespaced(client.clone(), NS);
    devices
        .create(&PostParams::default(), &device("sbc", "h"))
        .await
        .unwrap();
    // kube-apiserver has no strategic merge for custom resources.
    let strategic = api_status(
        devices
            .patch(
                "sbc",
                &PatchParams::default(),
                &Patch::Strategic(json!({ "spec": { "port": 1 } })),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(strategic.code, 415);
    assert_eq!(strategic.reason, "UnsupportedMediaType");

    // `force` is for apply only (kube checks this too, so send it raw).
    let (code, body) = send(
        &client,
        "PATCH",
        "/apis/mediant.io/v1alpha1/namespaces/devices/mediantdevices/sbc?force=true",
        "application/merge-patch+json",
        "{}",
    )
    .await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["reason"], "Invalid");
    let (code, _) = send(
        &client,
        "PATCH",
        "/apis/mediant.io/v1alpha1/namespaces/devices/mediantdevices/sbc",
        "text/plain",
        "{}",
    )
    .await;
    assert_eq!(code, 415);
}

#[tokio::test]
async fn json_patch_applies_and_a_failed_test_operation_is_invalid() {
    let (_server, client) = server_with_crd().await;
    let devices: Api<MediantDevice> = Api::namespaced(client, NS);
    devices
        .create(&PostParams::default(), &device("sbc", "h"))
        .await
        .unwrap();
    // The shape kube::runtime::finalizer sends to add a finalizer.
    let add: json_patch::Patch = serde_json::from_value(json!([
        { "op": "test", "path": "/metadata/finalizers", "value": null },
        { "op": "add", "path": "/metadata/finalizers", "value": ["mediant.io/cleanup"] }
    ]))
    .unwrap();
    let added = devices
        .patch(
            "sbc",
            &PatchParams::default(),
            &Patch::Json::<()>(add.clone()),
        )
        .await
        .unwrap();
    assert_eq!(added.finalizers(), ["mediant.io/cleanup".to_owned()]);
    // Replaying it fails its test operation: 422, object unchanged.
    let failed = api_status(
        devices
            .patch("sbc", &PatchParams::default(), &Patch::Json::<()>(add))
            .await
            .unwrap_err(),
    );
    assert_eq!(failed.code, 422);
    assert_eq!(devices.get("sbc").await.unwrap(), added);
}

// --------------------------------------------------------- concurrency ---

#[tokio::test]
async fn stale_resource_version_is_a_conflict() {
    let (_server, client) = server_with_crd().await;
    let devices: Api<MediantDevice> = Api::namespaced(client.clone(), NS);
    let created = devices
        .create(&PostParams::default(), &device("sbc", "h"))
        .await
        .unwrap();
    let mut first = created.clone();
    first.spec.port = Some(1);
    devices
        .replace("sbc", &PostParams::default(), &first)
        .await
        .unwrap();
    let mut stale = created.clone();
    stale.spec.port = Some(2);
    let conflict = api_status(
        devices
            .replace("sbc", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert!(conflict.is_conflict());
    assert_eq!(
        conflict.message,
        "Operation cannot be fulfilled on mediantdevices.mediant.io \"sbc\": the object has \
         been modified; please apply your changes to the latest version and try again"
    );
    // A merge patch carrying a resourceVersion is conditional too.
    let patch = json!({ "metadata": { "resourceVersion": created.resource_version() }, "spec": { "port": 3 } });
    let conflict = api_status(
        devices
            .patch("sbc", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_err(),
    );
    assert!(conflict.is_conflict());

    // Custom resources refuse unconditional updates; built-ins allow them.
    let mut unconditional = devices.get("sbc").await.unwrap();
    unconditional.metadata.resource_version = None;
    let invalid = api_status(
        devices
            .replace("sbc", &PostParams::default(), &unconditional)
            .await
            .unwrap_err(),
    );
    assert!(invalid.is_invalid());
    let cms: Api<ConfigMap> = Api::namespaced(client, NS);
    cms.create(&PostParams::default(), &config_map("c", &[]))
        .await
        .unwrap();
    cms.replace("c", &PostParams::default(), &config_map("c", &[("k", "v")]))
        .await
        .unwrap();
}

#[tokio::test]
async fn lease_create_and_replace_elect_a_single_holder() {
    let server = ApiServer::start().await;
    let leases: Api<Lease> = Api::namespaced(server.client(), "kube-system");
    let lease = |holder: &str| Lease {
        metadata: ObjectMeta {
            name: Some("mediant-operator".into()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            acquire_time: Some(MicroTime(Timestamp::now())),
            renew_time: Some(MicroTime(Timestamp::now())),
            ..LeaseSpec::default()
        }),
    };
    leases
        .create(&PostParams::default(), &lease("a"))
        .await
        .unwrap();
    let lost = api_status(
        leases
            .create(&PostParams::default(), &lease("b"))
            .await
            .unwrap_err(),
    );
    assert!(lost.is_already_exists());

    // Both replicas read the same version; only the first replace wins.
    let seen_by_a = leases.get("mediant-operator").await.unwrap();
    let seen_by_b = seen_by_a.clone();
    let mut renew = seen_by_a.clone();
    renew.spec.as_mut().unwrap().renew_time = Some(MicroTime(Timestamp::now()));
    let renewed = leases
        .replace("mediant-operator", &PostParams::default(), &renew)
        .await
        .unwrap();
    assert!(rv(&renewed) > rv(&seen_by_a));
    let mut takeover = seen_by_b;
    takeover.spec.as_mut().unwrap().holder_identity = Some("b".into());
    let conflict = api_status(
        leases
            .replace("mediant-operator", &PostParams::default(), &takeover)
            .await
            .unwrap_err(),
    );
    assert!(conflict.is_conflict());
    assert_eq!(conflict.code, 409);
    let holder = leases.get("mediant-operator").await.unwrap();
    assert_eq!(holder.spec.unwrap().holder_identity.as_deref(), Some("a"));
    assert_eq!(server.count(Verb::Update, "leases"), 2);
}

// -------------------------------------------------------- list & watch ---

#[tokio::test]
async fn list_filters_by_label_and_field_selectors() {
    let server = ApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    for (name, tier) in [("a", "web"), ("b", "db"), ("c", "web")] {
        let mut cm = config_map(name, &[]);
        cm.metadata.labels = Some([("tier".to_owned(), tier.to_owned())].into());
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    cms.create(&PostParams::default(), &config_map("d", &[]))
        .await
        .unwrap();
    let names = |list: kube::core::ObjectList<ConfigMap>| -> Vec<String> {
        list.items.iter().map(ResourceExt::name_any).collect()
    };
    let web = cms
        .list(&ListParams::default().labels("tier=web"))
        .await
        .unwrap();
    assert_eq!(names(web), ["a", "c"]);
    let not_web = cms
        .list(&ListParams::default().labels("tier!=web"))
        .await
        .unwrap();
    assert_eq!(names(not_web), ["b", "d"], "!= matches unlabelled objects");
    let set = cms
        .list(&ListParams::default().labels("tier in (db, web),tier notin (web)"))
        .await
        .unwrap();
    assert_eq!(names(set), ["b"]);
    let unlabelled = cms
        .list(&ListParams::default().labels("!tier"))
        .await
        .unwrap();
    assert_eq!(names(unlabelled), ["d"]);
    let by_name = cms
        .list(&ListParams::default().fields("metadata.name=c"))
        .await
        .unwrap();
    assert_eq!(names(by_name), ["c"]);
    let other_ns: Api<ConfigMap> = Api::namespaced(server.client(), "elsewhere");
    assert!(
        other_ns
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let everywhere: Api<ConfigMap> = Api::all(server.client());
    assert_eq!(
        everywhere
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        4
    );

    let bad_field = api_status(
        cms.list(&ListParams::default().fields("data.x=1"))
            .await
            .unwrap_err(),
    );
    assert_eq!(bad_field.code, 400);
    assert_eq!(bad_field.message, "field label not supported: data.x");
}

#[tokio::test]
async fn list_pages_are_one_consistent_snapshot() {
    let server = ApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    for name in ["a", "b", "c", "d", "e"] {
        cms.create(&PostParams::default(), &config_map(name, &[]))
            .await
            .unwrap();
    }
    let first = cms.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.metadata.remaining_item_count, Some(3));
    let token = first.metadata.continue_.clone().unwrap();
    // Changes after the first page do not show in later pages.
    cms.delete("c", &DeleteParams::default()).await.unwrap();
    cms.create(&PostParams::default(), &config_map("f", &[]))
        .await
        .unwrap();
    let second = cms
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    let names: Vec<String> = second.items.iter().map(ResourceExt::name_any).collect();
    assert_eq!(names, ["c", "d"]);
    assert_eq!(
        second.metadata.resource_version,
        first.metadata.resource_version
    );
    let third = cms
        .list(
            &ListParams::default()
                .limit(2)
                .continue_token(second.metadata.continue_.as_deref().unwrap()),
        )
        .await
        .unwrap();
    let names: Vec<String> = third.items.iter().map(ResourceExt::name_any).collect();
    assert_eq!(names, ["e"]);
    assert_eq!(third.metadata.continue_, None);

    // After compaction the old snapshot is gone: 410.
    server.compact();
    let expired = api_status(
        cms.list(&ListParams::default().limit(2).continue_token(&token))
            .await
            .unwrap_err(),
    );
    assert_eq!(expired.code, 410);
    assert_eq!(expired.reason, "Expired");
}

#[tokio::test]
async fn watcher_lists_then_watches_added_modified_deleted() {
    let server = ApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    cms.create(&PostParams::default(), &config_map("existing", &[]))
        .await
        .unwrap();
    let mut events = pin!(watcher::watcher(cms.clone(), watcher::Config::default()));
    assert!(matches!(next(&mut events).await.unwrap(), Event::Init));
    match next(&mut events).await.unwrap() {
        Event::InitApply(cm) => assert_eq!(cm.name_any(), "existing"),
        other => panic!("expected InitApply, got {other:?}"),
    }
    assert!(matches!(next(&mut events).await.unwrap(), Event::InitDone));

    // The watch is open once the watcher polls again; writes from another
    // task land while it waits.
    let writer = cms.clone();
    let writes = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        writer
            .create(&PostParams::default(), &config_map("new", &[("k", "1")]))
            .await
            .unwrap();
        writer
            .patch(
                "new",
                &PatchParams::default(),
                &Patch::Merge(json!({ "data": { "k": "2" } })),
            )
            .await
            .unwrap();
        writer
            .delete("new", &DeleteParams::default())
            .await
            .unwrap();
    });
    match next(&mut events).await.unwrap() {
        Event::Apply(cm) => assert_eq!(cm.data.unwrap()["k"], "1"),
        other => panic!("expected Apply (ADDED), got {other:?}"),
    }
    match next(&mut events).await.unwrap() {
        Event::Apply(cm) => assert_eq!(cm.data.unwrap()["k"], "2"),
        other => panic!("expected Apply (MODIFIED), got {other:?}"),
    }
    match next(&mut events).await.unwrap() {
        Event::Delete(cm) => assert_eq!(cm.name_any(), "new"),
        other => panic!("expected Delete, got {other:?}"),
    }
    writes.await.unwrap();
    assert_eq!(server.count(Verb::List, "configmaps"), 1);
    assert_eq!(server.count(Verb::Watch, "configmaps"), 1);
}

#[tokio::test]
async fn streaming_list_watcher_gets_initial_events_and_the_end_bookmark() {
    let server = ApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    for name in ["a", "b"] {
        cms.create(&PostParams::default(), &config_map(name, &[]))
            .await
            .unwrap();
    }
    let mut events = pin!(watcher::watcher(
        cms.clone(),
        watcher::Config::default().streaming_lists()
    ));
    assert!(matches!(next(&mut events).await.unwrap(), Event::Init));
    let mut initial = Vec::new();
    loop {
        match next(&mut events).await.unwrap() {
            Event::InitApply(cm) => initial.push(cm.name_any()),
            Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(initial, ["a", "b"]);
    assert_eq!(server.count(Verb::List, "configmaps"), 0, "no list call");
    assert_eq!(server.count(Verb::Watch, "configmaps"), 1);
}

#[tokio::test]
async fn raw_watch_resumes_from_a_version_and_follows_selectors() {
    let server = ApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    let start = server.resource_version().to_string();
    let mut labelled = config_map("web", &[]);
    labelled.metadata.labels = Some([("tier".to_owned(), "web".to_owned())].into());
    cms.create(&PostParams::default(), &labelled).await.unwrap();
    cms.create(&PostParams::default(), &config_map("other", &[]))
        .await
        .unwrap();
    let relabel = |tier: &str| Patch::Merge(json!({ "metadata": { "labels": { "tier": tier } } }));
    cms.patch("web", &PatchParams::default(), &relabel("db"))
        .await
        .unwrap();
    cms.patch("web", &PatchParams::default(), &relabel("web"))
        .await
        .unwrap();
    cms.delete("web", &DeleteParams::default()).await.unwrap();

    // Replayed from history: leaving the selector reads as DELETED,
    // entering it as ADDED.
    let stream = cms
        .watch(
            &WatchParams::default().labels("tier=web").timeout(2),
            &start,
        )
        .await
        .unwrap();
    let mut stream = pin!(stream);
    let mut seen = Vec::new();
    for _ in 0..4 {
        let kind = match next(&mut stream).await.unwrap() {
            WatchEvent::Added(cm) => format!("ADDED {}", cm.name_any()),
            WatchEvent::Modified(cm) => format!("MODIFIED {}", cm.name_any()),
            WatchEvent::Deleted(cm) => format!("DELETED {}", cm.name_any()),
            other => format!("{other:?}"),
        };
        seen.push(kind);
    }
    assert_eq!(
        seen,
        ["ADDED web", "DELETED web", "ADDED web", "DELETED web"]
    );
}

#[tokio::test]
async fn watch_timeout_seconds_ends_the_stream() {
    let server = ApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    cms.create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    let began = Instant::now();
    let stream = cms
        .watch(&WatchParams::default().timeout(1), "0")
        .await
        .unwrap();
    let events: Vec<_> = tokio::time::timeout(TIMEOUT, stream.collect::<Vec<_>>())
        .await
        .expect("the server ends the watch");
    let elapsed = began.elapsed();
    // resourceVersion=0 starts with the current state as ADDED events.
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0], Ok(WatchEvent::Added(_))));
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
}

#[tokio::test]
async fn a_compacted_resource_version_gets_410_gone() {
    let server = ApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    let old = server.resource_version().to_string();
    cms.create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    server.compact();
    let stream = cms.watch(&WatchParams::default(), &old).await.unwrap();
    let mut stream = pin!(stream);
    match next(&mut stream).await.unwrap() {
        WatchEvent::Error(status) => {
            assert_eq!(status.code, 410);
            assert_eq!(status.reason, "Expired");
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    assert!(
        tokio::time::timeout(TIMEOUT, stream.next())
            .await
            .unwrap()
            .is_none(),
        "the watch closes after the error"
    );
    // The current version is still watchable.
    let current = server.resource_version().to_string();
    let fresh = cms
        .watch(&WatchParams::default().timeout(1), &current)
        .await
        .unwrap();
    let events: Vec<_> = fresh.collect().await;
    assert!(events.is_empty());
}

#[tokio::test]
async fn watcher_relists_after_its_resource_version_is_compacted() {
    let server = ApiServer::start().await;
    let client = server.client();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    cms.create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    let mut events = pin!(watcher::watcher(
        cms.clone(),
        watcher::Config::default().timeout(1)
    ));
    assert!(matches!(next(&mut events).await.unwrap(), Event::Init));
    assert!(matches!(
        next(&mut events).await.unwrap(),
        Event::InitApply(_)
    ));
    assert!(matches!(next(&mut events).await.unwrap(), Event::InitDone));
    // Writes elsewhere move the global resourceVersion past the watcher's
    // (no periodic bookmarks), then history is compacted: when the 1 s
    // watch ends and resumes from the old version it gets 410 and relists.
    let secrets: Api<Secret> = Api::namespaced(client, NS);
    let mut s = Secret::default();
    s.metadata.name = Some("elsewhere".into());
    secrets.create(&PostParams::default(), &s).await.unwrap();
    server.compact();
    let mut saw_error = false;
    loop {
        match next(&mut events).await {
            Err(_) => saw_error = true,
            Ok(Event::Init) => break,
            Ok(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(saw_error, "the 410 surfaces as a watcher error");
    assert!(matches!(
        next(&mut events).await.unwrap(),
        Event::InitApply(_)
    ));
    assert!(matches!(next(&mut events).await.unwrap(), Event::InitDone));
    assert_eq!(server.count(Verb::List, "configmaps"), 2);
}

#[tokio::test]
async fn a_kube_runtime_controller_converges_then_stops_writing() {
    struct Ctx {
        api: Api<MediantDevice>,
    }
    async fn reconcile(dev: Arc<MediantDevice>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
        let generation = dev.metadata.generation;
        if dev.status.as_ref().and_then(|s| s.observed_generation) != generation {
            let status = json!({
                "apiVersion": "mediant.io/v1alpha1",
                "kind": "MediantDevice",
                "status": { "observedGeneration": generation, "ready": true }
            });
            ctx.api
                .patch_status(
                    &dev.name_any(),
                    &PatchParams::apply("test-controller"),
                    &Patch::Apply(status),
                )
                .await?;
        }
        Ok(Action::requeue(Duration::from_millis(50)))
    }
    fn error_policy(_: Arc<MediantDevice>, _: &kube::Error, _: Arc<Ctx>) -> Action {
        Action::requeue(Duration::from_millis(50))
    }

    let (server, client) = server_with_crd().await;
    let devices: Api<MediantDevice> = Api::namespaced(client, NS);
    devices
        .create(&PostParams::default(), &device("sbc", "h"))
        .await
        .unwrap();
    let controller = Controller::new(devices.clone(), watcher::Config::default())
        .run(
            reconcile,
            error_policy,
            Arc::new(Ctx {
                api: devices.clone(),
            }),
        )
        .for_each(|_| async {});
    let running = tokio::spawn(controller);
    let observed = |server: &ApiServer| {
        server
            .get::<MediantDevice>(Some(NS), "sbc")
            .and_then(|d| d.status)
            .and_then(|s| s.observed_generation)
    };
    wait_until("observedGeneration 1", || observed(&server) == Some(1)).await;
    // Several requeues later there is still exactly one status write.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(server.writes("mediantdevices/status"), 1);
    devices
        .patch(
            "sbc",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "port": 8443 } })),
        )
        .await
        .unwrap();
    wait_until("observedGeneration 2", || observed(&server) == Some(2)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(server.writes("mediantdevices/status"), 2);
    assert!(server.count(Verb::Watch, "mediantdevices") >= 1);
    running.abort();
}

#[tokio::test]
async fn stopping_the_server_ends_open_watches() {
    let server = ApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    let stream = cms.watch(&WatchParams::default(), "0").await.unwrap();
    server.stop().await;
    let ended = tokio::time::timeout(TIMEOUT, stream.collect::<Vec<_>>()).await;
    assert!(ended.is_ok(), "the watch ends when the server stops");
}

// ---------------------------------------------------------- finalizers ---

#[tokio::test]
async fn finalizers_hold_deletion_until_the_last_one_is_removed() {
    let (server, client) = server_with_crd().await;
    let devices: Api<MediantDevice> = Api::namespaced(client, NS);
    let mut d = device("sbc", "h");
    d.metadata.finalizers = Some(vec!["mediant.io/cleanup".into()]);
    let created = devices.create(&PostParams::default(), &d).await.unwrap();
    let from = created.resource_version().unwrap();
    let stream = devices
        .watch(&WatchParams::default().timeout(3), &from)
        .await
        .unwrap();
    let mut stream = pin!(stream);

    let pending = devices
        .delete("sbc", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .expect("the object stays while finalizers remain");
    assert!(pending.metadata.deletion_timestamp.is_some());
    assert_eq!(
        pending.metadata.generation,
        Some(2),
        "deletion bumps generation"
    );
    // Deleting again changes nothing.
    let again = devices
        .delete("sbc", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert_eq!(rv(&again), rv(&pending));
    // No new finalizers once deletion started.
    let refused = api_status(
        devices
            .patch(
                "sbc",
                &PatchParams::default(),
                &Patch::Merge(
                    json!({ "metadata": { "finalizers": ["mediant.io/cleanup", "other/x"] } }),
                ),
            )
            .await
            .unwrap_err(),
    );
    assert!(refused.is_invalid());
    assert!(devices.get("sbc").await.is_ok());

    // Removing the last finalizer deletes the object.
    let remove: json_patch::Patch = serde_json::from_value(json!([
        { "op": "test", "path": "/metadata/finalizers/0", "value": "mediant.io/cleanup" },
        { "op": "remove", "path": "/metadata/finalizers/0" }
    ]))
    .unwrap();
    devices
        .patch("sbc", &PatchParams::default(), &Patch::Json::<()>(remove))
        .await
        .unwrap();
    assert!(api_status(devices.get("sbc").await.unwrap_err()).is_not_found());
    assert!(server.get::<MediantDevice>(Some(NS), "sbc").is_none());

    match next(&mut stream).await.unwrap() {
        WatchEvent::Modified(dev) => assert!(dev.metadata.deletion_timestamp.is_some()),
        other => panic!("expected MODIFIED, got {other:?}"),
    }
    match next(&mut stream).await.unwrap() {
        WatchEvent::Deleted(dev) => assert!(dev.finalizers().is_empty()),
        other => panic!("expected DELETED, got {other:?}"),
    }
}

#[tokio::test]
async fn delete_preconditions_are_checked() {
    let server = ApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    let cm = cms
        .create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    let wrong = DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: Some("not-the-uid".into()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    let conflict = api_status(cms.delete("a", &wrong).await.unwrap_err());
    assert!(conflict.is_conflict());
    let right = DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: cm.metadata.uid.clone(),
            resource_version: cm.metadata.resource_version.clone(),
        }),
        ..DeleteParams::default()
    };
    assert!(cms.delete("a", &right).await.unwrap().is_right());
}

// ---------------------------------------------------------------- misc ---

#[tokio::test]
async fn recorder_events_go_to_events_k8s_io_and_repeat_as_a_series() {
    let (server, client) = server_with_crd().await;
    let devices: Api<MediantDevice> = Api::namespaced(client.clone(), NS);
    let dev = devices
        .create(&PostParams::default(), &device("sbc", "h"))
        .await
        .unwrap();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "mediant-operator".into(),
            instance: None,
        },
    );
    let event = RecorderEvent {
        type_: EventType::Normal,
        reason: "Applied".into(),
        note: Some("2 parameters changed".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    let reference = dev.object_ref(&());
    recorder.publish(&event, &reference).await.unwrap();
    recorder.publish(&event, &reference).await.unwrap();
    assert_eq!(server.count(Verb::Create, "events"), 1);
    assert_eq!(server.count(Verb::Patch, "events"), 1);
    let stored: Vec<K8sEvent> = server.list(Some(NS));
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].reason.as_deref(), Some("Applied"));
    assert_eq!(stored[0].series.as_ref().map(|s| s.count), Some(2));
    let regarding = stored[0].regarding.as_ref().unwrap();
    assert_eq!(regarding.kind.as_deref(), Some("MediantDevice"));
}

#[tokio::test]
async fn metadata_only_requests_get_partial_object_metadata() {
    let server = ApiServer::start().await;
    let secrets: Api<Secret> = Api::namespaced(server.client(), NS);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("creds".into()),
            labels: Some([("app".to_owned(), "sbc".to_owned())].into()),
            ..ObjectMeta::default()
        },
        string_data: Some([("password".to_owned(), "hidden".to_owned())].into()),
        ..Secret::default()
    };
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let meta = secrets.get_metadata("creds").await.unwrap();
    assert_eq!(
        meta.types.as_ref().map(|t| t.kind.as_str()),
        Some("PartialObjectMetadata")
    );
    assert_eq!(meta.labels().get("app").map(String::as_str), Some("sbc"));
    let list = secrets.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    // The body carries no data: check it raw.
    let (code, body) = send(
        &server.client(),
        "GET",
        "/api/v1/namespaces/devices/secrets/creds",
        "application/json",
        "",
    )
    .await;
    assert_eq!(code, 200);
    assert!(body.get("data").is_some(), "a plain GET has data");
    let request = http::Request::get("/api/v1/namespaces/devices/secrets/creds")
        .header(
            http::header::ACCEPT,
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
        )
        .body(Vec::new())
        .unwrap();
    let partial: Value = server.client().request(request).await.unwrap();
    assert_eq!(partial.get("data"), None);
}

#[tokio::test]
async fn dry_run_answers_without_storing() {
    let server = ApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    let before = server.resource_version();
    let answer = cms
        .create(
            &PostParams {
                dry_run: true,
                ..PostParams::default()
            },
            &config_map("a", &[]),
        )
        .await
        .unwrap();
    assert_eq!(answer.name_any(), "a");
    assert_eq!(server.resource_version(), before);
    assert!(cms.get_opt("a").await.unwrap().is_none());
}

#[tokio::test]
async fn malformed_requests_get_status_errors() {
    let (_server, client) = server_with_crd().await;
    let (code, body) = send(
        &client,
        "POST",
        "/api/v1/namespaces/devices/configmaps",
        "application/json",
        "{not json",
    )
    .await;
    assert_eq!((code, body["reason"].as_str()), (400, Some("BadRequest")));
    let (code, body) = send(
        &client,
        "POST",
        "/apis/mediant.io/v1alpha1/namespaces/devices/mediantdevices",
        "application/json",
        r#"{"apiVersion":"mediant.io/v1alpha1","kind":"MediantDevice","metadata":{"name":"x"},"spec":{"port":"not a number"}}"#,
    )
    .await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (422, Some("Invalid")),
        "{body}"
    );
    let (code, body) = send(
        &client,
        "POST",
        "/apis/mediant.io/v1alpha1/namespaces/devices/mediantdevices",
        "application/json",
        r#"{"apiVersion":"mediant.io/v1","kind":"MediantDevice","metadata":{"name":"x"},"spec":{"host":"h"}}"#,
    )
    .await;
    assert_eq!(code, 400, "{body}");
    let (code, body) = send(
        &client,
        "GET",
        "/apis/unknown.io/v1/widgets",
        "application/json",
        "",
    )
    .await;
    assert_eq!((code, body["reason"].as_str()), (404, Some("NotFound")));
    let (code, _) = send(&client, "GET", "/api", "application/json", "").await;
    assert_eq!(code, 404, "no discovery");
    let (code, body) = send(
        &client,
        "POST",
        "/api/v1/configmaps",
        "application/json",
        r#"{"metadata":{"name":"x"}}"#,
    )
    .await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (405, Some("MethodNotAllowed"))
    );
    let (code, body) = send(
        &client,
        "POST",
        "/api/v1/namespaces/devices/configmaps",
        "application/json",
        r#"{"metadata":{"name":"x","namespace":"other"}}"#,
    )
    .await;
    assert_eq!(code, 400, "{body}");
}

#[tokio::test]
async fn request_log_counts_verbs_per_resource() {
    let (server, client) = server_with_crd().await;
    let devices: Api<MediantDevice> = Api::namespaced(client, NS);
    devices
        .create(&PostParams::default(), &device("sbc", "h"))
        .await
        .unwrap();
    server.clear_requests();
    devices.get("sbc").await.unwrap();
    devices.list(&ListParams::default()).await.unwrap();
    let no_op = json!({ "spec": { "host": "h" } });
    devices
        .patch("sbc", &PatchParams::default(), &Patch::Merge(&no_op))
        .await
        .unwrap();
    devices.get("missing").await.unwrap_err();
    assert_eq!(server.count(Verb::Get, "mediantdevices"), 2);
    assert_eq!(server.count(Verb::List, "mediantdevices"), 1);
    // A request is counted even when it changes nothing.
    assert_eq!(server.writes("mediantdevices"), 1);
    assert_eq!(server.writes("mediantdevices/status"), 0);
    let log = server.requests();
    assert_eq!(log.len(), 4);
    assert_eq!(log[3].code, 404);
    assert_eq!(
        log[2].patch_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(log[0].namespace.as_deref(), Some(NS));
    assert_eq!(log[0].name.as_deref(), Some("sbc"));
}

#[tokio::test]
async fn direct_access_seeds_and_changes_objects_that_clients_see() {
    let (server, client) = server_with_crd().await;
    let devices: Api<MediantDevice> = Api::namespaced(client, NS);
    let mut seeded = device("sbc", "h");
    seeded.status = Some(DeviceStatus {
        observed_generation: Some(1),
        ready: Some(true),
    });
    let stored = server.insert(&seeded).unwrap();
    assert_eq!(stored.metadata.generation, Some(1));
    assert_eq!(stored.status, seeded.status, "insert keeps status");
    let from = stored.resource_version().unwrap();
    let stream = devices
        .watch(&WatchParams::default().timeout(2), &from)
        .await
        .unwrap();
    let mut stream = pin!(stream);
    let changed = server
        .modify::<MediantDevice>(Some(NS), "sbc", |d| d.spec.host = "edited".into())
        .unwrap();
    assert_eq!(changed.metadata.generation, Some(2));
    match next(&mut stream).await.unwrap() {
        WatchEvent::Modified(d) => assert_eq!(d.spec.host, "edited"),
        other => panic!("expected MODIFIED, got {other:?}"),
    }
    assert_eq!(devices.get("sbc").await.unwrap().spec.host, "edited");
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.verb == Verb::Watch || r.verb == Verb::Get)
    );

    // A malformed object can be seeded; clients then fail to decode it.
    server
        .insert_value(json!({
            "apiVersion": "mediant.io/v1alpha1",
            "kind": "MediantDevice",
            "metadata": { "name": "broken", "namespace": NS },
            "spec": { "port": "x" }
        }))
        .unwrap();
    assert!(matches!(
        devices.get("broken").await.unwrap_err(),
        kube::Error::SerdeError(_)
    ));
    let raw = server
        .get_value(&ResourceKey::of::<MediantDevice>(), Some(NS), "broken")
        .unwrap();
    assert_eq!(raw["spec"]["port"], "x");
    assert!(server.delete::<MediantDevice>(Some(NS), "broken").unwrap());
    assert_eq!(server.list::<MediantDevice>(Some(NS)).len(), 1);
}
