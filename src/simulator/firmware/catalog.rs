//! What the simulated firmware knows: its scalar parameters and tables, with
//! their canonical spelling, INI section, default, value kind and where they
//! live in the CLI. The device's own INI and CLI renderings, and its reading
//! of uploads, are driven by this catalog.
//!
//! Names, sections and defaults follow Mediant 7.x INI dumps; the set is a
//! representative subset (an SBC's core tables and common parameters), not
//! the firmware's thousands of parameters.

/// How a value is typed, checked, quoted and shown in the CLI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A signed integer: written bare.
    Int,
    /// Free text: single-quoted as a scalar, double-quoted as a cell.
    Text,
    /// An IPv4 address: written bare.
    Ip,
    /// An integer with CLI words: `(INI value, CLI word)` pairs.
    Enum(&'static [(&'static str, &'static str)]),
    /// A secret: stored as a `$1$` hash, never written back in clear.
    Secret,
}

/// A scalar parameter.
#[derive(Debug)]
pub(crate) struct ParamSpec {
    /// Canonical spelling (`EnableSyslog`).
    pub(crate) name: &'static str,
    /// INI section without brackets (`SYSTEM Params`).
    pub(crate) section: &'static str,
    /// Factory default (values equal to it are not written).
    pub(crate) default: &'static str,
    /// Value kind.
    pub(crate) kind: Kind,
    /// CLI mode path below `configure` (`troubleshoot/syslog`) and key; `None`
    /// for parameters the CLI does not show.
    pub(crate) cli: Option<(&'static str, &'static str)>,
    /// Hidden parameters are written as a comment, never with their value.
    pub(crate) hidden: bool,
}

/// A table column.
#[derive(Debug)]
pub(crate) struct ColumnSpec {
    /// Short canonical name (`ProxySetName`; the INI name is `IPGroup_ProxySetName`).
    pub(crate) name: &'static str,
    /// Default filled in when an upload leaves the column out.
    pub(crate) default: &'static str,
    /// Value kind.
    pub(crate) kind: Kind,
    /// CLI key (`proxy-set-name`).
    pub(crate) cli: &'static str,
}

/// A reference from a column to another table's naming column (or, when
/// `to_column` is `None`, to its row index); the device refuses dangling ones.
#[derive(Debug)]
pub(crate) struct Reference {
    /// Referring column (short name).
    pub(crate) column: &'static str,
    /// Referred table.
    pub(crate) table: &'static str,
    /// Referred column (short name), or `None` for the row index.
    pub(crate) to_column: Option<&'static str>,
    /// Values that refer to nothing yet are allowed (`Any`).
    pub(crate) wildcard: Option<&'static str>,
}

/// A configuration table.
#[derive(Debug)]
pub(crate) struct TableSpec {
    /// Canonical name (`IPGroup`).
    pub(crate) name: &'static str,
    /// Columns in the device's `FORMAT` order.
    pub(crate) columns: &'static [ColumnSpec],
    /// CLI `configure` mode (`voip`) and entry command (`ip-group`), or `None`
    /// for tables the CLI script does not carry.
    pub(crate) cli: Option<(&'static str, &'static str)>,
    /// For a child table addressed `parent/child` in the CLI (`proxy-ip 0/1`):
    /// the two columns holding those numbers.
    pub(crate) cli_pair: Option<(&'static str, &'static str)>,
    /// References the device checks.
    pub(crate) references: &'static [Reference],
    /// Maximum number of rows.
    pub(crate) max_rows: usize,
}

const ON_OFF: &[(&str, &str)] = &[("0", "disable"), ("1", "enable")];

macro_rules! col {
    ($name:literal, $default:literal, $kind:expr, $cli:literal) => {
        ColumnSpec {
            name: $name,
            default: $default,
            kind: $kind,
            cli: $cli,
        }
    };
}

macro_rules! param {
    ($name:literal, $section:literal, $default:literal, $kind:expr, $mode:literal, $key:literal) => {
        ParamSpec {
            name: $name,
            section: $section,
            default: $default,
            kind: $kind,
            cli: Some(($mode, $key)),
            hidden: false,
        }
    };
    ($name:literal, $section:literal, $default:literal, $kind:expr, hidden) => {
        ParamSpec {
            name: $name,
            section: $section,
            default: $default,
            kind: $kind,
            cli: None,
            hidden: true,
        }
    };
}

use Kind::{Int, Ip, Secret, Text};

/// INI sections in the order a device writes them (every one, even empty).
pub(crate) const SECTIONS: &[&str] = &[
    "SYSTEM Params",
    "BSP Params",
    "Analog Params",
    "ControlProtocols Params",
    "MEDIA Params",
    "PSTN Params",
    "SS7 Params",
    "Voice Engine Params",
    "WEB Params",
    "SIP Params",
    "SCTP Params",
    "IPsec Params",
    "Audio Staging Params",
    "SNMP Params",
];

