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
                unwrap_descriptions(schema);
            }
        }
    }
    crds
}

/// Doc comments are hard-wrapped at source width; `kubectl explain` wraps
/// text itself, so lines of a paragraph are joined (blank-line paragraph
/// breaks stay).
fn unwrap_descriptions(schema: &mut JSONSchemaProps) {
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
        unwrap_descriptions(child);
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
