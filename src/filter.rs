//! Display filters: which events to show (`decode --filter`, `replay -Y`, the TUI's filter),
//! in a small language modelled on Wireshark's, with tcpdump's `port N` and `host NAME`.
//!
//! ```text
//! filter  := or
//! or      := and (("or" | "||") and)*
//! and     := not (("and" | "&&") not)*
//! not     := ("not" | "!")* primary
//! primary := "(" filter ")" | "port" NUMBER | "host" ADDRESS | field [op value | "in" set]
//! op      := "==" | "=" | "eq" | "!=" | "ne" | "<" | "lt" | "<=" | "le" | ">" | "gt"
//!          | ">=" | "ge" | "contains"
//! set     := "{" value ([","] value)* "}"
//! value   := "text with \" \\ \n \t \u{1F600} escapes" | word (a number, a name, an address)
//! ```
//!
//! Field names are the JSON schema's under their protocol's name ([`fields::FIELDS`]). A filter
//! is tested on one event at a time: an event passes when the filter is true of it. A field
//! alone is true when the event has the field (and, for true/false fields, when it is true);
//! a comparison is true when any of the field's values satisfies it (`tcp.flags == "SYN"`),
//! except `!=`, true when the event has the field and none of its values is equal. `port`,
//! `host`, `ip.*` and `tcp.*port` look at the event's connection ([`Endpoints`]): a
//! [`Matcher`] remembers each connection's endpoints from its `connection` event.
//!
//! Parsing is done by [`winnow`] into a syntax tree with spans, then checked against the
//! field table (unknown fields, values of the wrong type, a value outside a field's set), so
//! that every error points at the place of the mistake ([`FilterError::pos`]).

pub mod fields;
pub mod save;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

use winnow::ascii::multispace0;
use winnow::combinator::{alt, cut_err, delimited, fail, opt, preceded, repeat, terminated};
use winnow::error::{ContextError, ErrMode, StrContext, StrContextValue};
use winnow::prelude::*;
use winnow::token::{any, take_till, take_while};
use winnow::LocatingSlice;

use crate::model::{ConnId, Dir, Event, EventBody};
use fields::{Field, Ty, Val};

/// Longest filter accepted, in bytes.
pub const MAX_LEN: usize = 4096;
/// Deepest nesting of parentheses accepted.
pub const MAX_DEPTH: usize = 32;

/// A parsed display filter. Build it with [`Filter::parse`]; test events with
/// [`Filter::matches`] (the event alone), [`Filter::matches_with`] (with its connection's
/// endpoints) or a [`Matcher`] (which remembers them).
#[derive(Debug, Clone)]
pub struct Filter {
    expr: Expr,
    text: String,
    endpoints: bool,
}

/// Why a filter did not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// Byte offset of the mistake in the filter (its length when something is missing at
    /// the end). Always at a character boundary, never past the end.
    pub pos: usize,
    /// What is wrong, in a sentence without the position.
    pub message: String,
    input: String,
}

/// The two ends of an event's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    pub client: SocketAddr,
    pub server: SocketAddr,
}

impl Endpoints {
    /// The endpoints an event carries itself: `connection`, `connection_end`, and `pattern`
    /// (its client host, port 0, and its server).
    pub fn of(e: &Event) -> Option<Endpoints> {
        match &e.body {
            EventBody::Connection(c) => Some(Endpoints {
                client: c.client,
                server: c.server,
            }),
            EventBody::ConnectionEnd(c) => Some(Endpoints {
                client: c.client,
                server: c.server,
            }),
            EventBody::Pattern(p) => {
                let client = p.client.parse::<IpAddr>().ok()?;
                Some(Endpoints {
                    client: SocketAddr::new(client, 0),
                    server: p.server,
                })
            }
            _ => None,
        }
    }

    /// The sender of an event going `dir` (the client when it has no direction).
    pub fn src(&self, dir: Option<Dir>) -> SocketAddr {
        match dir {
            Some(Dir::S2c) => self.server,
            _ => self.client,
        }
    }

