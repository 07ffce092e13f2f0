//! Signed builds of the agent desktop app for the desks signed in here: the two endpoints
//! Tauri's updater (tauri-plugin-updater 2.x) calls, with the agent's bearer token on both.
//!
//! - `GET /desk/update/{target}/{arch}/{current_version}`: Tauri's "dynamic update server"
//!   answer: 204 when nothing newer is published for `{target}-{arch}` (or, with
//!   `?bundle_type=deb`, `{target}-{arch}-deb` first), else 200 with the version, notes,
//!   date, signature and an absolute URL of the bundle.
//! - `GET /desk/update/files/{name}`: a bundle's bytes.
//!
//! What is published is `latest.json` in `[desk_updates] dir`, in Tauri's *static* update
//! format, next to the bundles it names (`docs/desktop-updates.md`). It is read on every
//! request (a few hundred bytes), so the retailer's IT publishes a release by copying files
//! in, without restarting kefu.
//!
//! Kefu only relays: the desk checks the bundle's signature against the public key it was
//! built with and installs nothing that fails. Still, the file endpoint serves only the
//! bundles latest.json names, each a regular file directly in the folder, so a `.sig`, a
//! note or a private key copied there by mistake is never handed out; `latest.json`
//! itself is not served either (the check endpoint is its only reader).

use std::{
    collections::BTreeMap,
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    path::{Path as FsPath, PathBuf},
};

use axum::{
    body::Body,
    extract::{ConnectInfo, FromRequestParts, State},
    http::{HeaderMap, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use semver::Version;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    AppState,
    auth::AgentAuth,
    error::{ApiError, ErrorBody},
    extract::{Json, Path, Query},
    openapi::{AgentErrors, ParamErrors},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(check_for_update))
        .routes(routes!(download_bundle))
}

/// The manifest's name in the folder.
const LATEST: &str = "latest.json";

/// A latest.json larger than this is refused rather than read on every check: it lists a
/// handful of platforms and is a few kilobytes at most.
const LATEST_MAX_BYTES: u64 = 1024 * 1024;

/// Bytes read from a bundle per chunk of the response body.
const CHUNK_BYTES: usize = 64 * 1024;

const NOT_CONFIGURED: &str = "desktop updates are not configured: set [desk_updates] dir";

/// The one answer for every file that is not served, whatever the reason, so the folder's
/// contents cannot be probed.
const NO_SUCH_FILE: &str = "no such desktop update file";

/// Path of `GET /desk/update/{target}/{arch}/{current_version}`: the values Tauri's updater
/// puts into its endpoint's `{{target}}`, `{{arch}}` and `{{current_version}}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct CheckPath {
    /// The desk's operating system: `linux`, `windows` or `darwin`.
    target: String,
    /// The desk's processor: `x86_64`, `aarch64`, `i686` or `armv7`.
    arch: String,
    /// The version the desk runs (semver, e.g. `0.1.0`). The pattern is semver as Tauri
    /// sends it and the `semver` crate reads it (a `v` before it is accepted, numbers have
    /// no leading zeros); anything else is answered 400.
    #[param(
        pattern = r"^v?(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
    )]
    current_version: String,
}

/// Query of `GET /desk/update/{target}/{arch}/{current_version}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CheckQuery {
    /// How the desk was installed, Tauri's `{{bundle_type}}` (updater 2.10 and later):
    /// `deb`, `rpm`, `appimage`, `msi`, `nsis` or `app`. The build listed under
    /// `{target}-{arch}-{bundle_type}` is offered if there is one, else the one under
    /// `{target}-{arch}`, as Tauri looks them up in a static latest.json.
    bundle_type: Option<String>,
}

/// An update Tauri's updater may install: its "dynamic update server" format.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeskUpdate)]
struct Offer {
    /// The version offered (semver).
    version: String,
    /// Release notes, shown to the agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<String>,
    /// When the release was published (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub_date: Option<String>,
    /// Where to download the bundle: an absolute URL, on this server
    /// (`…/api/v1/desk/update/files/{name}`, with the same token) or elsewhere over https.
    url: String,
    /// The bundle's minisign signature (the contents of its `.sig` file); the desk refuses a
    /// bundle it does not verify with the public key it was built with.
    signature: String,
}

