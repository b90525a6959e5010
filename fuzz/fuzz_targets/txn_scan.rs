//! The transaction scanner (`checker::txn::check_bytes`, what `brawl check --model list-append`
//! and `rw-register` read Jepsen EDN with): any bytes, as either model, with the default
//! strict-serializable and with the weakest model; it must answer or refuse, never panic or hang.
#![no_main]
use std::path::Path;

use brawl::checker::txn::{check_bytes, Model, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for model in [Model::ListAppend, Model::RwRegister] {
        let strict = Options { model, ..Options::default() };
        let _ = check_bytes(data, Path::new("fuzz/history.edn"), &strict);
        let weak = Options { model, consistency_models: vec!["read-uncommitted".into()], ..Options::default() };
        let _ = check_bytes(data, Path::new("fuzz/history.edn"), &weak);
    }
});
