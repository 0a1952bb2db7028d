//! The CustomResourceDefinitions of our kinds, as the `crd` command prints
//! them and `crds/*.yaml` holds them.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use kube::CustomResourceExt;

use crate::api::{LicenseEntitlement, MediantDevice, TlsContext};

/// Every CRD of ours, with field descriptions unwrapped into paragraphs.
pub fn crds() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![
        MediantDevice::crd(),
        TlsContext::crd(),
        LicenseEntitlement::crd(),
    ];
    for crd in &mut crds {
        for version in &mut crd.spec.versions {
            if let Some(schema) = version
                .schema
                .as_mut()
                .and_then(|s| s.open_api_v3_schema.as_mut())
            {
                normalise(schema);
            }
        }
    }
    crds
}

/// Two repairs on every schema node:
///
/// - Doc comments are hard-wrapped at source width; `kubectl explain` wraps
///   text itself, so lines of a paragraph are joined (blank-line paragraph
///   breaks stay).
/// - schemars names Rust's unsigned types (`format: uint32`), which the API
///   server does not know and warns about on every apply; integer formats
///   become the OpenAPI ones Kubernetes knows (`int32`/`int64`), keeping the
///   range through `minimum`/`maximum`.
fn normalise(schema: &mut JSONSchemaProps) {
    if schema.type_.as_deref() == Some("integer") {
        let (format, max) = match schema.format.as_deref() {
            Some("uint8") => (Some("int32"), Some(f64::from(u8::MAX))),
            Some("uint16") => (Some("int32"), Some(f64::from(u16::MAX))),
            Some("uint32") => (Some("int64"), Some(f64::from(u32::MAX))),
            Some("uint64" | "uint") => (Some("int64"), None),
            _ => (None, None),
        };
        if let Some(format) = format {
            schema.format = Some(format.to_owned());
            schema.minimum = Some(schema.minimum.map_or(0.0, |m| m.max(0.0)));
            if schema.maximum.is_none() {
                schema.maximum = max;
            }
        }
    }
    if let Some(text) = &mut schema.description {
        *text = text
            .split("\n\n")
            .map(|p| p.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n\n");
    }
    let children = schema
        .properties
        .iter_mut()
        .flat_map(|p| p.values_mut())
        .chain(schema.all_of.iter_mut().flatten())
        .chain(schema.any_of.iter_mut().flatten())
        .chain(schema.one_of.iter_mut().flatten())
        .chain(schema.not.as_deref_mut())
        .chain(match &mut schema.items {
            Some(JSONSchemaPropsOrArray::Schema(s)) => vec![s.as_mut()],
            Some(JSONSchemaPropsOrArray::Schemas(v)) => v.iter_mut().collect(),
            None => Vec::new(),
        })
        .chain(match &mut schema.additional_properties {
            Some(JSONSchemaPropsOrBool::Schema(s)) => Some(s.as_mut()),
            _ => None,
        });
    for child in children {
        normalise(child);
    }
}

/// Each CRD as one YAML document starting with `---`, named
/// `<group>_<plural>.yaml` as in `crds/`, in name order.
pub fn crd_files() -> Result<Vec<(String, String)>, serde_saphyr::SerializeError> {
    let mut files = crds()
        .iter()
        .map(|crd| {
            let name = format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural);
            let mut text = String::from("---\n");
            text.push_str(&serde_saphyr::to_string(crd)?);
            if !text.ends_with('\n') {
                text.push('\n');
            }
            Ok((name, text))
        })
        .collect::<Result<Vec<_>, serde_saphyr::SerializeError>>()?;
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// Every CRD as a multi-document YAML stream: the concatenation of
/// [`crd_files`] in name order, so `cat crds/*.yaml` equals it.
pub fn crd_yaml() -> Result<String, serde_saphyr::SerializeError> {
    Ok(crd_files()?.into_iter().map(|(_, text)| text).collect())
}