    pub fn dst(&self, dir: Option<Dir>) -> SocketAddr {
        match dir {
            Some(Dir::S2c) => self.client,
            _ => self.server,
        }
    }
}

#[derive(Debug, Clone)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Has(Field),
    Cmp(Field, Op, Vec<Lit>),
    Port(u16),
    Host(Vec<IpAddr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    In,
}

/// A value as written, read as every type it can be.
#[derive(Debug, Clone, Default)]
struct Lit {
    text: String,
    num: Option<f64>,
    boolean: Option<bool>,
    ips: Vec<IpAddr>,
    sock: Option<SocketAddr>,
}

impl Filter {
    /// Parses a filter. An empty (or blank) filter is an error: "no filter" is `None`.
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        let err = |pos: usize, message: String| FilterError {
            pos,
            message,
            input: input.to_string(),
        };
        if input.len() > MAX_LEN {
            let mut pos = MAX_LEN;
            while !input.is_char_boundary(pos) {
                pos -= 1;
            }
            return Err(err(
                pos,
                format!("a filter is at most {MAX_LEN} bytes long"),
            ));
        }
        if input.trim().is_empty() {
            return Err(err(
                input.len(),
                "the filter is empty: write a test such as `http.status >= 400`".into(),
            ));
        }
        if let Some(pos) = too_deep(input) {
            return Err(err(
                pos,
                format!("parentheses nest deeper than {MAX_DEPTH}"),
            ));
        }
        let syn = top
            .parse(LocatingSlice::new(input))
            .map_err(|e| err(e.offset().min(input.len()), syntax_message(input, &e)))?;
        let mut endpoints = false;
        let expr = resolve(syn, &mut endpoints).map_err(|(pos, m)| err(pos, m))?;
        Ok(Filter {
            expr,
            text: input.trim().to_string(),
            endpoints,
        })
    }

    /// The filter as written (without surrounding blanks), for a title bar.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the filter looks at connections' endpoints (`port`, `host`, `ip.*`,
    /// `tcp.*port`): then [`Filter::matches`] alone cannot tell for most events, use
    /// [`Filter::matches_with`] or a [`Matcher`].
    pub fn uses_endpoints(&self) -> bool {
        self.endpoints
    }

    /// Whether `e` passes, from what the event holds (its endpoints only when it carries
    /// them: `connection`, `connection_end`, `pattern`).
    pub fn matches(&self, e: &Event) -> bool {
        self.matches_with(e, Endpoints::of(e).as_ref())
    }

    /// Whether `e` passes, its connection's endpoints being `ends`.
    pub fn matches_with(&self, e: &Event, ends: Option<&Endpoints>) -> bool {
        eval(&self.expr, e, ends)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Filter {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Filter, FilterError> {
        Filter::parse(s)
    }
}

impl FilterError {
    /// The column of the mistake, from 1, in terminal cells.
    pub fn column(&self) -> usize {
        let before = self.input.get(..self.pos).unwrap_or_default();
        shown(before).chars().map(char_width).sum::<usize>() + 1
    }

    /// The filter (control characters shown as `?`) and a caret under the mistake, on two
    /// lines, each starting with `indent`.
    pub fn caret(&self, indent: &str) -> String {
        format!(
            "{indent}{}\n{indent}{}^",
            shown(&self.input),
            " ".repeat(self.column() - 1)
        )
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (column {})", self.message, self.column())
    }
}

impl std::error::Error for FilterError {}

/// A filter's text safe to print: control characters as `?`.
fn shown(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn char_width(c: char) -> usize {
    unicode_width::UnicodeWidthChar::width(c).unwrap_or(1)
}

/// Tests events one after another, remembering each connection's endpoints from its
/// `connection` event (and forgetting them at its `connection_end`), so that `port`, `host`,
/// `ip.*` and `tcp.*port` work on every event of the connection.
#[derive(Debug, Clone)]
pub struct Matcher {
    filter: Filter,
    conns: HashMap<ConnId, Endpoints>,
}

impl Matcher {
    pub fn new(filter: Filter) -> Matcher {
        Matcher {
            filter,
            conns: HashMap::new(),
        }
    }

    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// Whether `e` passes. Call it on every event, in order (also the ones you then drop).
    pub fn matches(&mut self, e: &Event) -> bool {
        if !self.filter.endpoints {
            return self.filter.matches_with(e, None);
        }
        let own = Endpoints::of(e);
        if let (Some(c), EventBody::Connection(_), Some(ends)) = (e.conn, &e.body, own) {
            self.conns.insert(c, ends);
        }
        let ends = own.or_else(|| e.conn.and_then(|c| self.conns.get(&c).copied()));
        let pass = self.filter.matches_with(e, ends.as_ref());
        if let (Some(c), EventBody::ConnectionEnd(_)) = (e.conn, &e.body) {
            self.conns.remove(&c);
        }
        pass
    }
}

fn eval(x: &Expr, e: &Event, ends: Option<&Endpoints>) -> bool {
    match x {
        Expr::Or(v) => v.iter().any(|x| eval(x, e, ends)),
        Expr::And(v) => v.iter().all(|x| eval(x, e, ends)),
        Expr::Not(x) => !eval(x, e, ends),
        Expr::Has(f) => f.each(e, ends, &mut |v| !matches!(v, Val::Bool(false))),
        Expr::Cmp(f, Op::Ne, lits) => {
            let mut any = false;
            let equal = f.each(e, ends, &mut |v| {
                any = true;
                lits.iter().any(|l| equal(v, l))
            });
            any && !equal
        }
        Expr::Cmp(f, Op::Eq | Op::In, lits) => {
            f.each(e, ends, &mut |v| lits.iter().any(|l| equal(v, l)))
        }
        Expr::Cmp(f, op, lits) => f.each(e, ends, &mut |v| lits.iter().any(|l| compare(v, *op, l))),
        Expr::Port(p) => ends.is_some_and(|x| x.client.port() == *p || x.server.port() == *p),
        Expr::Host(ips) => {
            ends.is_some_and(|x| ips.contains(&x.client.ip()) || ips.contains(&x.server.ip()))
        }
    }
}

fn equal(v: Val<'_>, l: &Lit) -> bool {
    match v {
        Val::Num(n) => l.num == Some(n),
        Val::Str(s) => s == l.text,
        Val::Bool(b) => l.boolean == Some(b),
        Val::Ip(ip) => l.ips.contains(&ip),
        Val::Sock(sa) => match l.sock {
            Some(s) => s == sa,
            None => l.ips.contains(&sa.ip()),
        },
        Val::Header(n, v) => l
            .text
            .split_once(':')
            .is_some_and(|(ln, lv)| ln.trim().eq_ignore_ascii_case(n) && lv.trim() == v),
    }
}

fn compare(v: Val<'_>, op: Op, l: &Lit) -> bool {
    match (v, op) {
        (Val::Str(s), Op::Contains) => s.contains(l.text.as_str()),
        (Val::Header(n, v), Op::Contains) => {
            n.contains(l.text.as_str())
                || v.contains(l.text.as_str())
                || format!("{n}: {v}").contains(l.text.as_str())
        }
        (Val::Sock(sa), Op::Contains) => sa.to_string().contains(l.text.as_str()),
        (Val::Num(n), op) => l.num.is_some_and(|x| match op {
            Op::Lt => n < x,
            Op::Le => n <= x,
            Op::Gt => n > x,
            Op::Ge => n >= x,
            _ => false,
        }),
        _ => false,
    }
}

// ---- Syntax -----------------------------------------------------------------------------

type In<'i> = LocatingSlice<&'i str>;
type PResult<O> = winnow::ModalResult<O>;

/// A token and where it is.
#[derive(Debug, Clone)]
struct Tok {
    text: String,
    span: Range<usize>,
}

#[derive(Debug)]
enum Syn {
    Or(Vec<Syn>),
    And(Vec<Syn>),
    Not(Box<Syn>),
    Test {
        field: Tok,
        cmp: Option<(Tok, Vec<Tok>)>,
    },
    Port(Tok),
    Host(Tok),
}

fn expected(what: &'static str) -> StrContext {
    StrContext::Expected(StrContextValue::Description(what))
}

/// Where the parentheses (outside strings) first nest deeper than [`MAX_DEPTH`].
fn too_deep(input: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in input.char_indices() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn sp(i: &mut In<'_>) -> PResult<()> {
    multispace0.void().parse_next(i)
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'
}

fn word<'i>(i: &mut In<'i>) -> PResult<&'i str> {
    take_while(1.., is_word_char).parse_next(i)
}

/// A keyword: a whole word, without regard to case.
fn keyword<'i>(kw: &'static str) -> impl Parser<In<'i>, &'i str, ErrMode<ContextError>> {
    word.verify(move |w: &str| w.eq_ignore_ascii_case(kw))
}