/// Whether a newer desktop app is published for the desk's platform (Tauri's updater).
///
/// Answers from `latest.json` in `[desk_updates] dir`, read on each request: 204 when it
/// lists no build for `{target}-{arch}[-{bundle_type}]` or its version is not newer than
/// `current_version`, else the update. Any signed-in agent may ask.
#[utoipa::path(get, path = "/desk/update/{target}/{arch}/{current_version}", tag = "desk",
    params(CheckPath, CheckQuery),
    responses(
        (status = 200, description = "A newer version for this platform", body = Offer),
        (status = 204, description = "Nothing newer for this platform"),
        AgentErrors, ParamErrors,
        (status = 404, description = "Desktop updates are not configured (`[desk_updates] dir`)", body = ErrorBody),
        (status = 503, description = "latest.json cannot be read or is malformed, or names a bundle that is not in the folder; the message says what to fix", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn check_for_update(
    State(state): State<AppState>,
    _agent: AgentAuth,
    base: PublicBase,
    Path(path): Path<CheckPath>,
    Query(query): Query<CheckQuery>,
) -> Result<Response, UpdateError> {
    let dir = state
        .settings
        .desk_updates
        .dir()
        .ok_or_else(|| ApiError::NotFound(NOT_CONFIGURED.into()))?;
    let current = parse_version(&path.current_version).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "current_version `{}` is not a semantic version such as 0.1.0",
            path.current_version
        ))
    })?;
    let release = load(dir).await.map_err(|e| UpdateError::unusable(dir, e))?;
    let platform = format!("{}-{}", path.target, path.arch);
    let installed = query.bundle_type.map(|b| format!("{platform}-{b}"));
    let offered = release.as_ref().and_then(|r| {
        let (key, build) = r.build(installed.as_deref(), &platform)?;
        (r.version > current).then_some((r, key, build))
    });
    let Some((release, key, build)) = offered else {
        metrics::counter!("kefu_desk_update_checks_total", "result" => "none").increment(1);
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let url = match &build.location {
        Location::Url(url) => url.clone(),
        Location::File(name) => {
            if bundle_path(dir, name).await.is_none() {
                let missing = ManifestError::MissingFile {
                    key: key.to_string(),
                    name: name.clone(),
                };
                return Err(UpdateError::unusable(dir, missing));
            }
            let base = base.0.ok_or_else(|| {
                ApiError::BadRequest("send a Host header: the bundle's URL is built from it".into())
            })?;
            format!(
                "{base}/api/v1/desk/update/files/{}",
                crate::util::percent_encode(name)
            )
        }
    };
    metrics::counter!("kefu_desk_update_checks_total", "result" => "offered").increment(1);
    tracing::debug!(platform = key, from = %current, to = %release.version, "desk update offered");
    Ok(Json(Offer {
        version: release.version.to_string(),
        notes: release.notes.clone(),
        pub_date: release.pub_date.clone(),
        url,
        signature: build.signature.clone(),
    })
    .into_response())
}

/// Downloads a desktop bundle that `latest.json` names (Tauri's updater, after a check).
#[utoipa::path(get, path = "/desk/update/files/{name}", tag = "desk",
    params(("name" = String, Path, description = "The bundle's file name, as latest.json gives it")),
    responses(
        (status = 200, description = "The bundle's bytes", content_type = "application/octet-stream", body = String),
        AgentErrors, ParamErrors,
        (status = 404, description = "Desktop updates are not configured, or latest.json names no such bundle in the folder", body = ErrorBody),
        (status = 503, description = "latest.json cannot be read or is malformed; the message says what to fix", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn download_bundle(
    State(state): State<AppState>,
    _agent: AgentAuth,
    Path(name): Path<String>,
) -> Result<Response, UpdateError> {
    let dir = state
        .settings
        .desk_updates
        .dir()
        .ok_or_else(|| ApiError::NotFound(NOT_CONFIGURED.into()))?;
    let not_found = || UpdateError::Api(ApiError::NotFound(NO_SUCH_FILE.into()));
    if !is_plain_name(&name) {
        return Err(not_found());
    }
    let release = load(dir).await.map_err(|e| UpdateError::unusable(dir, e))?;
    if !release.is_some_and(|r| r.names_file(&name)) {
        return Err(not_found());
    }
    let path = bundle_path(dir, &name).await.ok_or_else(not_found)?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| not_found())?;
    // The length of the file opened, not of whatever the name points at by now.
    let len = file.metadata().await.map_err(|_| not_found())?.len();
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
            (header::CACHE_CONTROL, "private, no-cache".to_string()),
        ],
        file_body(file),
    )
        .into_response())
}

