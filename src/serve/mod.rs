//! `brawl serve`: `reports/` over HTTP, for people reading runs in a browser. `/` is the index
//! of runs and campaigns ([`index`]), filterable by `?test=` and `?verdict=`; every other path
//! is a file or directory under `reports/`, and nothing outside it: a path is refused when, with
//! `..` and every symlink resolved, it leaves the reports directory. Binds loopback by default.

pub mod index;

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};

use axum::extract::{Query, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;

/// Why a path is not served.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The path leaves `reports/` (`..`, an absolute symlink, a symlink out).
    #[error("{0} is outside the reports directory")]
    Outside(String),
    /// Nothing there.
    #[error("{0} not found")]
    NotFound(String),
}

/// The file or directory that request path `path` (percent-encoded, starting with `/`) names
/// under `root`, after resolving symlinks; refused when it would leave `root`.
pub fn resolve(root: &Path, path: &str) -> Result<PathBuf, Refused> {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy().into_owned();
    let rel = Path::new(decoded.trim_start_matches('/'));
    if decoded.contains('\0') || rel.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(Refused::Outside(decoded));
    }
    let root = std::fs::canonicalize(root).map_err(|_| Refused::NotFound(decoded.clone()))?;
    let full = std::fs::canonicalize(root.join(rel)).map_err(|_| Refused::NotFound(decoded.clone()))?;
    if !full.starts_with(&root) {
        return Err(Refused::Outside(decoded));
    }
    Ok(full)
}

/// The content type of a served file, by extension; text for what people read (logs, YAML, JSON Lines).
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "css" => "text/css; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    }
}

/// The index page for `reports` and `filter`.
pub fn index_page(reports: &Path, filter: &index::Filter) -> String {
    index::render(&index::scan(reports), &index::scan_campaigns(reports), filter)
}

/// Serves `reports` on `listener` until the task is dropped.
pub async fn serve_on(reports: PathBuf, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let app = Router::new().fallback(handle).with_state(reports);
    axum::serve(listener, app).await
}

async fn handle(State(reports): State<PathBuf>, uri: Uri, Query(filter): Query<index::Filter>) -> Response {
    let path = uri.path();
    if path == "/favicon.ico" {
        return StatusCode::NO_CONTENT.into_response();
    }
    if path == "/" || path == "/index.html" {
        let page = index_page(&reports, &filter);
        return (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            page,
        )
            .into_response();
    }
    let full = match resolve(&reports, path) {
        Ok(p) => p,
        Err(e @ Refused::Outside(_)) => return (StatusCode::FORBIDDEN, e.to_string()).into_response(),
        Err(e) => return (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    };
    if full.is_dir() {
        if !path.ends_with('/') {
            return Redirect::permanent(&format!("{path}/")).into_response();
        }
        return ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], listing(&full, path)).into_response();
    }
    match tokio::fs::read(&full).await {
        Ok(bytes) => {
            ([(header::CONTENT_TYPE, content_type(&full)), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")], bytes)
                .into_response()
        }
        Err(e) => (StatusCode::NOT_FOUND, format!("{path}: {e}")).into_response(),
    }
}

/// What a listing's links percent-encode: everything but letters, digits and `/ . - _`.
const HREF: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'.').remove(b'-').remove(b'_');

/// A directory's entries as links.
fn listing(dir: &Path, path: &str) -> String {
    use crate::report::escape;
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                format!("{name}/")
            } else {
                name
            }
        })
        .collect();
    names.sort();
    let mut h = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{p}</title></head><body>\n<h1>{p}</h1>\n<ul>\n<li><a href=\"../\">../</a></li>\n",
        p = escape(path)
    );
    for n in names {
        let href = percent_encoding::utf8_percent_encode(&n, HREF).to_string();
        h.push_str(&format!("<li><a href=\"{}\">{}</a></li>\n", escape(&href), escape(&n)));
    }
    h.push_str("</ul></body></html>\n");
    h
}

/// Binds `addr` and serves `reports`; returns the bound address and the server's future.
pub async fn bind(
    reports: PathBuf,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((local, serve_on(reports, listener)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_reports_directory_are_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let reports = tmp.path().join("reports");
        std::fs::create_dir_all(reports.join("etcd/1")).expect("mkdir");
        std::fs::write(reports.join("etcd/1/report.html"), "r").expect("write");
        std::fs::write(tmp.path().join("secret"), "s").expect("write");
        std::os::unix::fs::symlink(tmp.path().join("secret"), reports.join("out")).expect("link");
        std::os::unix::fs::symlink("etcd/1", reports.join("latest")).expect("link");
        assert!(resolve(&reports, "/etcd/1/report.html").is_ok());
        assert!(resolve(&reports, "/latest/report.html").is_ok(), "a link inside reports/ is fine");
        for bad in ["/../secret", "/etcd/../../secret", "/%2e%2e/secret", "/etcd/%2E%2E/%2e%2e/secret", "/out"] {
            assert!(matches!(resolve(&reports, bad), Err(Refused::Outside(_))), "{bad} was not refused");
        }
        assert!(matches!(resolve(&reports, "/nope"), Err(Refused::NotFound(_))));
    }

    #[test]
    fn a_listing_links_each_entry_encoded_and_escaped() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(tmp.path().join("n1")).expect("mkdir");
        std::fs::write(tmp.path().join("etcd-log_1.txt"), "").expect("write");
        std::fs::write(tmp.path().join("a b<c>.txt"), "").expect("write");
        let h = listing(tmp.path(), "/run/");
        assert!(h.contains("href=\"n1/\""), "{h}");
        assert!(h.contains("href=\"etcd-log_1.txt\""), "{h}");
        assert!(h.contains("href=\"a%20b%3Cc%3E.txt\">a b&lt;c&gt;.txt</a>"), "{h}");
    }
}
