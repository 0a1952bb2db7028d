//! Lines to tree: deciding which lines open a mode (rules in the module docs).

use super::lex::{self, Kind, Line, Token};
use super::{CliError, CliNode, CliScript, MAX_DEPTH};

/// Mode and table keywords of Mediant 7.4 firmware, for scripts whose
/// indentation cannot tell. `#` stands for an index (`0`, `0/1`). Matching is
/// on the whole line, so a setting that merely starts with one of these words
/// (`tls-port 5061`, `srd-name "x"`) is not taken for an opener.
const KNOWN_OPENERS: &[&str] = &[
    // configure system
    "cli-settings",
    "clock",
    "ntp",
    "web",
    "http-services",
    "automatic-update",
    "snmp settings",
    "snmp trap-destination #",
    "mgmt-access-list #",
    "radius settings",
    "ldap settings",
    // configure network
    "interface network-if #",
    "network-dev #",
    "tls #",
    "static #",
    "access-list #",
    "nat-translation #",
    "ether-group #",
    "dns dns-to-ip #",
    "dns srv2ip #",
    "qos settings",
    "qos vlan-mapping #",
    // configure voip
    "srd #",
    "sip-interface #",
    "proxy-set #",
    "proxy-ip #",
    "ip-group #",
    "media realm #",
    "media-realm #",
    "media settings",
    "sbc settings",
    "sbc classification #",
    "sbc routing ip2ip-routing #",
    "sbc routing ip-group-set #",
    "sbc routing condition-table #",
    "sbc manipulation ip-inbound-manipulation #",
    "sbc manipulation ip-outbound-manipulation #",
    "message message-manipulations #",
    "message settings",
    "sip-definition settings",
    "sip-definition account #",
    "sip-definition proxy-and-registration",
    "coders-and-profiles coders-groups #",
    "coders-and-profiles ip-profile #",
    "gateway dtmf-supp-service supp-service-settings",
    // configure troubleshoot
    "syslog",
    "logging settings",
];

/// Reads a script: the device's layout if the whole script fits it, the
/// keyword rules otherwise.
pub(super) fn parse(text: &str) -> Result<CliScript, CliError> {
    refuse_control_characters(text)?;
    let lines = lex::lex(text)?;
    let layout = if fits_device_layout(&lines) {
        Layout::Device
    } else {
        Layout::Loose
    };
    build(&lines, layout)
}

/// A NUL (or ESC, …) is refused with its position before anything is read.
fn refuse_control_characters(text: &str) -> Result<(), CliError> {
    let Some(at) = text.find(|c: char| c.is_control() && !matches!(c, '\t' | '\r' | '\n')) else {
        return Ok(());
    };
    let before = &text[..at];
    // CR, LF and CRLF all end a line (as `lex` reads them).
    let line = 1 + before.matches('\n').count() + before.matches('\r').count()
        - before.matches("\r\n").count();
    let start = before.rfind(['\n', '\r']).map_or(0, |i| i + 1);
    Err(CliError::ControlCharacter {
        line,
        column: before[start..].chars().count() + 1,
        code: text[at..].chars().next().map_or(0, u32::from),
    })
}

#[derive(Clone, Copy)]
enum Layout {
    /// Indentation is exact: it alone decides.
    Device,
    /// Indentation is a hint: known keywords first.
    Loose,
}

impl Layout {
    /// Whether `lines[i]` (a command inside a mode) opens a mode.
    fn opens(self, lines: &[Line], i: usize, tokens: &[Token]) -> bool {
        let line = &lines[i];
        let next = lines.get(i + 1);
        let deeper = next.is_some_and(|n| n.indent > line.indent);
        match self {
            Layout::Device => {
                deeper
                    || next.is_some_and(|n| {
                        matches!(n.kind, Kind::Exit | Kind::Activate) && n.indent == line.indent
                    })
            }
            Layout::Loose => deeper || is_known_opener(tokens),
        }
    }
}

fn is_known_opener(tokens: &[Token]) -> bool {
    KNOWN_OPENERS.iter().any(|pattern| {
        let pattern: Vec<&str> = pattern.split(' ').collect();
        pattern.len() == tokens.len()
            && pattern.iter().zip(tokens).all(|(p, t)| {
                if *p == "#" {
                    lex::is_index(&t.text)
                } else {
                    t.text.eq_ignore_ascii_case(p)
                }
            })
    })
}