/// The file's bytes as a body, read a chunk at a time: bundles are tens of megabytes and
/// every desk of a shop may fetch one in the same minute.
fn file_body(file: tokio::fs::File) -> Body {
    let chunks = futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buf = bytes::BytesMut::with_capacity(CHUNK_BYTES);
        Ok::<_, std::io::Error>(match file.read_buf(&mut buf).await? {
            0 => None,
            _ => Some((buf.freeze(), file)),
        })
    });
    Body::from_stream(chunks)
}

/// A handler's failure: an [`ApiError`], or an unusable latest.json (503).
#[derive(Debug, thiserror::Error)]
enum UpdateError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// 503 `unavailable`: latest.json cannot be read or is malformed. Logged, and told to
    /// the desk too (it is signed in staff, and the message says what the admin must fix).
    #[error("desk_updates/{LATEST}: {0}")]
    Unusable(ManifestError),
}

impl UpdateError {
    fn unusable(dir: &FsPath, e: ManifestError) -> Self {
        tracing::error!(dir = %dir.display(), error = %e, "desk updates: {LATEST} is unusable");
        UpdateError::Unusable(e)
    }
}

impl IntoResponse for UpdateError {
    fn into_response(self) -> Response {
        match self {
            UpdateError::Api(e) => e.into_response(),
            unusable @ UpdateError::Unusable(_) => {
                let body = ErrorBody {
                    code: "unavailable",
                    message: unusable.to_string(),
                };
                (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
            }
        }
    }
}

/// What is wrong with latest.json, worded for the admin who wrote it.
#[derive(Debug, thiserror::Error)]
enum ManifestError {
    #[error("cannot read it: {0}")]
    Read(#[source] std::io::Error),
    #[error("is larger than {LATEST_MAX_BYTES} bytes; it should list a few platforms")]
    TooLarge,
    /// serde_json says what was expected, and the line and column.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("`version`: expected a semantic version such as 0.2.0, got `{0}`")]
    Version(String),
    #[error("`pub_date`: expected an RFC 3339 time such as 2026-05-01T12:00:00Z, got `{0}`")]
    PubDate(String),
    #[error(
        "`platforms.{key}.url`: expected a file name in the desk_updates folder or an \
         https:// URL, got `{url}`"
    )]
    Url { key: String, url: String },
    #[error("`platforms.{0}.signature` is empty: paste the contents of the bundle's .sig file")]
    Signature(String),
    #[error(
        "`platforms.{key}.url` names `{name}`, which is not a file in the desk_updates folder: \
         copy the bundle in before latest.json"
    )]
    MissingFile { key: String, name: String },
}

/// latest.json as the retailer writes it (Tauri's static update format). Keys it does not
/// list are ignored, as Tauri itself ignores them.
#[derive(Deserialize)]
struct Manifest {
    version: String,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    pub_date: Option<String>,
    platforms: BTreeMap<String, ManifestPlatform>,
}

#[derive(Deserialize)]
struct ManifestPlatform {
    signature: String,
    url: String,
}

/// A checked latest.json.
#[derive(Debug)]
struct Release {
    version: Version,
    notes: Option<String>,
    pub_date: Option<String>,
    /// By Tauri's platform key, `{os}-{arch}` (`linux-x86_64`).
    builds: BTreeMap<String, Build>,
}

#[derive(Debug)]
struct Build {
    signature: String,
    location: Location,
}

/// Where a build is downloaded from.
#[derive(Debug, PartialEq, Eq)]
enum Location {
    /// A file in the folder, served by kefu.
    File(String),
    /// An https URL elsewhere, passed on as it is.
    Url(String),
}

