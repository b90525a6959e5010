//! The files `brawl report RUN_DIR` reads: `results.json`, `history.jsonl`, `test.yaml` and
//! `run.json`, joined with `%%%%` lines (see `brawl_fuzz::split`), through `report::parse_run`
//! (what `read_run` calls), then the page and the JUnit file made from them.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let files = brawl_fuzz::split(data, 4);
    let text = |i: usize| files.get(i).map(|b| String::from_utf8_lossy(b).into_owned());
    let results = text(0).unwrap_or_default();
    let history = files.get(1).copied().unwrap_or_default();
    let test_yaml = text(2).ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound));
    let run_json = text(3);
    let Ok(run) = brawl::report::parse_run(Path::new("fuzz/run"), &results, history, test_yaml, run_json.as_deref())
    else {
        return;
    };
    let html = brawl::report::render(&run);
    assert!(!html.contains("<script"), "the page runs no script");
    let _ = brawl::report::junit_xml(&run.results);
});
