//! `set-full`: Jepsen's `checker/set-full`. Clients `add` single elements and `read` the whole
//! set throughout the test. Per element, after Jepsen:
//!
//! - *known*: the completion of its ok add, or of the first read that saw it, whichever is first;
//! - *last present* / *last absent*: the latest-invoked ok read that did / did not contain it
//!   (among reads that completed after the add was invoked);
//! - *stable*: some read saw it and every read invoked after the last absent one did;
//! - *lost*: known, and a read invoked after it was known, and after the last read that saw it,
//!   did not contain it; *never-read*: neither stable nor lost;
//! - *stale*: stable, but some read invoked after the element was known did not contain it
//!   (Jepsen calls an element stale when its stable latency is at least 1 ms; brawl compares
//!   positions in the history, so a stale read is never hidden by a fast clock);
//! - stable latency: from known to just after the last absent read's invocation; lost latency:
//!   from known to just after the last present read's invocation (0 when none), in ms, as
//!   quantiles (0, 0.5, 0.95, 0.99, 1) in `details`.
//!
//! Anomalies: `lost`; `duplicated` (an element more than once in one read: Jepsen's filter for
//! these can never fire, ours does); `unexpected` (a read holds an element whose add was not
//! invoked before the read completed, a check Jepsen does not make); `stale` when
//! `Options::linearizable`. Any of them makes the history invalid; otherwise it is `unknown` if
//! no element is stable (nothing was shown), else valid. Stale and never-read elements are
//! always listed in `details`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::elements::{calls, element, intervals, list, ms, quantiles, unknown_f, Elem};
use super::outcome::{Anomaly, CheckOutcome, ShapeError};
use super::Validity;
use crate::history::Op;

/// The checker's name, as `--model` spells it.
pub const NAME: &str = "set-full";

/// How many of the stalest elements `details.worst_stale` lists (Jepsen's 8).
const WORST_STALE: usize = 8;

/// Options of `set-full`.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The set claims to be linearizable: a stale element is an anomaly (Jepsen's
    /// `:linearizable?`).
    pub linearizable: bool,
}

/// A point of an element's life: an op's position, index and time.
#[derive(Clone, Copy, Debug)]
struct At {
    pos: usize,
    index: u64,
    time: u64,
}

/// A read seen from one element: its invocation and its completion's index.
#[derive(Clone, Copy, Debug)]
struct ReadAt {
    invoke: At,
    done: u64,
}

#[derive(Debug)]
struct Element {
    elem: Elem,
    known: Option<At>,
    last_present: Option<ReadAt>,
    last_absent: Option<ReadAt>,
}

enum Outcome {
    Stable { latency: u64, stale: bool },
    Lost { latency: u64 },
    NeverRead,
}

impl Element {
    fn outcome(&self) -> Outcome {
        let lp = self.last_present.map(|r| r.invoke.pos);
        let la = self.last_absent.map(|r| r.invoke.pos);
        let known = self.known.map_or(0, |k| k.time);
        match (self.known, lp, la) {
            (Some(k), Some(p), a) if a.is_none_or(|a| a < p) => {
                let stable_time = self.last_absent.map_or(0, |r| r.invoke.time + 1);
                Outcome::Stable { latency: stable_time.saturating_sub(known), stale: a.is_some_and(|a| a > k.pos) }
            }
            (Some(k), p, Some(a)) if p.is_none_or(|p| p < a) && k.pos < a => {
                let lost_time = self.last_present.map_or(0, |r| r.invoke.time + 1);
                Outcome::Lost { latency: lost_time.saturating_sub(known) }
            }
            _ => Outcome::NeverRead,
        }
    }
}

enum Event {
    AddInvoke(Elem),
    AddOk(Elem, At),
    Read { invoke: At, done: At, elems: Vec<Elem> },
}