/// Every scalar parameter the simulated firmware knows.
pub(crate) const PARAMS: &[ParamSpec] = &[
    // SYSTEM
    param!(
        "EnableSyslog",
        "SYSTEM Params",
        "0",
        Kind::Enum(&[("0", "off"), ("1", "on")]),
        "troubleshoot/syslog",
        "syslog"
    ),
    param!(
        "SyslogServerIP",
        "SYSTEM Params",
        "0.0.0.0",
        Ip,
        "troubleshoot/syslog",
        "syslog-ip"
    ),
    param!(
        "SyslogServerPort",
        "SYSTEM Params",
        "514",
        Int,
        "troubleshoot/syslog",
        "syslog-port"
    ),
    param!(
        "GWDEBUGLEVEL",
        "SYSTEM Params",
        "0",
        Int,
        "troubleshoot/syslog",
        "debug-level"
    ),
    param!(
        "SyslogFacility",
        "SYSTEM Params",
        "16",
        Int,
        "troubleshoot/syslog",
        "facility"
    ),
    param!(
        "ActivityListToLog",
        "SYSTEM Params",
        "",
        Text,
        "troubleshoot/logging settings",
        "activity-log"
    ),
    param!(
        "NTPServerIP",
        "SYSTEM Params",
        "",
        Text,
        "system/ntp",
        "primary-server"
    ),
    param!(
        "NTPSecondaryServerIP",
        "SYSTEM Params",
        "",
        Text,
        "system/ntp",
        "secondary-server"
    ),
    param!(
        "NTPServerUTCOffset",
        "SYSTEM Params",
        "0",
        Int,
        "system/ntp",
        "utc-offset"
    ),
    param!(
        "NTPUpdateInterval",
        "SYSTEM Params",
        "86400",
        Int,
        "system/ntp",
        "update-interval"
    ),
    param!(
        "DayLightSavingTimeEnable",
        "SYSTEM Params",
        "0",
        Kind::Enum(ON_OFF),
        "system/clock",
        "summer-time"
    ),
    param!(
        "TelnetServerEnable",
        "SYSTEM Params",
        "1",
        Kind::Enum(ON_OFF),
        "system/cli-settings",
        "telnet"
    ),
    param!(
        "SSHServerEnable",
        "SYSTEM Params",
        "0",
        Kind::Enum(ON_OFF),
        "system/cli-settings",
        "ssh"
    ),
    param!(
        "SSHServerPort",
        "SYSTEM Params",
        "22",
        Int,
        "system/cli-settings",
        "ssh-port"
    ),
    // `configure system` → `automatic-update` → `firmware <url>` is the CLI
    // form of INI `CmpFileURL` (reference [C]; v7.4 document section 7.3.2's
    // example); the image is applied only when updating firmware is enabled.
    param!(
        "CmpFileURL",
        "SYSTEM Params",
        "",
        Text,
        "system/automatic-update",
        "firmware"
    ),
    param!(
        "AutoUpdateCmpFile",
        "SYSTEM Params",
        "0",
        Kind::Enum(&[("0", "off"), ("1", "on")]),
        "system/automatic-update",
        "update-firmware"
    ),
    param!("CLIPrivPass", "SYSTEM Params", "", Secret, hidden),
    param!(
        "SNMPSysName",
        "SYSTEM Params",
        "",
        Text,
        "system/snmp settings",
        "sys-name"
    ),
    param!(
        "SNMPSysLocation",
        "SYSTEM Params",
        "",
        Text,
        "system/snmp settings",
        "sys-location"
    ),
    param!(
        "SNMPSysContact",
        "SYSTEM Params",
        "",
        Text,
        "system/snmp settings",
        "sys-contact"
    ),
    param!(
        "SNMPReadOnlyCommunityString",
        "SYSTEM Params",
        "",
        Secret,
        hidden
    ),
    param!("LastConfigChangeTime", "SYSTEM Params", "", Text, hidden),
    param!("TR069ACSPASSWORD", "SYSTEM Params", "", Secret, hidden),
    // BSP
    param!(
        "PCMLawSelect",
        "BSP Params",
        "3",
        Kind::Enum(&[("1", "alaw"), ("3", "ulaw")]),
        "voip/media settings",
        "pcm-law-select"
    ),
    param!(
        "UdpPortSpacing",
        "BSP Params",
        "10",
        Int,
        "voip/media settings",
        "udp-port-spacing"
    ),
    param!(
        "EnterCpuOverloadPercent",
        "BSP Params",
        "100",
        Int,
        "system/cli-settings",
        "enter-cpu-overload-percent"
    ),
    param!(
        "ExitCpuOverloadPercent",
        "BSP Params",
        "0",
        Int,
        "system/cli-settings",
        "exit-cpu-overload-percent"
    ),
    // Voice Engine
    param!(
        "EnableMediaSecurity",
        "Voice Engine Params",
        "0",
        Kind::Enum(ON_OFF),
        "voip/media settings",
        "media-security-enable"
    ),
    param!(
        "DisableRTCPRandomize",
        "Voice Engine Params",
        "0",
        Kind::Enum(ON_OFF),
        "voip/media settings",
        "disable-rtcp-randomization"
    ),
    param!(
        "BaseUDPport",
        "Voice Engine Params",
        "6000",
        Int,
        "voip/media settings",
        "base-udp-port"
    ),
    // WEB
    param!(
        "HTTPSOnly",
        "WEB Params",
        "0",
        Kind::Enum(ON_OFF),
        "system/web",
        "secured-web-conn"
    ),
    param!(
        "HTTPport",
        "WEB Params",
        "80",
        Int,
        "system/web",
        "http-port"
    ),
    param!(
        "HTTPSPort",
        "WEB Params",
        "443",
        Int,
        "system/web",
        "https-port"
    ),
    param!(
        "WebSessionTimeout",
        "WEB Params",
        "15",
        Int,
        "system/web",
        "session-timeout"
    ),
    param!(
        "HTTPSCipherString",
        "WEB Params",
        "DEFAULT",
        Text,
        "system/web",
        "https-cipher-string"
    ),
    param!(
        "UseProductName",
        "WEB Params",
        "0",
        Kind::Enum(ON_OFF),
        "system/web",
        "use-product-name"
    ),
    param!(
        "UserProductName",
        "WEB Params",
        "",
        Text,
        "system/web",
        "product-name"
    ),
    param!(
        "LogoWidth",
        "WEB Params",
        "145",
        Int,
        "system/web",
        "logo-width"
    ),
    // SIP
    param!(
        "SIPGatewayName",
        "SIP Params",
        "",
        Text,
        "voip/sip-definition settings",
        "gw-name"
    ),
    param!(
        "SIPTransportType",
        "SIP Params",
        "0",
        Kind::Enum(&[("0", "udp"), ("1", "tcp"), ("2", "tls")]),
        "voip/sip-definition settings",
        "app-sip-transport-type"
    ),
    param!(
        "SIPDestinationPort",
        "SIP Params",
        "5060",
        Int,
        "voip/sip-definition settings",
        "sip-dst-port"
    ),
    param!(
        "EnableSIPS",
        "SIP Params",
        "0",
        Kind::Enum(ON_OFF),
        "voip/sip-definition settings",
        "enable-sips"
    ),
    param!(
        "SIPSDPSessionOwner",
        "SIP Params",
        "AudiocodesGW",
        Text,
        "voip/sip-definition settings",
        "sdp-session-owner"
    ),
    param!(
        "UserAgentDisplayInfo",
        "SIP Params",
        "",
        Text,
        "voip/sip-definition settings",
        "user-agent-info"
    ),
    param!(
        "EnableEarlyMedia",
        "SIP Params",
        "0",
        Kind::Enum(ON_OFF),
        "voip/sip-definition settings",
        "early-media"
    ),
    param!(
        "SIPNatDetection",
        "SIP Params",
        "1",
        Kind::Enum(ON_OFF),
        "voip/sip-definition settings",
        "sip-nat-detect"
    ),
    param!(
        "SIPMaxRtx",
        "SIP Params",
        "7",
        Int,
        "voip/sip-definition settings",
        "max-sip-rtx"
    ),
    param!(
        "SipT1Rtx",
        "SIP Params",
        "500",
        Int,
        "voip/sip-definition settings",
        "t1-retrans-timer"
    ),
    param!(
        "SipT2Rtx",
        "SIP Params",
        "4000",
        Int,
        "voip/sip-definition settings",
        "t2-retrans-timer"
    ),
    param!(
        "SBCMaxForwardsLimit",
        "SIP Params",
        "10",
        Int,
        "voip/sbc settings",
        "sbc-max-fwd-limit"
    ),
    param!(
        "SBCSessionExpires",
        "SIP Params",
        "180",
        Int,
        "voip/sbc settings",
        "sbc-sess-exp-time"
    ),
    param!(
        "SBCMinSE",
        "SIP Params",
        "90",
        Int,
        "voip/sbc settings",
        "min-session-expires"
    ),
    param!(
        "SBCKeepContactUserinRegister",
        "SIP Params",
        "0",
        Int,
        "voip/sbc settings",
        "keep-contact-user-in-reg"
    ),
    param!(
        "SBCForkingHandlingMode",
        "SIP Params",
        "0",
        Int,
        "voip/sbc settings",
        "sbc-forking-handling-mode"
    ),
    param!(
        "SBCUserRegistrationTime",
        "SIP Params",
        "0",
        Int,
        "voip/sbc settings",
        "sbc-usr-reg-time"
    ),
    param!(
        "SBCDirectMedia",
        "SIP Params",
        "0",
        Int,
        "voip/sbc settings",
        "sbc-direct-media"
    ),
    param!(
        "SBCPreferencesMode",
        "SIP Params",
        "0",
        Int,
        "voip/sbc settings",
        "sbc-preferences-mode"
    ),
    // SNMP
    param!(
        "SNMPPort",
        "SNMP Params",
        "161",
        Int,
        "system/snmp settings",
        "port"
    ),
    param!(
        "DisableSNMP",
        "SNMP Params",
        "0",
        Kind::Enum(&[("0", "no"), ("1", "yes")]),
        "system/snmp settings",
        "disable"
    ),
];

