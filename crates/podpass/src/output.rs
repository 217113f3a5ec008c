//! Small formatting helpers shared by commands: durations, human times, and kubectl's output
//! formats.

use std::str::FromStr;

/// A Go-style duration (`90s`, `10m`, `1h30m`, `24h`, or plain seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Duration(i64);

impl Duration {
    /// Whole seconds.
    pub(crate) fn seconds(self) -> i64 {
        self.0
    }
}

impl FromStr for Duration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Ok(seconds) = text.parse::<i64>() {
            return Ok(Self(seconds));
        }
        let mut total: i64 = 0;
        let mut number = String::new();
        for c in text.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                _ => return Err(format!("invalid duration {text:?}: unknown unit {c:?}")),
            };
            let value: i64 = number
                .parse()
                .map_err(|_| format!("invalid duration {text:?}: a number must precede {c:?}"))?;
            total = value
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("duration {text:?} is too large"))?;
            number.clear();
        }
        if !number.is_empty() || text.is_empty() {
            return Err(format!(
                "invalid duration {text:?}: expected e.g. 3600s, 10m, 1h30m"
            ));
        }
        Ok(Self(total))
    }
}

/// `2026-11-28T22:00:00Z (in 59m 58s)` / `(3h 2m ago)`.
pub(crate) fn describe_time(epoch: i64, now: i64) -> String {
    let date = jiff::Timestamp::from_second(epoch)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| epoch.to_string());
    let delta = epoch - now;
    let span = human_span(delta.unsigned_abs());
    if delta >= 0 {
        format!("{date} (in {span})")
    } else {
        format!("{date} ({span} ago)")
    }
}

/// `1d 2h`, `3h 2m`, `59m 58s`, `12s`.
pub(crate) fn human_span(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!("3600".parse::<Duration>().unwrap().seconds(), 3600);
        assert_eq!("1h30m".parse::<Duration>().unwrap().seconds(), 5400);
        assert_eq!("10m".parse::<Duration>().unwrap().seconds(), 600);
        assert!("10".parse::<Duration>().is_ok());
        assert!("h".parse::<Duration>().is_err());
        assert!("5x".parse::<Duration>().is_err());
        assert!("".parse::<Duration>().is_err());
    }

    #[test]
    fn describes_times_relative_to_now() {
        assert_eq!(describe_time(3600, 0), "1970-01-01T01:00:00Z (in 1h 0m)");
        assert_eq!(describe_time(0, 90), "1970-01-01T00:00:00Z (1m 30s ago)");
    }
}

/// kubectl's AGE column (`HumanDuration`): `45s`, `3m20s`, `45m`, `3h20m`, `15h`, `2d3h`, `30d`, `2y`.
pub(crate) fn kube_age(seconds: i64) -> String {
    let s = seconds.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86_400);
    match s {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 => format!("{m}m{}s", s % 60),
        _ if h < 3 => format!("{m}m"),
        _ if h < 8 => format!("{h}h{}m", m % 60),
        _ if h < 48 => format!("{h}h"),
        _ if d < 8 => format!("{d}d{}h", h % 24),
        _ if d < 730 => format!("{d}d"),
        _ => format!("{}y", d / 365),
    }
}

/// Left-aligned columns separated by three spaces, as kubectl prints them.
pub(crate) fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|v| v.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let last = row.len().saturating_sub(1);
        for (c, value) in row.iter().enumerate() {
            out.push_str(value);
            if c < last {
                let pad = widths[c] - value.chars().count() + 3;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod table_tests {
    use super::*;

    #[test]
    fn ages_follow_kubectl() {
        assert_eq!(kube_age(45), "45s");
        assert_eq!(kube_age(200), "3m20s");
        assert_eq!(kube_age(45 * 60), "45m");
        assert_eq!(kube_age(3 * 3600 + 20 * 60), "3h20m");
        assert_eq!(kube_age(15 * 3600), "15h");
        assert_eq!(kube_age(2 * 86_400 + 3 * 3600), "2d3h");
    }

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec!["NAME".to_owned(), "AGE".to_owned()],
            vec!["default".to_owned(), "5s".to_owned()],
        ];
        assert_eq!(table(&rows), "NAME      AGE\ndefault   5s\n");
    }
}

/// Output formats, as kubectl's `-o`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Format {
    /// A table
    Table,
    /// A table with more columns
    Wide,
    /// `kind/name`, one per line
    Name,
    /// The object(s) as YAML
    Yaml,
    /// The object(s) as JSON
    Json,
    /// kubectl's `jsonpath=TEMPLATE` over the object (or the List)
    JsonPath(crate::jsonpath::Template),
}

/// The help of every `-o`.
pub(crate) const FORMAT_HELP: &str = "Output format: table, wide, name, yaml, json, or \
    jsonpath=TEMPLATE (kubectl's, e.g. jsonpath='{.items[*].metadata.name}')";

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(template) = text.strip_prefix("jsonpath=") {
            return crate::jsonpath::Template::parse(template).map(Format::JsonPath);
        }
        match text {
            "table" => Ok(Format::Table),
            "wide" => Ok(Format::Wide),
            "name" => Ok(Format::Name),
            "yaml" => Ok(Format::Yaml),
            "json" => Ok(Format::Json),
            _ => Err(format!(
                "unknown output format {text:?}: expected table, wide, name, yaml, json or jsonpath=TEMPLATE"
            )),
        }
    }
}

impl Format {
    /// Prints `value` whole, if this format prints documents (YAML, JSON, a JSONPath
    /// template); `Ok(false)` for the formats a command lays out itself.
    pub(crate) fn print_document(&self, value: &serde_json::Value) -> anyhow::Result<bool> {
        match self {
            Format::Json => println!("{}", serde_json::to_string_pretty(value)?),
            Format::Yaml => print!("{}", serde_saphyr::to_string(value)?),
            // As kubectl, without a newline of its own.
            Format::JsonPath(template) => print!("{}", template.render(value)),
            Format::Table | Format::Wide | Format::Name => return Ok(false),
        }
        Ok(true)
    }
}