fn top(i: &mut In<'_>) -> PResult<Syn> {
    delimited(sp, or_expr, sp).parse_next(i)
}

fn or_expr(i: &mut In<'_>) -> PResult<Syn> {
    let first = and_expr(i)?;
    let rest: Vec<Syn> = repeat(
        0..,
        preceded(
            (sp, alt(("||", keyword("or"))), sp),
            cut_err(and_expr).context(expected("a test after `or`")),
        ),
    )
    .parse_next(i)?;
    Ok(join(first, rest, Syn::Or))
}

fn and_expr(i: &mut In<'_>) -> PResult<Syn> {
    let first = not_expr(i)?;
    let rest: Vec<Syn> = repeat(
        0..,
        preceded(
            (sp, alt(("&&", keyword("and"))), sp),
            cut_err(not_expr).context(expected("a test after `and`")),
        ),
    )
    .parse_next(i)?;
    Ok(join(first, rest, Syn::And))
}

fn join(first: Syn, rest: Vec<Syn>, make: fn(Vec<Syn>) -> Syn) -> Syn {
    if rest.is_empty() {
        return first;
    }
    let mut all = Vec::with_capacity(rest.len() + 1);
    all.push(first);
    all.extend(rest);
    make(all)
}

/// `not` and `!` repeat without recursion, so a long run of them cannot exhaust the stack.
fn not_expr(i: &mut In<'_>) -> PResult<Syn> {
    let bang = ("!", winnow::combinator::not("=")).void();
    let nots: usize = repeat(0.., (alt((bang, keyword("not").void())), sp)).parse_next(i)?;
    let inner = if nots == 0 {
        primary(i)?
    } else {
        cut_err(primary)
            .context(expected("a test after `not`"))
            .parse_next(i)?
    };
    Ok(if nots % 2 == 1 {
        Syn::Not(Box::new(inner))
    } else {
        inner
    })
}