const IF_APP: &[(&str, &str)] = &[
    ("0", "oamp"),
    ("1", "media"),
    ("2", "control"),
    ("3", "oamp+media"),
    ("4", "oamp+control"),
    ("5", "media+control"),
    ("6", "oamp+media+control"),
];

const INTERFACE_TABLE: &[ColumnSpec] = &[
    col!(
        "ApplicationTypes",
        "6",
        Kind::Enum(IF_APP),
        "application-type"
    ),
    col!(
        "InterfaceMode",
        "10",
        Kind::Enum(&[("10", "ipv4-manual"), ("3", "ipv6-manual")]),
        "mode"
    ),
    col!("IPAddress", "0.0.0.0", Ip, "ip-address"),
    col!("PrefixLength", "16", Int, "prefix-length"),
    col!("Gateway", "0.0.0.0", Ip, "gateway"),
    col!("InterfaceName", "", Text, "name"),
    col!("PrimaryDNSServerIPAddress", "0.0.0.0", Ip, "primary-dns"),
    col!(
        "SecondaryDNSServerIPAddress",
        "0.0.0.0",
        Ip,
        "secondary-dns"
    ),
    col!("UnderlyingDevice", "", Text, "underlying-dev"),
];

const WEB_USERS: &[ColumnSpec] = &[
    col!("Username", "", Text, "username"),
    col!("Password", "", Secret, "password"),
    col!("Status", "1", Int, "status"),
    col!("PwAgeInterval", "90", Int, "pw-age-interval"),
    col!("SessionLimit", "2", Int, "session-limit"),
    col!("CliSessionLimit", "-1", Int, "cli-session-limit"),
    col!("SessionTimeout", "15", Int, "session-timeout"),
    col!("BlockTime", "60", Int, "block-time"),
    col!("UserLevel", "200", Int, "privilege"),
    col!("PwNonce", "", Secret, "pw-nonce"),
    col!("SSHPublicKey", "", Text, "ssh-public-key"),
];

const TLS_CONTEXTS: &[ColumnSpec] = &[
    col!("Name", "", Text, "name"),
    col!("TLSVersion", "0", Int, "tls-version"),
    col!("DTLSVersion", "0", Int, "dtls-version"),
    col!("ServerCipherString", "DEFAULT", Text, "ciphers-server"),
    col!("ClientCipherString", "DEFAULT", Text, "ciphers-client"),
    col!(
        "ServerCipherTLS13String",
        "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256",
        Text,
        "ciphers-server-tls13"
    ),
    col!(
        "ClientCipherTLS13String",
        "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256",
        Text,
        "ciphers-client-tls13"
    ),
    col!(
        "KeyExchangeGroups",
        "X25519:P-256:P-384:X448",
        Text,
        "key-exchange-groups"
    ),
    col!(
        "RequireStrictCert",
        "0",
        Kind::Enum(ON_OFF),
        "require-strict-cert"
    ),
    col!(
        "TlsRenegotiation",
        "1",
        Kind::Enum(ON_OFF),
        "tls-renegotiation"
    ),
    col!(
        "MiddleboxCompatMode",
        "0",
        Kind::Enum(ON_OFF),
        "middlebox-compat-mode"
    ),
    col!("OcspEnable", "0", Kind::Enum(ON_OFF), "ocsp-server"),
    col!("OcspServerPrimary", "", Text, "ocsp-server-primary"),
    col!("OcspServerSecondary", "", Text, "ocsp-server-secondary"),
    col!("OcspServerPort", "2560", Int, "ocsp-port"),
    col!("OcspDefaultResponse", "0", Int, "ocsp-default-response"),
    col!("DHKeySize", "2048", Int, "dh-key-size"),
];

const SRD: &[ColumnSpec] = &[
    col!("Name", "", Text, "name"),
    col!("BlockUnRegUsers", "0", Int, "block-un-reg-users"),
    col!("MaxNumOfRegUsers", "-1", Int, "max-reg-users"),
    col!(
        "EnableUnAuthenticatedRegistrations",
        "0",
        Int,
        "enable-un-auth-registrs"
    ),
    col!(
        "SharingPolicy",
        "0",
        Kind::Enum(&[("0", "shared"), ("1", "isolated")]),
        "sharing-policy"
    ),
    col!("UsedByRoutingServer", "0", Int, "used-by-routing-server"),
    col!("SBCOperationMode", "0", Int, "sbc-operation-mode"),
    col!(
        "SBCRegisteredUsersClassificationMethod",
        "0",
        Int,
        "sbc-reg-usr-cls-method"
    ),
    col!(
        "SBCRoutingPolicyName",
        "Default_SBCRoutingPolicy",
        Text,
        "sbc-routing-policy-name"
    ),
    col!("SBCDialPlanName", "", Text, "sbc-dial-plan-name"),
    col!("AdmissionProfile", "", Text, "admission-profile"),
];

