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

/// A streaming JSON checker: the same verdict as [`skip_value`] followed by a check that
/// only whitespace follows the value, for input fed in pieces cut anywhere. Its state is a few
/// words (the nesting is a 64-bit stack), whatever the input's size.
#[derive(Debug, Clone)]
pub struct Checker {
    /// Bytes fed so far: the offset of the next byte.
    pos: u64,
    /// One bit per open container, innermost lowest: 1 for an object.
    stack: u64,
    depth: u8,
    st: St,
}

/// What a [`Checker`] concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// One value, only whitespace after it.
    Ok,
    /// The input ended inside the value (or before it).
    Short,
    /// Not JSON at this offset.
    Bad(u64),
    /// One value ending at this offset, then bytes that are not whitespace.
    Trailing(u64),
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    /// A value is expected (whitespace first).
    Value,
    /// After `[`: a value or `]`.
    ArrayFirst,
    /// After `{`: a key or `}`.
    ObjectFirst,
    /// After `,` in an object: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After a value inside a container: `,` or the closer.
    After,
    /// Inside a string; `key`: an object key (a colon follows).
    Str {
        key: bool,
        esc: Esc,
    },
    /// Inside `true`/`false`/`null`: the word, bytes matched, where it started.
    Lit {
        word: u8,
        at: u8,
        start: u64,
    },
    Num(Num),
    /// The top-level value ended at `end`: only whitespace may follow.
    Done {
        end: u64,
    },
    End(Verdict),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Esc {
    No,
    Backslash,
    /// Hex digits of `\u` still to come.
    Hex(u8),
}

/// RFC 8259 §6 number states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    Exp,
    ExpSign,
    ExpDigits,
}

const WORDS: [&[u8]; 3] = [b"true", b"false", b"null"];

/// The bytes that end a run inside a string: the quote, the backslash and the control
/// characters (a table: one load a byte where three comparisons were).
const STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

impl Default for Checker {
    fn default() -> Self {
        Checker::new()
    }
}

impl Checker {
    pub fn new() -> Self {
        Checker {
            pos: 0,
            stack: 0,
            depth: 0,
            st: St::Value,
        }
    }

    /// Whether more bytes can change the verdict (false once it is bad, too deep or has
    /// trailing bytes).
    pub fn open(&self) -> bool {
        !matches!(self.st, St::End(_))
    }

    /// Feeds the next bytes.
    pub fn feed(&mut self, b: &[u8]) {
        let mut i = 0;
        while let Some(&c) = b.get(i) {
            if let St::End(_) = self.st {
                return;
            }
            // Runs inside strings and of whitespace after the value, the bulk of a payload.
            if let St::Str { esc: Esc::No, .. } = self.st {
                let run = b
                    .get(i..)
                    .unwrap_or_default()
                    .iter()
                    .position(|&c| STRING_STOP[usize::from(c)])
                    .unwrap_or(b.len() - i);
                if run > 0 {
                    i += run;
                    self.pos += run as u64;
                    continue;
                }
            }
            if self.byte(c) {
                i += 1;
                self.pos += 1;
            }
        }
    }

    /// The verdict on what was fed.
    pub fn verdict(&self) -> Verdict {
        match self.st {
            St::End(v) => v,
            St::Done { .. } => Verdict::Ok,
            St::Num(Num::Zero | Num::Int | Num::Frac | Num::ExpDigits) if self.depth == 0 => {
                Verdict::Ok
            }
            _ => Verdict::Short,
        }
    }

    fn bad(&mut self) -> bool {
        self.st = St::End(Verdict::Bad(self.pos));
        true
    }

    /// A value ended (after its last byte): close it at the top level, or expect what
    /// follows it in its container.
    fn value_done(&mut self, end: u64) {
        self.st = if self.depth == 0 {
            St::Done { end }
        } else {
            St::After
        };
    }

    fn in_object(&self) -> bool {
        self.stack & 1 == 1
    }

