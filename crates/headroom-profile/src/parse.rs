//! Profile parsing: TOML text → spanned document → checked [`Profile`], with every error
//! located at `file:line:column`.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::check::out_of_range;
use crate::error::{Invalid, Seg};
use crate::rules::{build_match, rule_key};
use crate::schema::{self, fields_in, sections, SettingKind, SettingValue};
use crate::suggest::closest;
use crate::{ErrorKind, Location, Profile, ProfileError, Route, RouteRule};

/// The section holding the routing rules besides its settings.
const ROUTE: &str = "route";
/// The array of routing rules inside [`ROUTE`].
const RULES: &str = "rules";

/// Top-level keys of the schema and the section names, for typo suggestions.
fn top_level() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = fields_in(None).map(|f| f.key).collect();
    keys.extend(sections());
    keys
}

struct Ctx<'a> {
    text: &'a str,
    file: &'a str,
    /// Byte offset of the start of each line of `text` after the first (where each `\n`
    /// ends), so that an error's line is found by a search instead of a count from the start
    /// of the file (a file with many errors would otherwise take quadratic time).
    line_ends: Vec<usize>,
}

impl<'a> Ctx<'a> {
    fn new(text: &'a str, file: &'a str) -> Self {
        let line_ends = text
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == b'\n')
            .map(|(i, _)| i + 1)
            .collect();
        Ctx {
            text,
            file,
            line_ends,
        }
    }

    /// [`line_col`] of `offset`, from the line index.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut off = offset.min(self.text.len());
        while !self.text.is_char_boundary(off) {
            off -= 1;
        }
        let before = self.line_ends.partition_point(|&start| start <= off);
        let start = if before == 0 {
            0
        } else {
            self.line_ends.get(before - 1).copied().unwrap_or(0)
        };
        let column = self.text.get(start..off).map_or(0, |t| t.chars().count()) + 1;
        (before + 1, column)
    }

    fn location(&self, offset: usize) -> Location {
        let (line, column) = self.line_col(offset);
        Location {
            file: self.file.to_owned(),
            line,
            column,
        }
    }

    fn err(
        &self,
        kind: ErrorKind,
        key: Option<String>,
        span: Range<usize>,
        message: String,
    ) -> ProfileError {
        ProfileError {
            kind,
            key,
            location: Some(self.location(span.start)),
            message,
        }
    }
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn unknown_key(
    ctx: &Ctx<'_>,
    key: &str,
    span: Range<usize>,
    place: &str,
    candidates: &[&str],
) -> ProfileError {
    let hint = closest(key, candidates.iter().copied())
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    ctx.err(
        ErrorKind::UnknownKey,
        Some(key.to_owned()),
        span,
        format!("unknown key `{key}`{place}{hint}"),
    )
}

/// Converts a TOML value to the setting type of `field`, or explains why not.
fn to_setting(
    ctx: &Ctx<'_>,
    field: &schema::Field,
    value: &Spanned<DeValue<'_>>,
) -> Result<SettingValue, ProfileError> {
    let span = value.span();
    let got = match (field.kind, value.get_ref()) {
        (SettingKind::Bool, DeValue::Boolean(b)) => Some(SettingValue::Bool(*b)),
        (SettingKind::Number, DeValue::Integer(i)) => i64::from_str_radix(i.as_str(), i.radix())
            .ok()
            .map(|n| SettingValue::Number(n as f64)),
        (SettingKind::Number, DeValue::Float(f)) => {
            f.as_str().parse::<f64>().ok().map(SettingValue::Number)
        }
        (SettingKind::String, DeValue::String(s)) => Some(SettingValue::String(s.to_string())),
        (SettingKind::Route, DeValue::String(s)) => {
            if s.parse::<Route>().is_ok() {
                Some(SettingValue::String(s.to_string()))
            } else {
                return Err(bad_route(ctx, field.key, s, span));
            }
        }
        _ => None,
    };
    got.ok_or_else(|| {
        ctx.err(
            ErrorKind::WrongType,
            Some(field.key.to_owned()),
            span,
            format!(
                "{} must be {}, found {}",
                field.key,
                field.kind.expected(),
                type_name(value.get_ref())
            ),
        )
    })
}

