//! Replacement templates of `ngx.re.sub`/`gsub`: `$0`..`$N`, `${N}`,
//! `$$` for a dollar sign, and (an extension over upstream, which refuses
//! them) named captures as `$name` / `${name}`.

#[derive(Debug, PartialEq, Eq)]
pub enum Piece {
    /// `tpl[start..end]` copied as is.
    Lit(usize, usize),
    /// The text of capture group `n` (empty when unset or beyond the
    /// pattern's groups).
    Cap(usize),
}

/// Parses `tpl`; `name_to_group` resolves a capture name.
pub fn parse(
    tpl: &[u8],
    name_to_group: impl Fn(&[u8]) -> Option<usize>,
) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    let bad = || {
        format!(
            "invalid capturing variable name found in \"{}\"",
            String::from_utf8_lossy(tpl)
        )
    };
    while i < tpl.len() {
        if tpl[i] != b'$' {
            let start = i;
            while i < tpl.len() && tpl[i] != b'$' {
                i += 1;
            }
            out.push(Piece::Lit(start, i));
            continue;
        }
        i += 1;
        let Some(&c) = tpl.get(i) else {
            return Err(bad());
        };
        if c == b'$' {
            out.push(Piece::Lit(i, i + 1));
            i += 1;
            continue;
        }
        let braced = c == b'{';
        if braced {
            i += 1;
            if i == tpl.len() {
                return Err(bad());
            }
        }
        let start = i;
        let numeric = tpl.get(i).is_some_and(u8::is_ascii_digit);
        while let Some(&ch) = tpl.get(i) {
            let ok = if numeric {
                ch.is_ascii_digit()
            } else {
                ch.is_ascii_alphanumeric() || ch == b'_'
            };
            if !ok {
                break;
            }
            i += 1;
        }
        let name = &tpl[start..i];
        if braced {
            if tpl.get(i) != Some(&b'}') {
                return Err(format!(
                    "the closing bracket in \"{}\" variable is missing",
                    String::from_utf8_lossy(name)
                ));
            }
            i += 1;
        }
        if name.is_empty() {
            return Err(bad());
        }
        let group = if numeric {
            // An absurd group number simply never matches.
            core::str::from_utf8(name)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(usize::MAX)
        } else {
            // upstream's message (it refuses every name; only unknown
            // names fail here)
            name_to_group(name).ok_or_else(|| {
                format!(
                    "attempt to use named capturing variable \"{}\" (named captures not supported yet)",
                    String::from_utf8_lossy(name)
                )
            })?
        };
        out.push(Piece::Cap(group));
    }
    Ok(out)
}

/// Appends the expansion of `pieces` to `out`; `group(n)` gives the
/// subject range of capture `n`, if set.
pub fn expand(
    pieces: &[Piece],
    tpl: &[u8],
    subject: &[u8],
    group: impl Fn(usize) -> Option<(usize, usize)>,
    out: &mut Vec<u8>,
) {
    for p in pieces {
        match *p {
            Piece::Lit(a, b) => out.extend_from_slice(&tpl[a..b]),
            Piece::Cap(n) => {
                if let Some((a, b)) = group(n) {
                    out.extend_from_slice(&subject[a..b]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[u8]) -> Option<usize> {
        (n == b"word").then_some(2)
    }

    fn run(tpl: &str) -> Result<String, String> {
        let pieces = parse(tpl.as_bytes(), names)?;
        let subj = b"hello, 1234";
        let caps = [(7, 9), (7, 8), (0, 5)];
        let mut out = Vec::new();
        expand(
            &pieces,
            tpl.as_bytes(),
            subj,
            |n| caps.get(n).copied(),
            &mut out,
        );
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn expands() {
        assert_eq!(run("[$0][$1]").unwrap(), "[12][1]");
        assert_eq!(run("${0}00").unwrap(), "1200");
        assert_eq!(run("$$").unwrap(), "$");
        assert!(run("a$$b$").is_err());
        assert_eq!(run("$9|${10}|$word|${word}").unwrap(), "||hello|hello");
        assert_eq!(run("$10x").unwrap(), "x");
        assert_eq!(run("").unwrap(), "");
        assert_eq!(run("plain").unwrap(), "plain");
    }

    #[test]
    fn rejects() {
        assert!(run("$").is_err());
        assert!(run("${1").is_err());
        assert!(run("${}").is_err());
        assert!(run("$ ").is_err());
        assert!(run("$nope").is_err());
        assert!(run("${").is_err());
        assert!(run("${99999999999999999999999}").is_ok());
    }
}
