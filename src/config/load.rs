//! YAML parsing for all of brawl, and [`ConfigError`], the error every config problem becomes.
//!
//! [`load`] is the only place that knows which YAML crate brawl uses (serde-saphyr), so swapping
//! it is a change to this file alone. Errors carry the file, line, column and the field path
//! (`nemeses[0].kill`) recorded by `serde_path_to_error`.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_saphyr::{Location, MessageFormatter};

/// A config file that could not be read, parsed or validated.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the file: {source}", file.display())]
    Io {
        /// The file brawl tried to read.
        file: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but its content is wrong: bad YAML, a bad field, or a broken rule.
    #[error("{}", Invalid { file, line: *line, column: *column, path, message })]
    Invalid {
        /// The file that holds the mistake.
        file: PathBuf,
        /// 1-based line of the mistake, when known.
        line: Option<u64>,
        /// 1-based column of the mistake, when known.
        column: Option<u64>,
        /// Field path such as `nemeses[0].kill`; empty for the document as a whole.
        path: String,
        /// One line saying what is wrong and what was expected.
        message: String,
    },
}

/// Display helper for [`ConfigError::Invalid`]: `file:line:col: path: message`.
struct Invalid<'a> {
    file: &'a Path,
    line: Option<u64>,
    column: Option<u64>,
    path: &'a str,
    message: &'a str,
}

impl fmt::Display for Invalid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl ConfigError {
    /// An [`ConfigError::Invalid`] at `location` (an unknown location gives no line or column).
    pub(crate) fn invalid(
        file: &Path,
        location: Location,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let known = location != Location::UNKNOWN && location.line() > 0;
        ConfigError::Invalid {
            file: file.to_path_buf(),
            line: known.then(|| location.line()),
            column: known.then(|| location.column()),
            path: path.into(),
            message: message.into(),
        }
    }

    /// The offending line of the file with a caret under the column, for terminal output.
    ///
    /// Reads the file again; `None` for I/O errors, unknown lines or an unreadable file.
    pub fn snippet(&self) -> Option<String> {
        let ConfigError::Invalid { file, line, column, .. } = self else {
            return None;
        };
        let text = std::fs::read_to_string(file).ok()?;
        snippet_of(&text, (*line)?, column.unwrap_or(1))
    }
}

/// `text`'s line `line` (1-based) followed by a caret under `column` (1-based).
fn snippet_of(text: &str, line: u64, column: u64) -> Option<String> {
    let index = usize::try_from(line.checked_sub(1)?).ok()?;
    let source = text.lines().nth(index)?;
    let number = line.to_string();
    let pad = " ".repeat(number.len());
    let caret = " ".repeat(usize::try_from(column.saturating_sub(1)).unwrap_or(0));
    Some(format!("{pad} |\n{number} | {source}\n{pad} | {caret}^"))
}

/// Read `path` and deserialize its YAML into `T`.
///
/// This is the only place YAML is parsed in brawl. Unknown fields, wrong types and YAML syntax
/// errors come back as [`ConfigError::Invalid`] with the line, column and field path.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { file: path.to_path_buf(), source })?;
    load_str(&text, path)
}

/// Deserialize YAML `text` into `T`, reporting errors against `file` (which is not read).
pub fn load_str<T: DeserializeOwned>(text: &str, file: &Path) -> Result<T, ConfigError> {
    // The closure must return serde-saphyr's own error (so it gets a location attached), which
    // drops serde_path_to_error's path; keep the path on the side.
    let path = RefCell::new(String::new());
    let result = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            *path.borrow_mut() = field_path(e.path());
            e.into_inner()
        })
    });
    result.map_err(|e| {
        let mut path = path.into_inner();
        let message = message(&e, text);
        // serde_path_to_error puts an unknown key in the path; the message names it already.
        if let Some(key) = message.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next()) {
            let parent = path.strip_suffix(key).unwrap_or(&path);
            path = parent.strip_suffix('.').unwrap_or(parent).to_string();
        }
        let location = e.location().unwrap_or(Location::UNKNOWN);
        ConfigError::invalid(file, location, path, message)
    })
}