fn is_configure(tokens: &[Token]) -> bool {
    tokens
        .first()
        .is_some_and(|t| t.text.eq_ignore_ascii_case("configure"))
}

/// Whether the script is laid out as the device writes it: every line of a
/// mode deeper than its opener, `activate`/`exit` at the opener's
/// indentation, every mode closed, nesting within bounds.
fn fits_device_layout(lines: &[Line]) -> bool {
    let mut openers: Vec<usize> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let inside = openers.last().is_some_and(|&o| line.indent > o);
        match &line.kind {
            Kind::Exit => {
                if openers.pop() != Some(line.indent) {
                    return false;
                }
            }
            Kind::Activate => {
                if openers.last() != Some(&line.indent) {
                    return false;
                }
            }
            Kind::No(_) if !inside => return false,
            Kind::No(_) => {}
            Kind::Cmd(tokens) if is_configure(tokens) => {
                if !openers.is_empty() || tokens.len() < 2 {
                    return false;
                }
                openers.push(line.indent);
            }
            Kind::Cmd(_) if !inside => return false,
            Kind::Cmd(tokens) => {
                if Layout::Device.opens(lines, i, tokens) {
                    if openers.len() >= MAX_DEPTH {
                        return false;
                    }
                    openers.push(line.indent);
                }
            }
        }
    }
    openers.is_empty()
}

/// An open mode while building.
struct Frame {
    opener: String,
    children: Vec<CliNode>,
}

/// The tree under construction: the top level and the open modes.
#[derive(Default)]
struct Builder {
    top: Vec<CliNode>,
    open: Vec<Frame>,
}

impl Builder {
    fn close(&mut self) -> bool {
        let Some(frame) = self.open.pop() else {
            return false;
        };
        let node = CliNode::Mode {
            opener: frame.opener,
            children: frame.children,
        };
        match self.open.last_mut() {
            Some(parent) => parent.children.push(node),
            None => self.top.push(node),
        }
        true
    }

    fn push(&mut self, opener: String, line: usize) -> Result<(), CliError> {
        if self.open.len() >= MAX_DEPTH {
            return Err(CliError::TooDeep { line });
        }
        self.open.push(Frame {
            opener,
            children: Vec::new(),
        });
        Ok(())
    }
}

fn build(lines: &[Line], layout: Layout) -> Result<CliScript, CliError> {
    let mut b = Builder::default();
    for (i, line) in lines.iter().enumerate() {
        let no = line.no;
        match &line.kind {
            Kind::Exit => {
                if !b.close() {
                    return Err(CliError::UnbalancedExit { line: no });
                }
            }
            Kind::Activate => {
                if b.open.is_empty() {
                    return Err(CliError::ActivateOutsideMode { line: no });
                }
            }
            Kind::No(target) => match b.open.last_mut() {
                Some(frame) => frame.children.push(CliNode::No {
                    target: target.clone(),
                }),
                None => {
                    return Err(CliError::OutsideConfigure {
                        line: no,
                        keyword: "no".into(),
                    });
                }
            },
            Kind::Cmd(tokens) if is_configure(tokens) => {
                if tokens.len() < 2 {
                    return Err(CliError::MissingModeName { line: no });
                }
                // `configure` is valid only at the top: it ends open modes.
                while b.close() {}
                b.push(lex::words(tokens), no)?;
            }
            Kind::Cmd(tokens) => {
                if b.open.is_empty() {
                    return Err(CliError::OutsideConfigure {
                        line: no,
                        keyword: tokens
                            .first()
                            .map(|t| t.text.to_ascii_lowercase())
                            .unwrap_or_default(),
                    });
                }
                if layout.opens(lines, i, tokens) {
                    b.push(lex::words(tokens), no)?;
                } else if let Some(frame) = b.open.last_mut() {
                    frame.children.push(leaf(tokens));
                }
            }
        }
    }
    while b.close() {}
    Ok(CliScript { nodes: b.top })
}

/// A setting from its words: key = first word, value = the rest joined.
fn leaf(tokens: &[Token]) -> CliNode {
    let (key, rest) = match tokens.split_first() {
        Some((key, rest)) => (key.text.to_ascii_lowercase(), rest),
        None => (String::new(), tokens),
    };
    let value = rest
        .iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    CliNode::Leaf { key, value }
}