impl Release {
    /// Reads latest.json's text, checking every platform (as Tauri does with a static file),
    /// so a mistake is reported whichever desk asks first.
    fn parse(text: &[u8]) -> Result<Self, ManifestError> {
        let m: Manifest = serde_json::from_slice(text)?;
        let version = parse_version(&m.version).ok_or(ManifestError::Version(m.version))?;
        if let Some(date) = &m.pub_date
            && !is_rfc3339(date)
        {
            return Err(ManifestError::PubDate(date.clone()));
        }
        let mut builds = BTreeMap::new();
        for (key, p) in m.platforms {
            if p.signature.trim().is_empty() {
                return Err(ManifestError::Signature(key));
            }
            let Some(location) = location(&p.url) else {
                return Err(ManifestError::Url { key, url: p.url });
            };
            let build = Build {
                signature: p.signature,
                location,
            };
            builds.insert(key, build);
        }
        Ok(Release {
            version,
            notes: m.notes,
            pub_date: m.pub_date,
            builds,
        })
    }

    /// The build for a desk installed as `installed` (`linux-x86_64-deb`), if listed, else
    /// the one for its `platform` (`linux-x86_64`), with the key it is listed under: the
    /// order Tauri's updater looks them up in.
    fn build<'a>(
        &'a self,
        installed: Option<&'a str>,
        platform: &'a str,
    ) -> Option<(&'a str, &'a Build)> {
        installed
            .into_iter()
            .chain([platform])
            .find_map(|key| Some((key, self.builds.get(key)?)))
    }

    /// Whether some platform's build is the file `name` in the folder.
    fn names_file(&self, name: &str) -> bool {
        self.builds
            .values()
            .any(|b| matches!(&b.location, Location::File(f) if f == name))
    }
}

/// Reads and checks latest.json in `dir`; `None` while there is none (nothing published
/// yet: the desks are told there is no update).
async fn load(dir: &FsPath) -> Result<Option<Release>, ManifestError> {
    let file = match tokio::fs::File::open(dir.join(LATEST)).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ManifestError::Read(e)),
    };
    let mut text = Vec::new();
    file.take(LATEST_MAX_BYTES + 1)
        .read_to_end(&mut text)
        .await
        .map_err(ManifestError::Read)?;
    if text.len() as u64 > LATEST_MAX_BYTES {
        return Err(ManifestError::TooLarge);
    }
    Release::parse(&text).map(Some)
}

/// A semantic version, with or without a leading `v` (Tauri accepts both).
fn parse_version(text: &str) -> Option<Version> {
    Version::parse(text.strip_prefix('v').unwrap_or(text)).ok()
}

/// A build's `url`: a plain file name in the folder, or an absolute https URL.
fn location(url: &str) -> Option<Location> {
    if url.starts_with("https://") {
        let uri = url.parse::<axum::http::Uri>().ok()?;
        let host = uri.authority()?.host();
        return (!host.is_empty()).then(|| Location::Url(url.to_string()));
    }
    is_plain_name(url).then(|| Location::File(url.to_string()))
}

/// A file name that can only mean a file directly in the folder: no separators, no
/// parent, not hidden, no drive or scheme (`:`), nothing unprintable.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name
            .chars()
            .any(|c| matches!(c, '/' | '\\' | ':') || c.is_control())
}

/// The bundle `name` in `dir`, if it resolves to a regular file directly in the folder: a
/// symbolic link may point to another file of the folder, never out of it.
async fn bundle_path(dir: &FsPath, name: &str) -> Option<PathBuf> {
    if !is_plain_name(name) {
        return None;
    }
    let dir = tokio::fs::canonicalize(dir).await.ok()?;
    let path = tokio::fs::canonicalize(dir.join(name)).await.ok()?;
    let inside = path.parent() == Some(dir.as_path());
    (inside && tokio::fs::metadata(&path).await.ok()?.is_file()).then_some(path)
}

