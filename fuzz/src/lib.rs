//! Helpers shared by the fuzz targets in `fuzz_targets/` (one per brawl reader of outside
//! input; see docs/fuzzing.md).

/// The separator between the files of a multi-file input (`report`, `serve_index`): a line
/// holding only `%%%%`. The seed corpus is made of real files joined with it.
pub const SEPARATOR: &[u8] = b"\n%%%%\n";

/// Splits `data` into at most `n` files at [`SEPARATOR`]; the last one keeps any further
/// separators.
pub fn split(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = data;
    while out.len() + 1 < n {
        match rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
            Some(at) => {
                out.push(&rest[..at]);
                rest = &rest[at + SEPARATOR.len()..];
            }
            None => break,
        }
    }
    out.push(rest);
    out
}

/// The node names a test without its own list runs on.
pub fn default_nodes() -> Vec<String> {
    (1..=5).map(|i| format!("n{i}")).collect()
}

/// What `brawl run` does with a test's faults before it starts: validate them against the
/// nodes, bound the schedule's size, build the nemesis, and plan the schedule. Errors are fine; panics are not.
pub fn plan_faults(
    specs: &[brawl::nemesis::NemesisSpec],
    timeline: &[brawl::nemesis::TimelineEntry],
    nodes: &[String],
    seed: u64,
    time_limit: std::time::Duration,
) {
    if brawl::nemesis::validate(specs, timeline, nodes).is_err() {
        return;
    }
    if brawl::nemesis::check_schedule_size(specs, time_limit).is_err() {
        return;
    }
    if brawl::nemesis::build(specs, seed).is_err() {
        return;
    }
    let _ = brawl::nemesis::plan(specs, timeline, seed, time_limit);
    let _ = brawl::nemesis::final_heal_ops(specs);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_extra_separators_in_the_last_file() {
        assert_eq!(split(b"a\n%%%%\nb\n%%%%\nc", 2), vec![&b"a"[..], &b"b\n%%%%\nc"[..]]);
        assert_eq!(split(b"abc", 3), vec![&b"abc"[..]]);
    }
}
