//! Shell escaping, in one place: every string that reaches a remote shell goes through `quote`.

/// Quotes `s` as one POSIX shell word: `'...'`, with each `'` written as `'\''`.
///
/// Words made only of characters that are never special (`[A-Za-z0-9_./=:,@%+-]`) are left bare,
/// so traced commands stay readable.
pub fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'_' | b'.' | b'/' | b'=' | b':' | b',' | b'@' | b'%' | b'+' | b'-')
        });
    if plain {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Joins words into one command line, quoting each: `join(["echo", "a b"])` is `echo 'a b'`.
pub fn join<I, S>(words: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    words.into_iter().map(|w| quote(w.as_ref())).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_stay_bare() {
        assert_eq!(quote("etcd"), "etcd");
        assert_eq!(quote("/var/lib/etcd"), "/var/lib/etcd");
        assert_eq!(quote("--name=n1"), "--name=n1");
    }

    #[test]
    fn special_words_are_single_quoted() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(quote("a;b|c&d"), "'a;b|c&d'");
    }

    #[test]
    fn quoted_words_round_trip_through_a_real_shell() {
        let nasty = ["a b", "it's", "$HOME", "`id`", "x\ny", "\\", "'", "\"q\"", "*", "ü"];
        for w in nasty {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", quote(w)))
                .output()
                .expect("sh runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), w, "word {w:?}");
        }
        let line = join(["printf", "%s|%s", "a b", "c'd"]);
        let out = std::process::Command::new("sh").arg("-c").arg(&line).output().expect("sh runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a b|c'd");
    }
}
