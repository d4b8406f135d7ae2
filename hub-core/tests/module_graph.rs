//! Data flows one way through hub-core: no two top-level modules import each
//! other, directly or around a circle (the topic registry and the topics it
//! creates, which report themselves idle to it, are one module: `topic`).
//!
//! The edges are the `crate::<module>` paths each file names outside its
//! tests (docs/ARCHITECTURE.md shows the same with grep).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_owned()
}

fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let mut files = vec![src.to_path_buf()];
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let module = module_of(src, &path);
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
        let targets = graph.entry(module.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                .collect();
            if !name.is_empty() && name != module {
                targets.insert(name);
            }
        }
    }
    graph
}

/// Modules reachable from `from`.
fn reach(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_owned()];
    while let Some(m) = todo.pop() {
        for next in graph.get(&m).into_iter().flatten() {
            if seen.insert(next.clone()) {
                todo.push(next.clone());
            }
        }
    }
    seen
}

#[test]
fn no_module_imports_around_a_circle() {
    let graph = edges();
    assert!(
        graph.contains_key("session") && graph.contains_key("route"),
        "{graph:?}"
    );
    let mut circles = Vec::new();
    for module in graph.keys() {
        for other in reach(&graph, module) {
            if module < &other && reach(&graph, &other).contains(module) {
                circles.push(format!("{module} <-> {other}"));
            }
        }
    }
    assert!(circles.is_empty(), "import circles: {circles:?}");
}

#[test]
fn data_flows_from_session_to_route_to_outbox_never_back() {
    let graph = edges();
    let down = |from: &str, to: &str| reach(&graph, from).contains(to);
    assert!(down("session", "route") && down("route", "outbox"));
    for (from, to) in [
        ("route", "session"),
        ("outbox", "route"),
        ("outbox", "session"),
        ("topic", "session"),
        ("registry", "session"),
    ] {
        assert!(!down(from, to), "{from} reaches {to}");
    }
}

/// The engines serve the actors and never reach into them: what an engine
/// shared by many nodes hears, it reports through its event sink
/// (`seams::events`), which the node implements (`events.rs`).
#[test]
fn the_redis_engine_reaches_no_actor() {
    let graph = edges();
    assert!(graph.contains_key("redis"), "{graph:?}");
    let reached = reach(&graph, "redis");
    for actor in [
        "registry",
        "topic",
        "session",
        "directory",
        "route",
        "node",
        "hub",
        "events",
    ] {
        assert!(
            !reached.contains(actor),
            "redis reaches {actor}: {reached:?}"
        );
    }
    assert!(reach(&graph, "events").contains("registry"));
    // Nor the inbox actors: it implements their ledger seam, the engine
    // (`engine.rs`) builds the actor over it.
    let redis = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src/redis"));
    let mut files = vec![redis.to_path_buf()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let code = std::fs::read_to_string(&path).unwrap();
            for actor in ["durable::desk", "durable::inboxes"] {
                assert!(!code.contains(actor), "{} names {actor}", path.display());
            }
        }
    }
}

/// Every way a client reaches a session lives in `transport` (the hub's own
/// WebSocket, the actix-web handler, SSE, admission): it stands at the edge,
/// above the session, and nothing inside the hub reaches back into it.
#[test]
fn the_transports_stand_at_the_edge() {
    let graph = edges();
    assert!(reach(&graph, "transport").contains("session"));
    for (module, targets) in &graph {
        if ["lib", "bench_support", "transport"].contains(&module.as_str()) {
            continue;
        }
        assert!(
            !targets.contains("transport"),
            "{module} imports transport: {targets:?}"
        );
    }
    for gone in ["admission", "endpoint", "sse"] {
        assert!(!graph.contains_key(gone), "{gone} is a transport's part");
    }
}
