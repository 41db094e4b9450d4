//! The fixed timestamp shapes of the wire: SigV4's `YYYYMMDDTHHMMSSZ` and `YYYYMMDD`, the
//! ISO 8601 form of Query responses and CloudTrail, and the HTTP `Date` header.
//!
//! They are written digit by digit rather than through chrono's `strftime` interpreter, which
//! re-parses the format string on every call and showed up at several percent of a request in
//! profiles. Years outside 0000–9999 fall back to chrono so the output is always what chrono
//! would print (the property tests below compare both).

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};

/// Whether the fast path applies (four-digit years).
fn fast(t: &DateTime<Utc>) -> bool {
    (0..=9999).contains(&t.year())
}

/// Where the digits go: a `String`, or the audit line's bytes (written in place, no string).
pub trait Ascii {
    /// Appends ASCII text.
    fn push_ascii(&mut self, s: &str);
    /// Appends one ASCII byte.
    fn push_byte(&mut self, b: u8);
}

impl Ascii for String {
    fn push_ascii(&mut self, s: &str) {
        self.push_str(s);
    }
    fn push_byte(&mut self, b: u8) {
        self.push(char::from(b));
    }
}

impl Ascii for Vec<u8> {
    fn push_ascii(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
    fn push_byte(&mut self, b: u8) {
        self.push(b);
    }
}

fn push2(out: &mut impl Ascii, n: u32) {
    out.push_byte(b'0' + u8::try_from(n / 10 % 10).unwrap_or(0));
    out.push_byte(b'0' + u8::try_from(n % 10).unwrap_or(0));
}

fn push4(out: &mut impl Ascii, n: u32) {
    push2(out, n / 100);
    push2(out, n % 100);
}

// The fields are read from the naive UTC time: `DateTime<Utc>`'s own accessors re-apply the
// (zero) offset on every call.
fn year(t: &NaiveDateTime) -> u32 {
    u32::try_from(t.year()).unwrap_or(0)
}

/// Year, month and day, `sep` between them.
fn push_date(s: &mut impl Ascii, t: &NaiveDateTime, sep: &str) {
    push4(s, year(t));
    s.push_ascii(sep);
    push2(s, t.month());
    s.push_ascii(sep);
    push2(s, t.day());
}

/// Hours, minutes and seconds, `sep` between them.
fn push_time(s: &mut impl Ascii, t: &NaiveDateTime, sep: &str) {
    push2(s, t.hour());
    s.push_ascii(sep);
    push2(s, t.minute());
    s.push_ascii(sep);
    push2(s, t.second());
}

/// `YYYYMMDD` (SigV4 credential scope date).
#[must_use]
pub fn ymd(t: &DateTime<Utc>) -> String {
    if !fast(t) {
        return t.format("%Y%m%d").to_string();
    }
    let mut s = String::with_capacity(8);
    push_date(&mut s, &t.naive_utc(), "");
    s
}

/// `YYYYMMDDTHHMMSSZ` (SigV4 `X-Amz-Date`).
#[must_use]
pub fn amz_date(t: &DateTime<Utc>) -> String {
    let mut s = String::with_capacity(16);
    push_amz_date(&mut s, t);
    s
}

/// [`amz_date`], appended to `out`.
pub fn push_amz_date(out: &mut String, t: &DateTime<Utc>) {
    if !fast(t) {
        out.push_str(&t.format("%Y%m%dT%H%M%SZ").to_string());
        return;
    }
    let t = &t.naive_utc();
    push_date(out, t, "");
    out.push('T');
    push_time(out, t, "");
    out.push('Z');
}

/// `YYYY-MM-DDTHH:MM:SSZ`, whole seconds (Query responses, CloudTrail `eventTime`).
#[must_use]
pub fn iso8601(t: &DateTime<Utc>) -> String {
    let mut s = String::with_capacity(20);
    iso8601_into(&mut s, t);
    s
}

/// [`iso8601`] appended to `out`.
pub fn iso8601_into(out: &mut impl Ascii, t: &DateTime<Utc>) {
    if !fast(t) {
        out.push_ascii(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        return;
    }
    let t = &t.naive_utc();
    push_date(out, t, "-");
    out.push_byte(b'T');
    push_time(out, t, ":");
    out.push_byte(b'Z');
}

/// RFC 9110 IMF-fixdate, as in the `Date` header: `Sun, 06 Nov 1994 08:49:37 GMT`.
#[must_use]
pub fn http_date(t: &DateTime<Utc>) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (Some(day), Some(month)) = (
        DAYS.get(t.weekday().num_days_from_monday() as usize),
        MONTHS.get(t.month0() as usize),
    ) else {
        return t.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    };
    if !fast(t) {
        return t.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    }
    let t = &t.naive_utc();
    let mut s = String::with_capacity(29);
    s.push_str(day);
    s.push_str(", ");
    push2(&mut s, t.day());
    s.push(' ');
    s.push_str(month);
    s.push(' ');
    push4(&mut s, year(t));
    s.push(' ');
    push_time(&mut s, t, ":");
    s.push_str(" GMT");
    s
}

/// Parses `YYYYMMDDTHHMMSSZ` strictly (exact shape, a real calendar date and time; no leap
/// seconds). `None` for anything else.
#[must_use]
pub fn parse_amz_date(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() != 16 || b.get(8) != Some(&b'T') || b.get(15) != Some(&b'Z') {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b.get(from..to)?.iter().try_fold(0_u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(4, 6)?, num(6, 8)?)?;
    let (h, m, sec) = (num(9, 11)?, num(11, 13)?, num(13, 15)?);
    if sec > 59 {
        return None;
    }
    Some(date.and_hms_opt(h, m, sec)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap_or_default()
    }

    #[test]
    fn known_values() {
        let t = at(784_111_777); // 1994-11-06 08:49:37 UTC, RFC 9110's example
        assert_eq!(http_date(&t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(amz_date(&t), "19941106T084937Z");
        assert_eq!(ymd(&t), "19941106");
        assert_eq!(iso8601(&t), "1994-11-06T08:49:37Z");
        assert_eq!(parse_amz_date("19941106T084937Z"), Some(t));
    }

    #[test]
    fn parse_refuses_bad_shapes_and_dates() {
        for s in [
            "",
            "19941106T084937",
            "19941106 084937Z",
            "1994110aT084937Z",
            "19941306T084937Z",
            "19940230T084937Z",
            "19941106T244937Z",
            "19941106T086037Z",
            "19941106T084960Z",
            "+9941106T084937Z",
            "19941106T08493７Z",
        ] {
            assert_eq!(parse_amz_date(s), None, "{s}");
        }
    }

    proptest! {
        #[test]
        fn same_as_chrono(secs in -62_135_596_800_i64..253_402_300_799_i64) {
            let t = at(secs);
            prop_assert_eq!(amz_date(&t), t.format("%Y%m%dT%H%M%SZ").to_string());
            prop_assert_eq!(ymd(&t), t.format("%Y%m%d").to_string());
            prop_assert_eq!(iso8601(&t), t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            let mut bytes = b"x".to_vec();
            iso8601_into(&mut bytes, &t);
            prop_assert_eq!(bytes, format!("x{}", iso8601(&t)).into_bytes());
            prop_assert_eq!(http_date(&t), t.format("%a, %d %b %Y %H:%M:%S GMT").to_string());
            prop_assert_eq!(parse_amz_date(&amz_date(&t)), Some(t));
        }

        #[test]
        fn parse_agrees_with_chrono(
            s in "[0-9]{4}(0[0-9]|1[0-3])[0-3][0-9]T[0-2][0-9][0-6][0-9][0-6][0-9]Z"
        ) {
            // chrono reads second 60 as a leap second; SigV4 dates never carry one.
            let chrono = chrono::NaiveDateTime::parse_from_str(&s, "%Y%m%dT%H%M%SZ")
                .ok()
                .map(|d| d.and_utc())
                .filter(|d| d.nanosecond() < 1_000_000_000);
            prop_assert_eq!(parse_amz_date(&s), chrono);
        }
    }
}
