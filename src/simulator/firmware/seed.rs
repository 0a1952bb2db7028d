//! Seed configurations: a realistic Mediant 800 SBC set-up (about 300 INI
//! lines as the device writes them), and larger ones of any size for
//! benchmarks (`--seed-lines 2000`).
//!
//! A seed is built as INI text with SIP trunks (proxy set, two proxy
//! addresses, IP group, classification rule and two routes each) over a
//! fixed base, then loaded the way a full upload is.

use std::fmt::Write as _;

use super::config::DeviceConfig;
use super::ini_load::{self, ConfigError};

/// INI lines the base configuration takes when rendered.
const BASE_LINES: usize = 218;
/// INI lines one trunk adds when rendered (seven rows).
const LINES_PER_TRUNK: usize = 7;
/// Trunks of the default seed (about 300 rendered lines).
const DEFAULT_TRUNKS: usize = 12;

/// The base: parameters, interfaces, users, TLS contexts, SRD, realms,
/// SIP interfaces and IP profiles, as an administrator would upload them
/// (mixed case, some default values, quoting of their own).
const BASE: &str = r#";Mediant 800 SBC seed configuration
[SYSTEM Params]
ENABLESYSLOG = 1
SyslogServerIP = 10.4.2.10
SyslogServerPort = 514
GWDebugLevel = 5
ActivityListToLog = 'pvc,afl,dr,fb,swu,ard,naa,spc,ll,cli,ae'
NTPServerIP = '10.4.2.1'
NTPSecondaryServerIP = '10.4.2.2'
NTPServerUTCOffset = 3600
DayLightSavingTimeEnable = 1
TelnetServerEnable = 0
SSHServerEnable = 1
SNMPSysName = 'sbc-edge-01'
SNMPSysLocation = 'DC1 rack 12'
SNMPSysContact = 'voice-ops@example.net'

[BSP Params]
PCMLawSelect = 1
EnterCpuOverloadPercent = 99
ExitCpuOverloadPercent = 95

[Voice Engine Params]
EnableMediaSecurity = 1

[WEB Params]
HTTPSOnly = 1
WebSessionTimeout = 30
HTTPSCipherString = 'HIGH:!aNULL:!MD5'

[SIP Params]
SIPGatewayName = 'sbc.example.net'
EnableSIPS = 0
SIPSDPSessionOwner = 'ExampleSBC'
UserAgentDisplayInfo = 'Example-SBC'
EnableEarlyMedia = 1
SBCMaxForwardsLimit = 70
SBCSessionExpires = 600
SBCMinSE = 90
SBCForkingHandlingMode = 1
SBCUserRegistrationTime = 3600

[ InterfaceTable ]
FORMAT InterfaceTable_Index = InterfaceTable_ApplicationTypes, InterfaceTable_InterfaceMode, InterfaceTable_IPAddress, InterfaceTable_PrefixLength, InterfaceTable_Gateway, InterfaceTable_InterfaceName, InterfaceTable_PrimaryDNSServerIPAddress, InterfaceTable_SecondaryDNSServerIPAddress, InterfaceTable_UnderlyingDevice;
InterfaceTable 0 = 6, 10, 10.4.219.229, 16, 10.4.0.1, "O+M+C", 10.4.2.1, 10.4.2.2, "vlan 1";
InterfaceTable 1 = 5, 10, 203.0.113.10, 24, 203.0.113.1, "WAN", 0.0.0.0, 0.0.0.0, "vlan 2";
[ \InterfaceTable ]

[ WebUsers ]
FORMAT WebUsers_Index = WebUsers_Username, WebUsers_Password, WebUsers_Status, WebUsers_PwAgeInterval, WebUsers_SessionLimit, WebUsers_SessionTimeout, WebUsers_BlockTime, WebUsers_UserLevel;
WebUsers 0 = "Admin", "Admin", 1, 0, 5, 15, 60, 200;
WebUsers 1 = "Operator", "Operator", 1, 0, 5, 15, 60, 100;
WebUsers 2 = "Monitor", "Monitor", 1, 0, 5, 15, 60, 50;
[ \WebUsers ]

[ TLSContexts ]
FORMAT TLSContexts_Index = TLSContexts_Name, TLSContexts_TLSVersion, TLSContexts_ServerCipherString, TLSContexts_ClientCipherString, TLSContexts_OcspServerPort, TLSContexts_OcspDefaultResponse, TLSContexts_DHKeySize;
TLSContexts 0 = "default", 0, "DEFAULT", "DEFAULT", 2560, 0, 2048;
TLSContexts 1 = "Teams", 12, "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384", 2560, 0, 2048;
[ \TLSContexts ]

