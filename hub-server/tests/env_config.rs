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

/// `genconfig` writes a file that starts the server as it is (every key
/// commented out) and, with every line uncommented, is the defaults: each
/// key there, with its default value, under a comment saying what it does.
#[test]
fn genconfig_writes_the_defaults_commented() {
    let out = Command::new(env!("CARGO_BIN_EXE_hub-server"))
        .arg("genconfig")
        .output()
        .expect("hub-server runs");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\n# max_connections = 60000\n"), "{text}");
    assert!(
        text.contains("## open WebSockets; the upgrade gets HTTP 503 above it\n# max_connections")
    );
    assert!(text.contains("\n# [namespaces.chat]\n"), "{text}");
    assert!(text.contains("\n# history_size = 0\n"), "{text}");

    let dir = std::env::temp_dir().join(format!("genconfig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let commented = dir.join("commented.toml");
    std::fs::write(&commented, &text).unwrap();
    let (code, _, stderr) = check_config(&["-c", commented.to_str().unwrap()]);
    assert_eq!(code, Some(0), "as generated: {stderr}");

    // Uncomment every setting and table header (not the `##` prose).
    let uncommented: String = text
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l))
        .map(|l| format!("{l}\n"))
        .collect();
    let all = dir.join("all.toml");
    std::fs::write(&all, &uncommented).unwrap();
    let (code, _, stderr) = check_config(&["-c", all.to_str().unwrap()]);
    assert_eq!(code, Some(0), "uncommented: {stderr}");
    let print = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_hub-server"))
            .args(args)
            .arg("--print-config")
            .output()
            .expect("hub-server runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let defaults = print(&[]);
    let loaded = print(&["-c", all.to_str().unwrap()]);
    let without_example = loaded
        .split("\n[namespaces.chat]\n")
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        without_example.trim_end(),
        defaults
            .trim_end()
            .trim_end_matches("[namespaces]")
            .trim_end(),
        "every key at its default"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The Dockerfile's environment is a configuration the binary takes: on
/// 0.0.0.0 it refuses to run open (check-config says so, exit 2), and with
/// a JWT secret it would start, with JSON logs and its data in the volume.
#[test]
fn the_dockerfile_environment_is_a_valid_configuration() {
    let dockerfile = include_str!("../../Dockerfile");
    let env: Vec<(String, String)> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("ENV "))
        .flat_map(|l| l.split_whitespace())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert!(env.iter().any(|(k, _)| k == "SIGNAL_HUB_BIND"), "{env:?}");
    let run = |extra: &[(&str, &str)], args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_hub-server"))
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .output()
            .expect("hub-server runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, stderr) = run(&[], &["check-config"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:8080 without authentication"),
        "{stderr}"
    );
    let secret = [(
        "SIGNAL_HUB_JWT_HMAC_SECRET",
        "a-secret-of-at-least-32-bytes-long!!",
    )];
    let (code, stdout, stderr) = run(&secret, &["check-config"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("bind 0.0.0.0:8080") && stdout.contains("authentication jwt"),
        "{stdout}"
    );
    let (code, printed, _) = run(&secret, &["--print-config"]);
    assert_eq!(code, Some(0));
    assert!(printed.contains("log_format = \"json\""), "{printed}");
    assert!(
        printed.contains("data_dir = \"/var/lib/signal-hub\""),
        "{printed}"
    );
    // The HEALTHCHECK runs a subcommand this binary has, which asks the
    // image's own listener (loopback for 0.0.0.0).
    let check: Vec<String> = dockerfile
        .lines()
        .find_map(|l| l.trim().strip_prefix("CMD ["))
        .expect("a HEALTHCHECK CMD")
        .trim_end_matches(']')
        .split(',')
        .map(|a| a.trim().trim_matches('"').to_owned())
        .collect();
    assert_eq!(check[0], "/usr/local/bin/hub-server");
    let args: Vec<&str> = check[1..].iter().map(String::as_str).collect();
    let (code, stdout, stderr) = run(&secret, &args);
    assert!(matches!(code, Some(0 | 1)), "{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains("127.0.0.1:8080"),
        "{stdout}{stderr}"
    );
}

/// The systemd unit's commands are ones this binary takes: its
/// ExecStartPre (check-config) passes on a file `genconfig` wrote, and its
/// ExecStart flags parse (shown with --print-config).
#[test]
fn the_systemd_unit_runs_this_binary() {
    let unit = include_str!("../../deploy/signal-hub.service");
    let command = |key: &str| -> Vec<String> {
        let line = unit
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key}"));
        line.split_whitespace().skip(1).map(str::to_owned).collect()
    };
    let generated = Command::new(env!("CARGO_BIN_EXE_hub-server"))
        .arg("genconfig")
        .output()
        .unwrap()
        .stdout;
    let file = std::env::temp_dir().join(format!("unit-{}.toml", std::process::id()));
    std::fs::write(&file, generated).unwrap();
    let local = |args: Vec<String>| -> Vec<String> {
        args.into_iter()
            .map(|a| a.replace("/etc/signal-hub/config.toml", file.to_str().unwrap()))
            .collect()
    };
    let pre = Command::new(env!("CARGO_BIN_EXE_hub-server"))
        .args(local(command("ExecStartPre=")))
        .output()
        .unwrap();
    assert!(
        pre.status.success(),
        "{}",
        String::from_utf8_lossy(&pre.stderr)
    );
    let start = Command::new(env!("CARGO_BIN_EXE_hub-server"))
        .args(local(command("ExecStart=")))
        .arg("--print-config")
        .output()
        .unwrap();
    assert!(
        start.status.success(),
        "{}",
        String::from_utf8_lossy(&start.stderr)
    );
    std::fs::remove_file(&file).unwrap();
}