fn primary(i: &mut In<'_>) -> PResult<Syn> {
    alt((
        delimited(
            ("(", sp),
            cut_err(or_expr).context(expected("a test after `(`")),
            (sp, cut_err(")").context(expected("`)`, `and` or `or`"))),
        ),
        preceded(
            (keyword("port"), sp),
            cut_err(value).context(expected("a port number after `port`")),
        )
        .map(Syn::Port),
        preceded(
            (keyword("host"), sp),
            cut_err(value).context(expected("an address or host name after `host`")),
        )
        .map(Syn::Host),
        test,
    ))
    .context(expected(PRIMARY))
    .parse_next(i)
}

/// What may start a test.
const PRIMARY: &str = "a field (e.g. `http.status`), `(`, `not`, `port` or `host`";

fn test(i: &mut In<'_>) -> PResult<Syn> {
    let (name, span) = word
        .verify(|w: &str| {
            !["and", "or", "not", "in", "contains"]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k))
        })
        .with_span()
        .parse_next(i)?;
    let field = Tok {
        text: name.to_string(),
        span,
    };
    let cmp = opt(preceded(sp, comparison)).parse_next(i)?;
    Ok(Syn::Test { field, cmp })
}

fn comparison(i: &mut In<'_>) -> PResult<(Tok, Vec<Tok>)> {
    let (op, span) = alt((
        alt(("==", "!=", ">=", "<=", ">", "<", "=")),
        word.verify(|w: &str| {
            ["eq", "ne", "lt", "le", "gt", "ge", "contains", "in"]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k))
        }),
    ))
    .with_span()
    .parse_next(i)?;
    let op = Tok {
        text: op.to_ascii_lowercase(),
        span,
    };
    sp(i)?;
    let values = if op.text == "in" {
        cut_err(set)
            .context(expected("a set of values after `in`, e.g. `{1 2 3}`"))
            .parse_next(i)?
    } else {
        vec![cut_err(value)
            .context(expected("a value after the comparison"))
            .parse_next(i)?]
    };
    Ok((op, values))
}