/// serde-saphyr's one-line message for `e` (no location, no snippet); a scalar of the wrong
/// type also says what was found and what was expected.
fn message(e: &serde_saphyr::Error, text: &str) -> String {
    let e = e.without_snippet();
    if let serde_saphyr::Error::InvalidScalar { ty, location } = e {
        let span = location.span();
        let found = span.byte_offset().zip(span.byte_len()).and_then(|(start, len)| {
            let start = usize::try_from(start).ok()?;
            text.get(start..start.checked_add(usize::try_from(len).ok()?)?)
        });
        let expected = match *ty {
            "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more",
            "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
            "f32" | "f64" => "a number",
            "bool" => "true or false",
            _ => ty,
        };
        return match found {
            Some(found) if !found.is_empty() => {
                format!("expected {expected} ({ty}), found {found:?}")
            }
            _ => format!("expected {expected} ({ty})"),
        };
    }
    let message = serde_saphyr::DefaultMessageFormatter.format_message(e);
    message.trim().to_string()
}

/// serde_path_to_error's path as the user wrote it: `nemeses[0].kill`, without the `value`
/// segment each `Spanned<T>` adds (no brawl config field is called `value`); empty for the root.
fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } if key == "value" => {}
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => out.push_str(if out.is_empty() { "?" } else { ".?" }),
        }
    }
    // A syntax error often ends in an unknown segment, which tells the reader nothing.
    while let Some(rest) = out.strip_suffix('?') {
        out = rest.strip_suffix('.').unwrap_or(rest).to_string();
    }
    out
}

/// Reads a YAML file as an untyped value (for writing the test "as run", with overrides applied).
pub fn load_value(path: &Path) -> Result<serde_json::Value, ConfigError> {
    load(path)
}

/// Writes a value as YAML.
pub fn to_yaml(value: &serde_json::Value) -> String {
    serde_saphyr::to_string(value).unwrap_or_else(|e| format!("# could not write YAML: {e}\n"))
}

/// A fault-schedule file (`nemeses/*.yaml`): what `brawl run --nemesis FILE` swaps in.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NemesisFile {
    /// The faults, as in a test file.
    #[serde(default)]
    pub nemeses: Vec<crate::nemesis::NemesisSpec>,
    /// An explicit schedule, as in a test file.
    #[serde(default)]
    pub timeline: Vec<crate::nemesis::TimelineEntry>,
}

/// Reads a fault-schedule file.
pub fn load_nemesis_file(path: &Path) -> Result<NemesisFile, ConfigError> {
    load(path)
}

/// [`load_nemesis_file`] of a fault-schedule file's `text`, with errors naming `file`.
pub fn load_nemesis_str(text: &str, file: &Path) -> Result<NemesisFile, ConfigError> {
    load_str(text, file)
}

#[cfg(test)]
mod tests {
    // Snapshot files are named without the crate name, so they are found from any crate.
    macro_rules! snap {
        ($value:expr) => {
            insta::with_settings!(
                { prepend_module_to_snapshot => false, snapshot_path => "snapshots/load" },
                { insta::assert_snapshot!($value) }
            )
        };
    }

    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Small {
        name: String,
        items: Vec<u32>,
    }

    fn err(text: &str) -> String {
        load_str::<Small>(text, Path::new("test.yaml")).unwrap_err().to_string()
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        snap!(err("name: [x\nitems: []\n"));
    }

    #[test]
    fn unclosed_bracket_is_a_syntax_error() {
        snap!(err("name: a\nitems: [1, 2\n"));
    }

    #[test]
    fn bad_indentation_is_a_syntax_error() {
        snap!(err("name: a\n  items: []\n"));
    }

    #[test]
    fn wrong_type_in_a_list_names_the_index() {
        snap!(err("name: a\nitems: [1, two]\n"));
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let e = load::<Small>(Path::new("/nonexistent/test.yaml")).unwrap_err();
        assert!(matches!(e, ConfigError::Io { .. }));
        assert!(e.to_string().starts_with("/nonexistent/test.yaml: cannot read the file: "));
    }

    #[test]
    fn snippet_points_at_the_column() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("test.yaml");
        std::fs::write(&file, "name: a\nitems: [1, two]\n").unwrap();
        let e = load::<Small>(&file).unwrap_err();
        snap!(e.snippet().unwrap());
    }
}