const MEDIA_REALM: &[ColumnSpec] = &[
    col!("MediaRealmName", "", Text, "name"),
    col!("IPv4IF", "", Text, "ipv4if"),
    col!("IPv6IF", "", Text, "ipv6if"),
    col!("RemoteIPv4IF", "", Text, "remote-ipv4if"),
    col!("RemoteIPv6IF", "", Text, "remote-ipv6if"),
    col!("PortRangeStart", "6000", Int, "port-range-start"),
    col!("MediaSessionLeg", "100", Int, "session-leg"),
    col!("PortRangeEnd", "6999", Int, "port-range-end"),
    col!("TCPPortRangeStart", "0", Int, "tcp-port-range-start"),
    col!("TCPPortRangeEnd", "0", Int, "tcp-port-range-end"),
    col!("IsDefault", "0", Kind::Enum(ON_OFF), "is-default"),
    col!("QoeProfile", "", Text, "qoe-profile"),
    col!("BWProfile", "", Text, "bw-profile"),
    col!(
        "TopologyLocation",
        "0",
        Kind::Enum(&[("0", "down"), ("1", "up")]),
        "topology-location"
    ),
];

const SIP_INTERFACE: &[ColumnSpec] = &[
    col!("InterfaceName", "", Text, "interface-name"),
    col!("NetworkInterface", "", Text, "network-interface"),
    col!(
        "ApplicationType",
        "0",
        Kind::Enum(&[("0", "gw"), ("1", "sas"), ("2", "sbc")]),
        "application-type"
    ),
    col!("UDPPort", "5060", Int, "udp-port"),
    col!("TCPPort", "5060", Int, "tcp-port"),
    col!("TLSPort", "5061", Int, "tls-port"),
    col!("AdditionalUDPPorts", "", Text, "additional-udp-ports"),
    col!(
        "AdditionalUDPPortsMode",
        "0",
        Int,
        "additional-udp-ports-mode"
    ),
    col!("SRDName", "", Text, "srd-name"),
    col!("MessagePolicyName", "", Text, "message-policy-name"),
    col!("TLSContext", "", Text, "tls-context-name"),
    col!("TLSMutualAuthentication", "-1", Int, "tls-mutual-auth"),
    col!(
        "TCPKeepaliveEnable",
        "0",
        Kind::Enum(ON_OFF),
        "tcp-keepalive-enable"
    ),
    col!(
        "ClassificationFailureResponseType",
        "500",
        Int,
        "classification_fail_response_type"
    ),
    col!(
        "PreClassificationManSet",
        "-1",
        Int,
        "pre-classification-manset"
    ),
    col!("EncapsulatingProtocol", "0", Int, "encapsulating-protocol"),
    col!("MediaRealm", "", Text, "media-realm-name"),
    col!("SBCDirectMedia", "0", Int, "sbc-direct-media"),
    col!("BlockUnRegUsers", "-1", Int, "block-un-reg-users"),
    col!("MaxNumOfRegUsers", "-1", Int, "max-reg-users"),
    col!(
        "EnableUnAuthenticatedRegistrations",
        "-1",
        Int,
        "enable-un-auth-registrs"
    ),
    col!("UsedByRoutingServer", "0", Int, "used-by-routing-server"),
    col!("TopologyLocation", "0", Int, "topology-location"),
    col!("PreParsingManSetName", "", Text, "pre-parsing-man-set-name"),
    col!("AdmissionProfile", "", Text, "admission-profile"),
];

const PROXY_SET: &[ColumnSpec] = &[
    col!("ProxyName", "", Text, "proxy-name"),
    col!(
        "EnableProxyKeepAlive",
        "0",
        Kind::Enum(&[
            ("0", "disable"),
            ("1", "using-options"),
            ("2", "using-register")
        ]),
        "proxy-enable-keep-alive"
    ),
    col!("ProxyKeepAliveTime", "60", Int, "proxy-keep-alive-time"),
    col!(
        "ProxyLoadBalancingMethod",
        "0",
        Kind::Enum(&[
            ("0", "disable"),
            ("1", "round-robin"),
            ("2", "random-weights")
        ]),
        "proxy-load-balancing-method"
    ),
    col!(
        "IsProxyHotSwap",
        "0",
        Kind::Enum(ON_OFF),
        "is-proxy-hot-swap"
    ),
    col!("SRDName", "", Text, "srd-name"),
    col!("ClassificationInput", "0", Int, "classification-input"),
    col!("TLSContextName", "", Text, "tls-context-name"),
    col!("ProxyRedundancyMode", "-1", Int, "proxy-redundancy-mode"),
    col!("DNSResolveMethod", "-1", Int, "dns-resolve-method"),
    col!("KeepAliveFailureResp", "", Text, "keepalive-fail-resp"),
    col!("GWIPv4SIPInterfaceName", "", Text, "gwipv4-sip-int-name"),
    col!("SBCIPv4SIPInterfaceName", "", Text, "sbcipv4-sip-int-name"),
    col!("GWIPv6SIPInterfaceName", "", Text, "gwipv6-sip-int-name"),
    col!("SBCIPv6SIPInterfaceName", "", Text, "sbcipv6-sip-int-name"),
    col!("MinActiveServersLB", "1", Int, "min-active-serv-lb"),
    col!(
        "SuccessDetectionRetries",
        "1",
        Int,
        "success-detect-retries"
    ),
    col!("SuccessDetectionInterval", "10", Int, "success-detect-int"),
    col!(
        "FailureDetectionRetransmissions",
        "-1",
        Int,
        "fail-detect-rtx"
    ),
];

const PROXY_IP: &[ColumnSpec] = &[
    col!("ProxySetId", "0", Int, "proxy-set-id"),
    col!("ProxyIpIndex", "0", Int, "proxy-ip-index"),
    col!("IpAddress", "", Text, "proxy-address"),
    col!(
        "TransportType",
        "-1",
        Kind::Enum(&[
            ("-1", "not-configured"),
            ("0", "udp"),
            ("1", "tcp"),
            ("2", "tls")
        ]),
        "transport-type"
    ),
];