fn set(i: &mut In<'_>) -> PResult<Vec<Tok>> {
    // Values apart by blanks or commas (a separator that may be empty cannot be `separated`'s).
    delimited(
        ("{", sp),
        repeat(1.., terminated(value, (sp, opt(","), sp))),
        cut_err("}").context(expected("`}` to end the set")),
    )
    .parse_next(i)
}

fn value(i: &mut In<'_>) -> PResult<Tok> {
    alt((
        quoted.with_span(),
        take_while(1.., |c: char| {
            !c.is_whitespace() && !"()!&|{},\"=<>".contains(c)
        })
        .map(str::to_string)
        .with_span(),
    ))
    .map(|(text, span)| Tok { text, span })
    .parse_next(i)
}

/// A string between double quotes, with `\"`, `\\`, `\n`, `\r`, `\t`, `\0`, `\xHH` and
/// `\u{HEX}` escapes.
fn quoted(i: &mut In<'_>) -> PResult<String> {
    '"'.parse_next(i)?;
    let mut s = String::new();
    loop {
        let chunk: &str = take_till(0.., ['"', '\\']).parse_next(i)?;
        s.push_str(chunk);
        match opt(any).parse_next(i)? {
            Some('"') => return Ok(s),
            Some(_) => s.push(cut_err(escape).parse_next(i)?),
            None => {
                return cut_err(fail)
                    .context(expected("`\"` to end the text"))
                    .parse_next(i)
            }
        }
    }
}

fn escape(i: &mut In<'_>) -> PResult<char> {
    let hex = |n: usize| {
        take_while(n..=n, |c: char| c.is_ascii_hexdigit())
            .try_map(|h: &str| u32::from_str_radix(h, 16))
            .verify_map(char::from_u32)
    };
    alt((
        '"'.value('"'),
        '\\'.value('\\'),
        'n'.value('\n'),
        'r'.value('\r'),
        't'.value('\t'),
        '0'.value('\0'),
        preceded('x', hex(2)),
        delimited(
            "u{",
            take_while(1..=6, |c: char| c.is_ascii_hexdigit())
                .try_map(|h: &str| u32::from_str_radix(h, 16))
                .verify_map(char::from_u32),
            '}',
        ),
        fail.context(expected(
            "an escape: \\\" \\\\ \\n \\r \\t \\0 \\xHH or \\u{HEX}",
        )),
    ))
    .parse_next(i)
}

/// The sentence for a syntax error: what was expected there, and what was found.
fn syntax_message(input: &str, e: &winnow::error::ParseError<In<'_>, ContextError>) -> String {
    let at = input.get(e.offset()..).unwrap_or_default();
    let found = match at.chars().next() {
        None => "the end of the filter".to_string(),
        Some(_) => {
            let token: String = if at.starts_with(|c: char| is_word_char(c)) {
                at.chars()
                    .take_while(|c| is_word_char(*c))
                    .take(40)
                    .collect()
            } else {
                at.chars().take(1).collect()
            };
            format!("`{}`", token.escape_debug())
        }
    };
    // The innermost context is the most precise, but the generic one of a test ("a field,
    // `(`...") is less so than the one that says what came before ("a test after `and`").
    let wanted: Vec<String> = e
        .inner()
        .context()
        .filter_map(|c| match c {
            StrContext::Expected(v) => Some(v.to_string()),
            _ => None,
        })
        .collect();
    let w = match wanted.as_slice() {
        [] => "`and`, `or` or the end of the filter".to_string(),
        [only] => only.clone(),
        [first, rest @ ..] if first.starts_with(PRIMARY) => rest[0].clone(),
        [first, ..] => first.clone(),
    };
    format!("expected {w}, found {found}")
}

