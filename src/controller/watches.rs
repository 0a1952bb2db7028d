//! Which resources a changed Secret, ConfigMap or MediantDevice concerns:
//! those in the same namespace whose spec names it (credentials,
//! configuration text, CA bundle, `deviceRef`). Pure, over the controller's
//! cache of resources.

use std::sync::Arc;

use kube::ResourceExt;
use kube::core::DeserializeGuard;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::api::{MediantDevice, MediantDeviceSpec, SourceRef};
use crate::plan::{Kind, MediantDeviceKind, Target};

/// The cached form of a device: malformed objects are kept, not dropped.
pub type Guarded = DeserializeGuard<MediantDevice>;

/// Whether `spec` names Secret `name` (credentials or CA bundle).
pub fn names_secret(spec: &MediantDeviceSpec, name: &str) -> bool {
    spec.credentials_secret_ref.name == name
        || spec
            .tls
            .as_ref()
            .and_then(|t| t.ca_bundle.as_ref())
            .and_then(|c| c.secret_key_ref.as_ref())
            .is_some_and(|r| r.name == name)
}

/// Whether `spec` takes its CA bundle from ConfigMap `name`.
pub fn names_ca_config_map(spec: &MediantDeviceSpec, name: &str) -> bool {
    spec.tls
        .as_ref()
        .and_then(|t| t.ca_bundle.as_ref())
        .and_then(|c| c.config_map_key_ref.as_ref())
        .is_some_and(|r| r.name == name)
}

/// Whether `resource` of kind `K` names (`deviceRef`) one of `devices`.
pub fn names_one_of<K: Kind>(resource: &K::Resource, devices: &[String]) -> bool {
    matches!(K::target(resource), Target::Named(n) if devices.iter().any(|d| d == n))
}

/// Whether `spec` names ConfigMap `name` (configuration text or CA bundle).
pub fn names_config_map(spec: &MediantDeviceSpec, name: &str) -> bool {
    let in_config = spec
        .references()
        .iter()
        .any(|r| matches!(r, SourceRef::ConfigMap(c) if c.name == name));
    in_config || names_ca_config_map(spec, name)
}

/// The devices among `devices` in `namespace` whose spec satisfies `names`.
pub fn devices_naming<'a>(
    devices: impl IntoIterator<Item = &'a Arc<Guarded>>,
    namespace: Option<&str>,
    names: impl Fn(&MediantDeviceSpec) -> bool,
) -> Vec<ObjectRef<Guarded>> {
    devices
        .into_iter()
        .filter(|d| d.namespace().as_deref() == namespace)
        .filter(|d| d.0.as_ref().is_ok_and(|device| names(&device.spec)))
        .map(|d| ObjectRef::from(d.as_ref()))
        .collect()
}

/// Whether `resource` of kind `K` names Secret `name`: among its own
/// texts, or (when it is the device, or names an external target) as
/// credentials or CA bundle.
pub fn kind_names_secret<K: Kind>(resource: &K::Resource, name: &str) -> bool {
    let own = K::references(resource)
        .iter()
        .any(|r| matches!(r, SourceRef::Secret(s) if s.name == name));
    own || matches!(K::target(resource), Target::Itself(d) if names_secret(&d.spec, name))
        || matches!(K::target(resource), Target::External(e) if e.names_secret(name))
}

/// Whether `resource` of kind `K` names ConfigMap `name`.
pub fn kind_names_config_map<K: Kind>(resource: &K::Resource, name: &str) -> bool {
    let own = K::references(resource)
        .iter()
        .any(|r| matches!(r, SourceRef::ConfigMap(c) if c.name == name));
    own || matches!(K::target(resource), Target::Itself(d) if names_config_map(&d.spec, name))
        || matches!(K::target(resource), Target::External(e) if e.names_config_map(name))
}

/// Whether `resource` of kind `K` configures the MediantDevice `name`
/// through its `deviceRef`.
pub fn kind_names_device<K: Kind>(resource: &K::Resource, name: &str) -> bool {
    matches!(K::target(resource), Target::Named(n) if n == name)
}

