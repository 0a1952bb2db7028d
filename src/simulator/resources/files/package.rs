//! `/files/configurationPackage.tar.gz` (v7.4 Table 2-2 and section 7.5):
//! the device's configuration and auxiliary files in one archive.
//!
//! The document names the resource, its privilege (GET and PUT, Security
//! Administrator) and that it is uploaded like the other files, nothing
//! more. What the simulator assumes beyond that:
//!
//! - The archive is a gzip-compressed tar file, as the name says, served
//!   as `application/octet-stream` like every other download.
//! - The INI file is the entry `ini.ini` (the name AudioCodes' user manuals
//!   give the INI file of a configuration package); its text is exactly
//!   what `GET /files/ini` answers at the same moment.
//! - Each auxiliary file the device holds (`PUT /files/cpt` …) is the entry
//!   `<name>.dat`, `<name>` spelled as the `/files` listing spells it
//!   (`cpt.dat`, `casTable.dat`, `usersInfo.dat`).
//! - An upload is read leniently in names and strictly in content: entry
//!   names compare case-insensitively, directories in entry paths are
//!   ignored, `.dat` is optional (`CPT.dat`, `cpt` and `x/cpt.dat` are all
//!   the CPT file), and entries the device does not know (a CLI startup
//!   script, TLS files, logos) are ignored, as unknown INI parameters are.
//!   The package must hold exactly one `ini.ini` and no name twice, and no
//!   file may be empty; a package that is not gzip, not tar, larger than
//!   64 MiB unpacked, or whose INI file the device refuses is a 400, and
//!   nothing of it is applied.
//! - An accepted package is a full configuration: the INI is loaded as by
//!   `PUT /files/ini` (the device resets with the same answer) and its
//!   auxiliary files replace the device's files of the same names; files
//!   it does not hold stay as they were.

use std::io::Read;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use crate::simulator::device::Device;
use crate::simulator::firmware::ini_load;
use crate::simulator::http::{ApiError, described, octet_stream, read_upload};
use crate::simulator::resources::files::{RESET_FOR_CONFIGURATION, auxiliary_name, ini_text};
use crate::sync::lock;

/// The name of the INI file inside a package.
pub(crate) const INI_ENTRY: &str = "ini.ini";

/// The suffix of auxiliary files inside a package.
const AUXILIARY_SUFFIX: &str = ".dat";

/// Most bytes a package may unpack to (the request body limit, so a small
/// compressed upload cannot make the device hold far more than a plain one).
const MAX_UNPACKED: u64 = 64 * 1024 * 1024;

/// Why a configuration package cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PackageError {
    /// The upload is empty.
    #[error("the file is empty")]
    Empty,
    /// The upload is not gzip data, or the gzip stream is damaged.
    #[error("not a gzip-compressed file ({0})")]
    Gzip(std::io::Error),
    /// The gzip stream unpacks to more than this many bytes.
    #[error("it unpacks to more than {0} bytes")]
    TooLarge(u64),
    /// The unpacked data is not a tar archive, or the archive is damaged.
    #[error("not a valid tar archive ({0})")]
    Tar(std::io::Error),
    /// Two entries name the same file.
    #[error("it holds {0} more than once")]
    Duplicate(String),
    /// An entry the device would load is empty.
    #[error("{0} is empty")]
    EmptyEntry(String),
    /// There is no INI file.
    #[error("it holds no {INI_ENTRY} (the INI configuration file)")]
    NoIni,
    /// The INI file is not text.
    #[error("{INI_ENTRY} is not UTF-8 text (byte {0})")]
    IniNotText(usize),
    /// Writing the archive failed (in memory: not expected to happen).
    #[error("could not write the archive: {0}")]
    Write(std::io::Error),
}

/// The contents of an uploaded package the device knows.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Package {
    /// The INI file's text.
    pub(crate) ini: String,
    /// Auxiliary files by canonical resource name.
    pub(crate) auxiliary: Vec<(&'static str, Bytes)>,
    /// Entries the device does not know and ignored, as named in the archive.
    pub(crate) ignored: Vec<String>,
}

/// One regular file appended to the archive.
fn append(
    builder: &mut tar::Builder<GzEncoder<Vec<u8>>>,
    name: &str,
    content: &[u8],
    mtime: u64,
) -> Result<(), PackageError> {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_mtime(mtime);
    header.set_size(content.len() as u64);
    builder
        .append_data(&mut header, name, content)
        .map_err(PackageError::Write)
}