// ---- Checks -----------------------------------------------------------------------------

type Checked<T> = Result<T, (usize, String)>;

fn resolve(s: Syn, endpoints: &mut bool) -> Checked<Expr> {
    Ok(match s {
        Syn::Or(v) => Expr::Or(
            v.into_iter()
                .map(|s| resolve(s, endpoints))
                .collect::<Checked<_>>()?,
        ),
        Syn::And(v) => Expr::And(
            v.into_iter()
                .map(|s| resolve(s, endpoints))
                .collect::<Checked<_>>()?,
        ),
        Syn::Not(s) => Expr::Not(Box::new(resolve(*s, endpoints)?)),
        Syn::Port(t) => {
            *endpoints = true;
            Expr::Port(t.text.parse::<u16>().map_err(|_| {
                (
                    t.span.start,
                    format!(
                        "a port is a number from 0 to 65535, not `{}`",
                        t.text.escape_debug()
                    ),
                )
            })?)
        }
        Syn::Host(t) => {
            *endpoints = true;
            Expr::Host(resolve_host(&t.text).map_err(|m| (t.span.start, m))?)
        }
        Syn::Test { field, cmp } => {
            let f = fields::lookup(&field.text).ok_or_else(|| {
                let near = fields::suggest(&field.text);
                let m = if near.is_empty() {
                    format!(
                        "unknown field `{}`: fields are the JSON schema's under their \
                         protocol's name, e.g. `http.status`, `ws.opcode`, `tcp.analysis`",
                        field.text
                    )
                } else {
                    let near: Vec<String> = near.iter().map(|n| format!("`{n}`")).collect();
                    format!(
                        "unknown field `{}`; did you mean {}?",
                        field.text,
                        near.join(" or ")
                    )
                };
                (field.span.start, m)
            })?;
            if matches!(
                field.text.as_str(),
                "ip.addr" | "ip.src" | "ip.dst" | "tcp.port" | "tcp.srcport" | "tcp.dstport"
            ) {
                *endpoints = true;
            }
            match cmp {
                None => Expr::Has(f),
                Some((op, values)) => {
                    let o = check_op(&f, &field.text, &op)?;
                    let lits = values
                        .iter()
                        .map(|v| literal(&f, &field.text, o, v))
                        .collect::<Checked<Vec<Lit>>>()?;
                    Expr::Cmp(f, o, lits)
                }
            }
        }
    })
}

fn check_op(f: &Field, name: &str, op: &Tok) -> Checked<Op> {
    let o = match op.text.as_str() {
        "==" | "=" | "eq" => Op::Eq,
        "!=" | "ne" => Op::Ne,
        "<" | "lt" => Op::Lt,
        "<=" | "le" => Op::Le,
        ">" | "gt" => Op::Gt,
        ">=" | "ge" => Op::Ge,
        "contains" => Op::Contains,
        _ => Op::In,
    };
    let ty = f.ty();
    let bad = |why: String| Err((op.span.start, why));
    match (ty, o) {
        (Ty::Proto, _) => bad(format!(
            "`{name}` is a protocol: test it alone (`{name}`) or compare one of its fields \
             (e.g. `{name}.…`)"
        )),
        (Ty::Num, Op::Contains) | (Ty::Bool, Op::Contains) | (Ty::Addr, Op::Contains) => bad(
            format!("`contains` looks in text; `{name}` is {}", ty.describe()),
        ),
        (Ty::Text | Ty::Bool | Ty::Addr | Ty::Sock, Op::Lt | Op::Le | Op::Gt | Op::Ge) => {
            bad(format!(
                "`{}` compares numbers; `{name}` is {}",
                op.text,
                ty.describe()
            ))
        }
        _ => Ok(o),
    }
}