/// The resources of kind `K` in `store` and `namespace` that `names` holds for.
pub fn naming<K: Kind>(
    store: &Store<DeserializeGuard<K::Resource>>,
    namespace: Option<&str>,
    names: impl Fn(&K::Resource) -> bool,
) -> Vec<ObjectRef<DeserializeGuard<K::Resource>>> {
    store
        .state()
        .iter()
        .filter(|r| r.namespace().as_deref() == namespace)
        .filter(|r| r.0.as_ref().is_ok_and(&names))
        .map(|r| ObjectRef::from(r.as_ref()))
        .collect()
}

/// The devices a change of Secret `namespace/name` concerns.
pub fn for_secret(
    store: &Store<Guarded>,
    namespace: Option<&str>,
    name: &str,
) -> Vec<ObjectRef<Guarded>> {
    naming::<MediantDeviceKind>(store, namespace, |d| {
        kind_names_secret::<MediantDeviceKind>(d, name)
    })
}

/// The devices a change of ConfigMap `namespace/name` concerns.
pub fn for_config_map(
    store: &Store<Guarded>,
    namespace: Option<&str>,
    name: &str,
) -> Vec<ObjectRef<Guarded>> {
    naming::<MediantDeviceKind>(store, namespace, |d| {
        kind_names_config_map::<MediantDeviceKind>(d, name)
    })
}

/// What a kind that names a device (`deviceRef`) reads of it: the spec
/// (endpoint, credentials, reset policy, window), the annotations (pause)
/// and whether it is being deleted. Never its status: the device's own
/// status writes (a `retryAt` per failure, a heartbeat) must not trigger
/// its dependents, or each device failure would retry them early, before
/// the `retryAt` they announced.
#[derive(Debug, Clone, PartialEq)]
struct Followed {
    uid: Option<String>,
    generation: Option<i64>,
    annotations: std::collections::BTreeMap<String, String>,
    deleting: bool,
    spec: MediantDeviceSpec,
}

impl Followed {
    fn of(device: &MediantDevice) -> Self {
        Self {
            uid: device.metadata.uid.clone(),
            generation: device.metadata.generation,
            annotations: device.annotations().clone(),
            deleting: device.metadata.deletion_timestamp.is_some(),
            spec: device.spec.clone(),
        }
    }
}

/// The devices the dependents of one kind follow, as last seen by its
/// device watch: decides which device events concern them, and which
/// device names a changed Secret or ConfigMap (a device's credentials)
/// concerns.
#[derive(Debug, Default)]
pub struct FollowedDevices {
    // Poisoning only means a mapper panicked mid-insert; the map is still
    // a valid cache (at worst one stale entry, refreshed by the next event).
    seen: std::sync::Mutex<std::collections::HashMap<(String, String), Followed>>,
}

impl FollowedDevices {
    /// Records `device`; whether what its dependents read of it differs
    /// from the last sighting (always, for a device seen first).
    pub fn changed(&self, device: &MediantDevice) -> bool {
        let key = (device.namespace().unwrap_or_default(), device.name_any());
        let now = Followed::of(device);
        let mut seen = crate::sync::lock(&self.seen);
        let same = seen.get(&key) == Some(&now);
        seen.insert(key, now);
        !same
    }

    /// The names of the devices in `namespace` whose spec satisfies `names`.
    pub fn naming(
        &self,
        namespace: Option<&str>,
        names: impl Fn(&MediantDeviceSpec) -> bool,
    ) -> Vec<String> {
        let namespace = namespace.unwrap_or_default();
        crate::sync::lock(&self.seen)
            .iter()
            .filter(|((ns, _), d)| ns == namespace && names(&d.spec))
            .map(|((_, name), _)| name.clone())
            .collect()
    }
}