/// A config error names the key's whole path, where the value came from,
/// and what is expected in words, not in Rust types.
#[test]
fn config_errors_name_the_path_and_speak_plainly() {
    let (code, _, stderr) = check_config(&[
        "--set",
        r#"api_keys=[{name="a", key="0123456789abcdefg", scopes=["publish", "x"]}]"#,
    ]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("`api_keys[0].scopes[1]` (from a flag)"),
        "{stderr}"
    );
    assert!(stderr.contains("`x` is not one of `publish`"), "{stderr}");
    let (ok, _, stderr) = print_config(&[("SIGNAL_HUB_RATE_LIMIT_PER_SEC", "lots")]);
    assert!(!ok);
    assert!(stderr.contains("`rate_limit_per_sec` (from a SIGNAL_HUB_* environment variable): \"lots\" is not a whole number from 0 to 4294967295"), "{stderr}");
    assert!(!stderr.contains("u32"), "{stderr}");
}

/// A list in an environment variable is written `a,b`.
#[test]
fn a_comma_list_in_the_environment_is_a_list() {
    let origins = "https://a.example, https://b.example";
    let (ok, stdout, stderr) = print_config(&[("SIGNAL_HUB_ALLOWED_ORIGINS", origins)]);
    assert!(ok, "{stderr}");
    let printed: toml::Value = toml::from_str(&stdout).unwrap();
    assert_eq!(
        printed["allowed_origins"],
        toml::Value::Array(vec!["https://a.example".into(), "https://b.example".into()])
    );
    let (ok, stdout, _) = print_config(&[("SIGNAL_HUB_TRUSTED_PROXIES", r#"["10.0.0.0/8"]"#)]);
    assert!(ok);
    assert!(stdout.contains("10.0.0.0/8"), "{stdout}");
}

/// `check-config` is strict where the server only warns: a misspelt
/// `SIGNAL_HUB_*` variable fails it, with the key it likely meant.
#[test]
fn check_config_refuses_an_unknown_variable_and_suggests_the_key() {
    let out = Command::new(env!("CARGO_BIN_EXE_hub-server"))
        .arg("check-config")
        .env("SIGNAL_HUB_MAX_TOPIC", "7")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "SIGNAL_HUB_MAX_TOPIC: not a config key (did you mean SIGNAL_HUB_MAX_TOPICS?)"
        ),
        "{stderr}"
    );
}
