//! Conformance of the simulator's auxiliary resources — TLS context files,
//! alarms, status, KPIs / performance monitoring and licence — walked over
//! real HTTP against the examples of the v7.4 document (and the 2015 one
//! where it differs): status codes, content types, JSON shapes, pagination
//! edges, and real cryptography checked with x509-parser and the rsa crate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mediant_operator::simulator::alarms::{Condition, Severity};
use mediant_operator::simulator::device::{Device, Dialect};
use mediant_operator::simulator::{Fleet, FleetConfig, seed};
use reqwest::multipart::{Form, Part};
use rsa::pkcs1v15;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::signature::Verifier;
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use x509_parser::prelude::{FromDer, X509Certificate, X509CertificationRequest};
use x509_parser::public_key::PublicKey;

// ---------------------------------------------------------------- harness

/// A running fleet of one device and a client speaking to it.
struct Sim {
    _fleet: Fleet,
    base: String,
    device: Arc<Device>,
    client: reqwest::Client,
}

/// One answer: status, media type and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn assert_json(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.content_type, "application/json", "{}", self.text());
        self.json()
    }

    fn assert_no_content(&self) {
        assert_eq!(self.status, 204, "{}", self.text());
        assert!(self.body.is_empty(), "204 has no body: {}", self.text());
    }
}

async fn start(config: FleetConfig) -> Sim {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let fleet = Fleet::start(config).await.expect("fleet starts");
    let first = &fleet.devices()[0];
    let (base, device) = (first.base_url.clone(), Arc::clone(&first.device));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    Sim {
        _fleet: fleet,
        base,
        device,
        client,
    }
}

async fn v74() -> Sim {
    start(FleetConfig::default()).await
}

fn with_ip_groups(groups: usize) -> FleetConfig {
    let seed = seed::seed_with_trunks(groups).expect("seed loads");
    FleetConfig {
        seed: Some(Arc::new(seed)),
        ..FleetConfig::default()
    }
}

const ADMIN: (&str, &str) = ("Admin", "Admin");
const OPERATOR: (&str, &str) = ("Operator", "Operator");
const MONITOR: (&str, &str) = ("Monitor", "Monitor");

