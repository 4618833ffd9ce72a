//! A bounded JSON scanner (RFC 8259) for Socket.IO payloads: finds where a value ends, reads
//! a string, finds a top-level field of an object. It never builds a tree: nesting is tracked
//! on a fixed stack of [`MAX_DEPTH`] levels, so hostile input (`[[[[...`) costs no recursion
//! and no allocation, and the work is linear in the input.

/// Deepest nesting scanned; deeper input is reported as [`Scan::TooDeep`].
pub const MAX_DEPTH: usize = 64;

/// How scanning a value ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// The value ends at this offset (exclusive).
    Done(usize),
    /// The input ended inside the value.
    Short,
    /// Not JSON at this offset.
    Bad(usize),
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// The offset of the first non-whitespace byte at or after `i`.
pub fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// Scans the JSON value starting at `start` (after optional whitespace).
pub fn skip_value(b: &[u8], start: usize) -> Scan {
    match value_end(b, start) {
        Ok(end) => Scan::Done(end),
        Err(s) => s,
    }
}

fn value_end(b: &[u8], start: usize) -> Result<usize, Scan> {
    // The closers of the open containers, innermost last.
    let mut stack = [0u8; MAX_DEPTH];
    let mut depth = 0usize;
    let mut i = start;
    'value: loop {
        i = skip_ws(b, i);
        let c = *b.get(i).ok_or(Scan::Short)?;
        match c {
            b'{' | b'[' => {
                let slot = stack.get_mut(depth).ok_or(Scan::TooDeep)?;
                *slot = if c == b'{' { b'}' } else { b']' };
                depth += 1;
                i = skip_ws(b, i + 1);
                let next = *b.get(i).ok_or(Scan::Short)?;
                if next == *slot {
                    depth -= 1;
                    i += 1;
                } else if c == b'{' {
                    i = key(b, i)?;
                    continue 'value;
                } else {
                    continue 'value;
                }
            }
            b'"' => i = string_end(b, i)?,
            b't' => i = literal(b, i, b"true")?,
            b'f' => i = literal(b, i, b"false")?,
            b'n' => i = literal(b, i, b"null")?,
            b'-' | b'0'..=b'9' => i = number(b, i)?,
            _ => return Err(Scan::Bad(i)),
        }
        // After a value: close containers or go on to the next element.
        loop {
            let Some(&top) = depth.checked_sub(1).and_then(|d| stack.get(d)) else {
                return Ok(i);
            };
            i = skip_ws(b, i);
            match *b.get(i).ok_or(Scan::Short)? {
                c if c == top => {
                    depth -= 1;
                    i += 1;
                }
                b',' if top == b'}' => {
                    i = key(b, skip_ws(b, i + 1))?;
                    continue 'value;
                }
                b',' => {
                    i += 1;
                    continue 'value;
                }
                _ => return Err(Scan::Bad(i)),
            }
        }
    }
}

/// An object key and its colon at `i`: the offset after the colon.
fn key(b: &[u8], i: usize) -> Result<usize, Scan> {
    match b.get(i) {
        None => return Err(Scan::Short),
        Some(b'"') => {}
        Some(_) => return Err(Scan::Bad(i)),
    }
    let end = string_end(b, i)?;
    let i = skip_ws(b, end);
    match b.get(i) {
        None => Err(Scan::Short),
        Some(b':') => Ok(i + 1),
        Some(_) => Err(Scan::Bad(i)),
    }
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Result<usize, Scan> {
    let have = b.get(i..).unwrap_or_default();
    let n = word.len().min(have.len());
    if have.get(..n) != word.get(..n) {
        return Err(Scan::Bad(i));
    }
    if n < word.len() {
        return Err(Scan::Short);
    }
    Ok(i + word.len())
}

/// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn number(b: &[u8], mut i: usize) -> Result<usize, Scan> {
    let digits = |b: &[u8], mut i: usize| -> Result<usize, Scan> {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        match (i > start, b.get(i)) {
            (true, _) => Ok(i),
            (false, None) => Err(Scan::Short),
            (false, Some(_)) => Err(Scan::Bad(i)),
        }
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        _ => i = digits(b, i)?,
    }
    if b.get(i) == Some(&b'.') {
        i = digits(b, i + 1)?;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(b, i)?;
    }
    Ok(i)
}