/// The resourceVersion of each Secret or ConfigMap one kind's watch
/// delivered last, when the controller may be rebuilt (cert-manager missing
/// at start): the rebuilt controller's watch delivers every object once
/// more, and an unchanged one must not trigger its dependents (it would cut
/// their backoff short and look at every device again). Every delivered
/// object is kept — one that concerned nothing when first delivered (the
/// cache not filled yet) may concern resources by the rebuild — so it costs
/// one short entry per Secret or ConfigMap in the watched scope; without a
/// possible rebuild nothing is kept and every delivery counts as a change.
/// At most [`SeenVersions::CAPACITY`] objects are kept (the map never
/// learns of deletions, and a cluster without cert-manager may churn
/// Secrets for months): beyond it, a new object is not remembered and costs
/// at most one extra reconciliation of what names it at the rebuild.
#[derive(Debug, Default)]
pub struct SeenVersions {
    /// Whether deliveries are remembered at all.
    remember: bool,
    // Poisoning only means a mapper panicked mid-insert; at worst one
    // entry is stale, which costs one extra reconciliation.
    seen: std::sync::Mutex<std::collections::HashMap<(String, String), String>>,
}

impl SeenVersions {
    /// The most objects remembered (about 2 MB of names and versions).
    pub const CAPACITY: usize = 16_384;

    /// Remembering deliveries (`remember`), or not.
    pub fn new(remember: bool) -> Self {
        SeenVersions {
            remember,
            seen: Default::default(),
        }
    }

    /// Records `resource_version` of `namespace/name`; whether it differs
    /// from the last one recorded (always when not remembering, for an
    /// object seen first, or without a resourceVersion).
    pub fn changed(&self, namespace: &str, name: &str, resource_version: Option<&str>) -> bool {
        let (true, Some(rv)) = (self.remember, resource_version) else {
            return true;
        };
        let key = (namespace.to_owned(), name.to_owned());
        let mut seen = crate::sync::lock(&self.seen);
        let same = seen.get(&key).is_some_and(|v| v == rv);
        if !same && (seen.len() < Self::CAPACITY || seen.contains_key(&key)) {
            seen.insert(key, rv.to_owned());
        }
        !same
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{
        CaBundleKeyRef, CaBundleSource, ConfigMapKeyRef, IniSpec, MediantDeviceSpec, TlsSpec,
    };
    use kube::core::ObjectMeta;

    fn device(ns: &str, name: &str, spec: MediantDeviceSpec) -> Arc<Guarded> {
        let mut d = MediantDevice::new(name, spec);
        d.metadata = ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            ..ObjectMeta::default()
        };
        Arc::new(DeserializeGuard(Ok(d)))
    }

    fn names(refs: Vec<ObjectRef<Guarded>>) -> Vec<String> {
        refs.into_iter().map(|r| r.name).collect()
    }

    #[test]
    fn a_source_delivered_again_unchanged_is_not_a_change() {
        let seen = SeenVersions::new(true);
        assert!(seen.changed("a", "creds", Some("5")), "seen first");
        assert!(!seen.changed("a", "creds", Some("5")), "delivered again");
        assert!(seen.changed("b", "creds", Some("5")), "another namespace");
        assert!(seen.changed("a", "creds", Some("6")), "changed");
        assert!(!seen.changed("a", "creds", Some("6")));
        assert!(seen.changed("a", "creds", None), "no version: a change");
        let forgetful = SeenVersions::new(false);
        assert!(forgetful.changed("a", "creds", Some("5")));
        assert!(forgetful.changed("a", "creds", Some("5")), "not remembered");
    }

    #[test]
    fn at_capacity_new_sources_are_not_remembered_but_known_ones_still_are() {
        let seen = SeenVersions::new(true);
        for i in 0..SeenVersions::CAPACITY {
            assert!(seen.changed("a", &format!("s{i}"), Some("1")));
        }
        assert!(seen.changed("a", "late", Some("1")));
        assert!(
            seen.changed("a", "late", Some("1")),
            "beyond capacity: not kept"
        );
        assert!(seen.changed("a", "s0", Some("2")), "a known one changes");
        assert!(
            !seen.changed("a", "s0", Some("2")),
            "and is still remembered"
        );
    }

