//! Prometheus' text exposition format (version 0.0.4), the writing side:
//! metric families with their `# HELP` and `# TYPE` lines, samples with
//! escaped label values. Pure code.
use std::fmt::Write;

/// `counter` or `gauge`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// A text being written, family after family.
#[derive(Default)]
pub struct Text {
    out: Vec<u8>,
}

/// A label value as the format wants it: backslash, double quote and
/// line feed escaped; other bytes (UTF-8 included) as they are.
pub fn escape_label(v: &[u8], out: &mut Vec<u8>) {
    for &b in v {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

/// Help text: backslash and line feed escaped.
fn escape_help(v: &str, out: &mut Vec<u8>) {
    for &b in v.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

impl Text {
    pub fn new() -> Text {
        Text::default()
    }

    /// Starts a family: its HELP and TYPE lines. Its samples follow.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        self.out.extend_from_slice(b"# HELP ");
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b' ');
        escape_help(help, &mut self.out);
        self.out.extend_from_slice(b"\n# TYPE ");
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(match kind {
            Kind::Counter => b" counter\n",
            Kind::Gauge => b" gauge\n",
        });
    }

    /// One sample of the current family: `name{l1="v1",...} value`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &[u8])], value: f64) {
        self.out.extend_from_slice(name.as_bytes());
        if !labels.is_empty() {
            self.out.push(b'{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(b',');
                }
                self.out.extend_from_slice(k.as_bytes());
                self.out.extend_from_slice(b"=\"");
                escape_label(v, &mut self.out);
                self.out.push(b'"');
            }
            self.out.push(b'}');
        }
        self.out.push(b' ');
        let mut s = String::new();
        if value.is_finite() && value == value.trunc() && value.abs() < 1e15 {
            let _ = write!(s, "{}", value as i64);
        } else if value.is_nan() {
            s.push_str("NaN");
        } else if value.is_infinite() {
            s.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
        } else {
            let _ = write!(s, "{value}");
        }
        self.out.extend_from_slice(s.as_bytes());
        self.out.push(b'\n');
    }

    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_and_samples() {
        let mut t = Text::new();
        t.family("x_total", Kind::Counter, "Things, by\nkind \\ all.");
        t.sample("x_total", &[("a", b"q\"\\\nz"), ("b", b"")], 3.0);
        t.sample("x_total", &[], 0.25);
        t.family("y", Kind::Gauge, "Y.");
        t.sample("y", &[("w", b"0")], f64::INFINITY);
        let s = String::from_utf8(t.finish()).unwrap();
        assert_eq!(
            s,
            "# HELP x_total Things, by\\nkind \\\\ all.\n# TYPE x_total counter\n\
             x_total{a=\"q\\\"\\\\\\nz\",b=\"\"} 3\nx_total 0.25\n\
             # HELP y Y.\n# TYPE y gauge\ny{w=\"0\"} +Inf\n"
        );
    }

    #[test]
    fn label_escape_keeps_utf8() {
        let mut o = Vec::new();
        escape_label("é/\\".as_bytes(), &mut o);
        assert_eq!(o, "é/\\\\".as_bytes());
    }
}
