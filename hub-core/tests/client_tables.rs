//! The TypeScript client's table of close codes (clients/typescript/src/
//! codes.ts) is the server's: every close code under its camel-cased reason
//! with the same number, and nothing else; and the client reconnects after
//! exactly the codes the server says may be retried.

use std::collections::BTreeMap;

use hub_core::protocol::codes::ALL_CLOSE_CODES;

fn codes_ts() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../clients/typescript/src/codes.ts"
    );
    std::fs::read_to_string(path).expect("clients/typescript/src/codes.ts is readable")
}

fn camel(reason: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in reason.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The `name: number,` entries of `export const CloseCodes = { ... }`.
fn close_codes_table(ts: &str) -> BTreeMap<String, u16> {
    let start = ts
        .find("export const CloseCodes = {")
        .expect("a CloseCodes table");
    let body = &ts[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
    body.lines()
        .filter_map(|line| {
            let (name, number) = line.trim().trim_end_matches(',').split_once(':')?;
            Some((name.trim().to_owned(), number.trim().parse().ok()?))
        })
        .collect()
}

/// The codes named in `reconnects`'s list of terminal ones.
fn terminal_names(ts: &str) -> Vec<String> {
    let start = ts.find("export function reconnects").expect("reconnects()");
    let body = &ts[start..];
    let body = &body[..body.find("\n}").unwrap()];
    body.split("CloseCodes.")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect()
        })
        .collect()
}

#[test]
fn the_typescript_close_codes_are_the_servers() {
    let ts = codes_ts();
    let table = close_codes_table(&ts);
    let expected: BTreeMap<String, u16> = ALL_CLOSE_CODES
        .iter()
        .map(|c| (camel(c.as_str()), c.number()))
        .collect();
    assert_eq!(
        table, expected,
        "codes.ts CloseCodes against ALL_CLOSE_CODES"
    );

    let mut terminal = terminal_names(&ts);
    terminal.sort();
    let mut expected: Vec<String> = ALL_CLOSE_CODES
        .iter()
        .filter(|c| !c.reconnect())
        .map(|c| camel(c.as_str()))
        .collect();
    expected.sort();
    assert_eq!(terminal, expected, "reconnects(): the terminal codes");
}