/// Writes a package: the INI file first, then the auxiliary files (by
/// canonical resource name) in the order given.
pub(crate) fn pack(
    ini: &[u8],
    auxiliary: &[(&str, Bytes)],
    mtime: u64,
) -> Result<Vec<u8>, PackageError> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    append(&mut builder, INI_ENTRY, ini, mtime)?;
    for (name, content) in auxiliary {
        append(
            &mut builder,
            &format!("{name}{AUXILIARY_SUFFIX}"),
            content,
            mtime,
        )?;
    }
    builder
        .into_inner()
        .and_then(GzEncoder::finish)
        .map_err(PackageError::Write)
}

/// What an entry name stands for: the INI file, an auxiliary file, or
/// nothing the device knows.
fn classify(file_name: &str) -> Option<Option<&'static str>> {
    if file_name.eq_ignore_ascii_case(INI_ENTRY) {
        return Some(None);
    }
    let suffix = AUXILIARY_SUFFIX.len();
    let stem = match file_name.len().checked_sub(suffix) {
        Some(cut)
            if file_name.is_char_boundary(cut)
                && file_name[cut..].eq_ignore_ascii_case(AUXILIARY_SUFFIX) =>
        {
            &file_name[..cut]
        }
        _ => file_name,
    };
    auxiliary_name(stem).map(Some)
}

/// Reads an uploaded package, refusing anything malformed (see the module
/// documentation for the rules).
pub(crate) fn unpack(archive: &[u8]) -> Result<Package, PackageError> {
    unpack_within(archive, MAX_UNPACKED)
}

/// [`unpack`] with a limit on the unpacked size.
fn unpack_within(archive: &[u8], limit: u64) -> Result<Package, PackageError> {
    if archive.is_empty() {
        return Err(PackageError::Empty);
    }
    let mut tarball = Vec::new();
    GzDecoder::new(archive)
        .take(limit + 1)
        .read_to_end(&mut tarball)
        .map_err(PackageError::Gzip)?;
    if tarball.len() as u64 > limit {
        return Err(PackageError::TooLarge(limit));
    }

    let mut ini_file: Option<Vec<u8>> = None;
    let mut auxiliary: Vec<(&'static str, Bytes)> = Vec::new();
    let mut ignored = Vec::new();
    let mut reader = tar::Archive::new(tarball.as_slice());
    for entry in reader.entries().map_err(PackageError::Tar)? {
        let mut entry = entry.map_err(PackageError::Tar)?;
        let path = entry.path().map_err(PackageError::Tar)?.into_owned();
        let shown = path.to_string_lossy().into_owned();
        if !entry.header().entry_type().is_file() {
            if !entry.header().entry_type().is_dir() {
                ignored.push(shown);
            }
            continue;
        }
        let Some(target) = path.file_name().and_then(|n| n.to_str()).and_then(classify) else {
            ignored.push(shown);
            continue;
        };
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(PackageError::Tar)?;
        if content.is_empty() {
            return Err(PackageError::EmptyEntry(shown));
        }
        match target {
            None if ini_file.is_some() => return Err(PackageError::Duplicate(INI_ENTRY.into())),
            None => ini_file = Some(content),
            Some(name) if auxiliary.iter().any(|(n, _)| *n == name) => {
                return Err(PackageError::Duplicate(format!("{name}{AUXILIARY_SUFFIX}")));
            }
            Some(name) => auxiliary.push((name, Bytes::from(content))),
        }
    }
    let ini_file = ini_file.ok_or(PackageError::NoIni)?;
    let ini = String::from_utf8(ini_file)
        .map_err(|e| PackageError::IniNotText(e.utf8_error().valid_up_to()))?;
    Ok(Package {
        ini,
        auxiliary,
        ignored,
    })
}

/// A 400 for a package the device refuses, as the other uploads word it.
fn incorrect(why: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!(
        "Provided configuration package is incorrect: {why}"
    ))
}

/// `GET /files/configurationPackage.tar.gz`: the INI file of the running
/// configuration and every auxiliary file the device holds.
pub(crate) async fn get_package(State(device): State<Arc<Device>>) -> Result<Response, ApiError> {
    let ini = ini_text(&device);
    let mtime = device.configuration().last_change_unix;
    let auxiliary: Vec<(&str, Bytes)> = lock(&device.aux_files)
        .iter()
        .filter_map(|(key, content)| auxiliary_name(key).map(|name| (name, content.clone())))
        .collect();
    let archive = pack(&ini, &auxiliary, mtime)
        .map_err(|e| ApiError::Internal(format!("Configuration package: {e}")))?;
    Ok(octet_stream(archive))
}