const IP_PROFILE: &[ColumnSpec] = &[
    col!("ProfileName", "", Text, "profile-name"),
    col!("IpPreference", "1", Int, "ip-preference"),
    col!(
        "CodersGroupName",
        "AudioCodersGroups_0",
        Text,
        "coders-group"
    ),
    col!("IsFaxUsed", "0", Int, "is-fax-used"),
    col!(
        "JitterBufMinDelay",
        "10",
        Int,
        "jitter-buffer-minimum-delay"
    ),
    col!(
        "JitterBufOptFactor",
        "10",
        Int,
        "jitter-buffer-optimization-factor"
    ),
    col!("IPDiffServ", "46", Int, "rtp-ip-diffserv"),
    col!("SigIPDiffServ", "24", Int, "signaling-diffserv"),
    col!("RTPRedundancyDepth", "0", Int, "rtp-redundancy-depth"),
    col!("CNGmode", "0", Int, "cng-mode"),
    col!("VxxTransportType", "2", Int, "vxx-transport-type"),
    col!("NSEMode", "0", Int, "nse-mode"),
    col!("IsDTMFUsed", "0", Int, "is-dtmf-used"),
    col!("PlayRBTone2IP", "0", Int, "play-rb-tone-to-ip"),
    col!("EnableEarlyMedia", "0", Int, "early-media"),
    col!("ProgressIndicator2IP", "-1", Int, "prog-ind-to-ip"),
    col!("EnableEchoCanceller", "1", Int, "echo-canceller"),
    col!(
        "CopyDest2RedirectNumber",
        "0",
        Int,
        "copy-dst-to-redirect-number"
    ),
    col!(
        "MediaSecurityBehaviour",
        "0",
        Int,
        "media-security-behavior"
    ),
    col!("CallLimit", "-1", Int, "call-limit"),
    col!(
        "DisconnectOnBrokenConnection",
        "1",
        Int,
        "disconnect-on-broken-connection"
    ),
    col!("FirstTxDtmfOption", "4", Int, "first-tx-dtmf-option"),
    col!("SecondTxDtmfOption", "-1", Int, "second-tx-dtmf-option"),
    col!("RxDTMFOption", "3", Int, "rx-dtmf-option"),
    col!("EnableHold", "1", Int, "enable-hold"),
    col!("InputGain", "0", Int, "input-gain"),
    col!("VoiceVolume", "0", Int, "voice-volume"),
    col!("AddIEInSetup", "", Text, "add-ie-in-setup"),
    col!(
        "SBCExtensionCodersGroupName",
        "",
        Text,
        "sbc-ext-coders-group-name"
    ),
    col!(
        "MediaIPVersionPreference",
        "0",
        Int,
        "media-ip-version-preference"
    ),
    col!("TranscodingMode", "0", Int, "transcoding-mode"),
    col!("SBCAllowedMediaTypes", "", Text, "sbc-allowed-media-types"),
    col!(
        "SBCAllowedAudioCodersGroupName",
        "",
        Text,
        "sbc-allowed-audio-coders-group-name"
    ),
    col!(
        "SBCAllowedVideoCodersGroupName",
        "",
        Text,
        "sbc-allowed-video-coders-group-name"
    ),
    col!("SBCAllowedCodersMode", "0", Int, "allowed-coders-mode"),
    col!(
        "SBCMediaSecurityBehaviour",
        "0",
        Int,
        "sbc-media-security-behavior"
    ),
    col!("SBCRFC2833Behavior", "0", Int, "sbc-rfc2833-behavior"),
    col!(
        "SBCAlternativeDTMFMethod",
        "0",
        Int,
        "sbc-alternative-dtmf-method"
    ),
    col!("SBCAssertIdentity", "0", Int, "sbc-assert-identity"),
    col!(
        "AMDSensitivityParameterSuit",
        "0",
        Int,
        "amd-sensitivity-parameter-suit"
    ),
    col!(
        "SBCSessionExpiresMode",
        "0",
        Int,
        "sbc-session-expires-mode"
    ),
    col!("SBCRemoteHoldFormat", "0", Int, "remote-hold-Format"),
    col!("SBCPRACKMode", "3", Int, "sbc-prack-mode"),
    col!("SBCEnforceMKISize", "0", Int, "enforce-mki-size"),
    col!("SBCRemoteEarlyMediaRTP", "0", Int, "remote-early-media-rtp"),
    col!("SBCUserRegistrationTime", "0", Int, "sbc-usr-reg-time"),
    col!("SBCFaxBehavior", "0", Int, "sbc-fax-behavior"),
];

const IP_GROUP: &[ColumnSpec] = &[
    col!(
        "Type",
        "0",
        Kind::Enum(&[("0", "server"), ("1", "user"), ("2", "gateway")]),
        "type"
    ),
    col!("Name", "", Text, "name"),
    col!("ProxySetName", "", Text, "proxy-set-name"),
    col!("SIPGroupName", "", Text, "sip-group-name"),
    col!("ContactUser", "", Text, "contact-user"),
    col!("SipReRoutingMode", "0", Int, "sip-re-routing-mode"),
    col!("AlwaysUseRouteTable", "0", Int, "always-use-route-table"),
    col!("SRDName", "", Text, "srd-name"),
    col!("MediaRealm", "", Text, "media-realm-name"),
    col!(
        "ClassifyByProxySet",
        "1",
        Kind::Enum(ON_OFF),
        "classify-by-proxy-set"
    ),
    col!("ProfileName", "", Text, "ip-profile-name"),
    col!("MaxNumOfRegUsers", "-1", Int, "max-num-of-reg-users"),
    col!("InboundManSet", "-1", Int, "inbound-mesg-manipulation-set"),
    col!(
        "OutboundManSet",
        "-1",
        Int,
        "outbound-mesg-manipulation-set"
    ),
    col!("RegistrationMode", "0", Int, "registration-mode"),
    col!("AuthenticationMode", "0", Int, "authentication-mode"),
    col!("MethodList", "", Text, "authentication-method-list"),
    col!("SBCServerAuthType", "-1", Int, "sbc-server-auth-type"),
    col!("OAuthHTTPService", "", Text, "oauth-http-service"),
    col!(
        "EnableSBCClientForking",
        "0",
        Int,
        "enable-sbc-client-forking"
    ),
    col!("SourceUriInput", "-1", Int, "source-uri-input"),
    col!("DestUriInput", "-1", Int, "destination-uri-input"),
    col!("ContactName", "", Text, "contact-name"),
    col!("Username", "", Text, "username"),
    col!("Password", "", Secret, "password"),
    col!("UUIFormat", "0", Int, "uui-format"),
    col!("QOEProfile", "", Text, "qoe-profile"),
    col!("BWProfile", "", Text, "bandwidth-profile"),
    col!("AlwaysUseSourceAddr", "0", Int, "always-use-source-addr"),
    col!("MsgManUserDef1", "", Text, "msg-man-user-defined-string1"),
    col!("MsgManUserDef2", "", Text, "msg-man-user-defined-string2"),
    col!("SIPConnect", "0", Int, "sip-connect"),
    col!("SBCPSAPMode", "0", Int, "sbc-psap-mode"),
    col!("DTLSContext", "", Text, "dtls-context"),
    col!(
        "CreatedByRoutingServer",
        "0",
        Int,
        "created-by-routing-server"
    ),
    col!("UsedByRoutingServer", "0", Int, "used-by-routing-server"),
    col!("SBCOperationMode", "-1", Int, "sbc-operation-mode"),
    col!(
        "SBCRouteUsingRequestURIPort",
        "0",
        Int,
        "sbc-route-using-request-uri-port"
    ),
    col!("SBCKeepOriginalCallID", "0", Int, "sbc-keep-call-id"),
    col!("TopologyLocation", "0", Int, "topology-location"),
    col!("SBCDialPlanName", "", Text, "sbc-dial-plan-name"),
    col!("CallSetupRulesSetId", "-1", Int, "call-setup-rules-set-id"),
    col!("Tags", "", Text, "tags"),
    col!("SBCUserStickiness", "0", Int, "sbc-user-stickiness"),
    col!(
        "UserUDPPortAssignment",
        "0",
        Int,
        "user-udp-port-assignment"
    ),
    col!("AdmissionProfile", "", Text, "admission-profile"),
    col!(
        "ProxyKeepAliveUsingIPG",
        "0",
        Int,
        "proxy-keepalive-use-ipg"
    ),
    col!(
        "SBCAltRouteReasonsSetName",
        "",
        Text,
        "sbc-alt-route-reasons-set"
    ),
    col!(
        "TeamsLocalMediaOptimization",
        "0",
        Int,
        "teams-local-media-optimization"
    ),
    col!(
        "TeamsLocalMOInitialBehavior",
        "0",
        Int,
        "teams-local-mo-initial-behavior"
    ),
    col!("SIPSourceHostName", "", Text, "sip-source-host-name"),
    col!(
        "TeamsDirectRoutingMode",
        "0",
        Int,
        "teams-direct-routing-mode"
    ),
];

