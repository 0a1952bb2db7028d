//! From a `MediantDevice` spec (plus the texts it refers to) to the
//! engine's input, the desired state: every source parsed and merged in
//! order, the comparison options, and the checks that need parsing. Shared
//! by the command line and the controller, so both read a spec the same
//! way. (`api` holds the types and the checks a schema can express; the
//! parsing lives here, beside the models of `config` it produces.)

use crate::api::{
    self, CliScriptSpec, IniSpec, MediantDeviceSpec, ResolvedSources, SourceRef, ValidationError,
};
use crate::config::cli::{CliDefaults, CliDiffOptions, CliError, CliPrune, CliScript};
use crate::config::ini::{self, DiffOptions, IniDocument};

use super::FromSecrets;
use super::{DesiredState, IniMode, ResetPermission};

/// The desired state a spec declares. `reset` is the policy's decision for
/// now (the caller owns the clock).
pub fn desired_state(
    spec: &MediantDeviceSpec,
    resolved: &ResolvedSources,
    reset: ResetPermission,
) -> Result<DesiredState, ValidationError> {
    if spec.ini.is_none() && spec.cli_script.is_none() {
        return Err(ValidationError::NothingDeclared);
    }
    let mut from_secrets = FromSecrets::default();
    let ini = spec
        .ini
        .as_ref()
        .map(|i| merge_ini(i, resolved, &mut from_secrets))
        .transpose()?;
    let cli = spec
        .cli_script
        .as_ref()
        .map(|c| merge_cli(c, resolved, &mut from_secrets))
        .transpose()?;
    let cli_options = match &spec.cli_script {
        Some(c) => cli_options(c)?,
        None => Default::default(),
    };
    Ok(DesiredState {
        ini,
        ini_options: spec.ini.as_ref().map(ini_options).unwrap_or_default(),
        ini_mode: match spec.ini.as_ref().map(|i| i.mode) {
            Some(api::IniMode::Full) => IniMode::FullWithReset,
            _ => IniMode::Incremental,
        },
        cli,
        cli_options,
        reset,
        save_after_apply: spec.save_after_apply,
        from_secrets,
    })
}

/// The checks of a spec that need its text parsed (the schema cannot
/// express them): inline INI and CLI parse (errors name the line, never
/// its text), and prune paths are well formed. Referenced ConfigMaps and
/// files are checked when loaded ([`ini_document`], [`cli_script`]).
pub fn check_texts(spec: &MediantDeviceSpec) -> Result<(), ValidationError> {
    if let Some(ini) = &spec.ini
        && let Some(text) = &ini.inline
    {
        parse_ini("spec.ini.inline", text)?;
    }
    if let Some(cli) = &spec.cli_script {
        if let Some(text) = &cli.inline {
            parse_cli("spec.cliScript.inline", text)?;
        }
        cli_prune_rules(cli)?;
    }
    Ok(())
}

/// The text of `source`, or an error naming it.
fn text_of<'a>(
    resolved: &'a ResolvedSources,
    source: &SourceRef,
) -> Result<&'a str, ValidationError> {
    resolved
        .get(source)
        .map(String::as_str)
        .ok_or_else(|| ValidationError::Unresolved {
            reference: source.to_string(),
        })
}

/// The declared INI: each referenced source and then the inline text,
/// parsed and merged in order (a later value overrides an earlier one).
/// Fails naming the source and line of malformed text, or the first
/// reference `resolved` lacks.
pub fn ini_document(
    spec: &IniSpec,
    resolved: &ResolvedSources,
) -> Result<IniDocument, ValidationError> {
    merge_ini(spec, resolved, &mut FromSecrets::default())
}

/// [`ini_document`], recording in `from_secrets` what Secret sources declare.
fn merge_ini(
    spec: &IniSpec,
    resolved: &ResolvedSources,
    from_secrets: &mut FromSecrets,
) -> Result<IniDocument, ValidationError> {
    let mut merged: Option<IniDocument> = None;
    let parsed = spec
        .references()
        .into_iter()
        .map(|source| {
            let text = text_of(resolved, &source)?;
            let doc = parse_ini(&source.to_string(), text)?;
            Ok::<_, ValidationError>((matches!(source, SourceRef::Secret(_)), doc))
        })
        .chain(
            spec.inline
                .iter()
                .map(|t| Ok((false, parse_ini("spec.ini.inline", t)?))),
        );
    for doc in parsed {
        let (secret, doc) = doc?;
        if secret {
            from_secrets.add_ini(&doc);
        }
        match &mut merged {
            Some(all) => all.apply(&doc),
            None => merged = Some(doc),
        }
    }
    merged.ok_or(ValidationError::NoSource { field: "spec.ini" })
}