fn bad_route(ctx: &Ctx<'_>, key: &str, value: &str, span: Range<usize>) -> ProfileError {
    let hint = closest(value, Route::ALL.iter().map(|r| r.as_str()))
        .map(|s| format!("; did you mean \"{s}\"?"))
        .unwrap_or_default();
    ctx.err(
        ErrorKind::InvalidRoute,
        Some(key.to_owned()),
        span,
        format!("{key} = {value:?} is not a route (expected \"processed\" or \"bypass\"{hint})"),
    )
}

fn apply(
    ctx: &Ctx<'_>,
    p: &mut Profile,
    key: &str,
    value: &Spanned<DeValue<'_>>,
) -> Result<bool, ProfileError> {
    match schema::field(key) {
        Some(f) => {
            let v = to_setting(ctx, f, value)?;
            // Checked here as written too: narrowed to the setting's `f32`, a value out of
            // that type's range would be reported as an infinity.
            if let Some(inv) = out_of_range(f, &v) {
                return Err(ctx.err(inv.kind, Some(inv.key), value.span(), inv.message));
            }
            (f.put)(p, &v);
            Ok(true)
        }
        None => Ok(false),
    }
}

fn expect_table<'a, 'i>(
    ctx: &Ctx<'_>,
    key: &str,
    value: &'a Spanned<DeValue<'i>>,
) -> Result<&'a DeTable<'i>, ProfileError> {
    match value.get_ref() {
        DeValue::Table(t) => Ok(t),
        other => Err(ctx.err(
            ErrorKind::WrongType,
            Some(key.to_owned()),
            value.span(),
            format!("{key} must be a table, found {}", type_name(other)),
        )),
    }
}

impl Profile {
    /// Parses and validates a profile file's `text`. `path` names the profile (its file stem)
    /// and prefixes error messages (`path:line:col: …`). Returns the first error; see
    /// [`Profile::parse_all`] for every one. Allocates; does no I/O.
    pub fn parse(text: &str, path: &str) -> Result<Profile, ProfileError> {
        Profile::parse_named(stem(path), text, path)
    }

    /// Like [`Profile::parse`] with an explicit profile name.
    pub fn parse_named(name: &str, text: &str, path: &str) -> Result<Profile, ProfileError> {
        Profile::parse_all_named(name, text, path).map_err(|mut errs| errs.remove(0))
    }

    /// Like [`Profile::parse`], but reports every error of the file (in file order; never an
    /// empty list): each key is checked on its own, a bad one does not hide the next. A TOML
    /// syntax error stops at the first one (the rest of the file cannot be read). The
    /// ordering rules between settings (e.g. the silence gate below the target) are checked
    /// only when every value is valid on its own.
    pub fn parse_all(text: &str, path: &str) -> Result<Profile, Vec<ProfileError>> {
        Profile::parse_all_named(stem(path), text, path)
    }

    /// Like [`Profile::parse_all`] with an explicit profile name.
    pub fn parse_all_named(
        name: &str,
        text: &str,
        path: &str,
    ) -> Result<Profile, Vec<ProfileError>> {
        parse(name, text, path)
    }
}

/// Whether a profile file's `text` sets anything: `false` for an empty file, or one of
/// whitespace and comments only (what a file looks like while an editor or a shell
/// redirection is writing it). Text that is not valid TOML counts as settings (parsing it
/// reports the error). Allocates; does no I/O.
pub fn has_settings(text: &str) -> bool {
    DeTable::parse(text).map_or(true, |root| !root.get_ref().is_empty())
}

/// The error for a profile file without settings ([`has_settings`]) at `path`, located at its
/// start.
pub fn empty_file_error(path: &str) -> ProfileError {
    ProfileError {
        kind: ErrorKind::Empty,
        key: None,
        location: Some(Location {
            file: path.to_owned(),
            line: 1,
            column: 1,
        }),
        message: "no settings in the file (empty, or still being written); a profile needs at \
                  least one, e.g. `description = \"…\"`"
            .to_owned(),
    }
}

fn stem(path: &str) -> &str {
    std::path::Path::new(path)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(path)
}

/// Records the error of `r`, if any, in `errs`.
fn keep(errs: &mut Vec<ProfileError>, r: Result<(), ProfileError>) {
    if let Err(e) = r {
        errs.push(e);
    }
}