const IP2IP_ROUTING: &[ColumnSpec] = &[
    col!("RouteName", "", Text, "route-name"),
    col!(
        "RoutingPolicyName",
        "Default_SBCRoutingPolicy",
        Text,
        "routing-policy-name"
    ),
    col!("SrcIPGroupName", "Any", Text, "src-ip-group-name"),
    col!("SrcUsernamePrefix", "*", Text, "src-user-name-prefix"),
    col!("SrcHost", "*", Text, "src-host"),
    col!("DestUsernamePrefix", "*", Text, "dst-user-name-prefix"),
    col!("DestHost", "*", Text, "dst-host"),
    col!(
        "RequestType",
        "0",
        Kind::Enum(&[
            ("0", "all"),
            ("1", "invite"),
            ("2", "register"),
            ("3", "subscribe"),
            ("4", "invite-and-register"),
            ("5", "invite-and-subscribe"),
            ("6", "options")
        ]),
        "request-type"
    ),
    col!("MessageConditionName", "", Text, "message-condition-name"),
    col!("ReRouteIPGroupName", "Any", Text, "re-route-ip-group-name"),
    col!(
        "Trigger",
        "0",
        Kind::Enum(&[
            ("0", "any"),
            ("1", "broken-connection"),
            ("2", "3xx"),
            ("3", "4xx"),
            ("4", "initial-only"),
            ("5", "re-route")
        ]),
        "trigger"
    ),
    col!("CallSetupRulesSetId", "-1", Int, "call-setup-rules-set-id"),
    col!(
        "DestType",
        "0",
        Kind::Enum(&[
            ("0", "ip-group"),
            ("1", "dest-address"),
            ("2", "request-uri"),
            ("3", "enum"),
            ("4", "hunt-group"),
            ("5", "dial-plan"),
            ("6", "route-row"),
            ("7", "ldap"),
            ("8", "internal"),
            ("9", "ip-group-set")
        ]),
        "dst-type"
    ),
    col!("DestIPGroupName", "", Text, "dst-ip-group-name"),
    col!("DestSIPInterfaceName", "", Text, "dst-sip-interface-name"),
    col!("DestAddress", "", Text, "dst-address"),
    col!("DestPort", "0", Int, "dst-port"),
    col!("DestTransportType", "-1", Int, "dst-transport-type"),
    col!("AltRouteOptions", "0", Int, "alt-route-options"),
    col!("GroupPolicy", "0", Int, "group-policy"),
    col!("CostGroup", "", Text, "cost-group"),
    col!("DestTags", "", Text, "dest-tags"),
    col!("SrcTags", "", Text, "src-tags"),
    col!("IPGroupSetName", "", Text, "ip-group-set-name"),
    col!("RoutingTagName", "default", Text, "routing-tag-name"),
    col!("InternalAction", "", Text, "internal-action"),
];

const CLASSIFICATION: &[ColumnSpec] = &[
    col!("ClassificationName", "", Text, "classification-name"),
    col!("MessageConditionName", "", Text, "message-condition-name"),
    col!("SRDName", "", Text, "srd-name"),
    col!("SrcSIPInterfaceName", "", Text, "src-sip-interface-name"),
    col!("SrcAddress", "", Text, "src-address"),
    col!("SrcPort", "0", Int, "src-port"),
    col!("SrcTransportType", "-1", Int, "src-transport-type"),
    col!("SrcUsernamePrefix", "*", Text, "src-username-prefix"),
    col!("SrcHost", "*", Text, "src-host"),
    col!("DestUsernamePrefix", "*", Text, "dst-username-prefix"),
    col!("DestHost", "*", Text, "dst-host"),
    col!(
        "ActionType",
        "1",
        Kind::Enum(&[("0", "deny"), ("1", "allow")]),
        "action-type"
    ),
    col!("SrcIPGroupName", "", Text, "src-ip-group-name"),
    col!("DestRoutingPolicy", "", Text, "dest-routing-policy"),
    col!("IpProfileName", "", Text, "ip-profile-name"),
    col!("IPGroupSelection", "0", Int, "ip-group-selection"),
    col!("IpGroupTagName", "default", Text, "ip-group-tag-name"),
];

const fn reference(
    column: &'static str,
    table: &'static str,
    to_column: &'static str,
) -> Reference {
    Reference {
        column,
        table,
        to_column: Some(to_column),
        wildcard: None,
    }
}