/// The end (after the closing quote) of the string starting at `b[i] == '"'`.
fn string_end(b: &[u8], i: usize) -> Result<usize, Scan> {
    let mut j = i + 1;
    loop {
        match b.get(j) {
            None => return Err(Scan::Short),
            Some(b'"') => return Ok(j + 1),
            Some(b'\\') => match b.get(j + 1) {
                None => return Err(Scan::Short),
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => j += 2,
                Some(b'u') => {
                    for k in 2..6 {
                        match b.get(j + k) {
                            None => return Err(Scan::Short),
                            Some(h) if h.is_ascii_hexdigit() => {}
                            Some(_) => return Err(Scan::Bad(j + k)),
                        }
                    }
                    j += 6;
                }
                Some(_) => return Err(Scan::Bad(j + 1)),
            },
            // RFC 8259 §7: control characters must be escaped.
            Some(&c) if c < 0x20 => return Err(Scan::Bad(j)),
            Some(_) => j += 1,
        }
    }
}

/// Decodes the JSON string starting at `b[i] == '"'`: its text (at most `max_chars`
/// characters kept) and the offset after its closing quote; `None` if there is no complete
/// string there.
pub fn string(b: &[u8], i: usize, max_chars: usize) -> Option<(String, usize)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let end = string_end(b, i).ok()?;
    let body = b.get(i + 1..end - 1)?;
    let mut out = String::new();
    let mut chars = 0usize;
    let mut j = 0;
    let mut push = |c: char, out: &mut String| {
        if chars < max_chars {
            out.push(c);
            chars += 1;
        }
    };
    while j < body.len() {
        let rest = body.get(j..).unwrap_or_default();
        match rest.first() {
            Some(b'\\') => {
                let (c, used) = unescape(rest);
                push(c, &mut out);
                j += used;
            }
            _ => {
                // Up to the next escape: valid UTF-8 where the input is, U+FFFD elsewhere.
                let run = rest.iter().position(|&c| c == b'\\').unwrap_or(rest.len());
                for c in String::from_utf8_lossy(rest.get(..run).unwrap_or_default()).chars() {
                    push(c, &mut out);
                }
                j += run;
            }
        }
    }
    Some((out, end))
}

/// One escape sequence at the start of `s` (already validated by [`string_end`]): the
/// character and the bytes used. A UTF-16 surrogate pair is one character; a lone surrogate
/// becomes U+FFFD.
fn unescape(s: &[u8]) -> (char, usize) {
    let hex = |s: &[u8]| -> Option<u32> {
        let t = std::str::from_utf8(s.get(..4)?).ok()?;
        u32::from_str_radix(t, 16).ok()
    };
    match s.get(1) {
        Some(b'b') => ('\u{8}', 2),
        Some(b'f') => ('\u{c}', 2),
        Some(b'n') => ('\n', 2),
        Some(b'r') => ('\r', 2),
        Some(b't') => ('\t', 2),
        Some(b'u') => {
            let Some(hi) = s.get(2..).and_then(hex) else {
                return ('\u{fffd}', 2);
            };
            if (0xD800..0xDC00).contains(&hi) && s.get(6) == Some(&b'\\') && s.get(7) == Some(&b'u')
            {
                if let Some(lo) = s
                    .get(8..)
                    .and_then(hex)
                    .filter(|l| (0xDC00..0xE000).contains(l))
                {
                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    return (char::from_u32(c).unwrap_or('\u{fffd}'), 12);
                }
            }
            (char::from_u32(hi).unwrap_or('\u{fffd}'), 6)
        }
        Some(&c) => (char::from(c), 2),
        None => ('\u{fffd}', 1),
    }
}