[ SRD ]
FORMAT SRD_Index = SRD_Name, SRD_SharingPolicy;
SRD 0 = "DefaultSRD", 0;
[ \SRD ]

[ CpMediaRealm ]
FORMAT CpMediaRealm_Index = CpMediaRealm_MediaRealmName, CpMediaRealm_IPv4IF, CpMediaRealm_PortRangeStart, CpMediaRealm_MediaSessionLeg, CpMediaRealm_PortRangeEnd, CpMediaRealm_IsDefault;
CpMediaRealm 0 = "MR-LAN", "O+M+C", 6000, 500, 10999, 1;
CpMediaRealm 1 = "MR-WAN", "WAN", 20000, 500, 24999, 0;
[ \CpMediaRealm ]

[ SIPInterface ]
FORMAT SIPInterface_Index = SIPInterface_InterfaceName, SIPInterface_NetworkInterface, SIPInterface_ApplicationType, SIPInterface_UDPPort, SIPInterface_TCPPort, SIPInterface_TLSPort, SIPInterface_SRDName, SIPInterface_MediaRealm, SIPInterface_TLSContext;
SIPInterface 0 = "SI-LAN", "O+M+C", 2, 5060, 5060, 5061, "DefaultSRD", "MR-LAN", "default";
SIPInterface 1 = "SI-WAN", "WAN", 2, 5060, 5060, 5061, "DefaultSRD", "MR-WAN", "default";
SIPInterface 2 = "SI-Teams", "WAN", 2, 0, 0, 5062, "DefaultSRD", "MR-WAN", "Teams";
[ \SIPInterface ]

[ IpProfile ]
FORMAT IpProfile_Index = IpProfile_ProfileName, IpProfile_IsDTMFUsed, IpProfile_EnableEarlyMedia, IpProfile_SBCMediaSecurityBehaviour, IpProfile_SBCRFC2833Behavior, IpProfile_SBCPRACKMode;
IpProfile 0 = "PBX", 0, 1, 0, 0, 3;
IpProfile 1 = "ITSP", 1, 1, 2, 1, 2;
IpProfile 2 = "Teams", 0, 1, 1, 0, 1;
[ \IpProfile ]
"#;