/// The INI comparison options `spec` declares.
pub fn ini_options(spec: &IniSpec) -> DiffOptions {
    DiffOptions {
        prune_tables: spec.prune_tables.iter().map(|t| t.0.clone()).collect(),
        reset_parameters: spec.reset_parameters.clone(),
        defaults: spec.defaults.clone(),
    }
}

/// The declared script: each referenced source and then the inline text,
/// parsed and merged in order. Fails naming the source and line of
/// malformed text, or the first reference `resolved` lacks.
pub fn cli_script(
    spec: &CliScriptSpec,
    resolved: &ResolvedSources,
) -> Result<CliScript, ValidationError> {
    merge_cli(spec, resolved, &mut FromSecrets::default())
}

/// [`cli_script`], recording in `from_secrets` what Secret sources declare.
fn merge_cli(
    spec: &CliScriptSpec,
    resolved: &ResolvedSources,
    from_secrets: &mut FromSecrets,
) -> Result<CliScript, ValidationError> {
    let mut merged: Option<CliScript> = None;
    let parsed = spec
        .references()
        .into_iter()
        .map(|source| {
            let text = text_of(resolved, &source)?;
            let script = parse_cli(&source.to_string(), text)?;
            Ok::<_, ValidationError>((matches!(source, SourceRef::Secret(_)), script))
        })
        .chain(
            spec.inline
                .iter()
                .map(|t| Ok((false, parse_cli("spec.cliScript.inline", t)?))),
        );
    for script in parsed {
        let (secret, script) = script?;
        if secret {
            from_secrets.add_cli(&script);
        }
        match &mut merged {
            Some(all) => all.apply(&script),
            None => merged = Some(script),
        }
    }
    merged.ok_or(ValidationError::NoSource {
        field: "spec.cliScript",
    })
}

/// The prune rules, each path split at ` / ` into the parent mode's
/// openers and the entry keyword.
pub fn cli_prune_rules(spec: &CliScriptSpec) -> Result<CliPrune, ValidationError> {
    spec.prune
        .iter()
        .try_fold(CliPrune::new(), |rules, path| {
            rules.with(path.0.split('/').map(str::trim))
        })
        .map_err(prune_error)
}

/// The CLI comparison options: prune rules and known defaults.
pub fn cli_options(spec: &CliScriptSpec) -> Result<CliDiffOptions, ValidationError> {
    let defaults = spec
        .defaults
        .iter()
        .try_fold(CliDefaults::new(), |all, d| {
            all.with(d.path.split('/').map(str::trim), &d.key, &d.value)
        })
        .map_err(prune_error)?;
    Ok(CliDiffOptions {
        prune: cli_prune_rules(spec)?,
        defaults,
    })
}

/// A malformed prune path or default, as `api`'s error (which holds the
/// engine's explanation as text: `api` does not know `config`).
fn prune_error(source: CliError) -> ValidationError {
    ValidationError::CliPrune {
        reason: source.to_string(),
    }
}

/// Parses INI text from `origin`, with excerpts of the input left out of
/// the error (a malformed line may hold a secret).
fn parse_ini(origin: &str, text: &str) -> Result<IniDocument, ValidationError> {
    ini::parse_strict(text).map_err(|e| {
        let line_text = text.lines().nth(e.line.saturating_sub(1)).unwrap_or("");
        ValidationError::Ini {
            origin: origin.to_owned(),
            line: e.line,
            reason: redact_excerpts(&e.reason, line_text),
        }
    })
}

/// Parses CLI text from `origin`. CLI errors name keywords, never values.
fn parse_cli(origin: &str, text: &str) -> Result<CliScript, ValidationError> {
    CliScript::parse(text).map_err(|source| ValidationError::Cli {
        origin: origin.to_owned(),
        reason: source.to_string(),
    })
}