impl Sim {
    fn url(&self, path: &str) -> String {
        format!("{}api/v1{path}", self.base)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("request is answered");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_string())
            .unwrap_or_default();
        let body = response.bytes().await.expect("body").to_vec();
        Answer {
            status,
            content_type,
            body,
        }
    }

    async fn get_as(&self, user: (&str, &str), path: &str) -> Answer {
        self.send(
            self.client
                .get(self.url(path))
                .basic_auth(user.0, Some(user.1)),
        )
        .await
    }

    async fn get(&self, path: &str) -> Answer {
        self.get_as(ADMIN, path).await
    }

    async fn post_json(&self, path: &str, body: &Value) -> Answer {
        let request = self
            .client
            .post(self.url(path))
            .basic_auth(ADMIN.0, Some(ADMIN.1));
        self.send(
            request
                .header("Content-Type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    async fn put_json_as(&self, user: (&str, &str), path: &str, body: &Value) -> Answer {
        let request = self
            .client
            .put(self.url(path))
            .basic_auth(user.0, Some(user.1));
        self.send(
            request
                .header("Content-Type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// A v7.4 upload: multipart/form-data with the file in part `file`.
    async fn put_file(&self, path: &str, file: &[u8], extra: &[(&str, &str)]) -> Answer {
        let part = Part::bytes(file.to_vec())
            .file_name("upload.pem")
            .mime_str("application/octet-stream")
            .unwrap();
        let mut form = Form::new().part("file", part);
        for (name, value) in extra {
            form = form.text(name.to_string(), value.to_string());
        }
        let request = self
            .client
            .put(self.url(path))
            .basic_auth(ADMIN.0, Some(ADMIN.1));
        self.send(request.multipart(form)).await
    }

    /// A 2015 upload: the raw file as application/octet-stream.
    async fn put_octets(&self, path: &str, file: &[u8]) -> Answer {
        let request = self
            .client
            .put(self.url(path))
            .basic_auth(ADMIN.0, Some(ADMIN.1));
        self.send(
            request
                .header("Content-Type", "application/octet-stream")
                .body(file.to_vec()),
        )
        .await
    }

    /// Waits until the device answers again after a reset.
    async fn wait_until_back(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let request = self
                .client
                .get(self.url("/status"))
                .basic_auth(ADMIN.0, Some(ADMIN.1));
            if let Ok(response) = request.send().await
                && response.status().as_u16() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("device did not come back from its reset");
    }
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|item| item["id"].as_str().expect("string id").to_string())
        .collect()
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

// ---------------------------------------------------------------- crypto helpers

fn pem_blocks(text: &str) -> Vec<x509_parser::pem::Pem> {
    x509_parser::pem::Pem::iter_from_buffer(text.as_bytes())
        .map(|p| p.expect("valid PEM"))
        .collect()
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn rsa_public(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> RsaPublicKey {
    match spki.parsed().expect("public key parses") {
        PublicKey::RSA(key) => RsaPublicKey::new(
            BigUint::from_bytes_be(key.modulus),
            BigUint::from_bytes_be(key.exponent),
        )
        .unwrap(),
        other => panic!("expected an RSA key, got {other:?}"),
    }
}

fn key_pem(key: &RsaPrivateKey) -> String {
    key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string()
}

/// A self-signed certificate for `key` (2048 bits: ring signs no smaller).
fn certificate_for(key: &RsaPrivateKey, cn: &str) -> String {
    let pair = rcgen::KeyPair::from_pem(&key_pem(key)).expect("rcgen reads the RSA key");
    let mut params = rcgen::CertificateParams::new(vec![cn.to_string()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.self_signed(&pair).unwrap().pem()
}

fn other_certificate(cn: &str) -> String {
    rcgen::generate_simple_self_signed(vec![cn.to_string()])
        .unwrap()
        .cert
        .pem()
}

fn new_key(bits: usize) -> RsaPrivateKey {
    RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits).unwrap()
}

// ---------------------------------------------------------------- TLS

#[tokio::test]
async fn tls_contexts_come_from_the_configuration() {
    let sim = v74().await;
    // §8: GET /files/tls; the seed has contexts 0 "default" and 1 "Teams".
    let list = sim.get("/files/tls").await.assert_json(200);
    assert_eq!(
        list,
        json!({ "tls": [
            { "id": "0", "name": "default", "url": "/api/v1/files/tls/0" },
            { "id": "1", "name": "Teams", "url": "/api/v1/files/tls/1" },
        ] })
    );
    // §8.1: the files of a context.
    let items = sim.get("/files/tls/1").await.assert_json(200);
    assert_eq!(
        items,
        json!({ "items": [
            { "id": "privateKey", "description": "Private key", "url": "/api/v1/files/tls/1/privateKey" },
            { "id": "certificate", "description": "TLS certificate", "url": "/api/v1/files/tls/1/certificate" },
            { "id": "trustedRoot", "description": "Trusted root", "url": "/api/v1/files/tls/1/trustedRoot" },
        ] })
    );
    assert_eq!(sim.get("/files/tls/2").await.status, 404);
    assert_eq!(sim.get("/files/tls/abc/privateKey").await.status, 404);

    // A context is created through the configuration (the note of §8).
    let ini = "[ TLSContexts ]\r\nFORMAT TLSContexts_Index = TLSContexts_Name;\r\nTLSContexts 2 = \"Lab\";\r\n[ \\TLSContexts ]\r\n";
    let upload = sim
        .put_file("/files/ini/incremental", ini.as_bytes(), &[])
        .await;
    assert_eq!(upload.status, 200, "{}", upload.text());
    let list = sim.get("/files/tls").await.assert_json(200);
    assert_eq!(ids(&list["tls"]), vec!["0", "1", "2"]);
    assert_eq!(list["tls"][2]["name"], "Lab");
    let key = sim.get("/files/tls/2/privateKey").await.assert_json(200);
    assert_eq!(key["valid"], true);
}

#[tokio::test]
async fn private_key_get_gives_size_and_validity_never_the_key() {
    let sim = v74().await;
    let answer = sim.get("/files/tls/0/privateKey").await;
    let body = answer.assert_json(200);
    assert_eq!(keys(&body), vec!["size", "valid"]);
    assert_eq!(body, json!({ "size": 2048, "valid": true }));
    let text = answer.text();
    assert!(
        !text.contains("BEGIN") && !text.contains("PRIVATE"),
        "{text}"
    );
    // There is no way to download it: only GET/PUT are routes; DELETE is 405.
    let delete = sim
        .send(
            sim.client
                .delete(sim.url("/files/tls/0/privateKey"))
                .basic_auth("Admin", Some("Admin")),
        )
        .await;
    assert_eq!(delete.status, 405);
}

#[tokio::test]
async fn private_key_generation_takes_the_documented_sizes() {
    let sim = v74().await;
    // §8.2.1 example: {"size": 2048}.
    let answer = sim
        .post_json("/files/tls/0/privateKey/generate", &json!({ "size": 512 }))
        .await;
    assert_eq!(
        answer.assert_json(200),
        json!({ "description": "Private key was successfully generated" })
    );
    // The old certificate no longer matches the new key.
    assert_eq!(
        sim.get("/files/tls/0/privateKey").await.assert_json(200),
        json!({ "size": 512, "valid": false })
    );
    for size in [768, 2048] {
        sim.post_json("/files/tls/0/privateKey/generate", &json!({ "size": size }))
            .await
            .assert_json(200);
        assert_eq!(
            sim.get("/files/tls/0/privateKey").await.assert_json(200)["size"],
            size
        );
    }
    // Default = 1024, with an empty object and with no body at all.
    sim.post_json("/files/tls/0/privateKey/generate", &json!({}))
        .await
        .assert_json(200);
    assert_eq!(
        sim.get("/files/tls/0/privateKey").await.assert_json(200)["size"],
        1024
    );
    let request = sim
        .client
        .post(sim.url("/files/tls/1/privateKey/generate"))
        .basic_auth("Admin", Some("Admin"));
    assert_eq!(
        sim.send(request).await.assert_json(200)["description"],
        "Private key was successfully generated"
    );
    assert_eq!(
        sim.get("/files/tls/1/privateKey").await.assert_json(200)["size"],
        1024
    );
    // 400 for sizes and attributes the document does not list.
    for bad in [
        json!({ "size": 1000 }),
        json!({ "size": 8192 }),
        json!({ "size": "big" }),
        json!({ "bits": 2048 }),
    ] {
        let answer = sim
            .post_json("/files/tls/0/privateKey/generate", &bad)
            .await;
        let body = answer.assert_json(400);
        assert!(body["description"].as_str().is_some(), "{bad}");
    }
}

#[tokio::test]
async fn private_key_generation_of_4096_bits() {
    let sim = v74().await;
    let started = Instant::now();
    sim.post_json("/files/tls/0/privateKey/generate", &json!({ "size": 4096 }))
        .await
        .assert_json(200);
    eprintln!("4096-bit key generated in {:?}", started.elapsed());
    assert_eq!(
        sim.get("/files/tls/0/privateKey").await.assert_json(200)["size"],
        4096
    );
}

#[tokio::test]
async fn self_signed_certificate_is_real_and_carries_the_subject() {
    let sim = v74().await;
    sim.post_json("/files/tls/0/privateKey/generate", &json!({ "size": 1024 }))
        .await
        .assert_json(200);
    // §8.4 example plus the other documented subject fields.
    let subject = json!({
        "subjectName": "lync-gw.company.com",
        "organizationalUnit": "Voice",
        "companyName": "Company",
        "localityName": "Lod",
        "state": "Center",
        "countryCode": "IL",
    });
    let answer = sim
        .post_json("/files/tls/0/certificate/generate", &subject)
        .await;
    assert_eq!(
        answer.assert_json(200),
        json!({ "description": "Self-signed certificate was successfully generated" })
    );
    assert_eq!(
        sim.get("/files/tls/0/privateKey").await.assert_json(200),
        json!({ "size": 1024, "valid": true })
    );

    // §8.3 example 1: GET certificate is PEM as application/octet-stream.
    let download = sim.get("/files/tls/0/certificate").await;
    assert_eq!(download.status, 200);
    assert_eq!(download.content_type, "application/octet-stream");
    let blocks = pem_blocks(&download.text());
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].label, "CERTIFICATE");
    let (rest, cert) = X509Certificate::from_der(&blocks[0].contents).expect("X.509 parses");
    assert!(rest.is_empty());
    assert_eq!(
        cert.subject().to_string(),
        "C=IL, ST=Center, L=Lod, O=Company, OU=Voice, CN=lync-gw.company.com"
    );
    assert_eq!(cert.issuer(), cert.subject(), "self-signed");
    assert!(cert.validity().is_valid(), "valid now");
    // Its signature verifies with its own (1024-bit) public key.
    let public = rsa_public(cert.public_key());
    assert_eq!(rsa::traits::PublicKeyParts::n(&public).bits(), 1024);
    let signature = pkcs1v15::Signature::try_from(cert.signature_value.data.as_ref()).unwrap();
    pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(public)
        .verify(cert.tbs_certificate.as_ref(), &signature)
        .expect("self-signature verifies");

    // Empty attributes give an empty subject; unknown ones and bad countries are 400.
    sim.post_json("/files/tls/0/certificate/generate", &json!({}))
        .await
        .assert_json(200);
    assert_eq!(
        sim.post_json("/files/tls/0/certificate/generate", &json!({ "cn": "x" }))
            .await
            .status,
        400
    );
    assert_eq!(
        sim.post_json(
            "/files/tls/0/certificate/generate",
            &json!({ "countryCode": "ISR" })
        )
        .await
        .status,
        400
    );
}

#[tokio::test]
async fn uploaded_key_and_matching_certificate_are_installed_a_mismatch_is_400() {
    let sim = v74().await;
    let key = new_key(2048);
    // §8.2 example 2: PUT privateKey as multipart.
    let answer = sim
        .put_file("/files/tls/1/privateKey", key_pem(&key).as_bytes(), &[])
        .await;
    assert_eq!(
        answer.assert_json(200),
        json!({ "description": "Private key was successfully changed" })
    );
    assert_eq!(
        sim.get("/files/tls/1/privateKey").await.assert_json(200),
        json!({ "size": 2048, "valid": false })
    );

    // A certificate of another key is refused as a device does.
    let foreign = other_certificate("other.example.com");
    let refused = sim
        .put_file("/files/tls/1/certificate", foreign.as_bytes(), &[])
        .await
        .assert_json(400);
    assert!(
        refused["description"]
            .as_str()
            .unwrap()
            .contains("does not match"),
        "{refused}"
    );
    let foreign_rsa = certificate_for(&new_key(2048), "other.example.com");
    assert_eq!(
        sim.put_file("/files/tls/1/certificate", foreign_rsa.as_bytes(), &[])
            .await
            .status,
        400
    );

    // §8.3 example 2: the matching certificate (here with a chain behind it).
    let mine = certificate_for(&key, "sbc.example.com");
    let chain = format!("{mine}{}", other_certificate("ca.example.com"));
    let answer = sim
        .put_file("/files/tls/1/certificate", chain.as_bytes(), &[])
        .await;
    assert_eq!(
        answer.assert_json(200),
        json!({ "description": "Certificate was successfully changed" })
    );
    assert_eq!(
        sim.get("/files/tls/1/privateKey").await.assert_json(200),
        json!({ "size": 2048, "valid": true })
    );
    let download = sim.get("/files/tls/1/certificate").await;
    assert_eq!(download.content_type, "application/octet-stream");
    let downloaded = pem_blocks(&download.text());
    assert_eq!(
        downloaded.len(),
        1,
        "the device keeps the device certificate"
    );
    assert_eq!(downloaded[0].contents, pem_blocks(&mine)[0].contents);

    // What is not PEM is 400, for keys and certificates alike.
    assert_eq!(
        sim.put_file("/files/tls/1/privateKey", b"not a key", &[])
            .await
            .assert_json(400)["description"],
        "private key is not in PEM format"
    );
    assert_eq!(
        sim.put_file("/files/tls/1/certificate", b"not a cert", &[])
            .await
            .status,
        400
    );
    // A v7.4 device wants multipart, not a raw body.
    assert_eq!(
        sim.put_octets("/files/tls/1/certificate", mine.as_bytes())
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn encrypted_private_key_needs_its_password() {
    use rsa::pkcs8::{PrivateKeyInfo, pkcs5::pbes2};
    let sim = v74().await;
    let key = new_key(1024);
    let der = key.to_pkcs8_der().unwrap();
    let info = PrivateKeyInfo::try_from(der.as_bytes()).unwrap();
    let params = pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, b"saltsalt", &[9u8; 16]).unwrap();
    let encrypted = info.encrypt_with_params(params, "open sesame").unwrap();
    let text = encrypted
        .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
        .unwrap()
        .to_string();

    let missing = sim
        .put_file("/files/tls/0/privateKey", text.as_bytes(), &[])
        .await
        .assert_json(400);
    assert!(
        missing["description"]
            .as_str()
            .unwrap()
            .contains("password"),
        "{missing}"
    );
    let wrong = sim
        .put_file(
            "/files/tls/0/privateKey",
            text.as_bytes(),
            &[("password", "guess")],
        )
        .await;
    let wrong = wrong.assert_json(400);
    assert!(
        !wrong.to_string().contains("guess"),
        "the password is not echoed: {wrong}"
    );
    let ok = sim
        .put_file(
            "/files/tls/0/privateKey",
            text.as_bytes(),
            &[("password", "open sesame")],
        )
        .await;
    assert_eq!(
        ok.assert_json(200)["description"],
        "Private key was successfully changed"
    );
    assert_eq!(
        sim.get("/files/tls/0/privateKey").await.assert_json(200)["size"],
        1024
    );
}

#[tokio::test]
async fn certificate_signing_requests_parse_and_use_the_requested_algorithm() {
    let sim = v74().await;
    sim.post_json("/files/tls/0/privateKey/generate", &json!({ "size": 1024 }))
        .await
        .assert_json(200);
    sim.post_json("/files/tls/0/certificate/generate", &json!({}))
        .await
        .assert_json(200);
    let cert = sim.get("/files/tls/0/certificate").await.text();
    let cert_der = pem_blocks(&cert).remove(0).contents;
    let (_, cert) = X509Certificate::from_der(&cert_der).unwrap();
    let context_key = rsa_public(cert.public_key());

    // §8.5: "The generated CSR is returned in the response." — as
    // `Content-Type: application/octet-stream` and a `-----BEGIN CERTIFICATE
    // REQUEST-----` block in its example; `signatureAlgorithm`: "sha1 sha256
    // sha512 ... Signature algorithm to be used for the certificate signing
    // request; default=sha1". The example's request first (no algorithm),
    // then each documented one.
    for (attributes, oid) in [
        (
            json!({ "subjectName": "lync-gw.company.com" }),
            "1.2.840.113549.1.1.5",
        ),
        (
            json!({ "subjectName": "lync-gw.company.com", "signatureAlgorithm": "sha1" }),
            "1.2.840.113549.1.1.5",
        ),
        (
            json!({ "subjectName": "lync-gw.company.com", "signatureAlgorithm": "sha256" }),
            "1.2.840.113549.1.1.11",
        ),
        (
            json!({ "subjectName": "lync-gw.company.com", "signatureAlgorithm": "sha512" }),
            "1.2.840.113549.1.1.13",
        ),
    ] {
        let answer = sim
            .post_json("/files/tls/0/certificate/request", &attributes)
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert_eq!(answer.content_type, "application/octet-stream");
        let blocks = pem_blocks(&answer.text());
        assert_eq!(blocks[0].label, "CERTIFICATE REQUEST");
        let (rest, csr) =
            X509CertificationRequest::from_der(&blocks[0].contents).expect("CSR parses");
        assert!(rest.is_empty());
        assert_eq!(
            csr.signature_algorithm.algorithm.to_id_string(),
            oid,
            "{attributes}"
        );
        assert_eq!(
            csr.certification_request_info.subject.to_string(),
            "CN=lync-gw.company.com"
        );
        // The request is for the context's own key, and is signed by it.
        let requested = rsa_public(&csr.certification_request_info.subject_pki);
        assert_eq!(requested, context_key);
        let info = csr.certification_request_info.raw;
        let signature = pkcs1v15::Signature::try_from(csr.signature_value.data.as_ref()).unwrap();
        let verified = match oid {
            "1.2.840.113549.1.1.5" => {
                pkcs1v15::VerifyingKey::<sha1::Sha1>::new(requested).verify(info, &signature)
            }
            "1.2.840.113549.1.1.11" => {
                pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(requested).verify(info, &signature)
            }
            _ => {
                pkcs1v15::VerifyingKey::<rsa::sha2::Sha512>::new(requested).verify(info, &signature)
            }
        };
        verified.expect("CSR signature verifies");
    }
    let bad = sim
        .post_json(
            "/files/tls/0/certificate/request",
            &json!({ "signatureAlgorithm": "md5" }),
        )
        .await;
    assert!(
        bad.assert_json(400)["description"]
            .as_str()
            .unwrap()
            .contains("md5")
    );
    // A 512-bit key cannot hold a SHA-512 PKCS#1 signature: 400, not a fake CSR.
    sim.post_json("/files/tls/0/privateKey/generate", &json!({ "size": 512 }))
        .await
        .assert_json(200);
    let small = sim
        .post_json(
            "/files/tls/0/certificate/request",
            &json!({ "signatureAlgorithm": "sha512" }),
        )
        .await;
    assert!(
        small.assert_json(400)["description"]
            .as_str()
            .unwrap()
            .contains("too small")
    );
}

#[tokio::test]
async fn trusted_root_store_is_replaced_and_extended() {
    let sim = v74().await;
    // An empty store has no content: 400, per chapter 2.
    assert_eq!(sim.get("/files/tls/0/trustedRoot").await.status, 400);
    let (a, b, c) = (
        other_certificate("root-a"),
        other_certificate("root-b"),
        other_certificate("root-c"),
    );
    // §8.6 example 2.
    let answer = sim
        .put_file(
            "/files/tls/0/trustedRoot",
            format!("{a}\n{b}").as_bytes(),
            &[],
        )
        .await;
    assert_eq!(
        answer.assert_json(200),
        json!({ "description": "Trusted root store was successfully changed" })
    );
    // §8.6 example 1.
    let download = sim.get("/files/tls/0/trustedRoot").await;
    assert_eq!(
        (download.status, download.content_type.as_str()),
        (200, "application/octet-stream")
    );
    let der = |text: &str| {
        pem_blocks(text)
            .into_iter()
            .map(|p| p.contents)
            .collect::<Vec<_>>()
    };
    assert_eq!(der(&download.text()), [der(&a), der(&b)].concat());
    // §8.7.
    let answer = sim
        .put_file("/files/tls/0/trustedRoot/incremental", c.as_bytes(), &[])
        .await;
    assert_eq!(
        answer.assert_json(200),
        json!({ "description": "Trusted root certificate was successfully added" })
    );
    assert_eq!(
        der(&sim.get("/files/tls/0/trustedRoot").await.text()),
        [der(&a), der(&b), der(&c)].concat()
    );
    // The whole store is replaced by a PUT.
    sim.put_file("/files/tls/0/trustedRoot", c.as_bytes(), &[])
        .await
        .assert_json(200);
    assert_eq!(
        der(&sim.get("/files/tls/0/trustedRoot").await.text()),
        der(&c)
    );
    // Other contexts have their own store.
    assert_eq!(sim.get("/files/tls/1/trustedRoot").await.status, 400);
    // Garbage and keys are not certificates.
    assert_eq!(
        sim.put_file("/files/tls/0/trustedRoot", b"junk", &[])
            .await
            .status,
        400
    );
    let key = key_pem(&new_key(512));
    assert_eq!(
        sim.put_file("/files/tls/0/trustedRoot/incremental", key.as_bytes(), &[])
            .await
            .status,
        400
    );
    let broken = pem("CERTIFICATE", b"not DER");
    assert_eq!(
        sim.put_file(
            "/files/tls/0/trustedRoot/incremental",
            broken.as_bytes(),
            &[]
        )
        .await
        .status,
        400
    );
}

#[tokio::test]
async fn tls_files_need_security_administrator_and_do_not_exist_in_2015() {
    let sim = v74().await;
    assert_eq!(sim.get_as(OPERATOR, "/files/tls").await.status, 403);
    assert_eq!(
        sim.get_as(MONITOR, "/files/tls/0/privateKey").await.status,
        403
    );
    let old = start(FleetConfig {
        dialect: Dialect::V2015,
        ..FleetConfig::default()
    })
    .await;
    assert_eq!(old.get("/files/tls").await.status, 404);
}

// ---------------------------------------------------------------- alarms

#[tokio::test]
async fn alarm_navigation_and_active_alarm_pagination() {
    let sim = v74().await;
    // §9.
    assert_eq!(
        sim.get("/alarms").await.assert_json(200),
        json!({ "alarms": [
            { "id": "active", "description": "Active alarms", "url": "/api/v1/alarms/active" },
            { "id": "history", "description": "History alarms", "url": "/api/v1/alarms/history" },
        ] })
    );
    // §9.1 example 1 (the seeded device has active alarms 2, 3 and 4).
    let all = sim.get_as(MONITOR, "/alarms/active").await.assert_json(200);
    assert_eq!(keys(&all), vec!["alarms", "cursor"]);
    assert_eq!(ids(&all["alarms"]), vec!["2", "3", "4"]);
    assert_eq!(all["cursor"], json!({ "after": "-1", "before": "-1" }));
    for alarm in all["alarms"].as_array().unwrap() {
        assert_eq!(keys(alarm), vec!["description", "id", "url"]);
        assert_eq!(
            alarm["url"],
            format!("/api/v1/alarms/active/{}", alarm["id"].as_str().unwrap())
        );
    }
    let first = sim.get("/alarms/active?limit=2").await.assert_json(200);
    assert_eq!(ids(&first["alarms"]), vec!["2", "3"]);
    assert_eq!(first["cursor"], json!({ "after": "3", "before": "-1" }));
    // §9.1 example 2: the "after" cursor.
    let next = sim.get("/alarms/active?after=3").await.assert_json(200);
    assert_eq!(ids(&next["alarms"]), vec!["4"]);
    assert_eq!(next["cursor"], json!({ "after": "-1", "before": "4" }));
    // §9.1 example 3: nothing after the last one.
    sim.get("/alarms/active?after=4").await.assert_no_content();
    // Backwards with "before", pages stay ascending.
    let back = sim
        .get("/alarms/active?before=4&limit=1")
        .await
        .assert_json(200);
    assert_eq!(ids(&back["alarms"]), vec!["3"]);
    assert_eq!(back["cursor"], json!({ "after": "3", "before": "3" }));
    let start = sim.get("/alarms/active?before=3").await.assert_json(200);
    assert_eq!(ids(&start["alarms"]), vec!["2"]);
    assert_eq!(start["cursor"]["before"], "-1");
    sim.get("/alarms/active?before=2").await.assert_no_content();
    // "-1" means there is nothing more.
    sim.get("/alarms/active?after=-1").await.assert_no_content();
    sim.get("/alarms/active?before=-1")
        .await
        .assert_no_content();
    // A limit beyond what exists returns what exists.
    assert_eq!(
        ids(&sim.get("/alarms/active?limit=500").await.assert_json(200)["alarms"]).len(),
        3
    );
    for bad in ["limit=0", "limit=abc", "after=x", "after=2&before=4"] {
        let refused = sim
            .get(&format!("/alarms/active?{bad}"))
            .await
            .assert_json(400);
        assert!(refused["description"].is_string(), "{bad}: {refused}");
    }
}

fn assert_alarm_date(date: &str) {
    // 2010-03-01T23:00:00.000Z
    let b = date.as_bytes();
    assert_eq!(b.len(), 24, "{date}");
    assert!(
        b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[19] == b'.'
            && b[23] == b'Z',
        "{date}"
    );
}

#[tokio::test]
async fn specific_alarms_last_change_and_history() {
    let sim = v74().await;
    // §9.1.1.
    let alarm = sim.get("/alarms/active/3").await.assert_json(200);
    assert_eq!(
        keys(&alarm),
        vec!["date", "description", "id", "severity", "source", "url"]
    );
    assert_eq!(alarm["id"], "3");
    assert_eq!(alarm["url"], "/api/v1/alarms/active/3");
    assert_eq!(alarm["severity"], "Major");
    assert_alarm_date(alarm["date"].as_str().unwrap());
    let with_oid = sim.get("/alarms/active/3?oid=1").await.assert_json(200);
    assert!(
        with_oid["oid"]
            .as_str()
            .unwrap()
            .starts_with("1.3.6.1.4.1.5003."),
        "{with_oid}"
    );
    assert!(
        sim.get("/alarms/active/3?oid=0")
            .await
            .assert_json(200)
            .get("oid")
            .is_none()
    );
    // Alarm 1 was cleared before the device was handed over.
    let gone = sim.get("/alarms/active/1").await.assert_json(404);
    assert!(gone["description"].is_string(), "{gone}");
    assert_eq!(sim.get("/alarms/active/nope").await.status, 404);
    // §9.1.2: "2016-06-09 19:00:00+03:00" form.
    let last = sim.get("/alarms/active/lastChange").await.assert_json(200);
    let text = last["lastChange"].as_str().unwrap();
    assert_eq!(text.len(), 25, "{text}");
    assert_eq!(&text[10..11], " ");
    assert_eq!(&text[19..], "+00:00");
    // §9.2: history since boot, with the cleared alarm.
    let history = sim.get("/alarms/history").await.assert_json(200);
    assert_eq!(ids(&history["alarms"]), vec!["1", "2", "3", "4", "5"]);
    assert_eq!(history["alarms"][0]["url"], "/api/v1/alarms/history/1");
    assert_eq!(history["cursor"], json!({ "after": "-1", "before": "-1" }));
    let page = sim
        .get("/alarms/history?limit=2&after=2")
        .await
        .assert_json(200);
    assert_eq!(ids(&page["alarms"]), vec!["3", "4"]);
    assert_eq!(page["cursor"], json!({ "after": "4", "before": "3" }));
    // §9.2.1.
    let cleared = sim.get("/alarms/history/3").await.assert_json(200);
    assert_eq!(cleared["severity"], "Cleared");
    assert_eq!(cleared["url"], "/api/v1/alarms/history/3");
    assert_eq!(sim.get("/alarms/history/99").await.status, 404);
}

#[tokio::test]
async fn raised_and_cleared_alarms_show_up_and_a_reboot_restarts_history() {
    let sim = start(FleetConfig {
        reset_time: Duration::from_millis(200),
        ..FleetConfig::default()
    })
    .await;
    let before = sim.get("/alarms/active/lastChange").await.assert_json(200)["lastChange"].clone();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let id = sim.device.alarms.raise(Condition {
        description: "Board temperature is too high".into(),
        severity: Severity::Critical,
        source: "Board#1/TemperatureSensor#1".into(),
        oid: "1.3.6.1.4.1.5003.9.10.1.21.2.0.3".into(),
    });
    let active = sim.get("/alarms/active").await.assert_json(200);
    assert_eq!(ids(&active["alarms"]).last().unwrap(), &id.to_string());
    assert_ne!(
        sim.get("/alarms/active/lastChange").await.assert_json(200)["lastChange"],
        before
    );
    // Nothing active: 204, while history still holds everything.
    for alarm in sim.device.alarms.active() {
        assert!(sim.device.alarms.clear(alarm.id));
    }
    sim.get("/alarms/active").await.assert_no_content();
    // 5 seeded entries, 1 raise, 4 clears.
    assert_eq!(
        ids(&sim.get("/alarms/history").await.assert_json(200)["alarms"]).len(),
        10
    );
    // A reboot empties the history ("since the last reboot").
    sim.device.alarms.raise(Condition {
        description: "NTP server is not available".into(),
        severity: Severity::Minor,
        source: "Board#1/NTP".into(),
        oid: "1.3.6.1.4.1.5003.9.10.1.21.2.0.71".into(),
    });
    sim.device.reset(false);
    sim.wait_until_back().await;
    let active = sim.get("/alarms/active").await.assert_json(200);
    assert_eq!(ids(&active["alarms"]), vec!["1"]);
    assert_eq!(
        active["alarms"][0]["description"],
        "NTP server is not available"
    );
    assert_eq!(
        ids(&sim.get("/alarms/history").await.assert_json(200)["alarms"]),
        vec!["1"]
    );
}

// ---------------------------------------------------------------- status

#[tokio::test]
async fn status_has_the_documented_fields() {
    let sim = v74().await;
    // Chapter 10 (and chapter 3), readable by a Monitor.
    let status = sim.get_as(MONITOR, "/status").await.assert_json(200);
    assert_eq!(
        keys(&status),
        vec![
            "defaultGateway",
            "highAvailability",
            "ipAddress",
            "localTimeStamp",
            "macAddress",
            "operationalState",
            "productType",
            "protocolType",
            "serialNumber",
            "subnetMask",
            "systemUpTime",
            "versionID",
        ]
    );
    let info = &sim.device.info;
    assert_eq!(status["serialNumber"], info.serial_number.as_str());
    assert_eq!(status["ipAddress"], info.ip_address.to_string());
    assert_eq!(status["macAddress"], info.mac_address.as_str());
    assert_eq!(status["versionID"], info.software_version.as_str());
    assert_eq!(status["productType"], info.product.as_str());
    assert_eq!(status["protocolType"], "SIP");
    assert_eq!(status["operationalState"], "UNLOCKED");
    assert_eq!(status["highAvailability"], "Not Operational");
    assert!(status["systemUpTime"].is_u64());
    assert_alarm_date(status["localTimeStamp"].as_str().unwrap());
    assert_eq!(sim.post_json("/status", &json!({})).await.status, 405);
}

#[tokio::test]
async fn status_in_the_2015_dialect_and_on_an_ha_device() {
    let old = start(FleetConfig {
        dialect: Dialect::V2015,
        ..FleetConfig::default()
    })
    .await;
    let status = old.get("/status").await.assert_json(200);
    // v7.4 section 10's example shows the same 7.20A.200.014 build with
    // twelve fields; the 2015 document's example is cut off after
    // `highAvailability`, which is not a statement that the others are absent.
    assert_eq!(status.as_object().unwrap().len(), 12);
    assert_eq!(status["highAvailability"], "Stand Alone");
    assert_eq!(status["versionID"], "7.20A.200.014");
    let ha = start(FleetConfig {
        ha: true,
        ..FleetConfig::default()
    })
    .await;
    assert_eq!(
        ha.get("/status").await.assert_json(200)["highAvailability"],
        "Active"
    );
}

// ---------------------------------------------------------------- KPI

#[tokio::test]
async fn kpi_tree_discovery_follows_the_document() {
    let sim = start(with_ip_groups(3)).await;
    // Chapter 11.
    assert_eq!(
        sim.get_as(MONITOR, "/kpi").await.assert_json(200),
        json!({ "items": [
            { "id": "current", "description": "Real-time KPIs", "url": "/api/v1/kpi/current" },
            { "id": "history", "description": "Historical KPIs", "url": "/api/v1/kpi/history" },
            { "id": "interval", "description": "Intervals Information", "url": "/api/v1/kpi/interval" },
        ] })
    );
    // §11.4 example 1: applications with their groups.
    let apps = sim.get("/kpi/current").await.assert_json(200);
    assert_eq!(ids(&apps["items"])[..2], ["sbc", "media"]);
    let sbc = &apps["items"][0];
    assert_eq!(sbc["description"], "SBC application statistics");
    assert_eq!(sbc["url"], "/api/v1/kpi/current/sbc");
    assert_eq!(sbc["groups"], json!(["callStats", "otherStats"]));
    let after = sim.get("/kpi/current?after=sbc").await.assert_json(200);
    assert_eq!(ids(&after["items"])[0], "media");
    // §11.4 example 2: groups.
    let groups = sim.get("/kpi/current/sbc").await.assert_json(200);
    assert_eq!(
        groups["items"][0],
        json!({ "id": "callStats", "description": "Call statistics", "url": "/api/v1/kpi/current/sbc/callStats" })
    );
    // §11.4 example 3 asks for "callstats": entities.
    let entities = sim.get("/kpi/current/sbc/callstats").await.assert_json(200);
    assert_eq!(ids(&entities["items"]), vec!["global", "ipGroup"]);
    assert_eq!(
        entities["items"][1]["url"],
        "/api/v1/kpi/current/sbc/callStats/ipGroup"
    );
    // Invalid paths and parameters are 400.
    assert_eq!(sim.get("/kpi/current/voip").await.status, 400);
    assert_eq!(sim.get("/kpi/current/sbc/nope").await.status, 400);
    assert_eq!(sim.get("/kpi/current?after=nope").await.status, 400);
    assert_eq!(sim.get("/kpi/current?detailed=maybe").await.status, 400);
    assert_eq!(sim.get("/kpi/elsewhere").await.status, 404);
    // detailed=false leaves descriptions out.
    let brief = sim
        .get("/kpi/current/sbc?detailed=false")
        .await
        .assert_json(200);
    assert!(brief["items"][0].get("description").is_none());
}

#[tokio::test]
async fn kpi_entity_indexes_paginate_with_the_documented_cursor() {
    let sim = start(with_ip_groups(3)).await;
    // §11.2 example 1.
    let first = sim
        .get("/kpi/current/sbc/callStats/ipGroup?limit=2")
        .await
        .assert_json(200);
    assert_eq!(ids(&first["items"]), vec!["0", "1"]);
    assert_eq!(
        first["cursor"],
        json!([{ "start": "0", "before": "-1", "after": "1", "end": "2" }])
    );
    let item = &first["items"][0];
    assert_eq!(keys(item), vec!["description", "id", "name", "url"]);
    assert_eq!(item["name"], "PBX");
    assert_eq!(item["url"], "/api/v1/kpi/current/sbc/callStats/ipGroup/0");
    // The next page.
    let next = sim
        .get("/kpi/current/sbc/callStats/ipGroup?limit=2&after=1")
        .await
        .assert_json(200);
    assert_eq!(ids(&next["items"]), vec!["2"]);
    assert_eq!(
        next["cursor"],
        json!([{ "start": "0", "before": "2", "after": "-1", "end": "2" }])
    );
    // §11.5: ?after=0 and ?id=1.
    assert_eq!(
        ids(&sim
            .get("/kpi/current/sbc/callStats/ipGroup?after=0")
            .await
            .assert_json(200)["items"]),
        vec!["1", "2"]
    );
    let one = sim
        .get("/kpi/current/sbc/callStats/ipGroup?id=1")
        .await
        .assert_json(200);
    assert_eq!(ids(&one["items"]), vec!["1"]);
    assert_eq!(one["items"][0]["name"], "ITSP-001");
    sim.get("/kpi/current/sbc/callStats/ipGroup?id=7")
        .await
        .assert_no_content();
    sim.get("/kpi/current/sbc/callStats/ipGroup?after=2")
        .await
        .assert_no_content();
    sim.get("/kpi/current/sbc/callStats/ipGroup?after=-1")
        .await
        .assert_no_content();
    assert_eq!(
        ids(&sim
            .get("/kpi/current/sbc/callStats/ipGroup?limit=50")
            .await
            .assert_json(200)["items"])
        .len(),
        3
    );
    assert_eq!(
        sim.get("/kpi/current/sbc/callStats/ipGroup?limit=0")
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn kpi_values_lists_and_single_parameters() {
    let sim = start(with_ip_groups(3)).await;
    // §11.2 example 2.
    let brief = sim
        .get("/kpi/current/sbc/callStats/ipGroup/0?detailed=false&limit=2")
        .await
        .assert_json(200);
    assert_eq!(
        ids(&brief["items"]),
        vec![
            "abnormalTerminatedCallsInTotal",
            "abnormalTerminatedCallsOutTotal"
        ]
    );
    assert_eq!(keys(&brief["items"][0]), vec!["id", "value"]);
    assert!(
        brief["items"][0]["value"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    assert_eq!(
        brief["cursor"],
        json!([{
            "start": "abnormalTerminatedCallsInTotal",
            "before": "-1",
            "after": "abnormalTerminatedCallsOutTotal",
            "end": "shortCallsCounterTotal",
        }])
    );
    // §11.6 example 1 and 2: full items; limit=1.
    let full = sim
        .get("/kpi/current/sbc/callStats/ipGroup/0?limit=1")
        .await
        .assert_json(200);
    assert_eq!(
        full["items"][0]["url"],
        "/api/v1/kpi/current/sbc/callStats/ipGroup/0/abnormalTerminatedCallsInTotal"
    );
    assert_eq!(
        keys(&full["items"][0]),
        vec!["description", "id", "name", "url", "value"]
    );
    assert_eq!(
        full["items"][0]["name"],
        "Abnormal Terminated Calls In Total"
    );
    // §11.6 example 3: ?kpi=.
    let rate = sim
        .get("/kpi/current/sbc/callStats/ipGroup/0?kpi=attemptedCallsRateOut")
        .await
        .assert_json(200);
    assert_eq!(ids(&rate["items"]), vec!["attemptedCallsRateOut"]);
    assert_eq!(rate["items"][0]["name"], "Attempted Calls Rate Out");
    assert_eq!(
        sim.get("/kpi/current/sbc/callStats/ipGroup/0?kpi=nope")
            .await
            .status,
        400
    );
    // ?after=postDialDelay (the document's parameter example).
    let tail = sim
        .get("/kpi/current/sbc/callStats/ipGroup/0?after=postDialDelay")
        .await
        .assert_json(200);
    assert_eq!(ids(&tail["items"]), vec!["shortCallsCounterTotal"]);
    // The singular entity.
    let global = sim
        .get("/kpi/current/sbc/callStats/global?kpi=busyCallsInTotal")
        .await
        .assert_json(200);
    assert_eq!(ids(&global["items"]), vec!["busyCallsInTotal"]);
    // A missing IP Group is an invalid path.
    assert_eq!(
        sim.get("/kpi/current/sbc/callStats/ipGroup/9").await.status,
        400
    );

    // §11.7 example 1: one value, as a number.
    let single = sim
        .get("/kpi/current/sbc/callStats/ipGroup/0/noAnswerCallsInTotal")
        .await
        .assert_json(200);
    assert_eq!(keys(&single), vec!["id", "value"]);
    assert_eq!(single["id"], "noAnswerCallsInTotal");
    assert!(single["value"].is_u64());
    // §11.7 example 2: every interval, newest first.
    let all = sim
        .get("/kpi/current/sbc/callStats/ipGroup/0/noAnswerCallsInTotal?interval=all")
        .await
        .assert_json(200);
    let intervals: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["interval"].as_str().unwrap())
        .collect();
    assert_eq!(intervals, vec!["3", "2", "1"]);
    assert!(all["items"][0]["value"].is_string());
    // History reads the last interval by default.
    let history = sim
        .get("/kpi/history/sbc/callStats/ipGroup/0/noAnswerCallsInTotal")
        .await
        .assert_json(200);
    let last = sim
        .get("/kpi/history/sbc/callStats/ipGroup/0/noAnswerCallsInTotal?interval=last")
        .await
        .assert_json(200);
    assert_eq!(history, last);
    assert_eq!(
        history["value"].to_string(),
        all["items"][0]["value"].as_str().unwrap()
    );
    let second = sim
        .get("/kpi/history/sbc/callStats/ipGroup/0/noAnswerCallsInTotal?interval=2")
        .await
        .assert_json(200);
    assert_eq!(
        second["value"].to_string(),
        all["items"][1]["value"].as_str().unwrap()
    );
    assert_eq!(
        sim.get("/kpi/history/sbc/callStats/ipGroup/0?interval=99")
            .await
            .status,
        400
    );
    // Unknown parameters of a valid entity are 404.
    assert_eq!(
        sim.get("/kpi/current/sbc/callStats/ipGroup/0/nope")
            .await
            .status,
        404
    );
    assert_eq!(
        sim.get("/kpi/current/sbc/callStats/global/nope")
            .await
            .status,
        404
    );
    assert_eq!(
        sim.get("/kpi/current/sbc/callStats/ipGroup/9/noAnswerCallsInTotal")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn kpi_intervals_are_discoverable() {
    let sim = v74().await;
    // §11.3.
    let list = sim.get("/kpi/interval").await.assert_json(200);
    let intervals = list["intervals"].as_array().unwrap();
    assert_eq!(
        intervals
            .iter()
            .map(|i| i["id"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let one = sim.get("/kpi/interval?id=2").await.assert_json(200);
    assert_eq!(one["intervals"].as_array().unwrap().len(), 1);
    let interval = &one["intervals"][0];
    assert_eq!(keys(interval), vec!["end", "id", "start", "url"]);
    assert_eq!(interval["id"], 2);
    assert_eq!(interval["url"], "/api/v1/kpi/interval?id=2");
    let (start, end) = (
        interval["start"].as_str().unwrap(),
        interval["end"].as_str().unwrap(),
    );
    assert!(start.ends_with("+00:00") && start.len() == 25, "{start}");
    assert_eq!(intervals[2]["start"], intervals[1]["end"]);
    assert_ne!(start, end);
    assert_eq!(
        sim.get("/kpi/interval?id=last").await.assert_json(200)["intervals"][0]["id"],
        3
    );
    sim.get("/kpi/interval?id=99").await.assert_no_content();
    // ?limit=N is the newest N.
    let newest = sim.get("/kpi/interval?limit=1").await.assert_json(200);
    assert_eq!(newest["intervals"][0]["id"], 3);
    assert_eq!(newest["cursor"][0]["before"], "3");
    let older = sim.get("/kpi/interval?before=3").await.assert_json(200);
    assert_eq!(older["intervals"].as_array().unwrap().len(), 2);
    assert_eq!(sim.get("/kpi/interval?id=x").await.status, 400);
}

#[tokio::test]
async fn performance_monitoring_in_the_2015_dialect() {
    let old = start(FleetConfig {
        dialect: Dialect::V2015,
        ..FleetConfig::default()
    })
    .await;
    assert_eq!(old.get("/kpi").await.status, 404);
    // Chapter 9. (Section 2: the REST user "should correspond to a valid
    // device user with the Security Administrator privilege level".)
    assert_eq!(
        old.get_as(MONITOR, "/performanceMonitoring").await.status,
        403
    );
    let list = old.get("/performanceMonitoring").await.assert_json(200);
    assert_eq!(
        list,
        json!({ "items": ["ActiveContextCount", "NetUtilKBytes", "NetUtilPackets"] })
    );
    // §9.1 examples (the document writes netUtilPackets).
    assert_eq!(
        old.get("/performanceMonitoring/netUtilPackets")
            .await
            .assert_json(200),
        json!({ "indexes": [0, 1], "intervalsPerIndex": [0, 1, 2], "lowThreshold": 100, "highThreshold": 30000 })
    );
    let reading = old
        .get("/performanceMonitoring/netUtilPackets?index=0")
        .await
        .assert_json(200);
    assert_eq!(
        keys(&reading),
        vec!["average", "index", "interval", "max", "min", "value"]
    );
    assert_eq!(
        (reading["index"].as_u64(), reading["interval"].as_u64()),
        (Some(0), Some(0))
    );
    let invalid = old
        .get("/performanceMonitoring/netUtilPackets?index=100")
        .await
        .assert_json(400);
    assert_eq!(invalid, json!({ "description": "Invalid index" }));
    assert_eq!(
        old.get("/performanceMonitoring/netUtilPackets?index=0&interval=2")
            .await
            .status,
        200
    );
    assert_eq!(old.get("/performanceMonitoring/nope").await.status, 404);
    let new = v74().await;
    assert_eq!(new.get("/performanceMonitoring").await.status, 404);
}

// ---------------------------------------------------------------- licence

#[tokio::test]
async fn license_get_shows_the_documented_fields() {
    let sim = v74().await;
    // Chapter 12 example 1; an Administrator may read it, a Monitor may not.
    let license = sim.get_as(OPERATOR, "/license").await.assert_json(200);
    assert_eq!(
        keys(&license),
        vec!["key", "keyDescription", "licenseVersion", "serialNumber"]
    );
    assert_eq!(license["licenseVersion"], 1);
    assert_eq!(
        license["serialNumber"],
        sim.device.info.serial_number.as_str()
    );
    assert!(license["key"].as_str().unwrap().len() >= 16);
    assert!(
        license["keyDescription"]
            .as_str()
            .unwrap()
            .starts_with("Key features: Board Type: Mediant 800")
    );
    assert_eq!(sim.get_as(MONITOR, "/license").await.status, 403);
    // PUT needs a Security Administrator.
    let request = json!({ "licenseVersion": 1, "key": "jCx6r5tovCIKaBBbhPtT53Yj" });
    assert_eq!(
        sim.put_json_as(OPERATOR, "/license", &request).await.status,
        403
    );
    assert!(!format!("{:?}", sim.device).contains(license["key"].as_str().unwrap()));
}

#[tokio::test]
async fn license_json_checks_the_serial_number_and_resets_the_device() {
    let sim = start(FleetConfig {
        reset_time: Duration::from_millis(200),
        ..FleetConfig::default()
    })
    .await;
    let serial = sim.device.info.serial_number.clone();
    let resets = sim.device.reset_count();
    // A different serial number is rejected, and nothing resets.
    let mismatch = json!({ "licenseVersion": 1, "serialNumber": "277522263687112", "key": "jCx6r5tovCIKaBBbhPtT53Yj" });
    let refused = sim
        .put_json_as(ADMIN, "/license", &mismatch)
        .await
        .assert_json(400);
    assert!(
        refused["description"]
            .as_str()
            .unwrap()
            .contains("serial number"),
        "{refused}"
    );
    for bad in [
        json!({ "licenseVersion": 2, "key": "jCx6r5tovCIKaBBbhPtT53Yj" }),
        json!({ "licenseVersion": 1, "key": "short" }),
        json!({ "licenseVersion": 1 }),
    ] {
        assert_eq!(
            sim.put_json_as(ADMIN, "/license", &bad).await.status,
            400,
            "{bad}"
        );
    }
    assert_eq!(sim.device.reset_count(), resets);
    // Example 2: the right serial number.
    let good =
        json!({ "licenseVersion": 1, "serialNumber": serial, "key": "jCx6r5tovCIKaBBbhPtT53Yj" });
    let answer = sim.put_json_as(ADMIN, "/license", &good).await;
    assert_eq!(
        answer.assert_json(200),
        json!({ "description": "Device will reset now to activate new license" })
    );
    assert_eq!(sim.device.reset_count(), resets + 1);
    sim.wait_until_back().await;
    assert_eq!(
        sim.get("/license").await.assert_json(200)["key"],
        "jCx6r5tovCIKaBBbhPtT53Yj"
    );
}

#[tokio::test]
async fn license_json_is_refused_on_ha_but_a_licence_file_is_taken() {
    let sim = start(FleetConfig {
        ha: true,
        reset_time: Duration::from_millis(200),
        ..FleetConfig::default()
    })
    .await;
    let serial = sim.device.info.serial_number.clone();
    let request =
        json!({ "licenseVersion": 1, "serialNumber": serial, "key": "jCx6r5tovCIKaBBbhPtT53Yj" });
    // Example 2, second answer.
    assert_eq!(
        sim.put_json_as(ADMIN, "/license", &request)
            .await
            .assert_json(409),
        json!({ "description": "License key can't be applied to device in HA configuration. Use license file instead." })
    );
    assert_eq!(sim.device.reset_count(), 0);
    // Example 3: a licence file with keys for several devices.
    let file = format!(
        "S/N277522263687112 AAAAAAAAAAAAAAAAAAAAAAAA\nS/N{serial} ZmlsZUtleUZvclRoaXNEZXZpY2U=\n"
    );
    let none_for_us = sim
        .put_file(
            "/license",
            b"S/N277522263687112 AAAAAAAAAAAAAAAAAAAAAAAA\n",
            &[],
        )
        .await;
    assert_eq!(
        none_for_us.assert_json(400)["description"],
        format!("License file holds no key for serial number {serial}")
    );
    let answer = sim.put_file("/license", file.as_bytes(), &[]).await;
    assert_eq!(
        answer.assert_json(200),
        json!({ "description": "Device will reset now to activate new software load" })
    );
    assert_eq!(sim.device.reset_count(), 1);
    sim.wait_until_back().await;
    assert_eq!(
        sim.get("/license").await.assert_json(200)["key"],
        "ZmlsZUtleUZvclRoaXNEZXZpY2U="
    );
}

#[tokio::test]
async fn license_file_in_the_2015_dialect_is_octet_stream() {
    let old = start(FleetConfig {
        dialect: Dialect::V2015,
        reset_time: Duration::from_millis(200),
        ..FleetConfig::default()
    })
    .await;
    let serial = old.device.info.serial_number.clone();
    let file = format!("S/N{serial} T2N0ZXRTdHJlYW1MaWNlbmNl\n");
    // Multipart is the v7.4 encoding: a 2015 device refuses it.
    assert_eq!(
        old.put_file("/license", file.as_bytes(), &[]).await.status,
        400
    );
    assert_eq!(old.device.reset_count(), 0);
    let answer = old.put_octets("/license", file.as_bytes()).await;
    assert_eq!(
        answer.assert_json(200)["description"],
        "Device will reset now to activate new software load"
    );
    old.wait_until_back().await;
    assert_eq!(
        old.get("/license").await.assert_json(200)["key"],
        "T2N0ZXRTdHJlYW1MaWNlbmNl"
    );
}