/// Every table the simulated firmware knows, in the order it writes them.
pub(crate) const TABLES: &[TableSpec] = &[
    TableSpec {
        name: "InterfaceTable",
        columns: INTERFACE_TABLE,
        cli: Some(("network", "interface network-if")),
        cli_pair: None,
        references: &[],
        max_rows: 12,
    },
    TableSpec {
        name: "WebUsers",
        columns: WEB_USERS,
        cli: None,
        cli_pair: None,
        references: &[],
        max_rows: 20,
    },
    TableSpec {
        name: "TLSContexts",
        columns: TLS_CONTEXTS,
        cli: Some(("network", "tls")),
        cli_pair: None,
        references: &[],
        max_rows: 100,
    },
    TableSpec {
        name: "SRD",
        columns: SRD,
        cli: Some(("voip", "srd")),
        cli_pair: None,
        references: &[],
        max_rows: 1500,
    },
    TableSpec {
        name: "CpMediaRealm",
        columns: MEDIA_REALM,
        cli: Some(("voip", "voip-network realm")),
        cli_pair: None,
        references: &[reference("IPv4IF", "InterfaceTable", "InterfaceName")],
        max_rows: 1500,
    },
    TableSpec {
        name: "SIPInterface",
        columns: SIP_INTERFACE,
        cli: Some(("voip", "sip-interface")),
        cli_pair: None,
        references: &[
            reference("NetworkInterface", "InterfaceTable", "InterfaceName"),
            reference("SRDName", "SRD", "Name"),
            reference("MediaRealm", "CpMediaRealm", "MediaRealmName"),
            reference("TLSContext", "TLSContexts", "Name"),
        ],
        max_rows: 1500,
    },
    TableSpec {
        name: "ProxySet",
        columns: PROXY_SET,
        cli: Some(("voip", "proxy-set")),
        cli_pair: None,
        references: &[
            reference("SRDName", "SRD", "Name"),
            reference("SBCIPv4SIPInterfaceName", "SIPInterface", "InterfaceName"),
            reference("GWIPv4SIPInterfaceName", "SIPInterface", "InterfaceName"),
            reference("TLSContextName", "TLSContexts", "Name"),
        ],
        max_rows: 3000,
    },
    TableSpec {
        name: "ProxyIp",
        columns: PROXY_IP,
        cli: Some(("voip", "proxy-ip")),
        cli_pair: Some(("ProxySetId", "ProxyIpIndex")),
        references: &[Reference {
            column: "ProxySetId",
            table: "ProxySet",
            to_column: None,
            wildcard: None,
        }],
        max_rows: 30000,
    },
    TableSpec {
        name: "IpProfile",
        columns: IP_PROFILE,
        cli: Some(("voip", "coders-and-profiles ip-profile")),
        cli_pair: None,
        references: &[],
        max_rows: 1500,
    },
    TableSpec {
        name: "IPGroup",
        columns: IP_GROUP,
        cli: Some(("voip", "ip-group")),
        cli_pair: None,
        references: &[
            reference("ProxySetName", "ProxySet", "ProxyName"),
            reference("SRDName", "SRD", "Name"),
            reference("MediaRealm", "CpMediaRealm", "MediaRealmName"),
            reference("ProfileName", "IpProfile", "ProfileName"),
        ],
        max_rows: 3000,
    },
    TableSpec {
        name: "Classification",
        columns: CLASSIFICATION,
        cli: Some(("voip", "sbc classification")),
        cli_pair: None,
        references: &[
            reference("SRDName", "SRD", "Name"),
            reference("SrcSIPInterfaceName", "SIPInterface", "InterfaceName"),
            reference("SrcIPGroupName", "IPGroup", "Name"),
            reference("IpProfileName", "IpProfile", "ProfileName"),
        ],
        max_rows: 3000,
    },
    TableSpec {
        name: "IP2IPRouting",
        columns: IP2IP_ROUTING,
        cli: Some(("voip", "sbc routing ip2ip-routing")),
        cli_pair: None,
        references: &[
            Reference {
                column: "SrcIPGroupName",
                table: "IPGroup",
                to_column: Some("Name"),
                wildcard: Some("Any"),
            },
            Reference {
                column: "ReRouteIPGroupName",
                table: "IPGroup",
                to_column: Some("Name"),
                wildcard: Some("Any"),
            },
            reference("DestIPGroupName", "IPGroup", "Name"),
            reference("DestSIPInterfaceName", "SIPInterface", "InterfaceName"),
        ],
        max_rows: 3000,
    },
];

/// Where a table comes in the catalogue's writing order, if it is there.
pub(crate) fn table_rank(name: &str) -> Option<usize> {
    TABLES
        .iter()
        .position(|t| t.name.eq_ignore_ascii_case(name))
}

/// How the CLI addresses a table's rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CliKey {
    /// By row index (`ip-group 3`).
    Index,
    /// By a pair of columns (`proxy-ip 1/0`: `ProxySetId`/`ProxyIpIndex`).
    Pair(&'static str, &'static str),
    /// By the value of a naming column (`user Admin`).
    Name(&'static str),
}

/// An INI table's CLI entity: `configure <mode>` → `<command> <key>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CliEntity {
    /// INI table name.
    pub(crate) table: &'static str,
    /// Top mode (`voip`).
    pub(crate) mode: &'static str,
    /// Command words in that mode (`sbc routing ip2ip-routing`).
    pub(crate) command: &'static str,
    /// How rows are keyed.
    pub(crate) key: CliKey,
}

const fn entity(
    table: &'static str,
    mode: &'static str,
    command: &'static str,
    key: CliKey,
) -> CliEntity {
    CliEntity {
        table,
        mode,
        command,
        key,
    }
}

/// The INI table ↔ CLI entity map of `../shared/reference/audiocodes-cli.md`
/// (its tags: [C] confirmed, [P] corroborated by public code, [I] inferred —
/// an assumption). Tables the catalogue also describes take their column
/// keys from it; the others (`DeviceTable`, `NATTranslation`, `SNMPUsers`)
/// can be opened and their rows deleted, but the simulator knows none of
/// their CLI keys.
pub(crate) const CLI_ENTITIES: &[CliEntity] = &[
    entity(
        "InterfaceTable",
        "network",
        "interface network-if",
        CliKey::Index,
    ), // [P]
    entity("DeviceTable", "network", "network-dev", CliKey::Index), // [P]
    entity(
        "NATTranslation",
        "network",
        "nat-translation",
        CliKey::Index,
    ), // [P]
    entity("TLSContexts", "network", "tls", CliKey::Index),         // [I]
    entity("SNMPUsers", "system", "snmp v3-users", CliKey::Index),  // [P]
    entity("WebUsers", "system", "user", CliKey::Name("Username")), // [I]
    entity("SRD", "voip", "srd", CliKey::Index),                    // [I]
    entity("SIPInterface", "voip", "sip-interface", CliKey::Index), // [I]
    entity("ProxySet", "voip", "proxy-set", CliKey::Index),         // [I]
    entity(
        "ProxyIp",
        "voip",
        "proxy-ip",
        CliKey::Pair("ProxySetId", "ProxyIpIndex"),
    ), // [I]
    entity("IPGroup", "voip", "ip-group", CliKey::Index),           // [C]
    entity("CpMediaRealm", "voip", "voip-network realm", CliKey::Index), // [I]
    entity(
        "IP2IPRouting",
        "voip",
        "sbc routing ip2ip-routing",
        CliKey::Index,
    ), // [I]
    entity(
        "SBCRoutingPolicy",
        "voip",
        "sbc routing sbc-routing-policy",
        CliKey::Index,
    ), // [I]
    entity(
        "Classification",
        "voip",
        "sbc classification",
        CliKey::Index,
    ), // [C]
    entity(
        "IpProfile",
        "voip",
        "coders-and-profiles ip-profile",
        CliKey::Index,
    ), // [I]
    entity(
        "MessageManipulations",
        "voip",
        "message message-manipulations",
        CliKey::Index,
    ), // [I]
    entity(
        "AudioCodersGroups",
        "voip",
        "coders-and-profiles audio-coders-groups",
        CliKey::Index,
    ), // [I]
];