fn parse(name: &str, text: &str, file: &str) -> Result<Profile, Vec<ProfileError>> {
    let ctx = Ctx::new(text, file);
    let root = DeTable::parse(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let at = span.start;
        vec![ctx.err(
            ErrorKind::Syntax,
            None,
            span,
            format!(
                "TOML syntax error: {}",
                crate::syntax_message(text, at, e.message())
            ),
        )]
    })?;
    let root = root.get_ref();
    let mut p = Profile {
        name: name.to_owned(),
        description: String::new(),
        ..Profile::default()
    };
    let mut errs = Vec::new();
    for (k, v) in root.iter() {
        let key: &str = k.get_ref();
        if key == ROUTE {
            parse_route(&ctx, &mut p, v, &mut errs);
        } else if sections().contains(&key) {
            let table = match expect_table(&ctx, key, v) {
                Ok(t) => t,
                Err(e) => {
                    errs.push(e);
                    continue;
                }
            };
            for (k2, v2) in table.iter() {
                let sub: &str = k2.get_ref();
                let full = format!("{key}.{sub}");
                let r = apply(&ctx, &mut p, &full, v2).and_then(|known| {
                    if known {
                        return Ok(());
                    }
                    let candidates: Vec<&str> = fields_in(Some(key)).map(|f| f.name()).collect();
                    Err(unknown_key(
                        &ctx,
                        sub,
                        k2.span(),
                        &format!(" in [{key}]"),
                        &candidates,
                    ))
                });
                keep(&mut errs, r);
            }
        } else {
            let r = if key.contains('.') {
                Ok(false)
            } else {
                apply(&ctx, &mut p, key, v)
            };
            let r = r.and_then(|known| {
                if known {
                    Ok(())
                } else {
                    Err(unknown_key(&ctx, key, k.span(), "", &top_level()))
                }
            });
            keep(&mut errs, r);
        }
    }
    let ordering = errs.is_empty();
    errs.extend(
        p.check_all(ordering)
            .into_iter()
            .map(|inv| locate(&ctx, root, inv)),
    );
    if errs.is_empty() {
        Ok(p)
    } else {
        errs.sort_by_key(|e| e.location.as_ref().map(|l| (l.line, l.column)));
        Err(errs)
    }
}

fn parse_route(
    ctx: &Ctx<'_>,
    p: &mut Profile,
    value: &Spanned<DeValue<'_>>,
    errs: &mut Vec<ProfileError>,
) {
    let table = match expect_table(ctx, ROUTE, value) {
        Ok(t) => t,
        Err(e) => return errs.push(e),
    };
    for (k, v) in table.iter() {
        let key: &str = k.get_ref();
        match key {
            RULES => {
                let DeValue::Array(items) = v.get_ref() else {
                    errs.push(ctx.err(
                        ErrorKind::WrongType,
                        Some("route.rules".into()),
                        v.span(),
                        format!(
                            "route.rules must be an array of tables ([[route.rules]]), found {}",
                            type_name(v.get_ref())
                        ),
                    ));
                    continue;
                };
                for (i, item) in items.iter().enumerate() {
                    match parse_rule(ctx, i, item) {
                        Ok(rule) => p.route.rules.push(rule),
                        Err(e) => errs.push(e),
                    }
                }
            }
            _ => {
                let r = apply(ctx, p, &format!("{ROUTE}.{key}"), v).and_then(|known| {
                    if known {
                        return Ok(());
                    }
                    let mut candidates: Vec<&str> =
                        fields_in(Some(ROUTE)).map(|f| f.name()).collect();
                    candidates.push(RULES);
                    Err(unknown_key(
                        ctx,
                        key,
                        k.span(),
                        &format!(" in [{ROUTE}]"),
                        &candidates,
                    ))
                });
                keep(errs, r);
            }
        }
    }
}

