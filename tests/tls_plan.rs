//! The pure parts of TlsContext (issue 13): PEM and X.509 facts checked
//! against OpenSSL's own output for the example's certificate, PEM errors
//! that never echo their input, and the planner's decisions from given
//! observations (no network).

mod tls_common;

use mediant_operator::api::{SourceRef, TlsContextSpec};
use mediant_operator::config::pem::{self, PemError, PrivateKey};
use mediant_operator::device::{PrivateKeyState, TlsContextEntry};
use mediant_operator::plan::tls_context::{
    ObservedFiles, TlsAction, TlsDesired, TlsMemory, TlsObserved, TlsPlanError, key_salt, plan_tls,
    tls_desired,
};
use serde_json::json;

use tls_common::{Ca, pkcs1_pem, pkcs8_pem, rsa_key};

/// `tls.key` and `tls.crt` of the cert-manager example's Secret.
fn example_secret() -> (String, String) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/tls-certmanager.yaml"
    ))
    .expect("example");
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).expect("yaml");
    let secret = docs
        .iter()
        .find(|d| d["kind"] == "Secret")
        .expect("a Secret");
    let data = &secret["stringData"];
    (
        data["tls.key"].as_str().expect("tls.key").to_string(),
        data["tls.crt"].as_str().expect("tls.crt").to_string(),
    )
}

#[test]
fn certificate_facts_match_openssl() {
    let (key, crt) = example_secret();
    let certs = pem::parse_certificates(&crt).expect("certificate");
    assert_eq!(certs.len(), 1);
    let c = &certs[0];
    // `openssl x509 -in tls.crt -noout -fingerprint -sha256`
    assert_eq!(
        c.fingerprint,
        "22093747926369 83d332cc9d22faed65aff137336026c3a4d8353d719c47e494".replace(' ', "")
    );
    // `openssl x509 -noout -subject -issuer -enddate`
    assert_eq!(c.subject, "CN=sbc-teams.example.com");
    assert_eq!(c.issuer, "CN=Example Voice CA, O=Example");
    assert_eq!(c.sans, vec!["DNS:sbc-teams.example.com".to_string()]);
    assert_eq!(
        c.subject_attribute("CN").as_deref(),
        Some("sbc-teams.example.com")
    );
    // notAfter=Nov 28 09:55:26 2036 GMT
    assert_eq!(c.not_after, 2_111_478_926); // `date -d "Nov 28 09:55:26 2036 UTC" +%s`
    assert!(!c.is_self_issued());
    let key = PrivateKey::parse(&key, None).expect("key");
    assert_eq!(key.bits(), 2048);
    assert!(key.matches(c));
}

#[test]
fn one_key_in_any_encoding_has_one_digest_which_differs_per_device_and_context() {
    let key = rsa_key(1024);
    let pkcs1 = PrivateKey::parse(&pkcs1_pem(&key), None).expect("pkcs1");
    let pkcs8 = PrivateKey::parse(&pkcs8_pem(&key), None).expect("pkcs8");
    let encrypted =
        PrivateKey::parse(&tls_common::encrypted_pem(&key, "pw"), Some("pw")).expect("pkcs8 enc");
    let salt = key_salt("SN1", 1);
    assert_eq!(pkcs1.digest(&salt), pkcs8.digest(&salt));
    assert_eq!(pkcs1.digest(&salt), encrypted.digest(&salt));
    assert_ne!(pkcs1.digest(&salt), pkcs1.digest(&key_salt("SN2", 1)));
    assert_ne!(pkcs1.digest(&salt), pkcs1.digest(&key_salt("SN1", 2)));
    let other = PrivateKey::parse(&pkcs1_pem(&rsa_key(1024)), None).expect("other");
    assert_ne!(pkcs1.digest(&salt), other.digest(&salt));
    let shown = format!("{pkcs1:?}");
    assert_eq!(shown, "PrivateKey { bits: 1024, .. }");
}

