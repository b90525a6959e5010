//! Reading a history file for the transactional checker.

use std::path::Path;

use super::history::Txns;
use super::{Model, TxnError};

/// Reads `path` into the compact representation.
pub(crate) fn read(path: &Path, model: Model) -> Result<Txns, TxnError> {
    let shown = path.display().to_string();
    let h = crate::history::read_history(path).map_err(|e| TxnError::Parse {
        path: shown.clone(),
        line: 0,
        expected: e.to_string(),
    })?;
    super::ops::build(&h.ops, model).map_err(|source| TxnError::Shape { path: shown, source })
}