/// Checks a set-full history (see the module docs).
pub fn check(ops: &[Op], opts: &Options) -> Result<CheckOutcome, ShapeError> {
    let mut events: Vec<(usize, Event)> = Vec::new();
    let at = |pos: usize| At { pos, index: ops[pos].index, time: ops[pos].time };
    for c in calls(ops, NAME)? {
        match c.invoke.f.as_str() {
            "add" => {
                let e = element(c.invoke, NAME, "the element to add")?;
                if let (Some(pos), true) = (c.complete_pos, c.ok()) {
                    events.push((pos, Event::AddOk(e.clone(), at(pos))));
                }
                events.push((c.invoke_pos, Event::AddInvoke(e)));
            }
            "read" => {
                let (Some(pos), Some(done)) = (c.complete_pos, c.ok_completion()) else { continue };
                let elems = list(done, NAME, "the elements read")?.iter().map(Elem::of).collect();
                events.push((pos, Event::Read { invoke: at(c.invoke_pos), done: at(pos), elems }));
            }
            _ => return Err(unknown_f(&c, NAME, &["add", "read"])),
        }
    }
    events.sort_by_key(|e| e.0);

    let mut o = CheckOutcome::new(NAME, Validity::Valid, "");
    let mut ids: BTreeMap<Elem, usize> = BTreeMap::new();
    let mut elements: Vec<Element> = Vec::new();
    // Per element id: the number of the last read that contained it (reads count from 1).
    let mut stamp: Vec<u64> = Vec::new();
    // Element -> (most copies in one read, that read's completion index).
    let mut dups: BTreeMap<Elem, (usize, u64)> = BTreeMap::new();
    // Element -> the first read that held it before its add was invoked.
    let mut unexpected: BTreeMap<Elem, u64> = BTreeMap::new();
    let mut reads = 0u64;
    for (_, ev) in events {
        match ev {
            Event::AddInvoke(e) => {
                if !ids.contains_key(&e) {
                    ids.insert(e.clone(), elements.len());
                    elements.push(Element { elem: e, known: None, last_present: None, last_absent: None });
                    stamp.push(0);
                }
            }
            Event::AddOk(e, done) => {
                if let Some(&id) = ids.get(&e) {
                    elements[id].known.get_or_insert(done);
                }
            }
            Event::Read { invoke, done, elems } => {
                reads += 1;
                let here = ReadAt { invoke, done: done.index };
                let mut copies: BTreeMap<&Elem, usize> = BTreeMap::new();
                for e in &elems {
                    let Some(&id) = ids.get(e) else {
                        unexpected.entry(e.clone()).or_insert(done.index);
                        continue;
                    };
                    if stamp[id] == reads {
                        *copies.entry(e).or_insert(1) += 1;
                        continue;
                    }
                    stamp[id] = reads;
                    let el = &mut elements[id];
                    el.known.get_or_insert(done);
                    if el.last_present.is_none_or(|p| p.invoke.pos < invoke.pos) {
                        el.last_present = Some(here);
                    }
                }
                for (e, n) in copies {
                    let d = dups.entry(e.clone()).or_insert((n, done.index));
                    if n > d.0 {
                        *d = (n, done.index);
                    }
                }
                for (id, el) in elements.iter_mut().enumerate() {
                    if stamp[id] != reads && el.last_absent.is_none_or(|a| a.invoke.pos < invoke.pos) {
                        el.last_absent = Some(here);
                    }
                }
            }
        }
    }

    let (mut stable, mut lost, mut never_read, mut stale) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut stable_lat, mut lost_lat) = (Vec::new(), Vec::new());
    for el in &elements {
        match el.outcome() {
            Outcome::Stable { latency, stale: s } => {
                stable.push(&el.elem);
                stable_lat.push(ms(latency));
                if s {
                    stale.push((el, latency));
                }
            }
            Outcome::Lost { latency } => {
                lost.push(&el.elem);
                lost_lat.push(ms(latency));
                push_lost(&mut o, el, latency);
            }
            Outcome::NeverRead => never_read.push(&el.elem),
        }
    }
    if opts.linearizable {
        for &(el, latency) in &stale {
            push_stale(&mut o, el, latency);
        }
    }
    for (e, &(n, r)) in &dups {
        o.push(
            "duplicated",
            Anomaly {
                explanation: format!("{e} appears {n} times in the read completed at op {r}"),
                ops: vec![r],
                data: json!({"element": e.to_value(), "count": n}),
                ..Anomaly::default()
            },
        );
    }
    for (e, &r) in &unexpected {
        let why = match ids.get(e) {
            Some(_) => "before any add of it was invoked",
            _ => "but no add of it was ever attempted",
        };
        o.push(
            "unexpected",
            Anomaly {
                explanation: format!("{e} is in the read completed at op {r} {why}"),
                ops: vec![r],
                data: json!({"element": e.to_value()}),
                ..Anomaly::default()
            },
        );
    }
    o.validity = if !o.anomalies.is_empty() {
        Validity::Invalid
    } else if stable.is_empty() {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    stale.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.elem.cmp(&b.0.elem)));
    let worst: Vec<Value> = stale.iter().take(WORST_STALE).map(|&(el, lat)| stale_json(el, lat)).collect();
    o.summary = format!(
        "{} elements added in {} reads: {} stable, {} lost, {} never read, {} stale{}; {} duplicated, {} unexpected",
        elements.len(),
        reads,
        stable.len(),
        lost.len(),
        never_read.len(),
        stale.len(),
        if opts.linearizable { " (linearizable: stale is invalid)" } else { "" },
        dups.len(),
        unexpected.len()
    );
    o.details = json!({
        "linearizable": opts.linearizable,
        "read_count": reads,
        "attempt_count": elements.len(),
        "stable_count": stable.len(),
        "lost_count": lost.len(),
        "never_read_count": never_read.len(),
        "stale_count": stale.len(),
        "duplicated_count": dups.len(),
        "unexpected_count": unexpected.len(),
        "lost": intervals(lost),
        "never_read": intervals(never_read),
        "stale": intervals(stale.iter().map(|s| &s.0.elem)),
        "worst_stale": worst,
        "stable_latencies": quantiles(stable_lat),
        "lost_latencies": quantiles(lost_lat),
    });
    Ok(o)
}

