//! Following a list lookup over several pages: by page number (`?page=2`), by a cursor the
//! answer carries (`paging.next`), or by the `Link: <…>; rel="next"` header (RFC 8288).

use reqwest::{Url, header::HeaderMap};
use serde_json::Value;

use super::{Paging, PagingStyle, SourceError};

/// The first page's URL: the page (and page-size) parameters set.
pub fn first_page(url: &str, p: &Paging) -> Result<String, SourceError> {
    let mut params = Vec::new();
    if p.style == PagingStyle::Page {
        params.push((p.param.as_str(), p.first.to_string()));
    }
    if p.style != PagingStyle::None && !p.size_param.is_empty() {
        params.push((p.size_param.as_str(), p.size.to_string()));
    }
    with_params(url, &params)
}

/// The URL of the page after `url` (the `page`th, counted from 1), or `None` when this one
/// was the last. `count` is how many records this page held, `next` what the `paging.next`
/// filter made of it, `link` the `Link` header's next URL.
pub fn next_page(
    url: &str,
    p: &Paging,
    page: usize,
    count: usize,
    next: Option<Value>,
    link: Option<String>,
    base_url: &str,
) -> Result<Option<String>, SourceError> {
    match p.style {
        PagingStyle::None => Ok(None),
        PagingStyle::Page => {
            let more = match next {
                Some(flag) => truthy(&flag),
                // Without a filter saying so: a short (or empty) page is the last.
                None => count > 0 && (p.size_param.is_empty() || count as u64 >= p.size),
            };
            if !more {
                return Ok(None);
            }
            let number = p.first + page as u64;
            with_params(url, &[(p.param.as_str(), number.to_string())]).map(Some)
        }
        PagingStyle::Cursor => {
            let cursor = match next {
                Some(Value::String(s)) if !s.is_empty() => s,
                Some(Value::Number(n)) => n.to_string(),
                _ => return Ok(None),
            };
            with_params(url, &[(p.param.as_str(), cursor)]).map(Some)
        }
        PagingStyle::Link => {
            let Some(link) = link else { return Ok(None) };
            let here = Url::parse(url).map_err(|e| SourceError::Transport(e.to_string()))?;
            let next = here.join(&link).map_err(|e| {
                SourceError::Malformed(format!("the Link header's next page `{link}`: {e}"))
            })?;
            let base = Url::parse(base_url).map_err(|e| SourceError::Transport(e.to_string()))?;
            // Credentials go with every request: never to another host.
            if next.origin() != base.origin() {
                return Err(SourceError::Malformed(format!(
                    "the Link header's next page is on another host ({}); not followed",
                    next.origin().ascii_serialization()
                )));
            }
            Ok(Some(next.into()))
        }
    }
}

/// jq's truthiness: everything but `false` and `null`.
fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false))
}

/// `url` with each parameter set (replacing one of the same name).
fn with_params(url: &str, params: &[(&str, String)]) -> Result<String, SourceError> {
    if params.is_empty() {
        return Ok(url.to_string());
    }
    let mut u = Url::parse(url).map_err(|e| SourceError::Transport(e.to_string()))?;
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| params.iter().all(|(name, _)| k != name))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut q = u.query_pairs_mut();
        q.clear();
        for (k, v) in &kept {
            q.append_pair(k, v);
        }
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    Ok(u.into())
}

/// The `rel="next"` target of the `Link` headers, if any (RFC 8288: `<URI>; rel="next"`,
/// several links per header separated by commas, `rel` a space-separated list).
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(split_links)
        .find_map(|(target, params)| {
            let is_next = params.split(';').any(|param| {
                let Some((name, value)) = param.split_once('=') else {
                    return false;
                };
                name.trim().eq_ignore_ascii_case("rel")
                    && value
                        .trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|rel| rel.eq_ignore_ascii_case("next"))
            });
            is_next.then(|| target.to_string())
        })
}

/// `<a>; rel="next", <b>; rel="prev"` → `[("a", "; rel=\"next\""), ("b", …)]`; commas inside
/// `<…>` do not split.
fn split_links(header: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let target = &rest[open + 1..open + close];
        let after = &rest[open + close + 1..];
        let end = after
            .find(",")
            .filter(|i| !after[..*i].contains('<'))
            .unwrap_or(after.len());
        let params = &after[..end];
        out.push((target, params));
        rest = &after[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, LINK};

    fn paging(style: PagingStyle) -> Paging {
        Paging {
            style,
            size_param: "per_page".into(),
            size: 2,
            ..Paging::default()
        }
    }

    #[test]
    fn link_headers_are_read_per_rfc_8288() {
        let mut h = HeaderMap::new();
        h.append(
            LINK,
            HeaderValue::from_static(
                r#"<https://s.example/wp-json/wc/v3/orders?page=1>; rel="prev", <https://s.example/wp-json/wc/v3/orders?page=3&a=1,2>; rel="next""#,
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://s.example/wp-json/wc/v3/orders?page=3&a=1,2")
        );
        let mut h = HeaderMap::new();
        h.append(
            LINK,
            HeaderValue::from_static(r#"</api/x?c=9>; rel="last next""#),
        );
        assert_eq!(next_link(&h).as_deref(), Some("/api/x?c=9"));
        h.clear();
        h.append(LINK, HeaderValue::from_static(r#"</a>; rel="prev""#));
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn pages_by_number_stop_at_a_short_page() {
        let p = paging(PagingStyle::Page);
        let first = first_page("http://b/orders?status=any", &p).unwrap();
        assert_eq!(first, "http://b/orders?status=any&page=1&per_page=2");
        let base = "http://b";
        let next = next_page(&first, &p, 1, 2, None, None, base).unwrap();
        assert_eq!(
            next.as_deref(),
            Some("http://b/orders?status=any&per_page=2&page=2")
        );
        assert_eq!(next_page(&first, &p, 1, 1, None, None, base).unwrap(), None);
        let said = next_page(&first, &p, 1, 2, Some(Value::Bool(false)), None, base).unwrap();
        assert_eq!(said, None, "the next filter's answer wins");
    }

    #[test]
    fn cursors_and_links_continue_until_absent_and_stay_on_the_host() {
        let mut p = paging(PagingStyle::Cursor);
        p.param = "cursor".into();
        let u = "http://b/o";
        let next = next_page(u, &p, 1, 2, Some(Value::from("c2")), None, "http://b").unwrap();
        assert_eq!(next.as_deref(), Some("http://b/o?cursor=c2"));
        assert_eq!(
            next_page(u, &p, 1, 2, Some(Value::Null), None, "http://b").unwrap(),
            None
        );
        let p = paging(PagingStyle::Link);
        let next = next_page(u, &p, 1, 2, None, Some("/o?page=2".into()), "http://b").unwrap();
        assert_eq!(next.as_deref(), Some("http://b/o?page=2"));
        let elsewhere = next_page(
            u,
            &p,
            1,
            2,
            None,
            Some("http://evil.example/o".into()),
            "http://b",
        );
        assert!(matches!(elsewhere, Err(SourceError::Malformed(_))));
    }
}