/// Replaces every backticked excerpt of `reason` that quotes the offending
/// line `line_text` by `…`: the parser quotes input to help, but the line
/// may hold a password. Excerpts that are guidance (not from the line) stay,
/// and so do names: what a line holds before its `=` (a parameter or a
/// row, `IPGroup 1`), a `[Section]` header and a FORMAT line (column
/// names) are structure, never values. A value is only ever after the `=`.
fn redact_excerpts(reason: &str, line_text: &str) -> String {
    let trimmed = line_text.trim_start();
    let is_format = trimmed
        .get(..6)
        .is_some_and(|w| w.eq_ignore_ascii_case("FORMAT"));
    let names_only = trimmed.starts_with('[') || is_format;
    // Where a value may be: after the first `=`; the whole line when it
    // has none (and is not a header or FORMAT line).
    let value_part = match line_text.split_once('=') {
        _ if names_only => "",
        Some((_, value)) => value,
        None => line_text,
    };
    let mut out = String::with_capacity(reason.len());
    let mut rest = reason;
    while let Some(open) = rest.find('`') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('`') else {
            break;
        };
        let excerpt = &after[..close];
        out.push_str(&rest[..=open]);
        if !excerpt.is_empty() && value_part.contains(excerpt) {
            out.push('…');
        } else {
            out.push_str(excerpt);
        }
        out.push('`');
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ConfigMapKeyRef, PrunePath, TableName};

    fn cm(name: &str, key: &str) -> ConfigMapKeyRef {
        ConfigMapKeyRef {
            name: name.into(),
            key: key.into(),
        }
    }

    /// A spec with inline INI `ini` (and nothing else declared).
    fn spec_with(ini: Option<IniSpec>, cli: Option<CliScriptSpec>) -> MediantDeviceSpec {
        let mut s = MediantDeviceSpec::new("https://10.0.0.5", "sbc-credentials");
        s.ini = ini;
        s.cli_script = cli;
        s
    }

    #[test]
    fn excerpts_quoting_the_line_are_redacted_and_guidance_stays() {
        let reason = "expected `Name = value`, found `SIPPassword hunter2`";
        assert_eq!(
            redact_excerpts(reason, "SIPPassword hunter2"),
            "expected `Name = value`, found `…`"
        );
        assert_eq!(redact_excerpts("no excerpt", "x"), "no excerpt");
        // Names stay: a row key before `=`, a header, FORMAT columns.
        assert_eq!(
            redact_excerpts(
                "row `IPGroup 1` is written twice (first on line 3); keep one",
                "IPGroup 1 = 0, \"hunter2\";"
            ),
            "row `IPGroup 1` is written twice (first on line 3); keep one"
        );
        assert_eq!(
            redact_excerpts(
                "column `IPGroup_Name` is listed twice",
                "FORMAT Index = IPGroup_Name, IPGroup_Name;"
            ),
            "column `IPGroup_Name` is listed twice"
        );
        assert_eq!(
            redact_excerpts("not closed before `[SIP Params]`", "[SIP Params]"),
            "not closed before `[SIP Params]`"
        );
        // A value is masked.
        assert_eq!(
            redact_excerpts(
                "parameter `P`: unterminated quote in `'hunter2`",
                "P = 'hunter2"
            ),
            "parameter `P`: unterminated quote in `…`"
        );
        assert_eq!(redact_excerpts("odd `tick", "tick"), "odd `tick");
    }

    #[test]
    fn malformed_inline_ini_names_the_line_without_its_text() {
        let spec = IniSpec {
            inline: Some("[SIP Params]\nEnableEarlyMedia = 1\nSIPPassword hunter2\n".into()),
            ..IniSpec::default()
        };
        let err = ini_document(&spec, &ResolvedSources::new()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("spec.ini.inline"), "{text}");
        assert!(text.contains("line 3"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn sources_merge_in_order_with_inline_last() {
        let spec = IniSpec {
            inline: Some("[SIP Params]\nGWDEBUGLEVEL = 5\n".into()),
            config_map_refs: vec![cm("base", "a.ini"), cm("site", "b.ini")],
            ..IniSpec::default()
        };
        let mut resolved = ResolvedSources::new();
        resolved.insert(
            SourceRef::ConfigMap(cm("base", "a.ini")),
            "[SIP Params]\nGWDEBUGLEVEL = 1\nEnableEarlyMedia = 0\nSyslogServerIP = '10.0.0.1'\n"
                .into(),
        );
        resolved.insert(
            SourceRef::ConfigMap(cm("site", "b.ini")),
            "[SIP Params]\nEnableEarlyMedia = 1\n".into(),
        );
        let doc = ini_document(&spec, &resolved).unwrap();
        assert_eq!(doc.param("GWDebugLevel").unwrap().value, "5");
        assert_eq!(doc.param("EnableEarlyMedia").unwrap().value, "1");
        assert_eq!(doc.param("SyslogServerIP").unwrap().value, "10.0.0.1");
    }

    #[test]
    fn a_missing_reference_is_named() {
        let spec = IniSpec {
            config_map_refs: vec![cm("base", "a.ini")],
            ..IniSpec::default()
        };
        let err = ini_document(&spec, &ResolvedSources::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ConfigMap `base` key `a.ini` was not loaded: it is missing, or lacks the key"
        );
    }

    #[test]
    fn a_malformed_referenced_source_is_named_with_its_line() {
        let spec = IniSpec {
            files: vec!["device.ini".into()],
            ..IniSpec::default()
        };
        let mut resolved = ResolvedSources::new();
        resolved.insert(
            SourceRef::File("device.ini".into()),
            "[ IPGroup ]\nIPGroup 0 = 1;\n".into(),
        );
        let err = ini_document(&spec, &resolved).unwrap_err().to_string();
        assert!(err.starts_with("file `device.ini`: line 2: "), "{err}");
    }

    #[test]
    fn cli_sources_merge_and_prune_paths_parse() {
        let spec = CliScriptSpec {
            inline: Some("configure voip\n  sip-definition general-settings\n    app-max-active 10\n  exit\nexit\n".into()),
            prune: vec![PrunePath("configure voip / proxy-ip".into())],
            ..CliScriptSpec::default()
        };
        let script = cli_script(&spec, &ResolvedSources::new()).unwrap();
        assert!(script.render().contains("app-max-active 10"));
        assert!(cli_prune_rules(&spec).is_ok());

        let bad = CliScriptSpec {
            prune: vec![PrunePath("proxy-ip".into())],
            ..spec
        };
        let err = cli_prune_rules(&bad).unwrap_err().to_string();
        assert!(err.contains("spec.cliScript.prune"), "{err}");
    }

    #[test]
    fn malformed_cli_names_origin_and_line() {
        let spec = CliScriptSpec {
            inline: Some("configure voip\nexit\nexit\n".into()),
            ..CliScriptSpec::default()
        };
        let err = cli_script(&spec, &ResolvedSources::new())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("spec.cliScript.inline: line 3: "), "{err}");
    }

    #[test]
    fn diff_options_carry_the_declared_fields() {
        let spec = IniSpec {
            prune_tables: vec![TableName("IPGroup".into())],
            reset_parameters: [("GWDebugLevel".to_string(), "0".to_string())].into(),
            defaults: [("EnableSyslog".to_string(), "0".to_string())].into(),
            ..IniSpec::default()
        };
        let options = ini_options(&spec);
        assert_eq!(options.prune_tables, vec!["IPGroup".to_string()]);
        assert_eq!(options.reset_parameters["GWDebugLevel"], "0");
        assert_eq!(options.defaults["EnableSyslog"], "0");
    }

    // Moved from `api`'s validation: the checks that need parsing.

    #[test]
    fn inline_ini_must_parse() {
        let e = check_texts(&spec_with(
            Some(IniSpec {
                inline: Some("[SIP Params]\nSIPPassword hunter2\n".into()),
                ..IniSpec::default()
            }),
            None,
        ))
        .expect_err("must be rejected")
        .to_string();
        assert_eq!(
            e,
            "spec.ini.inline: line 2: expected `Name = value`, a `[Section]`, a table row or a `;` comment"
        );
    }

    #[test]
    fn inline_cli_and_prune_paths_must_parse() {
        let ini = Some(IniSpec {
            inline: Some("[SIP Params]\nEnableEarlyMedia = 1\n".into()),
            ..IniSpec::default()
        });
        let e = check_texts(&spec_with(
            ini.clone(),
            Some(CliScriptSpec {
                inline: Some("udp-port 5060\n".into()),
                ..CliScriptSpec::default()
            }),
        ))
        .expect_err("must be rejected")
        .to_string();
        assert!(e.starts_with("spec.cliScript.inline: line 1: "), "{e}");
        let e = check_texts(&spec_with(
            ini,
            Some(CliScriptSpec {
                inline: Some("configure voip\nexit\n".into()),
                prune: vec![PrunePath("proxy-ip 0".into())],
                ..CliScriptSpec::default()
            }),
        ))
        .expect_err("must be rejected")
        .to_string();
        assert!(e.starts_with("spec.cliScript.prune: "), "{e}");
    }

    // Values from Secrets (`secretRefs`) are masked whatever their names.

    const MARKER: &str = "MARKER-from-secret-7f3a";

    fn secret_ref(name: &str, key: &str) -> crate::api::SecretKeyRef {
        crate::api::SecretKeyRef::new(name, key)
    }

    #[test]
    fn secret_sources_merge_after_config_maps_and_their_values_are_masked_in_plans() {
        let spec = spec_with(
            Some(IniSpec {
                config_map_refs: vec![cm("base", "a.ini")],
                secret_refs: vec![secret_ref("sbc-secrets", "secret.ini")],
                ..IniSpec::default()
            }),
            Some(CliScriptSpec {
                secret_refs: vec![secret_ref("sbc-secrets", "secret.cli")],
                ..CliScriptSpec::default()
            }),
        );
        let mut resolved = ResolvedSources::new();
        resolved.insert(
            SourceRef::ConfigMap(cm("base", "a.ini")),
            "SyslogServerIP = '10.0.0.1'\nGWDebugLevel = 5\n[ WebUsers ]\n\
             FORMAT WebUsers_Index = WebUsers_Username, WebUsers_UserLevel;\n\
             WebUsers 5 = \"ops\", 100;\n[ \\WebUsers ]\n"
                .into(),
        );
        // Names that do not look secret: only the source makes them so.
        resolved.insert(
            SourceRef::Secret(secret_ref("sbc-secrets", "secret.ini")),
            format!(
                "SyslogServerIP = '{MARKER}'\n[ WebUsers ]\nFORMAT WebUsers_Index = WebUsers_Username;\n\
                 WebUsers 5 = \"{MARKER}\";\n[ \\WebUsers ]\n"
            ),
        );
        resolved.insert(
            SourceRef::Secret(secret_ref("sbc-secrets", "secret.cli")),
            format!("configure system\n snmp settings\n  sys-name \"{MARKER}\"\n exit\nexit\n"),
        );
        let desired = desired_state(&spec, &resolved, ResetPermission::default()).unwrap();
        let doc = desired.ini.as_ref().unwrap();
        assert_eq!(
            doc.param("SyslogServerIP").unwrap().value,
            MARKER,
            "Secret wins"
        );
        assert_eq!(doc.param("GWDebugLevel").unwrap().value, "5");
        let users = doc.table("WebUsers").unwrap();
        assert_eq!(users.cell(&5.into(), "Username"), Some(MARKER));
        assert_eq!(users.cell(&5.into(), "UserLevel"), Some("100"));
        assert!(!format!("{desired:?}").contains(MARKER));

        // Against a device holding other values, and one lacking the row.
        let observed = super::super::ObservedState {
            ini: Some(
                ini::parse(
                    "SyslogServerIP = '10.9.9.9'\n[ WebUsers ]\n\
                     FORMAT WebUsers_Index = WebUsers_Username, WebUsers_UserLevel;\n\
                     WebUsers 4 = \"old\", 50;\n[ \\WebUsers ]\n",
                )
                .unwrap(),
            ),
            cli: Some(
                CliScript::parse(
                    "configure system\n snmp settings\n  sys-name \"before\"\n exit\nexit\n",
                )
                .unwrap(),
            ),
            ..Default::default()
        };
        let plan = super::super::plan(&desired, &observed, &Default::default()).unwrap();
        let shown: Vec<String> = plan.changes().map(ToString::to_string).collect();
        let all = format!("{shown:?} {plan:?}");
        assert!(!all.contains(MARKER), "{all}");
        assert!(all.contains("SyslogServerIP"), "{all}");
        assert!(
            all.contains("GWDebugLevel"),
            "other values stay shown: {all}"
        );
        assert!(
            all.contains("UserLevel=100"),
            "other cells stay shown: {all}"
        );
        assert!(all.contains("sys-name"), "{all}");
        // The device gets the real values.
        let sent: String = plan
            .steps
            .iter()
            .map(|s| match &s.action {
                super::super::Action::IniIncremental(t, _)
                | super::super::Action::CliIncremental(t, _) => t.clone(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(sent.matches(MARKER).count(), 3, "{}", sent.len());
    }
}
