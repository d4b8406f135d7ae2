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

/// Runs `hub-server check-config` with `args`; returns (exit code, stdout, stderr).
fn check_config(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hub-server"))
        .arg("check-config")
        .args(args)
        .output()
        .expect("hub-server runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `check-config` says whether the server would start, without serving:
/// 0 and a summary, or 2 and why (a bad key, a file it cannot use).
#[test]
fn check_config_says_whether_the_server_would_start() {
    let (code, stdout, stderr) =
        check_config(&["--set", "engine=redis", "--set", "durability=memory"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout.trim(),
        "config ok: bind 127.0.0.1:8080, engine redis, durability memory, tls off, authentication off"
    );
    let (code, _, stderr) = check_config(&["--set", "redis_command_buffer=0"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("redis_command_buffer must be greater than 0"),
        "{stderr}"
    );
    let missing = [
        "--set",
        "tls_cert_file=/nonexistent/cert.pem",
        "--set",
        "tls_key_file=/nonexistent/key.pem",
    ];
    let (code, _, stderr) = check_config(&missing);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("tls_cert_file /nonexistent/cert.pem"),
        "{stderr}"
    );
}