fn literal(f: &Field, name: &str, op: Op, v: &Tok) -> Checked<Lit> {
    let shown = v.text.escape_debug().to_string();
    let at = v.span.start;
    let mut lit = Lit {
        text: v.text.clone(),
        num: number(&v.text),
        ..Lit::default()
    };
    match f.ty() {
        Ty::Num => {
            if lit.num.is_none() {
                return Err((at, format!("`{name}` is a number; `{shown}` is not")));
            }
        }
        Ty::Bool => {
            lit.boolean = match v.text.to_ascii_lowercase().as_str() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => {
                    return Err((
                        at,
                        format!("`{name}` is true or false; `{shown}` is neither"),
                    ))
                }
            };
        }
        Ty::Addr => lit.ips = resolve_host(&v.text).map_err(|m| (at, m))?,
        Ty::Sock => {
            lit.sock = v.text.parse::<SocketAddr>().ok();
            if lit.sock.is_none() && op != Op::Contains {
                lit.ips = resolve_host(&v.text).map_err(|m| (at, m))?;
            }
        }
        Ty::Text => {
            let values = f.values();
            // ws.opcode: a known opcode by its number too (Wireshark's `websocket.opcode == 1`),
            // a reserved one by its number only.
            let named = [
                "continuation",
                "text",
                "binary",
                "",
                "",
                "",
                "",
                "",
                "close",
                "ping",
                "pong",
            ];
            if let Some(n) = lit.num.filter(|_| name.ends_with("opcode")) {
                if let Some(known) = named
                    .get(n as usize)
                    .filter(|k| !k.is_empty() && n.fract() == 0.0)
                {
                    lit.text = (*known).to_string();
                }
            }
            let numeric = name.ends_with("opcode") && lit.num.is_some();
            if !values.is_empty() && op != Op::Contains && !numeric {
                match values.iter().find(|x| x.eq_ignore_ascii_case(&v.text)) {
                    Some(canonical) => lit.text = (*canonical).to_string(),
                    None => {
                        let list: Vec<String> = values.iter().map(|x| format!("`{x}`")).collect();
                        return Err((
                            at,
                            format!(
                                "`{name}` is never `{shown}`; it is one of {}",
                                list.join(", ")
                            ),
                        ));
                    }
                }
            }
        }
        Ty::Proto => {}
    }
    Ok(lit)
}

/// A number as a filter writes it: decimal (`404`, `-1`, `0.25`, `1e-3`) or hex (`0x0304`).
fn number(s: &str) -> Option<f64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).ok().map(|n| n as f64);
    }
    // Rust's float syntax also takes `inf` and `NaN`: a number starts with a digit, a sign or a dot.
    if !s.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.') {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// An address, or the addresses a host name resolves to through the system's resolver
/// (`localhost`: 127.0.0.1 and ::1 without asking it). IPv6 addresses may be in brackets.
pub fn resolve_host(name: &str) -> Result<Vec<IpAddr>, String> {
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let shown = name.escape_debug();
    if bare.is_empty()
        || bare.len() > 253
        || !bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
    {
        return Err(format!("`{shown}` is not an address or a host name"));
    }
    // RFC 6761 §6.3: `localhost` and its subdomains are the loopback addresses, both
    // families, whatever /etc/hosts says (many list only 127.0.0.1).
    let lower = bare.to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Ok(vec![
            IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ]);
    }
    use std::net::ToSocketAddrs;
    let mut ips: Vec<IpAddr> = (bare, 0u16)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve host `{shown}`: {e}"))?
        .map(|a| a.ip())
        .collect();
    ips.sort();
    ips.dedup();
    if ips.is_empty() {
        return Err(format!("host `{shown}` has no address"));
    }
    Ok(ips)
}
