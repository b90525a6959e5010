//! A campaign file (`brawl campaign FILE`): `campaign::load_campaign`, then the matrix of runs.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Relative test and nemesis paths resolve against the repository's campaigns/ folder, so
    // the seeds (copies of campaigns/*.yaml) name files that exist.
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../campaigns/fuzz.yaml");
    if let Ok(c) = brawl::campaign::load_campaign_str(text, &file) {
        let cells = c.matrix();
        assert_eq!(cells.len(), c.tests.len() * c.schedules.len() * c.repetitions as usize);
        for cell in &cells {
            let _ = cell.schedule.label();
        }
    }
});