fn push_lost(o: &mut CheckOutcome, el: &Element, latency: u64) {
    let (Some(k), Some(a)) = (el.known, el.last_absent) else { return };
    let seen = match el.last_present {
        Some(p) => format!("last seen by the read invoked at op {} (completed at op {})", p.invoke.index, p.done),
        None => "never seen by any read".to_string(),
    };
    let mut ops = vec![k.index];
    ops.extend(el.last_present.map(|p| p.done));
    ops.push(a.done);
    o.push(
        "lost",
        Anomaly {
            explanation: format!(
                "{} was known to be in the set from op {} but lost: {seen}; the read invoked at op {} (completed at \
                 op {}) and every later one did not contain it ({} ms after it was known)",
                el.elem,
                k.index,
                a.invoke.index,
                a.done,
                ms(latency)
            ),
            ops,
            data: json!({"element": el.elem.to_value(), "lost_latency_ms": ms(latency)}),
            ..Anomaly::default()
        },
    );
}

fn push_stale(o: &mut CheckOutcome, el: &Element, latency: u64) {
    let (Some(k), Some(a)) = (el.known, el.last_absent) else { return };
    o.push(
        "stale",
        Anomaly {
            explanation: format!(
                "{} was known to be in the set from op {}, yet the read invoked later at op {} (completed at op {}) \
                 did not contain it; it was stable only {} ms after it was known",
                el.elem,
                k.index,
                a.invoke.index,
                a.done,
                ms(latency)
            ),
            ops: vec![k.index, a.done],
            data: stale_json(el, latency),
            ..Anomaly::default()
        },
    );
}

fn stale_json(el: &Element, latency: u64) -> Value {
    json!({
        "element": el.elem.to_value(),
        "stable_latency_ms": ms(latency),
        "known": el.known.map(|k| k.index),
        "last_absent": el.last_absent.map(|a| a.done),
    })
}

#[cfg(test)]
mod tests {
    use super::super::elements::testkit::history;
    use super::*;
    use serde_json::json;

    type Row = (u64, &'static str, &'static str, Value);

    fn run(rows: &[Row], linearizable: bool) -> CheckOutcome {
        check(&history(rows), &Options { linearizable }).expect("a set-full history")
    }

    fn add(p: u64, v: i64) -> [Row; 2] {
        [(p, "invoke", "add", json!(v)), (p, "ok", "add", json!(v))]
    }

    fn read(p: u64, seen: Value) -> [Row; 2] {
        [(p, "invoke", "read", json!(null)), (p, "ok", "read", seen)]
    }

    fn rows(parts: &[[Row; 2]]) -> Vec<Row> {
        parts.iter().flat_map(|p| p.iter().cloned()).collect()
    }

    #[test]
    fn an_element_seen_by_every_later_read_is_stable() {
        let o = run(&rows(&[add(1, 1), read(2, json!([1])), read(2, json!([1]))]), true);
        assert_eq!(o.validity, Validity::Valid, "{o:#?}");
        assert_eq!(o.details["stable_count"], json!(1));
        assert_eq!(o.details["stale_count"], json!(0));
        assert_eq!(o.details["stable_latencies"]["1"], json!(0.0));
    }

