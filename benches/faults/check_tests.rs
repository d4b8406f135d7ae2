//! The checker against small histories: each guarantee, kept and broken.

use super::*;

const BOUNDS: Bounds = Bounds {
    eviction_ms: 1_000,
    ack_settle_ms: 500,
    answer_ms: 2_000,
};

fn history(lines: &[&str]) -> Vec<Event> {
    lines
        .iter()
        .map(|l| Event::parse(l).expect("a history line"))
        .collect()
}

fn kinds(lines: &[&str]) -> Vec<&'static str> {
    check(&history(lines), BOUNDS)
        .violations
        .into_iter()
        .map(|v| v.kind)
        .collect()
}

const SENT_AND_DELIVERED: &[&str] = &[
    r#"{"t":0,"op":"connected","address":"b","session":"b1"}"#,
    r#"{"t":10,"op":"sent","from":"a","to":"b","msg":"a:1","status":"accepted"}"#,
    r#"{"t":11,"op":"sent","from":"a","to":"b","msg":"a:2","status":"queued"}"#,
    r#"{"t":12,"op":"sent","from":"a","to":"b","msg":"a:3","status":"rejected"}"#,
    r#"{"t":20,"op":"delivered","session":"b1","to":"b","from":"a","msg":"a:1","seq":1}"#,
    r#"{"t":21,"op":"delivered","session":"b1","to":"b","from":"a","msg":"a:2","seq":2}"#,
];

#[test]
fn a_clean_history_has_no_violation() {
    let report = check(&history(SENT_AND_DELIVERED), BOUNDS);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_eq!(report.operations, 6);
}

#[test]
fn an_answered_send_never_delivered_is_lost_a_rejected_one_is_not() {
    let mut lines = SENT_AND_DELIVERED.to_vec();
    lines.pop();
    assert_eq!(kinds(&lines), ["lost"]);
}

#[test]
fn a_redelivery_after_a_settled_ack_is_a_violation_an_unsettled_one_is_not() {
    let mut lines = SENT_AND_DELIVERED.to_vec();
    lines.extend([
        r#"{"t":30,"op":"acked","session":"b1","to":"b","seq":2}"#,
        r#"{"t":40,"op":"closed","session":"b1","code":0}"#,
        r#"{"t":50,"op":"connected","address":"b","session":"b2"}"#,
        r#"{"t":60,"op":"delivered","session":"b2","to":"b","from":"a","msg":"a:2","seq":2}"#,
    ]);
    // The session closed 10 ms after its ack: the ack may have been lost.
    assert!(kinds(&lines).is_empty(), "{:?}", kinds(&lines));
    lines[7] = r#"{"t":900,"op":"closed","session":"b1","code":0}"#;
    lines[8] = r#"{"t":950,"op":"connected","address":"b","session":"b2"}"#;
    lines[9] =
        r#"{"t":960,"op":"delivered","session":"b2","to":"b","from":"a","msg":"a:2","seq":2}"#;
    assert_eq!(kinds(&lines), ["delivered_after_ack"]);
}

#[test]
fn seqs_fall_back_within_a_session_or_a_sender_overtakes_itself() {
    let lines = [
        r#"{"t":0,"op":"connected","address":"b","session":"b1"}"#,
        r#"{"t":1,"op":"delivered","session":"b1","to":"b","from":"a","msg":"a:1","seq":5}"#,
        r#"{"t":2,"op":"delivered","session":"b1","to":"b","from":"a","msg":"a:2","seq":4}"#,
    ];
    // Seq 4 after 5 in one session; and a:2 stored before a:1.
    assert_eq!(kinds(&lines), ["out_of_order", "out_of_order"]);
    // A new session may start again from the oldest unacknowledged.
    let lines = [
        r#"{"t":0,"op":"connected","address":"b","session":"b1"}"#,
        r#"{"t":1,"op":"delivered","session":"b1","to":"b","from":"a","msg":"a:1","seq":1}"#,
        r#"{"t":2,"op":"delivered","session":"b1","to":"b","from":"a","msg":"a:2","seq":2}"#,
        r#"{"t":3,"op":"closed","session":"b1","code":0}"#,
        r#"{"t":4,"op":"connected","address":"b","session":"b2"}"#,
        r#"{"t":5,"op":"delivered","session":"b2","to":"b","from":"a","msg":"a:1","seq":1}"#,
    ];
    assert!(kinds(&lines).is_empty(), "{:?}", kinds(&lines));
    // One seq, two messages.
    let lines = [
        r#"{"t":1,"op":"delivered","session":"b1","to":"b","from":"a","msg":"a:1","seq":1}"#,
        r#"{"t":5,"op":"delivered","session":"b2","to":"b","from":"c","msg":"c:1","seq":1}"#,
    ];
    assert_eq!(kinds(&lines), ["out_of_order"]);
}