    #[test]
    fn a_secret_maps_to_the_devices_of_its_namespace_that_name_it() {
        let mut with_ca = MediantDeviceSpec::new("https://b", "other");
        with_ca.tls = Some(TlsSpec {
            ca_bundle: Some(CaBundleSource {
                secret_key_ref: Some(CaBundleKeyRef {
                    name: "creds".into(),
                    key: "ca.crt".into(),
                }),
                config_map_key_ref: None,
            }),
            insecure_skip_verify: false,
        });
        let devices = vec![
            device(
                "a",
                "uses-creds",
                MediantDeviceSpec::new("https://a", "creds"),
            ),
            device("a", "uses-ca", with_ca),
            device("a", "unrelated", MediantDeviceSpec::new("https://c", "x")),
            device(
                "b",
                "other-namespace",
                MediantDeviceSpec::new("https://d", "creds"),
            ),
        ];
        let hit = devices_naming(&devices, Some("a"), |s| names_secret(s, "creds"));
        assert_eq!(names(hit), ["uses-creds", "uses-ca"]);
    }

    #[test]
    fn a_config_map_maps_to_devices_whose_configuration_names_it() {
        let mut spec = MediantDeviceSpec::new("https://a", "creds");
        spec.ini = Some(IniSpec {
            config_map_refs: vec![ConfigMapKeyRef {
                name: "base".into(),
                key: "device.ini".into(),
            }],
            ..IniSpec::default()
        });
        let malformed = Arc::new(DeserializeGuard::<MediantDevice>(Err(
            kube::core::error_boundary::InvalidObject {
                error: "bad".into(),
                metadata: ObjectMeta {
                    name: Some("broken".into()),
                    namespace: Some("a".into()),
                    ..ObjectMeta::default()
                },
            },
        )));
        let devices = vec![device("a", "uses-base", spec), malformed];
        let hit = devices_naming(&devices, Some("a"), |s| names_config_map(s, "base"));
        assert_eq!(names(hit), ["uses-base"]);
        assert!(devices_naming(&devices, Some("a"), |s| names_config_map(s, "creds")).is_empty());
    }

    #[test]
    fn a_device_status_write_concerns_no_dependent_but_its_spec_and_pause_do() {
        let followed = FollowedDevices::default();
        let Ok(mut d) = device("a", "sbc", MediantDeviceSpec::new("https://a", "creds"))
            .0
            .clone()
        else {
            unreachable!("built well-formed")
        };
        d.metadata.generation = Some(1);
        d.metadata.uid = Some("u1".into());
        assert!(followed.changed(&d), "a device seen first concerns them");
        assert!(!followed.changed(&d), "the same device again does not");
        d.metadata.resource_version = Some("42".into());
        d.status = Some(Default::default());
        assert!(
            !followed.changed(&d),
            "a status write (new resourceVersion) does not"
        );
        d.metadata.generation = Some(2);
        d.spec.credentials_secret_ref.name = "new-creds".into();
        assert!(followed.changed(&d), "a spec change does");
        d.metadata
            .annotations
            .get_or_insert_default()
            .insert(crate::plan::PAUSED_ANNOTATION.into(), "true".into());
        assert!(followed.changed(&d), "a pause annotation does");
        d.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ));
        assert!(followed.changed(&d), "the start of its deletion does");
        d.metadata.uid = Some("u2".into());
        assert!(
            followed.changed(&d),
            "a device re-created under the name does"
        );

        // The Secret a followed device names maps to that device's name.
        assert_eq!(
            followed.naming(Some("a"), |s| names_secret(s, "new-creds")),
            ["sbc"]
        );
        assert!(
            followed
                .naming(Some("a"), |s| names_secret(s, "creds"))
                .is_empty()
        );
        assert!(
            followed
                .naming(Some("b"), |s| names_secret(s, "new-creds"))
                .is_empty()
        );
    }
}