/// The INI text of a seed with `trunks` SIP trunks.
pub fn seed_text(trunks: usize) -> String {
    let mut text = String::from(BASE);
    let mut proxy_sets = String::from(
        "[ ProxySet ]\nFORMAT ProxySet_Index = ProxySet_ProxyName, ProxySet_EnableProxyKeepAlive, ProxySet_ProxyKeepAliveTime, ProxySet_ProxyLoadBalancingMethod, ProxySet_SRDName, ProxySet_SBCIPv4SIPInterfaceName;\n",
    );
    let mut proxy_ips = String::from(
        "[ ProxyIp ]\nFORMAT ProxyIp_Index = ProxyIp_ProxySetId, ProxyIp_ProxyIpIndex, ProxyIp_IpAddress, ProxyIp_TransportType;\n",
    );
    let mut groups = String::from(
        "[ IPGroup ]\nFORMAT IPGroup_Index = IPGroup_Type, IPGroup_Name, IPGroup_ProxySetName, IPGroup_SIPGroupName, IPGroup_SRDName, IPGroup_MediaRealm, IPGroup_ProfileName, IPGroup_Username, IPGroup_Password;\n",
    );
    let mut classes = String::from(
        "[ Classification ]\nFORMAT Classification_Index = Classification_ClassificationName, Classification_SRDName, Classification_SrcSIPInterfaceName, Classification_SrcAddress, Classification_ActionType, Classification_SrcIPGroupName;\n",
    );
    let mut routes = String::from(
        "[ IP2IPRouting ]\nFORMAT IP2IPRouting_Index = IP2IPRouting_RouteName, IP2IPRouting_SrcIPGroupName, IP2IPRouting_DestUsernamePrefix, IP2IPRouting_DestType, IP2IPRouting_DestIPGroupName, IP2IPRouting_DestSIPInterfaceName;\n",
    );
    // Trunk 0 is the PBX on the LAN side; the others are carriers on the WAN.
    for t in 0..trunks {
        let (name, interface, realm, profile) = if t == 0 {
            ("PBX".to_string(), "SI-LAN", "MR-LAN", "PBX")
        } else {
            (format!("ITSP-{t:03}"), "SI-WAN", "MR-WAN", "ITSP")
        };
        let (a, b) = (100 + t / 250, t % 250);
        let _ = writeln!(
            proxy_sets,
            "ProxySet {t} = \"{name}\", 1, 60, 1, \"DefaultSRD\", \"{interface}\";"
        );
        for ip in 0..2 {
            let row = 2 * t + ip;
            let _ = writeln!(
                proxy_ips,
                "ProxyIp {row} = \"{t}\", {ip}, \"198.51.{}.{b}:5060\", {ip};",
                a + 50 * ip
            );
        }
        let _ = writeln!(
            groups,
            "IPGroup {t} = 0, \"{name}\", \"{name}\", \"{}.example.net\", \"DefaultSRD\", \"{realm}\", \"{profile}\", \"{}\", \"trunk-secret-{t}\";",
            name.to_ascii_lowercase(),
            if t == 0 { "" } else { "carrier-user" }
        );
        let _ = writeln!(
            classes,
            "Classification {t} = \"{name}\", \"DefaultSRD\", \"{interface}\", \"198.51.{a}.{b}\", 1, \"{name}\";"
        );
        let dest = if t == 0 { 1.min(trunks - 1) } else { 0 };
        let dest_name = if dest == 0 {
            "PBX".to_string()
        } else {
            format!("ITSP-{dest:03}")
        };
        let _ = writeln!(
            routes,
            "IP2IPRouting {} = \"{name} to {dest_name}\", \"{name}\", \"*\", 0, \"{dest_name}\", \"\";",
            2 * t
        );
        let _ = writeln!(
            routes,
            "IP2IPRouting {} = \"{name} emergency\", \"{name}\", \"911\", 0, \"{dest_name}\", \"\";",
            2 * t + 1
        );
    }
    for (block, table) in [
        (proxy_sets, "ProxySet"),
        (proxy_ips, "ProxyIp"),
        (groups, "IPGroup"),
        (classes, "Classification"),
        (routes, "IP2IPRouting"),
    ] {
        if trunks > 0 {
            let _ = write!(text, "\n{block}[ \\{table} ]\n");
        }
    }
    text
}

/// A seed whose device rendering is about `lines` INI lines (at least the base).
pub fn seed_of_lines(lines: usize) -> Result<DeviceConfig, ConfigError> {
    let trunks = lines.saturating_sub(BASE_LINES) / LINES_PER_TRUNK;
    seed_with_trunks(trunks.max(1))
}

/// A seed with `trunks` SIP trunks, loaded as a full upload.
pub fn seed_with_trunks(trunks: usize) -> Result<DeviceConfig, ConfigError> {
    load_seed(&seed_text(trunks))
}

/// The default seed: a Mediant 800 SBC with a PBX and a dozen carriers.
pub fn default_seed() -> Result<DeviceConfig, ConfigError> {
    seed_with_trunks(DEFAULT_TRUNKS)
}

/// Loads seed text the way `PUT /files/ini` does on a factory-fresh device.
pub fn load_seed(text: &str) -> Result<DeviceConfig, ConfigError> {
    ini_load::load_full(&DeviceConfig::default(), text).map(|(doc, _)| doc)
}

/// A device's state from its own dump (`GET /files/ini` of a real device):
/// see [`ini_load::seed_from_dump`].
pub fn from_dump(text: &str) -> Result<DeviceConfig, ConfigError> {
    ini_load::seed_from_dump(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::device::{DeviceInfo, Dialect};
    use crate::simulator::firmware::ini_render;

    fn rendered_lines(doc: DeviceConfig) -> usize {
        ini_render::render(&DeviceInfo::numbered(0, Dialect::V74, false), &doc)
            .lines()
            .count()
    }

    #[test]
    fn default_seed_is_about_300_lines() {
        let lines = rendered_lines(default_seed().expect("seed loads"));
        assert!((250..=350).contains(&lines), "{lines}");
    }

    #[test]
    fn large_seed_is_about_the_size_asked() {
        let lines = rendered_lines(seed_of_lines(2000).expect("seed loads"));
        assert!((1800..=2200).contains(&lines), "{lines}");
    }
}