    /// Takes byte `c` at `self.pos`; returns whether it was consumed (a number ends at the
    /// byte after it, which is then taken again in the next state).
    fn byte(&mut self, c: u8) -> bool {
        match self.st {
            St::Value | St::ArrayFirst | St::ObjectFirst | St::Key | St::Colon | St::After
                if is_ws(c) =>
            {
                true
            }
            St::Done { .. } if is_ws(c) => true,
            St::Done { end } => {
                self.st = St::End(Verdict::Trailing(end));
                true
            }
            St::ArrayFirst if c == b']' => self.close(),
            St::ObjectFirst if c == b'}' => self.close(),
            St::ObjectFirst | St::Key => {
                if c != b'"' {
                    return self.bad();
                }
                self.st = St::Str {
                    key: true,
                    esc: Esc::No,
                };
                true
            }
            St::Colon => {
                if c != b':' {
                    return self.bad();
                }
                self.st = St::Value;
                true
            }
            St::After => {
                let closer = if self.in_object() { b'}' } else { b']' };
                if c == closer {
                    self.close()
                } else if c == b',' {
                    self.st = if self.in_object() { St::Key } else { St::Value };
                    true
                } else {
                    self.bad()
                }
            }
            St::Value | St::ArrayFirst => self.value_start(c),
            St::Str { key, esc } => {
                match esc {
                    Esc::No => match c {
                        b'"' if key => self.st = St::Colon,
                        b'"' => self.value_done(self.pos + 1),
                        b'\\' => {
                            self.st = St::Str {
                                key,
                                esc: Esc::Backslash,
                            }
                        }
                        // RFC 8259 §7: control characters must be escaped.
                        c if c < 0x20 => return self.bad(),
                        _ => {}
                    },
                    Esc::Backslash => match c {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                            self.st = St::Str { key, esc: Esc::No }
                        }
                        b'u' => {
                            self.st = St::Str {
                                key,
                                esc: Esc::Hex(4),
                            }
                        }
                        _ => return self.bad(),
                    },
                    Esc::Hex(n) => {
                        if !c.is_ascii_hexdigit() {
                            return self.bad();
                        }
                        let esc = if n > 1 { Esc::Hex(n - 1) } else { Esc::No };
                        self.st = St::Str { key, esc };
                    }
                }
                true
            }
            St::Lit { word, at, start } => {
                let w = WORDS.get(usize::from(word)).copied().unwrap_or_default();
                if w.get(usize::from(at)) != Some(&c) {
                    // Reported where the word started, as `skip_value` does.
                    self.st = St::End(Verdict::Bad(start));
                    return true;
                }
                if usize::from(at) + 1 == w.len() {
                    self.value_done(self.pos + 1);
                } else {
                    self.st = St::Lit {
                        word,
                        at: at + 1,
                        start,
                    };
                }
                true
            }
            St::Num(n) => self.number(n, c),
            St::End(_) => true,
        }
    }

    fn value_start(&mut self, c: u8) -> bool {
        match c {
            b'{' | b'[' => {
                if usize::from(self.depth) >= MAX_DEPTH {
                    self.st = St::End(Verdict::TooDeep);
                    return true;
                }
                self.stack = (self.stack << 1) | u64::from(c == b'{');
                self.depth += 1;
                self.st = if c == b'{' {
                    St::ObjectFirst
                } else {
                    St::ArrayFirst
                };
            }
            b'"' => {
                self.st = St::Str {
                    key: false,
                    esc: Esc::No,
                }
            }
            b't' | b'f' | b'n' => {
                let word = match c {
                    b't' => 0,
                    b'f' => 1,
                    _ => 2,
                };
                self.st = St::Lit {
                    word,
                    at: 1,
                    start: self.pos,
                };
            }
            b'-' => self.st = St::Num(Num::Minus),
            b'0' => self.st = St::Num(Num::Zero),
            b'1'..=b'9' => self.st = St::Num(Num::Int),
            _ => return self.bad(),
        }
        true
    }

    fn close(&mut self) -> bool {
        self.stack >>= 1;
        self.depth -= 1;
        self.value_done(self.pos + 1);
        true
    }

    fn number(&mut self, n: Num, c: u8) -> bool {
        let digit = c.is_ascii_digit();
        let next = match (n, c) {
            (Num::Minus, b'0') => Some(Num::Zero),
            (Num::Minus, _) if digit => Some(Num::Int),
            (Num::Int, _) if digit => Some(Num::Int),
            (Num::Zero | Num::Int, b'.') => Some(Num::Dot),
            (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Some(Num::Exp),
            (Num::Dot | Num::Frac, _) if digit => Some(Num::Frac),
            (Num::Exp, b'+' | b'-') => Some(Num::ExpSign),
            (Num::Exp | Num::ExpSign | Num::ExpDigits, _) if digit => Some(Num::ExpDigits),
            _ => None,
        };
        match next {
            Some(s) => {
                self.st = St::Num(s);
                true
            }
            None if matches!(n, Num::Zero | Num::Int | Num::Frac | Num::ExpDigits) => {
                // The number ended before this byte: take it again after the value.
                self.value_done(self.pos);
                false
            }
            None => self.bad(),
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

    /// The slice scanner's verdict in the streaming checker's terms.
    fn slice_verdict(b: &[u8]) -> Verdict {
        match skip_value(b, 0) {
            Scan::Done(end) if skip_ws(b, end) == b.len() => Verdict::Ok,
            Scan::Done(end) => Verdict::Trailing(end as u64),
            Scan::Short => Verdict::Short,
            Scan::Bad(at) => Verdict::Bad(at as u64),
            Scan::TooDeep => Verdict::TooDeep,
        }
    }

    fn stream_verdict(pieces: &[&[u8]]) -> Verdict {
        let mut c = Checker::new();
        for p in pieces {
            c.feed(p);
        }
        c.verdict()
    }

    #[test]
    fn the_checker_agrees_with_the_scanner() {
        for s in [
            r#"["chat","hi",1,{"a":[true,false,null]}]x"#,
            " 12.5e-3,",
            " 12.5e-3 ",
            "-0",
            "0",
            "01",
            "-",
            "1.",
            "1e",
            "1e+",
            "1E5",
            r#""a\"b\\\u00e9""#,
            "{}",
            "[ ]",
            r#"{ "a" : 1 , "b" : [ ] }  "#,
            r#"["chat","h"#,
            "[1,",
            "tru",
            "",
            "   ",
            "[1 2]",
            "{1:2}",
            "[1,]",
            "\"a\nb\"",
            r#""\x""#,
            r#""\u12g4""#,
            "nul!",
            "]",
            "[}",
            "{\"a\" 1}",
            "[true, fals]",
            "truex",
            "1 2",
        ] {
            let b = s.as_bytes();
            assert_eq!(stream_verdict(&[b]), slice_verdict(b), "{s:?}");
        }
        let deep = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert_eq!(stream_verdict(&[deep.as_bytes()]), Verdict::Ok);
        let deeper = "[".repeat(MAX_DEPTH + 1);
        assert_eq!(stream_verdict(&[deeper.as_bytes()]), Verdict::TooDeep);
    }

    fn json_bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just(b"[".to_vec()),
            Just(b"]".to_vec()),
            Just(b"{".to_vec()),
            Just(b"}".to_vec()),
            Just(b"\"k\":".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"\\".to_vec()),
            Just(b"\\u00e9".to_vec()),
            Just(b",".to_vec()),
            Just(b" ".to_vec()),
            Just(b"true".to_vec()),
            Just(b"nul".to_vec()),
            Just(b"-0.5e+3".to_vec()),
            Just(b"12".to_vec()),
            Just(b"e".to_vec()),
            Just(b".".to_vec()),
            Just("é".as_bytes().to_vec()),
            proptest::collection::vec(any::<u8>(), 0..3),
        ];
        proptest::collection::vec(piece, 0..30).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        #[test]
        fn the_checker_agrees_with_the_scanner_however_cut(
            b in json_bytes(),
            cuts in proptest::collection::vec(proptest::prelude::any::<usize>(), 0..5),
        ) {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (b.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut at = 0;
            for c in cuts {
                pieces.push(&b[at..c]);
                at = c;
            }
            pieces.push(&b[at..]);
            proptest::prop_assert_eq!(stream_verdict(&pieces), slice_verdict(&b));
        }
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