/// `PUT /files/configurationPackage.tar.gz`: loads the package's INI file
/// as a full configuration, stores its auxiliary files, and resets.
pub(crate) async fn put_package(
    State(device): State<Arc<Device>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let upload = read_upload(&device, &headers, body).await?;
    let package = unpack(&upload).map_err(incorrect)?;
    let (config, report) = ini_load::load_full(&device.running(), &package.ini)
        .map_err(|e| incorrect(format!("{INI_ENTRY} {e}")))?;
    if !(report.ignored.is_empty() && package.ignored.is_empty()) {
        tracing::debug!(
            ignored_names = report.ignored.len(),
            ignored_entries = package.ignored.len(),
            "configuration package: unknown names and entries ignored"
        );
    }
    {
        let mut stored = lock(&device.aux_files);
        for (name, content) in package.auxiliary {
            stored.insert(name.to_ascii_lowercase(), content);
        }
    }
    device.load_and_reset(config);
    Ok(described(RESET_FOR_CONFIGURATION))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
        for (name, content) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            builder
                .append_data(&mut header, name, *content)
                .expect("append");
        }
        builder
            .into_inner()
            .and_then(GzEncoder::finish)
            .expect("finish")
    }

    #[test]
    fn pack_then_unpack_gives_the_files_back() {
        let archive = pack(
            b"[SIP Params]\r\n",
            &[
                ("cpt", Bytes::from_static(b"tones")),
                ("casTable", Bytes::from_static(b"cas")),
            ],
            1_700_000_000,
        )
        .expect("packs");
        let package = unpack(&archive).expect("unpacks");
        assert_eq!(package.ini, "[SIP Params]\r\n");
        assert_eq!(
            package.auxiliary,
            vec![
                ("cpt", Bytes::from_static(b"tones")),
                ("casTable", Bytes::from_static(b"cas"))
            ]
        );
        assert!(package.ignored.is_empty());
    }

    #[test]
    fn entry_names_are_matched_leniently() {
        let archive = tar_gz(&[
            ("backup/INI.ini", b"a = 1\n"),
            ("CPT.dat", b"x"),
            ("castable", b"y"),
            ("cli-startup-script.txt", b"configure voip\n"),
        ]);
        let package = unpack(&archive).expect("unpacks");
        assert_eq!(package.ini, "a = 1\n");
        let names: Vec<&str> = package.auxiliary.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["cpt", "casTable"]);
        assert_eq!(package.ignored, ["cli-startup-script.txt"]);
    }

    #[test]
    fn malformed_packages_are_refused() {
        assert!(matches!(unpack(b""), Err(PackageError::Empty)));
        assert!(matches!(
            unpack(b"plain text, not gzip"),
            Err(PackageError::Gzip(_))
        ));
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        std::io::Write::write_all(&mut gz, &[b'x'; 1024]).expect("write");
        let not_tar = gz.finish().expect("finish");
        assert!(matches!(unpack(&not_tar), Err(PackageError::Tar(_))));
        assert!(matches!(
            unpack(&tar_gz(&[("cpt.dat", b"x")])),
            Err(PackageError::NoIni)
        ));
        assert!(matches!(
            unpack(&tar_gz(&[("ini.ini", b"a=1\n"), ("x/ini.ini", b"b=2\n")])),
            Err(PackageError::Duplicate(_))
        ));
        assert!(matches!(
            unpack(&tar_gz(&[("ini.ini", b"a=1\n"), ("cpt.dat", b"")])),
            Err(PackageError::EmptyEntry(_))
        ));
        assert!(matches!(
            unpack(&tar_gz(&[("ini.ini", &[0xff, 0xfe])])),
            Err(PackageError::IniNotText(0))
        ));
        let mut truncated = tar_gz(&[("ini.ini", &[b'a'; 4096])]);
        truncated.truncate(truncated.len() / 2);
        assert!(unpack(&truncated).is_err());
    }

    #[test]
    fn packages_unpacking_past_the_limit_are_refused() {
        let archive = tar_gz(&[("ini.ini", &[b'a'; 8192])]);
        assert!(unpack_within(&archive, 64 * 1024).is_ok());
        assert!(matches!(
            unpack_within(&archive, 4096),
            Err(PackageError::TooLarge(4096))
        ));
    }
}