/// Whether `text` is an RFC 3339 time (`2026-05-01T12:00:00Z`, `…12:00:00.5+08:00`), the
/// form Tauri's updater parses `pub_date` in: a malformed one would fail every desk's check.
fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |from: usize, to: usize| {
        b.get(from..to)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    // Only called once `digits` has vouched for the range.
    let number = |from: usize, to: usize| text[from..to].parse::<u32>().unwrap_or(u32::MAX);
    let shape = digits(0, 4)
        && b.get(4) == Some(&b'-')
        && digits(5, 7)
        && b.get(7) == Some(&b'-')
        && digits(8, 10)
        && matches!(b.get(10), Some(b'T' | b't'))
        && digits(11, 13)
        && b.get(13) == Some(&b':')
        && digits(14, 16)
        && b.get(16) == Some(&b':')
        && digits(17, 19);
    if !shape
        || !(1..=12).contains(&number(5, 7))
        || !(1..=31).contains(&number(8, 10))
        || number(11, 13) > 23
        || number(14, 16) > 59
        || number(17, 19) > 60
    {
        return false;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            let offset = [h1, h2, m1, m2];
            offset.iter().all(|d| d.is_ascii_digit())
                && rest[1..3].parse::<u32>().is_ok_and(|h| h <= 23)
                && rest[4..6].parse::<u32>().is_ok_and(|m| m <= 59)
        }
        _ => false,
    }
}

/// Scheme and host the desk reached kefu at (`https://kefu.shop.example`), for the absolute
/// bundle URL Tauri needs; `None` without a usable `Host`.
///
/// kefu has no setting for its public address, so the URL is the one the request used: its
/// `Host`, and `https` when kefu terminates TLS itself (`[server.tls]`). Behind a proxy,
/// `X-Forwarded-Proto` and `X-Forwarded-Host` count only from the addresses in
/// `[limits.ip] trusted_proxies`, the same proxies whose `X-Forwarded-For` is believed.
struct PublicBase(Option<String>);

impl FromRequestParts<AppState> for PublicBase {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let trusted = peer.is_some_and(|ip| {
            let ip = match ip {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
                v4 => v4,
            };
            state.settings.limits.ip.trusted_proxies.contains(&ip)
        });
        let tls = state.settings.server.tls.enabled();
        Ok(PublicBase(public_base(&parts.headers, trusted, tls)))
    }
}