/// The string value of the top-level field `name` of the object at `b[start..]` (after
/// whitespace), preview-cut at `max_chars`; `None` when it is not an object, has no such
/// string field, or does not scan.
pub fn field(b: &[u8], start: usize, name: &str, max_chars: usize) -> Option<String> {
    let mut i = skip_ws(b, start);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    loop {
        let (k, end) = string(b, i, name.len() + 1)?;
        i = skip_ws(b, end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        if k == name {
            return string(b, i, max_chars).map(|(v, _)| v);
        }
        match skip_value(b, i) {
            Scan::Done(e) => i = skip_ws(b, e),
            _ => return None,
        }
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(s: &str) -> Scan {
        skip_value(s.as_bytes(), 0)
    }

    #[test]
    fn values_end_where_they_should() {
        assert_eq!(
            scan(r#"["chat","hi",1,{"a":[true,false,null]}]x"#),
            Scan::Done(39)
        );
        assert_eq!(scan(" 12.5e-3,"), Scan::Done(8));
        assert_eq!(scan("-0"), Scan::Done(2));
        assert_eq!(scan(r#""a\"b\\\u00e9""#), Scan::Done(14));
        assert_eq!(scan("{}"), Scan::Done(2));
        assert_eq!(scan("[ ]"), Scan::Done(3));
        assert_eq!(scan(r#"{ "a" : 1 , "b" : [ ] }"#), Scan::Done(23));
    }

    #[test]
    fn short_and_bad() {
        assert_eq!(scan(r#"["chat","h"#), Scan::Short);
        assert_eq!(scan("[1,"), Scan::Short);
        assert_eq!(scan("tru"), Scan::Short);
        assert_eq!(scan(""), Scan::Short);
        assert_eq!(scan("[1 2]"), Scan::Bad(3));
        assert_eq!(scan("{1:2}"), Scan::Bad(1));
        assert_eq!(scan("[1,]"), Scan::Bad(3));
        assert_eq!(scan("01"), Scan::Done(1));
        assert_eq!(scan("-"), Scan::Short);
        assert_eq!(scan("1."), Scan::Short);
        assert_eq!(scan("\"a\nb\""), Scan::Bad(2));
        assert_eq!(scan(r#""\x""#), Scan::Bad(2));
        assert_eq!(scan("nul!"), Scan::Bad(0));
        assert_eq!(scan("]"), Scan::Bad(0));
        assert_eq!(scan("[}"), Scan::Bad(1));
    }

    #[test]
    fn depth_is_bounded_without_recursion() {
        let deep = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert_eq!(scan(&deep), Scan::Done(2 * MAX_DEPTH));
        let deeper = "[".repeat(1_000_000);
        assert_eq!(scan(&deeper), Scan::TooDeep);
        let objs = r#"{"a":"#.repeat(MAX_DEPTH + 1);
        assert_eq!(scan(&objs), Scan::TooDeep);
    }

    #[test]
    fn strings_decode_escapes_and_are_cut() {
        let b = br#""caf\u00e9 \ud83d\ude00 \n\ud800x" rest"#;
        let (s, end) = string(b, 0, 100).unwrap();
        assert_eq!(s, "café 😀 \n\u{fffd}x");
        assert_eq!(&b[end..], b" rest");
        let (s, _) = string(br#""abcdef""#, 0, 3).unwrap();
        assert_eq!(s, "abc");
        assert_eq!(string(br#""abc"#, 0, 10), None);
        assert_eq!(string(b"abc", 0, 10), None);
        let (s, _) = string(b"\"h\xc3\xa9\xff\"", 0, 10).unwrap();
        assert_eq!(s, "hé\u{fffd}");
    }

    #[test]
    fn top_level_fields() {
        let open = br#"{"sid":"zQy","upgrades":["websocket"],"pingInterval":150}"#;
        assert_eq!(field(open, 0, "sid", 64).as_deref(), Some("zQy"));
        assert_eq!(field(open, 0, "upgrades", 64), None);
        assert_eq!(field(open, 0, "nope", 64), None);
        let nested = br#"{"a":{"sid":"inner"},"sid":"outer"}"#;
        assert_eq!(field(nested, 0, "sid", 64).as_deref(), Some("outer"));
        assert_eq!(field(b"[1]", 0, "sid", 64), None);
        assert_eq!(field(br#"{"sid":"#, 0, "sid", 64), None);
    }
}