#[test]
fn an_older_session_alive_past_the_eviction_bound_is_a_second_holder() {
    let mut lines = vec![
        r#"{"t":0,"op":"connected","address":"b","session":"b1"}"#,
        r#"{"t":100,"op":"connected","address":"b","session":"b2"}"#,
        r#"{"t":600,"op":"alive","session":"b1","address":"b"}"#,
    ];
    assert!(kinds(&lines).is_empty(), "within the bound");
    lines.push(r#"{"t":1200,"op":"alive","session":"b1","address":"b"}"#);
    lines.push(r#"{"t":1300,"op":"alive","session":"b1","address":"b"}"#);
    assert_eq!(kinds(&lines), ["two_live_holders"], "told once per session");
}

#[test]
fn a_watcher_told_offline_twice_in_a_row_is_a_violation() {
    let mut lines = vec![
        r#"{"t":0,"op":"watched","watcher":"w","address":"b","event":"online"}"#,
        r#"{"t":1,"op":"watched","watcher":"w","address":"b","event":"offline"}"#,
        r#"{"t":2,"op":"watched","watcher":"w","address":"b","event":"online"}"#,
        r#"{"t":3,"op":"watched","watcher":"w","address":"b","event":"offline"}"#,
        r#"{"t":3,"op":"watched","watcher":"v","address":"b","event":"offline"}"#,
    ];
    assert!(kinds(&lines).is_empty());
    lines.push(r#"{"t":4,"op":"watched","watcher":"w","address":"b","event":"offline"}"#);
    assert_eq!(kinds(&lines), ["duplicate_transition"]);
}

#[test]
fn faults_are_listed_and_not_counted_as_operations() {
    let mut lines = SENT_AND_DELIVERED.to_vec();
    lines.push(r#"{"t":5,"op":"fault","what":"cut node-1 from redis","begin":true}"#);
    lines.push(r#"{"t":9,"op":"fault","what":"cut node-1 from redis","begin":false}"#);
    let report = check(&history(&lines), BOUNDS);
    assert_eq!(report.operations, 6);
    assert_eq!(report.faults, ["5 ms: cut node-1 from redis"]);
    let json = report.to_json();
    assert_eq!(json["violations"], 0);
}

#[test]
fn a_bad_line_is_refused_with_what_is_missing() {
    let error = Event::parse(r#"{"t":1,"op":"sent","from":"a"}"#).expect_err("refused");
    assert!(error.contains("no `to`"), "{error}");
    let error = Event::parse(r#"{"t":1,"op":"teleported"}"#).expect_err("refused");
    assert!(error.contains("unknown op"), "{error}");
}

#[test]
fn a_send_left_unanswered_while_its_sender_was_alive_is_a_violation() {
    let mut lines = vec![
        r#"{"t":10,"op":"alive","session":"a1","address":"a"}"#,
        r#"{"t":3000,"op":"alive","session":"a2","address":"a"}"#,
        r#"{"t":9000,"op":"sent","from":"a","to":"b","msg":"a:1","status":"no_answer","first_t":2000}"#,
    ];
    // Alive 1 s after: within the bound.
    assert!(kinds(&lines).is_empty());
    lines.insert(2, r#"{"t":4500,"op":"alive","session":"a2","address":"a"}"#);
    assert_eq!(kinds(&lines), ["unanswered"]);
}

const RECOVERED: &[&str] = &[
    r#"{"t":0,"op":"connected","address":"b","session":"b1"}"#,
    r#"{"t":10,"op":"published","from":"a","offset":5}"#,
    r#"{"t":11,"op":"published","from":"a","offset":6}"#,
    r#"{"t":20,"op":"topic_delivered","session":"b1","to":"b","offset":5}"#,
    r#"{"t":21,"op":"topic_delivered","session":"b1","to":"b","offset":6}"#,
    r#"{"t":22,"op":"topic_delivered","session":"b1","to":"b","offset":7}"#,
    r#"{"t":25,"op":"recovery","session":"b1","to":"b","asked_t":15,"since_offset":4,"recovered":true,"offset":6,"replayed":[5,6,7]}"#,
];

#[test]
fn a_whole_replay_is_kept_even_with_newer_publications_before_its_ack() {
    assert!(kinds(RECOVERED).is_empty(), "{:?}", kinds(RECOVERED));
}

#[test]
fn a_replay_with_a_hole_or_short_of_its_ack_is_a_gap() {
    let mut lines = RECOVERED.to_vec();
    lines[6] = r#"{"t":25,"op":"recovery","session":"b1","to":"b","asked_t":15,"since_offset":4,"recovered":true,"offset":7,"replayed":[5,7]}"#;
    assert_eq!(kinds(&lines), ["replay_gap"]);
    lines[6] = r#"{"t":25,"op":"recovery","session":"b1","to":"b","asked_t":15,"since_offset":4,"recovered":true,"offset":7,"replayed":[5,6]}"#;
    assert_eq!(kinds(&lines), ["replay_gap"]);
    // recovered: false promises nothing of the replay.
    lines[6] = r#"{"t":25,"op":"recovery","session":"b1","to":"b","asked_t":15,"since_offset":4,"recovered":false,"offset":7,"replayed":[]}"#;
    assert!(kinds(&lines).is_empty(), "{:?}", kinds(&lines));
}

#[test]
fn a_publication_acked_before_a_recovery_and_never_handed_is_skipped() {
    // Offset 6 was acknowledged before the recovery was asked, and the
    // session, open long after, never got it.
    let lines = [
        RECOVERED[0],
        RECOVERED[1],
        RECOVERED[2],
        RECOVERED[3],
        r#"{"t":25,"op":"recovery","session":"b1","to":"b","asked_t":15,"since_offset":4,"recovered":true,"offset":5,"replayed":[5]}"#,
    ];
    assert_eq!(kinds(&lines), ["skipped"]);
    // A session that closed soon after may simply not have got it yet.
    let mut closing = lines.to_vec();
    closing.push(r#"{"t":30,"op":"closed","session":"b1","code":0}"#);
    assert!(kinds(&closing).is_empty(), "{:?}", kinds(&closing));
}
