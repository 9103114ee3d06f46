//! Profile parsing: TOML text → spanned document → checked [`Profile`], with every error
//! located at `file:line:column`.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::{line_col, Invalid, Seg};
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
}

impl Ctx<'_> {
    fn location(&self, offset: usize) -> Location {
        let (line, column) = line_col(self.text, offset);
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
    /// stem) and in error messages (`path:line:col: …`). Allocates; does no I/O.
    pub fn parse(text: &str, path: &str) -> Result<Profile, ProfileError> {
        let stem = std::path::Path::new(path)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or(path);
        Profile::parse_named(stem, text, path)
    }

    /// Like [`Profile::parse`] with an explicit profile name.
    pub fn parse_named(name: &str, text: &str, path: &str) -> Result<Profile, ProfileError> {
        parse(name, text, path)
    }
}

fn parse(name: &str, text: &str, file: &str) -> Result<Profile, ProfileError> {
    let ctx = Ctx { text, file };
    let root = DeTable::parse(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        ctx.err(
            ErrorKind::Syntax,
            None,
            span,
            format!("TOML syntax error: {}", e.message()),
        )
    })?;
    let root = root.get_ref();
    let mut p = Profile {
        name: name.to_owned(),
        description: String::new(),
        ..Profile::default()
    };
    for (k, v) in root.iter() {
        let key: &str = k.get_ref();
        if key == ROUTE {
            parse_route(&ctx, &mut p, v)?;
        } else if sections().contains(&key) {
            let table = expect_table(&ctx, key, v)?;
            for (k2, v2) in table.iter() {
                let sub: &str = k2.get_ref();
                let full = format!("{key}.{sub}");
                if !apply(&ctx, &mut p, &full, v2)? {
                    let candidates: Vec<&str> = fields_in(Some(key)).map(|f| f.name()).collect();
                    return Err(unknown_key(
                        &ctx,
                        sub,
                        k2.span(),
                        &format!(" in [{key}]"),
                        &candidates,
                    ));
                }
            }
        } else if key.contains('.') || !apply(&ctx, &mut p, key, v)? {
            return Err(unknown_key(&ctx, key, k.span(), "", &top_level()));
        }
    }
    p.check().map_err(|inv| locate(&ctx, root, inv))?;
    Ok(p)
}

fn parse_route(
    ctx: &Ctx<'_>,
    p: &mut Profile,
    value: &Spanned<DeValue<'_>>,
) -> Result<(), ProfileError> {
    let table = expect_table(ctx, ROUTE, value)?;
    for (k, v) in table.iter() {
        let key: &str = k.get_ref();
        match key {
            RULES => {
                let DeValue::Array(items) = v.get_ref() else {
                    return Err(ctx.err(
                        ErrorKind::WrongType,
                        Some("route.rules".into()),
                        v.span(),
                        format!(
                            "route.rules must be an array of tables ([[route.rules]]), found {}",
                            type_name(v.get_ref())
                        ),
                    ));
                };
                for (i, item) in items.iter().enumerate() {
                    let rule = parse_rule(ctx, i, item)?;
                    p.route.rules.push(rule);
                }
            }
            _ => {
                if !apply(ctx, p, &format!("{ROUTE}.{key}"), v)? {
                    let mut candidates: Vec<&str> =
                        fields_in(Some(ROUTE)).map(|f| f.name()).collect();
                    candidates.push(RULES);
                    return Err(unknown_key(
                        ctx,
                        key,
                        k.span(),
                        &format!(" in [{ROUTE}]"),
                        &candidates,
                    ));
                }
            }
        }
    }
    Ok(())
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
