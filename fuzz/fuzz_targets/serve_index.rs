//! The files `brawl serve` and `--write-index` read for the index: a run's `run.json` and
//! `results.json` and a campaign's `campaign.json`, joined with `%%%%` lines, through
//! `serve::index::run_entry` / `campaign_entry` (what `scan` calls), then the index page.
#![no_main]
use libfuzzer_sys::fuzz_target;

use brawl::serve::index;

fuzz_target!(|data: &[u8]| {
    let files = brawl_fuzz::split(data, 3);
    let run_json = files[0];
    let results = files.get(1).copied();
    let campaign = files.get(2).copied();
    let run = index::run_entry("fuzz-test".into(), "20261202T000000.000Z".into(), run_json, results, true);
    let c = index::campaign_entry("fuzz-campaign".into(), "20261202T000000.000Z".into(), campaign);
    let page = index::render(&[run.clone()], &[c], &index::Filter::default());
    // Whatever the files hold, the page carries it escaped.
    assert!(!page.contains("<script"), "unescaped markup from a run's files");
    let only = index::Filter { test: Some("fuzz-test".into()), verdict: Some(run.verdict.clone()) };
    let _ = index::render(&[run], &[], &only);
});