fn public_base(headers: &HeaderMap, from_trusted_proxy: bool, tls: bool) -> Option<String> {
    // The first value of a header a chain of proxies may have appended to.
    let first = |name: &str| {
        let value = headers.get(name)?.to_str().ok()?;
        Some(value.split(',').next()?.trim().to_string())
    };
    let forwarded = |name| from_trusted_proxy.then(|| first(name)).flatten();
    let scheme = match forwarded("x-forwarded-proto").map(|p| p.to_ascii_lowercase()) {
        Some(p) if p == "https" || p == "http" => p,
        _ if tls => "https".into(),
        _ => "http".into(),
    };
    let host = forwarded("x-forwarded-host").or_else(|| first(header::HOST.as_str()))?;
    let authority = host.parse::<axum::http::uri::Authority>().ok()?;
    // A user part (`user@host`) has no business in a Host header.
    (!authority.as_str().contains('@')).then(|| format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "dW50cnVzdGVkIGNvbW1lbnQ6IHNpZ25hdHVyZQ==";

    fn release(json: serde_json::Value) -> Result<Release, ManifestError> {
        Release::parse(json.to_string().as_bytes())
    }

    #[test]
    fn versions_compare_as_semver_and_builds_are_found_as_tauri_finds_them() {
        let r = release(serde_json::json!({
            "version": "v0.2.0",
            "platforms": {
                "linux-x86_64": {"signature": SIG, "url": "Kefu_0.2.0_amd64.AppImage"},
                "linux-x86_64-rpm": {"signature": SIG, "url": "Kefu-0.2.0-1.x86_64.rpm"},
            },
        }))
        .unwrap();
        assert_eq!(
            r.build(Some("linux-x86_64-rpm"), "linux-x86_64").unwrap().0,
            "linux-x86_64-rpm",
            "the build for how the desk was installed comes first"
        );
        let v = |s: &str| Version::parse(s).unwrap();
        assert!(r.version > v("0.1.9"), "older desk");
        assert!(
            r.version > v("0.2.0-beta.1"),
            "a pre-release is older than its release"
        );
        assert!(r.version <= v("0.2.0") && r.version < v("0.3.0"));
        assert_eq!(
            r.build(Some("linux-x86_64-deb"), "linux-x86_64").unwrap().0,
            "linux-x86_64",
            "no build for .deb installs: the platform's"
        );
        assert!(
            r.build(None, "windows-x86_64").is_none(),
            "platform not listed"
        );
        assert!(r.names_file("Kefu_0.2.0_amd64.AppImage"));
        assert!(!r.names_file(LATEST), "latest.json is not a bundle");
    }

    #[test]
    fn mistakes_in_latest_json_name_the_key() {
        let bad = |json: serde_json::Value| release(json).unwrap_err().to_string();
        let platform =
            |url: &str| serde_json::json!({"linux-x86_64": {"signature": SIG, "url": url}});
        let e = bad(serde_json::json!({"version": "0.2", "platforms": {}}));
        assert!(e.starts_with("`version`") && e.contains("`0.2`"), "{e}");
        let e =
            bad(serde_json::json!({"version": "0.2.0", "pub_date": "yesterday", "platforms": {}}));
        assert!(e.starts_with("`pub_date`"), "{e}");
        for url in [
            "../etc/passwd",
            "http://cdn.example/k.AppImage",
            ".hidden",
            "a/b",
            "",
        ] {
            let e = bad(serde_json::json!({"version": "0.2.0", "platforms": platform(url)}));
            assert!(e.starts_with("`platforms.linux-x86_64.url`"), "{url}: {e}");
        }
        let e = bad(serde_json::json!({"version": "0.2.0",
            "platforms": {"darwin-aarch64": {"signature": " ", "url": "k.tar.gz"}}}));
        assert!(e.starts_with("`platforms.darwin-aarch64.signature`"), "{e}");
        let e = Release::parse(
            b"{\"version\": \"0.2.0\",\n \"platforms\": {\"linux-x86_64\": {\"url\": \"k\"}}}",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("missing field `signature`") && e.contains("line 2"),
            "{e}"
        );
        let ok = release(serde_json::json!({"version": "0.2.0",
            "platforms": platform("https://cdn.example/k.AppImage")}))
        .unwrap();
        assert_eq!(
            ok.builds["linux-x86_64"].location,
            Location::Url("https://cdn.example/k.AppImage".into())
        );
    }

    #[test]
    fn rfc3339_times_are_told_from_others() {
        for good in [
            "2026-05-01T12:00:00Z",
            "2026-05-01t12:00:00.123456z",
            "2020-06-22T19:25:57+08:00",
            "2020-06-22T19:25:57.5-05:30",
        ] {
            assert!(is_rfc3339(good), "{good}");
        }
        for bad in [
            "",
            "2026-05-01",
            "2026-05-01 12:00:00Z",
            "2026-13-01T12:00:00Z",
            "2026-05-01T24:00:00Z",
            "2026-05-01T12:00:00",
            "2026-05-01T12:00:00.Z",
            "2026-05-01T12:00:00+0800",
            "２026-05-01T12:00:00Z",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }

    #[test]
    fn only_plain_names_are_files_of_the_folder() {
        for good in [
            "Kefu_0.2.0_amd64.AppImage",
            "Kefu Desk_0.2.0_x64-setup.exe",
            "发布.msi",
        ] {
            assert!(is_plain_name(good), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../latest.json",
            ".hidden",
            "a/b",
            "a\\b",
            "C:x",
            "/etc/passwd",
            "a\nb",
        ] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_public_base_believes_forwarded_headers_only_from_a_trusted_proxy() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "kefu.shop.example:8443".parse().unwrap());
        assert_eq!(
            public_base(&h, false, true).unwrap(),
            "https://kefu.shop.example:8443"
        );
        assert_eq!(
            public_base(&h, false, false).unwrap(),
            "http://kefu.shop.example:8443"
        );
        h.insert("x-forwarded-proto", "https, http".parse().unwrap());
        h.insert("x-forwarded-host", "kefu.shop.example".parse().unwrap());
        assert_eq!(
            public_base(&h, false, false).unwrap(),
            "http://kefu.shop.example:8443",
            "anyone may send these headers: not believed"
        );
        assert_eq!(
            public_base(&h, true, false).unwrap(),
            "https://kefu.shop.example",
            "the proxy's view: the first hop"
        );
        let mut evil = HeaderMap::new();
        evil.insert(header::HOST, "user@evil.example".parse().unwrap());
        assert_eq!(public_base(&evil, false, false), None);
        assert_eq!(
            public_base(&HeaderMap::new(), false, false),
            None,
            "no Host"
        );
    }
}
