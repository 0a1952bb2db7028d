//! Who a simulated device is: its REST dialect and its identity as
//! `/status`, the INI header and `show system version` report it.

use std::net::Ipv4Addr;

/// Which edition of the REST API a device speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Firmware 7.4 (the v7.4 document): uploads are `multipart/form-data`
    /// with a part named `file`; `/kpi`, `/files/tls` and `authToken` exist.
    #[default]
    V74,
    /// The 2015 API (firmware 7.0/7.2): uploads are
    /// `application/octet-stream`; `/performanceMonitoring` instead of `/kpi`.
    V2015,
}

impl Dialect {
    /// The name used on the command line (`v7.4`, `2015`).
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::V74 => "v7.4",
            Dialect::V2015 => "2015",
        }
    }
}

impl std::str::FromStr for Dialect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "v7.4" | "7.4" | "v74" => Ok(Dialect::V74),
            "2015" | "v2015" | "v1.0" => Ok(Dialect::V2015),
            other => Err(format!(
                "unknown dialect `{other}` (expected `v7.4` or `2015`)"
            )),
        }
    }
}

/// The identity of a device, as `/status`, the INI header and
/// `show system version` report it. Fixed for the life of the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Position of the device in its fleet (0-based).
    pub index: usize,
    /// Serial number, unique per device (`/status` `serialNumber`).
    pub serial_number: String,
    /// Product name (`/status` `productType`, INI `;Board:`), e.g. `Mediant 800`.
    pub product: String,
    /// Software version (`/status` `versionID`), e.g. `7.40A.500.001`.
    pub software_version: String,
    /// Board type number of the INI header (`;Board Type: 73`).
    pub board_type: u32,
    /// Management address (`/status` `ipAddress`).
    pub ip_address: Ipv4Addr,
    /// Management subnet mask.
    pub subnet_mask: Ipv4Addr,
    /// Default gateway.
    pub default_gateway: Ipv4Addr,
    /// MAC address as `/status` writes it: 12 lower-case hex digits, no separators.
    pub mac_address: String,
    /// Whether the device is one of an HA pair (else standalone).
    pub ha: bool,
    /// The REST API edition it speaks.
    pub dialect: Dialect,
}

impl DeviceInfo {
    /// The identity of device `index` of a fleet: serial number, addresses and
    /// MAC derived from the index so every device of a process differs.
    pub fn numbered(index: usize, dialect: Dialect, ha: bool) -> Self {
        // Addresses stay inside 10.4.0.0/16 like the document's examples;
        // the index is folded into the two low octets.
        let low = u32::try_from(index % 65_000).unwrap_or(0) + 10;
        let [_, _, c, d] = low.to_be_bytes();
        DeviceInfo {
            index,
            serial_number: format!("{}", 101_780_235_000_000u64 + index as u64),
            product: "Mediant 800".to_string(),
            software_version: match dialect {
                Dialect::V74 => "7.40A.500.001".to_string(),
                Dialect::V2015 => "7.20A.200.014".to_string(),
            },
            board_type: 69,
            ip_address: Ipv4Addr::new(10, 4, c, d),
            subnet_mask: Ipv4Addr::new(255, 255, 0, 0),
            default_gateway: Ipv4Addr::new(10, 4, 0, 1),
            mac_address: format!("00908f{:06x}", index % 0x100_0000),
            ha,
            dialect,
        }
    }

    /// The MAC address with colons (`00:90:8f:00:00:01`), as CLI output writes it.
    pub fn mac_with_colons(&self) -> String {
        let bytes = self.mac_address.as_bytes();
        bytes
            .chunks(2)
            .map(|pair| String::from_utf8_lossy(pair).into_owned())
            .collect::<Vec<_>>()
            .join(":")
    }
}
