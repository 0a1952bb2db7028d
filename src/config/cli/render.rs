//! Tree to text, in the device's style.

use std::borrow::Cow;

use super::CliNode;
use super::lex::{self, quote_value, quote_word};

/// Renders top-level nodes; see [`super::CliScript::render`].
pub(super) fn render(nodes: &[CliNode]) -> String {
    let mut out = String::new();
    for node in nodes {
        node_into(node, 0, &mut out);
    }
    out
}

fn node_into(node: &CliNode, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        CliNode::Leaf { key, value } => {
            out.push_str(&pad);
            out.push_str(&one_line(&quote_word(key)));
            if !value.is_empty() {
                out.push(' ');
                out.push_str(&one_line(&quote_value(value)));
            }
        }
        CliNode::No { target } => {
            out.push_str(&pad);
            out.push_str("no ");
            out.push_str(&one_line(target));
        }
        CliNode::Mode { opener, children } => {
            out.push_str(&pad);
            out.push_str(&one_line(opener));
            out.push('\n');
            for child in children {
                node_into(child, indent + 1, out);
            }
            let is_entry = opener.rsplit(' ').next().is_some_and(lex::is_index);
            if indent >= 1 && is_entry {
                out.push_str(&pad);
                out.push_str("activate\n");
            }
            out.push_str(&pad);
            out.push_str("exit");
        }
    }
    out.push('\n');
}

/// Text with line breaks turned into spaces: a hand-built node must not be
/// able to inject a command line into a script sent to a device.
fn one_line(text: &str) -> Cow<'_, str> {
    if text.contains(['\n', '\r']) {
        Cow::Owned(text.replace(['\n', '\r'], " "))
    } else {
        Cow::Borrowed(text)
    }
}