fn parse_rule(
    ctx: &Ctx<'_>,
    i: usize,
    item: &Spanned<DeValue<'_>>,
) -> Result<RouteRule, ProfileError> {
    let rk = rule_key(i);
    let table = expect_table(ctx, &rk, item)?;
    let mut matches = BTreeMap::new();
    let mut route = None;
    let mut saw_match = false;
    for (k, v) in table.iter() {
        let key: &str = k.get_ref();
        match key {
            "match" => {
                saw_match = true;
                let mt = expect_table(ctx, &format!("{rk}.match"), v)?;
                if mt.is_empty() {
                    return Err(ctx.err(
                        ErrorKind::InvalidMatch,
                        Some(format!("{rk}.match")),
                        v.span(),
                        format!(
                            "{rk}.match is empty: give at least one key \
                             (use route.default for a catch-all)"
                        ),
                    ));
                }
                for (mk, mv) in mt.iter() {
                    let mkey: &str = mk.get_ref();
                    let DeValue::String(pattern) = mv.get_ref() else {
                        return Err(ctx.err(
                            ErrorKind::WrongType,
                            Some(format!("{rk}.match.\"{mkey}\"")),
                            mv.span(),
                            format!(
                                "{rk}.match.\"{mkey}\" must be a string (a glob), found {}",
                                type_name(mv.get_ref())
                            ),
                        ));
                    };
                    let (key, glob) = build_match(i, mkey, pattern).map_err(|inv| {
                        let span = if inv.at_key { mk.span() } else { mv.span() };
                        ctx.err(inv.kind, Some(inv.key), span, inv.message)
                    })?;
                    matches.insert(key, glob);
                }
            }
            "route" => {
                let rkey = format!("{rk}.route");
                let DeValue::String(s) = v.get_ref() else {
                    return Err(ctx.err(
                        ErrorKind::WrongType,
                        Some(rkey.clone()),
                        v.span(),
                        format!(
                            "{rkey} must be a route (\"processed\" or \"bypass\"), found {}",
                            type_name(v.get_ref())
                        ),
                    ));
                };
                route = Some(
                    s.parse::<Route>()
                        .map_err(|()| bad_route(ctx, &rkey, s, v.span()))?,
                );
            }
            _ => {
                return Err(unknown_key(
                    ctx,
                    key,
                    k.span(),
                    &format!(" in {rk}"),
                    &["match", "route"],
                ))
            }
        }
    }
    let missing = |what: &str| {
        ctx.err(
            ErrorKind::MissingKey,
            Some(format!("{rk}.{what}")),
            item.span(),
            format!("{rk} has no `{what}` key"),
        )
    };
    if !saw_match {
        return Err(missing("match"));
    }
    let route = route.ok_or_else(|| missing("route"))?;
    Ok(RouteRule { matches, route })
}

/// Finds the key and value spans at `path`, or the spans of the deepest prefix found.
/// Key span and value span of one entry.
type Spans = (Range<usize>, Range<usize>);

fn find(root: &DeTable<'_>, path: &[Seg]) -> (bool, Option<Spans>) {
    let mut table = Some(root);
    let mut array: Option<&[Spanned<DeValue<'_>>]> = None;
    let mut best = None;
    for seg in path {
        let next = match seg {
            Seg::Key(k) => table
                .and_then(|t| t.get_key_value(k.as_str()))
                .map(|(ks, v)| (ks.span(), v)),
            Seg::Index(i) => array.and_then(|a| a.get(*i)).map(|v| (v.span(), v)),
        };
        let Some((kspan, v)) = next else {
            return (false, best);
        };
        best = Some((kspan, v.span()));
        table = None;
        array = None;
        match v.get_ref() {
            DeValue::Table(t) => table = Some(t),
            DeValue::Array(a) => array = Some(&a[..]),
            _ => {}
        }
    }
    (true, best)
}

fn locate(ctx: &Ctx<'_>, root: &DeTable<'_>, inv: Invalid) -> ProfileError {
    let (found, mut spans) = find(root, &inv.path);
    if !found {
        if let Some(fb) = &inv.fallback {
            let (found_fb, fb_spans) = find(root, fb);
            if found_fb || spans.is_none() {
                spans = fb_spans;
            }
        }
    }
    let span = match spans {
        Some((k, v)) => {
            if inv.at_key {
                k
            } else {
                v
            }
        }
        None => 0..0,
    };
    ctx.err(inv.kind, Some(inv.key), span, inv.message)
}

#[cfg(test)]
mod line_index_tests {
    use super::Ctx;
    use crate::error::line_col;

    #[test]
    fn the_line_index_agrees_with_line_col() {
        let text = "a = 1\n\nbé = \"x\"\r\n[t]\n  k = 2";
        let ctx = Ctx::new(text, "f");
        for off in 0..=text.len() + 2 {
            assert_eq!(ctx.line_col(off), line_col(text, off), "offset {off}");
        }
    }
}