    #[test]
    fn an_element_no_longer_read_is_lost() {
        let o = run(&rows(&[add(1, 1), read(2, json!([1])), read(2, json!([]))]), false);
        assert_eq!(o.validity, Validity::Invalid);
        assert_eq!(o.anomaly_types, ["lost"]);
        let a = &o.anomalies["lost"][0];
        assert_eq!(a.ops, [1, 3, 5], "known, last present, last absent");
        // Lost 1 ms after known (the last present read is invoked at 2 ms, known at 1 ms).
        assert_eq!(o.details["lost_latencies"]["0"], json!(1.0));
    }

    #[test]
    fn an_element_that_shows_up_late_is_stale_and_invalid_only_when_linearizable() {
        let h = rows(&[add(1, 1), read(2, json!([])), read(2, json!([1]))]);
        let o = run(&h, false);
        assert_eq!(o.validity, Validity::Valid, "{o:#?}");
        assert_eq!((o.details["stale_count"].clone(), o.details["stale"].clone()), (json!(1), json!("1")));
        assert_eq!(o.details["worst_stale"][0]["stable_latency_ms"], json!(1.0));
        let o = run(&h, true);
        assert_eq!(o.validity, Validity::Invalid);
        assert_eq!(o.anomaly_types, ["stale"]);
        assert_eq!(o.anomalies["stale"][0].ops, [1, 3]);
    }

    #[test]
    fn a_read_concurrent_with_the_add_may_miss_it() {
        // The read is invoked before the add completes: missing the element is not staleness.
        let h = vec![
            (1, "invoke", "add", json!(1)),
            (2, "invoke", "read", json!(null)),
            (1, "ok", "add", json!(1)),
            (2, "ok", "read", json!([])),
            (2, "invoke", "read", json!(null)),
            (2, "ok", "read", json!([1])),
        ];
        let o = run(&h, true);
        assert_eq!(o.validity, Validity::Valid, "{o:#?}");
        assert_eq!(o.details["stale_count"], json!(0));
    }

    #[test]
    fn a_concurrent_read_missing_the_last_element_is_never_read_not_lost() {
        let h = vec![
            (1, "invoke", "add", json!(1)),
            (1, "ok", "add", json!(1)),
            (2, "invoke", "read", json!(null)),
            (1, "invoke", "add", json!(2)),
            (2, "ok", "read", json!([1])),
            (1, "ok", "add", json!(2)),
        ];
        let o = run(&h, true);
        assert_eq!(o.validity, Validity::Valid, "{o:#?}");
        assert_eq!(o.details["never_read"], json!("2"));
    }

    #[test]
    fn an_indeterminate_add_never_seen_is_never_read() {
        let h = vec![(1, "invoke", "add", json!(1)), (1, "info", "add", json!(1)), (2, "invoke", "read", json!(null))];
        let mut h = h;
        h.push((2, "ok", "read", json!([])));
        let o = run(&h, true);
        assert_eq!(o.validity, Validity::Unknown, "nothing stable: {o:#?}");
        assert_eq!(o.details["never_read"], json!("1"));
        assert!(o.anomalies.is_empty());
    }

    #[test]
    fn duplicates_in_a_read_are_reported() {
        let o = run(&rows(&[add(1, 1), read(2, json!([1, 1, 1]))]), false);
        assert_eq!(o.validity, Validity::Invalid);
        assert_eq!(o.anomaly_types, ["duplicated"]);
        assert_eq!(o.anomalies["duplicated"][0].data["count"], json!(3));
        assert_eq!(o.details["stable_count"], json!(1));
    }

    #[test]
    fn elements_read_before_their_add_or_never_added_are_unexpected() {
        let o = run(&rows(&[read(2, json!([1, 7])), add(1, 1), read(2, json!([1]))]), false);
        assert_eq!(o.validity, Validity::Invalid);
        let u = &o.anomalies["unexpected"];
        assert_eq!(u.len(), 2);
        assert!(u[0].explanation.contains("before any add"), "{}", u[0].explanation);
        assert!(u[1].explanation.contains("ever attempted"), "{}", u[1].explanation);
    }

    #[test]
    fn shape_errors() {
        let e = check(&history(&[(1, "invoke", "cas", json!(1))]), &Options::default()).expect_err("cas");
        assert!(e.expected.contains("found `cas`"), "{e}");
        let e = check(&history(&read(1, json!({"a": 1}))), &Options::default()).expect_err("a map is not a read");
        assert_eq!((e.index, e.model.as_str()), (1, NAME));
    }
}
