//! From a MediantDevice's spec to the desired state, as the plan reads it
//! (`api` holds the types and the CEL-mirroring checks; parsing and merging
//! the texts, and the checks that need them parsed, are the plan's). Moved
//! here from tests/api_types.rs with their assertions unchanged.

use std::path::PathBuf;

use mediant_operator::api::{MediantDevice, ResolvedSources};
use mediant_operator::plan::{self, Kind, MediantDeviceKind, Origin};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The MediantDevice of example manifest `file`, typed from its YAML.
fn example_device(file: &str) -> MediantDevice {
    let text = std::fs::read_to_string(root().join("examples").join(file)).unwrap();
    let yaml_doc = text
        .split("\n---\n")
        .find(|d| d.contains("kind: MediantDevice"))
        .unwrap();
    serde_saphyr::from_str(yaml_doc).unwrap()
}

#[test]
fn examples_parse_into_the_engines_models() {
    for file in ["mediantdevice-ini.yaml", "mediantdevice-cli.yaml"] {
        let device = example_device(file);
        MediantDeviceKind::validate(&device, Origin::Cluster)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        // The declared configuration parses into the engine's models.
        let resolved = ResolvedSources::new();
        if let Some(ini) = &device.spec.ini {
            let doc = plan::ini_document(ini, &resolved).unwrap();
            assert!(doc.table("ProxyIp").is_some_and(|t| t.row_count() == 3));
        }
        if let Some(cli) = &device.spec.cli_script {
            let script = plan::cli_script(cli, &resolved).unwrap();
            assert!(script.render().contains("proxy-ip 21/1"));
        }
    }
}

#[test]
fn validation_errors_never_echo_a_password() {
    let password = "S3cr3t-Pa55";
    let cases = [
        MediantDevice::test().with_ini(&format!("[SIP Params]\nSIPPassword {password}\n")),
        MediantDevice::test().with_ini(&format!("[SIP Params]\nSIPPassword = '{password}\n")),
        MediantDevice::test().with_endpoint(&format!("https://Admin:{password}@10.0.0.5")),
        MediantDevice::test().with_cli(&format!("password {password}\n")),
    ];
    for device in cases {
        let err = MediantDeviceKind::validate(&device, Origin::Manifests)
            .expect_err("rejected")
            .to_string();
        assert!(!err.contains(password), "{err}");
    }
}
