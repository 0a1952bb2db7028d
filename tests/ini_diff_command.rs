//! `mediant-operator ini-diff` says loudly when its incremental INI holds
//! secrets and masks them unless asked (issue 12), and shows row deletions
//! as the CLI script that performs them (issue 8).

use std::process::Command;

fn run(desired: &str, observed: &str, extra: &[&str]) -> (i32, String, String) {
    let dir = std::env::temp_dir().join(format!(
        "ini-diff-{}-{}",
        std::process::id(),
        extra.join("_").replace('-', "")
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (d, o) = (dir.join("desired.ini"), dir.join("observed.ini"));
    std::fs::write(&d, desired).expect("write");
    std::fs::write(&o, observed).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_mediant-operator"))
        .arg("ini-diff")
        .arg("--desired")
        .arg(&d)
        .arg("--observed")
        .arg(&o)
        .args(extra)
        .output()
        .expect("runs");
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const OBSERVED: &str = "[SYSTEM Params]\r\nGWDEBUGLEVEL = 5\r\nCLIPrivPass = '$1$aGlkZGVu'\r\n\r\n[ WebUsers ]\r\nFORMAT WebUsers_Index = WebUsers_Username, WebUsers_Password, WebUsers_UserLevel;\r\nWebUsers 0 = \"Admin\", \"$1$abc\", 200;\r\nWebUsers 1 = \"Old\", \"$1$def\", 50;\r\n[ \\WebUsers ]\r\n";
const DESIRED: &str = "CLIPrivPass = 'MARKER-priv'\nGWDEBUGLEVEL = 7\n[ WebUsers ]\nFORMAT WebUsers_Index = WebUsers_Username, WebUsers_Password;\nWebUsers 0 = \"Admin\", \"MARKER-web\";\n[ \\WebUsers ]\n";

#[test]
fn secrets_are_masked_and_announced_unless_asked_for() {
    for args in [&[][..], &["--ini-only"][..]] {
        let (code, stdout, stderr) = run(DESIRED, OBSERVED, args);
        assert_eq!(code, 1, "{stderr}");
        assert!(
            !stdout.contains("MARKER") && !stderr.contains("MARKER"),
            "{stdout}{stderr}"
        );
        assert!(
            stderr.contains("WARNING") && stderr.contains("2 secret value(s)"),
            "{stderr}"
        );
        assert!(
            stdout.contains("CLIPrivPass = ***") || stdout.contains("CLIPrivPass = '***'"),
            "{stdout}"
        );
        assert!(stdout.contains("GWDEBUGLEVEL = 7"), "{stdout}");
    }
    let (code, stdout, stderr) = run(DESIRED, OBSERVED, &["--ini-only", "--show-secrets"]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("MARKER-priv") && stdout.contains("MARKER-web"),
        "{stdout}"
    );
    assert!(stderr.contains("IN CLEAR"), "{stderr}");
}

#[test]
fn pruned_rows_are_shown_as_a_cli_script_and_unmapped_tables_refused() {
    let desired = "[ WebUsers ]\nFORMAT WebUsers_Index = WebUsers_UserLevel;\nWebUsers 0 = 200;\n[ \\WebUsers ]\n";
    let (code, stdout, stderr) = run(desired, OBSERVED, &["--prune-table", "WebUsers"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stdout.contains("configure system\n no user \"Old\"\nexit"),
        "{stdout}"
    );
    let (code, _, stderr) = run(desired, OBSERVED, &["--prune-table", "PREFIX"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`PREFIX`"), "{stderr}");
}
