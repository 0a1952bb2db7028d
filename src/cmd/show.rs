//! Human output of plans and outcomes: an optionally coloured diff, one
//! block per device and step.

use std::fmt::Write as _;

use crate::plan::{Change, Outcome, Plan, SideEffect};

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Paints text when colour is on.
#[derive(Clone, Copy, Debug)]
pub struct Painter {
    /// Whether to emit ANSI colours (only for a terminal).
    pub color: bool,
}

impl Painter {
    fn paint(&self, style: &str, text: &str) -> String {
        if self.color {
            format!("{style}{text}{RESET}")
        } else {
            text.to_string()
        }
    }
}

/// The changes of a step as diff lines: `-` the device's value, `+` the
/// desired one, next to each other per setting. Values the device does not
/// hold (`(unset)`, `(default)`) get no `-` line.
pub fn diff_lines(changes: &[Change], painter: Painter) -> String {
    let side = |key: &str, value: &str| {
        if value.is_empty() {
            key.to_string()
        } else {
            format!("{key} = {value}")
        }
    };
    let mut out = String::new();
    for c in changes {
        if let Some(old) = c
            .before
            .as_deref()
            .filter(|o| !matches!(*o, "(unset)" | "(default)"))
        {
            let _ = writeln!(
                out,
                "      {}",
                painter.paint(RED, &format!("- {}", side(&c.key, old)))
            );
        }
        if let Some(new) = &c.after {
            let _ = writeln!(
                out,
                "      {}",
                painter.paint(GREEN, &format!("+ {}", side(&c.key, new)))
            );
        }
    }
    out
}

/// A plan for one device, as `diff` prints it.
pub fn plan<A>(device: &str, plan: &Plan<A>, painter: Painter) -> String {
    let mut out = String::new();
    if plan.is_empty() {
        let _ = writeln!(
            out,
            "{} in sync: no differences",
            painter.paint(BOLD, device)
        );
        return out;
    }
    let _ = writeln!(
        out,
        "{}: {} difference(s), {} step(s)",
        painter.paint(BOLD, device),
        plan.drift_count,
        plan.steps.len()
    );
    for (i, step) in plan.steps.iter().enumerate() {
        let effect = match step.side_effect {
            SideEffect::None => String::new(),
            SideEffect::ResetsDevice => painter.paint(YELLOW, " [resets the device]"),
        };
        let _ = writeln!(out, "  step {}: {}{effect}", i + 1, step.description);
        out.push_str(&diff_lines(&step.changes, painter));
    }
    for (step, reason) in &plan.blocked {
        let _ = writeln!(
            out,
            "  {} {} — {reason}",
            painter.paint(YELLOW, "held back:"),
            step.description
        );
        out.push_str(&diff_lines(&step.changes, painter));
    }
    out
}

/// What `apply` did to one device, and the verification.
pub fn outcome<O, A>(device: &str, outcome: &Outcome<O, A>, painter: Painter) -> String {
    let mut out = String::new();
    if outcome.steps.is_empty() && outcome.blocked.is_empty() {
        let _ = writeln!(
            out,
            "{} in sync: nothing to do",
            painter.paint(BOLD, device)
        );
        return out;
    }
    let _ = writeln!(out, "{}:", painter.paint(BOLD, device));
    for (i, step) in outcome.steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {} step {}: {}",
            painter.paint(GREEN, "done"),
            i + 1,
            step.description
        );
        out.push_str(&diff_lines(&step.changes, painter));
        if let Some(output) = &step.output {
            for line in output.lines() {
                let _ = writeln!(out, "      | {line}");
            }
        }
    }
    for (step, reason) in &outcome.blocked {
        let _ = writeln!(
            out,
            "  {} {} — {reason}",
            painter.paint(YELLOW, "held back:"),
            step.description
        );
    }
    if !outcome.steps.is_empty() {
        if outcome.not_taken.is_empty() {
            let _ = writeln!(out, "  verified: the device matches the desired state");
        } else {
            let _ = writeln!(
                out,
                "  {} the device accepted but did not take: {}",
                painter.paint(RED, "not taken:"),
                outcome.not_taken.join(", ")
            );
            if let Some(hint) = &outcome.not_taken_hint {
                let _ = writeln!(out, "  {} {hint}", painter.paint(YELLOW, "hint:"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(key: &str, before: Option<&str>, after: Option<&str>) -> Change {
        Change {
            key: key.into(),
            before: before.map(Into::into),
            after: after.map(Into::into),
        }
    }

    #[test]
    fn changes_become_a_unified_diff() {
        let changes = vec![
            change("GWDEBUGLEVEL", Some("5"), Some("7")),
            change("IPGroup[9]", None, Some("Name=New")),
            change("ProxyIp[4]", Some(""), None),
        ];
        let plain = diff_lines(&changes, Painter { color: false });
        assert!(plain.contains("- GWDEBUGLEVEL = 5"), "{plain}");
        assert!(plain.contains("+ GWDEBUGLEVEL = 7"), "{plain}");
        assert!(plain.contains("+ IPGroup[9] = Name=New"), "{plain}");
        assert!(plain.contains("- ProxyIp[4]\n"), "{plain}");
        assert!(!plain.contains('\x1b'));
        let colored = diff_lines(&changes, Painter { color: true });
        assert!(
            colored.contains("\x1b[31m- GWDEBUGLEVEL = 5\x1b[0m"),
            "{colored}"
        );
        assert_eq!(changes[0].to_string(), "GWDEBUGLEVEL: 5 → 7");
        assert_eq!(changes[2].to_string(), "- ProxyIp[4]");
    }
}