#[test]
fn pem_errors_name_the_block_and_never_echo_its_content() {
    let key = pkcs1_pem(&rsa_key(1024));
    let ca = Ca::new("CA");
    let marker = "SECRETMARKER";
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "holds no PEM block"),
        (format!("{marker} no armour"), "holds no PEM block"),
        (
            format!("-----BEGIN CERTIFICATE-----\n{marker}!!\n-----END CERTIFICATE-----\n"),
            "not valid base64",
        ),
        (
            ca.cert_pem[..ca.cert_pem.len() - 30].to_string(),
            "without a matching END line",
        ),
        (
            key.clone(),
            "is `RSA PRIVATE KEY`, expected one or more CERTIFICATE",
        ),
        (
            "-----BEGIN CERTIFICATE-----\nU0VDUkVUTUFSS0VS\n-----END CERTIFICATE-----\n".into(),
            "not a valid X.509 certificate",
        ),
    ];
    for (text, expected) in cases {
        let err = pem::parse_certificates(&text).expect_err(expected);
        let shown = format!("{err} {err:?}");
        assert!(shown.contains(expected), "{shown}");
        assert!(!shown.contains(marker), "{shown}");
    }
    // Numbered from 1, the same way whatever is wrong with the block: the
    // broken one of a bundle is named.
    let bad = format!("-----BEGIN CERTIFICATE-----\n{marker}!!\n-----END CERTIFICATE-----\n");
    for (text, index) in [
        (bad.clone(), 1),
        (format!("{}{bad}", ca.cert_pem), 2),
        (format!("{}{}{bad}", ca.cert_pem, ca.cert_pem), 3),
    ] {
        let err = pem::parse_certificates(&text).expect_err("bad base64");
        assert_eq!(
            err,
            PemError::Malformed {
                index,
                reason: "the data is not valid base64"
            }
        );
    }
    let two = format!("{key}{key}");
    assert_eq!(
        PrivateKey::parse(&two, None).expect_err("two keys"),
        PemError::SeveralKeys(2)
    );
    let ec = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA==\n-----END EC PRIVATE KEY-----\n";
    let err = PrivateKey::parse(ec, None).expect_err("ec").to_string();
    assert!(err.contains("the device takes RSA keys"), "{err}");
    let legacy = key.replacen(
        "-----BEGIN RSA PRIVATE KEY-----\n",
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n",
        1,
    );
    assert_eq!(
        PrivateKey::parse(&legacy, None).expect_err("legacy"),
        PemError::LegacyEncryption
    );
}

// --------------------------------------------------------------- planner

struct Fixture {
    desired: TlsDesired,
    key_bits: u32,
    leaf: pem::Certificate,
    roots: Vec<pem::Certificate>,
}

fn fixture(roots_mode: &str) -> Fixture {
    let ca = Ca::new("CA");
    let (r1, r2) = (Ca::new("Root 1"), Ca::new("Root 2"));
    let key = rsa_key(1024);
    let crt = ca.issue(&key, "sbc.example.com", 30);
    let spec: TlsContextSpec = serde_json::from_value(json!({
        "deviceRef": {"name": "sbc"},
        "context": {"index": 1},
        "certificate": {"secretRef": {"name": "cert"}},
        "trustedRoots": {"mode": roots_mode, "sources": [{"secretKeyRef": {"name": "cert", "key": "roots.pem"}}]},
    }))
    .expect("spec");
    let key_pem = pkcs1_pem(&key);
    let roots_pem = format!("{}{}", r1.cert_pem, r2.cert_pem);
    let lookup = |r: &SourceRef| match r {
        SourceRef::Secret(k) => match k.key.as_str() {
            "tls.key" => Some(key_pem.clone()),
            "tls.crt" => Some(crt.clone()),
            "roots.pem" => Some(roots_pem.clone()),
            _ => None,
        },
        _ => None,
    };
    Fixture {
        desired: tls_desired("voice", "tls", &spec, &lookup).expect("desired"),
        key_bits: 1024,
        leaf: pem::parse_certificates(&crt).expect("crt").remove(0),
        roots: pem::parse_certificates(&roots_pem).expect("roots"),
    }
}

fn observed(
    f: &Fixture,
    valid: bool,
    cert: Option<pem::Certificate>,
    roots: Vec<pem::Certificate>,
) -> TlsObserved {
    TlsObserved {
        serial: "SN1".into(),
        contexts: vec![
            TlsContextEntry {
                id: 0,
                name: "default".into(),
            },
            TlsContextEntry {
                id: 1,
                name: "Teams".into(),
            },
        ],
        context_id: Some(1),
        ini: None,
        files: Some(ObservedFiles {
            key: PrivateKeyState {
                size: f.key_bits,
                valid,
            },
            certificate: cert,
            roots: Some(roots),
        }),
        ..TlsObserved::default()
    }
}