/// The CLI entity of an INI table.
pub(crate) fn cli_entity(table: &str) -> Option<&'static CliEntity> {
    CLI_ENTITIES
        .iter()
        .find(|e| e.table.eq_ignore_ascii_case(table))
}

/// A parameter by case-insensitive name.
pub(crate) fn param(name: &str) -> Option<&'static ParamSpec> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// A table by case-insensitive name.
pub(crate) fn table(name: &str) -> Option<&'static TableSpec> {
    TABLES.iter().find(|t| t.name.eq_ignore_ascii_case(name))
}

impl TableSpec {
    /// A column by short (`Name`) or full (`IPGroup_Name`) case-insensitive name.
    pub(crate) fn column(&self, name: &str) -> Option<(usize, &'static ColumnSpec)> {
        let short = match name.get(..self.name.len()) {
            Some(head)
                if head.eq_ignore_ascii_case(self.name)
                    && name.as_bytes().get(self.name.len()) == Some(&b'_') =>
            {
                &name[self.name.len() + 1..]
            }
            _ => name,
        };
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name.eq_ignore_ascii_case(short))
    }

    /// The full INI name of a column (`IPGroup_Name`).
    pub(crate) fn full_column(&self, column: &ColumnSpec) -> String {
        format!("{}_{}", self.name, column.name)
    }

    /// A column by CLI key (case-insensitive).
    pub(crate) fn column_by_cli(&self, key: &str) -> Option<(usize, &'static ColumnSpec)> {
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.cli.eq_ignore_ascii_case(key))
    }
}

impl Kind {
    /// Whether `value` is acceptable for this kind; the error says why not.
    pub(crate) fn check(self, value: &str) -> Result<(), String> {
        match self {
            Kind::Int | Kind::Enum(_) if value.trim().parse::<i64>().is_err() => {
                Err(format!("expects a number, got '{value}'"))
            }
            Kind::Enum(words) if !words.iter().any(|(v, _)| *v == value.trim()) => Err(format!(
                "expects one of {}, got '{value}'",
                words.iter().map(|(v, _)| *v).collect::<Vec<_>>().join(", ")
            )),
            Kind::Ip if value.parse::<std::net::Ipv4Addr>().is_err() => {
                Err(format!("expects an IPv4 address, got '{value}'"))
            }
            // Neither INI nor the CLI can quote a value holding both quotes.
            Kind::Text | Kind::Secret if value.contains('"') && value.contains('\'') => {
                Err("cannot hold both ' and \" (no quoting can carry it)".to_string())
            }
            _ => Ok(()),
        }
    }

    /// The stored form of an accepted value: numbers without padding.
    pub(crate) fn normalise(self, value: &str) -> String {
        match self {
            Kind::Int | Kind::Enum(_) => value
                .trim()
                .parse::<i64>()
                .map_or_else(|_| value.to_string(), |n| n.to_string()),
            Kind::Ip => value.trim().to_string(),
            Kind::Text | Kind::Secret => value.to_string(),
        }
    }

    /// The CLI word for a stored value (enums), else the value itself.
    pub(crate) fn cli_word(self, value: &str) -> &str {
        match self {
            Kind::Enum(words) => words
                .iter()
                .find(|(v, _)| *v == value)
                .map_or(value, |(_, w)| w),
            _ => value,
        }
    }

    /// The stored value for a CLI word (enums accept the word or the number).
    pub(crate) fn parse_cli(self, word: &str) -> Result<String, String> {
        if let Kind::Enum(words) = self
            && let Some((v, _)) = words.iter().find(|(_, w)| w.eq_ignore_ascii_case(word))
        {
            return Ok((*v).to_string());
        }
        match self {
            Kind::Enum(words) if word.trim().parse::<i64>().is_err() => Err(format!(
                "expects one of {}, got '{word}'",
                words.iter().map(|(_, w)| *w).collect::<Vec<_>>().join(", ")
            )),
            _ => self.check(word).map(|()| self.normalise(word)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_consistent() {
        for p in PARAMS {
            assert!(SECTIONS.contains(&p.section), "{}", p.name);
            assert!(
                p.kind.check(p.default).is_ok() || p.default.is_empty(),
                "{}",
                p.name
            );
        }
        for t in TABLES {
            for c in t.columns {
                assert!(
                    c.kind.check(c.default).is_ok() || c.default.is_empty(),
                    "{}.{}",
                    t.name,
                    c.name
                );
                assert_eq!(
                    t.column_by_cli(c.cli).map(|(_, x)| x.name),
                    Some(c.name),
                    "{}.{}",
                    t.name,
                    c.name
                );
            }
            for r in t.references {
                assert!(t.column(r.column).is_some(), "{}.{}", t.name, r.column);
                let target = table(r.table).expect("referred table exists");
                if let Some(col) = r.to_column {
                    assert!(target.column(col).is_some(), "{}.{col}", r.table);
                }
            }
        }
        assert_eq!(table("ipgroup").map(|t| t.name), Some("IPGroup"));
        assert_eq!(
            table("IPGroup")
                .and_then(|t| t.column("IPGroup_proxysetname"))
                .map(|(i, _)| i),
            Some(2)
        );
    }

    #[test]
    fn enum_words_round_trip() {
        let kind = table("IPGroup")
            .and_then(|t| t.column("Type"))
            .map(|(_, c)| c.kind)
            .expect("column");
        assert_eq!(kind.cli_word("1"), "user");
        assert_eq!(kind.parse_cli("user"), Ok("1".to_string()));
        assert_eq!(kind.parse_cli("2"), Ok("2".to_string()));
        assert!(kind.parse_cli("router").is_err());
        assert!(Kind::Int.check("x1").is_err());
        assert!(Kind::Ip.check("10.1.1.1").is_ok());
    }
}
