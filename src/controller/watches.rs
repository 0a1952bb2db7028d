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

/// Whether `spec` names ConfigMap `name` (configuration text or CA bundle).
pub fn names_config_map(spec: &MediantDeviceSpec, name: &str) -> bool {
    let in_config = spec
        .references()
        .iter()
        .any(|r| matches!(r, SourceRef::ConfigMap(c) if c.name == name));
    in_config
        || spec
            .tls
            .as_ref()
            .and_then(|t| t.ca_bundle.as_ref())
            .and_then(|c| c.config_map_key_ref.as_ref())
            .is_some_and(|r| r.name == name)
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
}
