//! The server binary reads `SIGNAL_HUB_*` variables as config keys, and only
//! warns about one that is not a key: other programs share the environment.

use std::process::Command;

/// Runs `hub-server --print-config` with `vars` set; returns (success, stdout, stderr).
fn print_config(vars: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hub-server"));
    command.arg("--print-config");
    for (name, value) in vars {
        command.env(name, value);
    }
    let out = command.output().expect("hub-server runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A known key set through the environment is in force.
#[test]
fn a_signal_hub_variable_sets_its_key() {
    let (ok, stdout, stderr) = print_config(&[("SIGNAL_HUB_MAX_TOPICS", "7")]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("max_topics = 7"), "{stdout}");
}

/// An unknown variable under the prefix is named in a warning; the server still starts.
#[test]
fn an_unknown_signal_hub_variable_is_a_warning_naming_it() {
    let (ok, stdout, stderr) = print_config(&[("SIGNAL_HUB_BIN", "/usr/bin/x")]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("SIGNAL_HUB_BIN"), "{stderr}");
    assert!(stdout.contains("max_topics = 100000"), "{stdout}");
}

/// Other tools' `HUB_*` variables are not the server's business at all.
#[test]
fn hub_prefixed_variables_of_other_tools_are_ignored() {
    let (ok, stdout, stderr) = print_config(&[("HUB_BIN", "/usr/bin/x"), ("HUB_MAX_TOPICS", "7")]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("max_topics = 100000"), "{stdout}");
    assert!(!stderr.contains("HUB_BIN"), "{stderr}");
}

/// A known key with a value of the wrong type is still an error naming the key.
#[test]
fn a_bad_value_in_the_environment_is_an_error() {
    let (ok, _, stderr) = print_config(&[("SIGNAL_HUB_MAX_TOPICS", "lots")]);
    assert!(!ok);
    assert!(stderr.contains("max_topics"), "{stderr}");
}

/// `--print-config` shows that a secret is set, never the secret.
#[test]
fn printed_config_hides_secrets() {
    let (ok, stdout, stderr) =
        print_config(&[("SIGNAL_HUB_JWT_HMAC_SECRET", "do-not-print-me-123")]);
    assert!(ok, "{stderr}");
    assert!(!stdout.contains("do-not-print-me-123"), "{stdout}");
    assert!(
        stdout.contains(r#"jwt_hmac_secret = "<redacted>""#),
        "{stdout}"
    );
}