fn kinds(plan: &mediant_operator::plan::tls_context::TlsPlan) -> Vec<&'static str> {
    plan.steps
        .iter()
        .map(|s| match s.action {
            TlsAction::Ini(_) => "ini",
            TlsAction::UploadKey { .. } => "key",
            TlsAction::GenerateKey { .. } => "generate-key",
            TlsAction::UploadCertificate(_) => "certificate",
            TlsAction::GenerateSelfSigned(_) => "self-signed",
            TlsAction::ReplaceRoots(_) => "replace-roots",
            TlsAction::AddRoot(_) => "add-root",
            TlsAction::RequestCertificate(_) => "request",
            TlsAction::Publish(_) => "publish",
            TlsAction::Save => "save",
        })
        .collect()
}

#[test]
fn the_key_is_in_sync_by_the_certificate_match_or_by_the_recorded_digest() {
    let f = fixture("Replace");
    let none = TlsMemory::default();
    // Device holds our certificate and calls the key valid: nothing to do,
    // even without a recorded digest (valid proves the key is the certificate's).
    let in_sync = observed(&f, true, Some(f.leaf.clone()), f.roots.clone());
    let plan = plan_tls(&f.desired, &in_sync, &none, 0).expect("plan");
    assert!(plan.is_empty(), "{:?}", kinds(&plan));
    let digest = plan.key_digest.clone().expect("digest");

    // Another certificate on the device: with the digest recorded, only the
    // certificate goes up; without it, the key too.
    let other = Ca::new("Other").cert_pem;
    let other = pem::parse_certificates(&other).expect("other").remove(0);
    let renewed = observed(&f, true, Some(other), f.roots.clone());
    let remembered = TlsMemory {
        uploaded_key_digest: Some(digest.clone()),
    };
    let plan = plan_tls(&f.desired, &renewed, &remembered, 0).expect("plan");
    assert_eq!(kinds(&plan), vec!["certificate", "save"]);
    let plan = plan_tls(&f.desired, &renewed, &none, 0).expect("plan");
    assert_eq!(kinds(&plan), vec!["key", "certificate", "save"]);

    // The device calls its key invalid, or reports another size: re-upload.
    let invalid = observed(&f, false, Some(f.leaf.clone()), f.roots.clone());
    let plan = plan_tls(&f.desired, &invalid, &remembered, 0).expect("plan");
    assert_eq!(kinds(&plan), vec!["key", "certificate", "save"]);
    let mut resized = in_sync.clone();
    if let Some(files) = resized.files.as_mut() {
        files.key.size = 2048;
    }
    let plan = plan_tls(&f.desired, &resized, &remembered, 0).expect("plan");
    assert_eq!(kinds(&plan), vec!["key", "certificate", "save"]);

    // No step ever shows the key.
    let shown = format!("{plan:?}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
}

#[test]
fn roots_compare_as_sets_replace_uploads_all_add_only_what_is_missing() {
    let f = fixture("Replace");
    let none = TlsMemory::default();
    let cert = Some(f.leaf.clone());
    let reversed: Vec<_> = f.roots.iter().rev().cloned().collect();
    let plan = plan_tls(
        &f.desired,
        &observed(&f, true, cert.clone(), reversed),
        &none,
        0,
    )
    .expect("plan");
    assert!(plan.is_empty(), "order does not matter: {:?}", kinds(&plan));
    let stray = pem::parse_certificates(&Ca::new("Stray").cert_pem)
        .expect("stray")
        .remove(0);
    let mut extra = f.roots.clone();
    extra.push(stray.clone());
    let plan = plan_tls(
        &f.desired,
        &observed(&f, true, cert.clone(), extra.clone()),
        &none,
        0,
    )
    .expect("plan");
    assert_eq!(kinds(&plan), vec!["replace-roots", "save"]);
    let removed: Vec<_> = plan.changes().filter(|c| c.after.is_none()).collect();
    assert_eq!(removed.len(), 1, "the stray root is shown as removed");

    let add = fixture("Add");
    let cert = Some(add.leaf.clone());
    let mut superset = add.roots.clone();
    superset.push(stray);
    let plan = plan_tls(
        &add.desired,
        &observed(&add, true, cert.clone(), superset),
        &none,
        0,
    )
    .expect("plan");
    assert!(
        plan.is_empty(),
        "Add leaves other roots: {:?}",
        kinds(&plan)
    );
    let plan = plan_tls(
        &add.desired,
        &observed(&add, true, cert, vec![add.roots[1].clone()]),
        &none,
        0,
    )
    .expect("plan");
    assert_eq!(kinds(&plan), vec!["add-root", "save"]);
}

#[test]
fn a_missing_context_is_created_first_and_a_clash_of_names_is_refused() {
    let f = fixture("Replace");
    let mut absent = observed(&f, true, None, Vec::new());
    absent.contexts.retain(|c| c.id == 0);
    absent.files = None;
    absent.context_id = None;
    let plan = plan_tls(&f.desired, &absent, &TlsMemory::default(), 0).expect("plan");
    assert!(plan.creates_context);
    assert_eq!(
        kinds(&plan),
        vec!["ini", "key", "certificate", "replace-roots", "save"]
    );
    let TlsAction::Ini(text) = &plan.steps[0].action else {
        panic!("an INI step first");
    };
    assert!(text.contains("TLSContexts 1 = "), "{text}");
    assert!(text.contains("\"tls\""), "named after the resource: {text}");

    // A name that another index already carries.
    let mut desired = f.desired.clone();
    desired.context.name = Some("default".into());
    let err = plan_tls(
        &desired,
        &observed(&f, true, None, Vec::new()),
        &TlsMemory::default(),
        0,
    )
    .expect_err("clash");
    assert!(matches!(err, TlsPlanError::Context(_)), "{err}");
    assert!(
        err.to_string().contains("already exists at index 0"),
        "{err}"
    );
}

// ------------------------------------------------------- the CSR flow

mod csr {
    use super::*;
    use std::sync::Arc;

    use futures::future::BoxFuture;
    use mediant_operator::api::IssuerRef;
    use mediant_operator::plan::issuer::{
        Issuer, IssuerError, NewCertificateRequest, ObservedRequest, PublishedSecret, RequestState,
    };
    use mediant_operator::plan::tls_context::CSR_NEEDS_CLUSTER;

    /// Stands for the cluster: planning is pure and must never call it.
    #[derive(Debug)]
    struct Unused;

    impl Issuer for Unused {
        fn requests<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
        ) -> BoxFuture<'a, Result<Vec<ObservedRequest>, IssuerError>> {
            panic!("the planner read the cluster")
        }
        fn create_request<'a>(
            &'a self,
            _: &'a NewCertificateRequest,
        ) -> BoxFuture<'a, Result<(), IssuerError>> {
            panic!("the planner wrote the cluster")
        }
        fn published<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
        ) -> BoxFuture<'a, Result<Option<std::collections::BTreeMap<String, String>>, IssuerError>>
        {
            panic!("the planner read the cluster")
        }
        fn publish<'a>(&'a self, _: &'a PublishedSecret) -> BoxFuture<'a, Result<(), IssuerError>> {
            panic!("the planner wrote the cluster")
        }
    }

    const DAY: i64 = 86_400;

    fn desired(rotate: bool, cluster: bool) -> TlsDesired {
        let spec: TlsContextSpec = serde_json::from_value(json!({
            "deviceRef": {"name": "sbc"},
            "context": {"index": 1},
            "certificate": {"generateOnDevice": {"keySize": 1024, "certificateRequest": {
                "subject": {"commonName": "sbc.example.com"},
                "issuerRef": {"name": "ca"},
                "renewBefore": "720h",
                "rotateKey": rotate,
            }}},
        }))
        .expect("spec");
        let mut d = tls_desired("voice", "tls", &spec, &|_| None).expect("desired");
        if cluster {
            d.issuer = Some(Arc::new(Unused));
        }
        d
    }

    /// A device with a 1024-bit key and `cert`, valid when it is for the key.
    fn device(cert: Option<pem::Certificate>, valid: bool) -> TlsObserved {
        TlsObserved {
            serial: "SN1".into(),
            contexts: vec![TlsContextEntry {
                id: 1,
                name: "Teams".into(),
            }],
            context_id: Some(1),
            files: Some(ObservedFiles {
                key: PrivateKeyState { size: 1024, valid },
                certificate: cert,
                roots: None,
            }),
            ..TlsObserved::default()
        }
    }

    fn request(state: RequestState, replaces: &str) -> ObservedRequest {
        ObservedRequest {
            name: "tls-0123456789".into(),
            request_pem: String::new(),
            issuer_ref: IssuerRef {
                name: "ca".into(),
                kind: None,
                group: None,
            },
            duration: None,
            replaces: replaces.into(),
            created: 1,
            state,
            message: "policy says no".into(),
        }
    }

    fn issued(days: i64) -> (pem::Certificate, i64) {
        let cert = Ca::new("CA").issue(&rsa_key(1024), "sbc.example.com", days);
        let c = pem::parse_certificates(&cert).expect("crt").remove(0);
        // Ca::issue starts validity an hour ago.
        let now = c.not_before + 3600;
        (c, now)
    }

    #[test]
    fn without_a_cluster_the_certificate_is_held_back_and_nothing_is_sent() {
        let plan = plan_tls(
            &desired(true, false),
            &device(None, false),
            &TlsMemory::default(),
            0,
        )
        .expect("plan");
        assert!(plan.steps.is_empty(), "{:?}", kinds(&plan));
        assert_eq!(plan.blocked.len(), 1);
        assert_eq!(plan.blocked[0].1, CSR_NEEDS_CLUSTER);
        assert!(matches!(
            plan.blocked[0].0.action,
            TlsAction::RequestCertificate(_)
        ));
        assert!(!plan.is_empty());
    }

    #[test]
    fn a_missing_certificate_is_requested_with_a_fresh_key_only_when_rotating() {
        let keep = plan_tls(
            &desired(false, true),
            &device(None, false),
            &TlsMemory::default(),
            0,
        )
        .expect("plan");
        assert_eq!(kinds(&keep), ["request"]);
        let rotate = plan_tls(
            &desired(true, true),
            &device(None, false),
            &TlsMemory::default(),
            0,
        )
        .expect("plan");
        assert_eq!(kinds(&rotate), ["generate-key", "request", "save"]);
        let TlsAction::RequestCertificate(step) = &rotate.steps[1].action else {
            panic!("a request")
        };
        assert_eq!(step.replaces, "none");
        assert_eq!(step.publish_secret, "tls-csr");
        assert_eq!(step.signature_algorithm, "sha256");
    }

    #[test]
    fn a_healthy_certificate_is_kept_until_it_is_due() {
        let (cert, now) = issued(90);
        let observed = device(Some(cert.clone()), true);
        let d = desired(true, true);
        let plan = plan_tls(&d, &observed, &TlsMemory::default(), now).expect("plan");
        assert!(plan.is_empty(), "{:?}", kinds(&plan));
        // 720h before notAfter: due, a fresh key then a new request.
        let due = cert.not_after - 30 * DAY;
        let plan = plan_tls(&d, &observed, &TlsMemory::default(), due).expect("plan");
        assert_eq!(kinds(&plan), ["generate-key", "request", "save"]);
        // A self-issued certificate (the factory's) is never kept.
        let factory = Ca::new("sbc.example.com");
        let own = pem::parse_certificates(&factory.cert_pem)
            .expect("ca")
            .remove(0);
        let plan =
            plan_tls(&d, &device(Some(own), true), &TlsMemory::default(), now).expect("plan");
        assert_eq!(kinds(&plan), ["generate-key", "request", "save"]);
    }

    #[test]
    fn renew_before_longer_than_the_lifetime_renews_at_two_thirds() {
        let (cert, now) = issued(10);
        let observed = device(Some(cert.clone()), true);
        let d = desired(false, true);
        let lifetime = cert.not_after - cert.not_before;
        let plan = plan_tls(&d, &observed, &TlsMemory::default(), now).expect("plan");
        assert!(plan.is_empty(), "not due on arrival: {:?}", kinds(&plan));
        let at = cert.not_before + lifetime * 2 / 3 + 1;
        let plan = plan_tls(&d, &observed, &TlsMemory::default(), at).expect("plan");
        assert_eq!(kinds(&plan), ["request"]);
    }

    #[test]
    fn the_current_request_decides_wait_upload_or_refusal() {
        let d = desired(false, true);
        let (signed, now) = issued(90);
        let base = device(None, false);
        let with = |r: ObservedRequest| TlsObserved {
            request: Some(r),
            ..base.clone()
        };
        let pending = plan_tls(
            &d,
            &with(request(RequestState::Pending, "none")),
            &TlsMemory::default(),
            now,
        )
        .expect("plan");
        assert!(
            pending
                .steps
                .iter()
                .all(|s| matches!(s.action, TlsAction::Publish(_))),
            "{:?}",
            kinds(&pending)
        );
        assert_eq!(pending.waiting.len(), 1);
        assert!(
            pending.waiting[0]
                .after
                .as_deref()
                .unwrap_or("")
                .contains("waiting for CertificateRequest `voice/tls-0123456789`"),
            "{:?}",
            pending.waiting
        );
        let denied = plan_tls(
            &d,
            &with(request(RequestState::Denied, "none")),
            &TlsMemory::default(),
            now,
        )
        .expect("plan");
        let said = denied.waiting[0].after.clone().unwrap_or_default();
        assert!(said.contains("Denied: policy says no"), "{said}");
        assert!(!denied.steps.iter().any(|s| matches!(
            s.action,
            TlsAction::UploadCertificate(_) | TlsAction::RequestCertificate(_)
        )));
        let done = RequestState::Issued {
            certificate: signed.to_pem(),
            ca: None,
        };
        let upload = plan_tls(
            &d,
            &with(request(done.clone(), "none")),
            &TlsMemory::default(),
            now,
        )
        .expect("plan");
        assert_eq!(kinds(&upload), ["certificate", "publish", "save"]);
        // A request made to replace another certificate is not current: ask anew.
        let stale =
            plan_tls(&d, &with(request(done, "ab12")), &TlsMemory::default(), now).expect("plan");
        assert_eq!(kinds(&stale), ["request"]);
        // An issued certificate that is not PEM: refused before anything is sent.
        let broken = RequestState::Issued {
            certificate: "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n".into(),
            ca: None,
        };
        let err = plan_tls(
            &d,
            &with(request(broken, "none")),
            &TlsMemory::default(),
            now,
        )
        .expect_err("not PEM");
        assert!(matches!(err, TlsPlanError::Issued { .. }), "{err}");
        assert!(err.to_string().contains("voice/tls-0123456789"), "{err}");
    }

    #[test]
    fn a_request_made_before_the_context_had_a_certificate_is_still_awaited() {
        // Made while the context did not exist (replaces "none"); observed
        // again once it exists with its factory certificate.
        let d = desired(true, true);
        let factory = Ca::new("00908F000001");
        let own = pem::parse_certificates(&factory.cert_pem)
            .expect("ca")
            .remove(0);
        let observed = TlsObserved {
            request: Some(request(RequestState::Pending, "none")),
            ..device(Some(own), false)
        };
        let plan = plan_tls(&d, &observed, &TlsMemory::default(), 0).expect("plan");
        assert!(
            plan.steps
                .iter()
                .all(|s| matches!(s.action, TlsAction::Publish(_))),
            "no second key or request: {:?}",
            kinds(&plan)
        );
        assert_eq!(plan.waiting.len(), 1);
    }

    #[test]
    fn an_uploaded_certificate_that_is_due_is_spent_and_requested_anew() {
        let d = desired(false, true);
        let (cert, _) = issued(90);
        let observed = TlsObserved {
            request: Some(request(
                RequestState::Issued {
                    certificate: cert.to_pem(),
                    ca: None,
                },
                "none",
            )),
            ..device(Some(cert.clone()), true)
        };
        let due = cert.not_after - 29 * DAY;
        let plan = plan_tls(&d, &observed, &TlsMemory::default(), due).expect("plan");
        assert_eq!(kinds(&plan), ["request"]);
        let TlsAction::RequestCertificate(step) = &plan.steps[0].action else {
            panic!("a request")
        };
        assert_eq!(
            step.replaces, cert.fingerprint,
            "a new request, named apart"
        );
    }
}
