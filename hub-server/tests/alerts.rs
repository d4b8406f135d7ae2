//! The alert rules (`deploy/prometheus/alerts.yml`): valid for Prometheus
//! and passing their unit tests (`promtool`, from Debian's `prometheus`
//! package: `.ci/run` installs it), each with its runbook section, and every
//! series they read exported by a real server's `/metrics`.

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/prometheus")
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(deploy())
        .output()
        .expect("promtool on PATH (apt-get install prometheus; .ci/run does)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

/// (alert name, expression) of every rule.
fn rules() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(deploy().join("alerts.yml")).expect("alerts.yml");
    let mut rules = Vec::new();
    let mut name = None;
    for line in text.lines().map(str::trim) {
        if let Some(alert) = line.strip_prefix("- alert: ") {
            name = Some(alert.to_owned());
        } else if let (Some(expr), Some(alert)) = (line.strip_prefix("expr: "), name.take()) {
            rules.push((alert, expr.to_owned()));
        }
    }
    rules
}

#[test]
fn the_rules_are_valid_and_their_tests_pass() {
    let checked = promtool(&["check", "rules", "alerts.yml"]);
    assert!(
        checked.contains(&format!("{} rules found", rules().len())),
        "{checked}"
    );
    let tested = promtool(&["test", "rules", "alerts_test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
    // Every alert is exercised by the unit tests.
    let tests = std::fs::read_to_string(deploy().join("alerts_test.yml")).expect("tests");
    for (alert, _) in rules() {
        assert!(
            tests.contains(&format!("alertname: {alert}\n")),
            "{alert} is not tested"
        );
    }
}

#[test]
fn every_alert_has_its_runbook_section() {
    let runbook = std::fs::read_to_string(deploy().join("../../docs/RUNBOOK.md")).expect("runbook");
    let rules_text = std::fs::read_to_string(deploy().join("alerts.yml")).expect("alerts.yml");
    assert!(!rules().is_empty());
    for (alert, _) in rules() {
        let section = format!("\n## {alert}\n");
        let at = runbook
            .find(&section)
            .unwrap_or_else(|| panic!("no `## {alert}` in RUNBOOK.md"));
        let body = &runbook[at + section.len()..];
        let body = &body[..body.find("\n## ").unwrap_or(body.len())];
        for part in ["**Means**", "**Look at**", "**Do**"] {
            assert!(body.contains(part), "{alert}'s runbook has no {part}");
        }
        let url = format!("runbook_url: \"docs/RUNBOOK.md#{}\"", alert.to_lowercase());
        assert!(
            rules_text.contains(&url),
            "{alert} does not link its section"
        );
    }
}

#[actix_rt::test]
async fn every_series_the_alerts_read_is_exported() {
    let server = start(test_config());
    let (status, metrics) = http_get(&server, "/metrics").await;
    assert_eq!(status, 200);
    let exported: Vec<&str> = metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    for (alert, expr) in rules() {
        let names = expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("signal_hub_") || w.starts_with("process_"));
        for name in names {
            assert!(
                exported.contains(&name),
                "{alert} reads {name}, which /metrics does not export"
            );
        }
    }
}
