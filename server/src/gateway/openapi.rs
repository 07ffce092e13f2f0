//! The REST API's OpenAPI 3.1 description, generated from the code so it cannot drift.
//!
//! Every handler carries `#[utoipa::path]`: its method and path, its parameters with the
//! limits the handler enforces, its body, and every status it can answer. Each module's
//! router registers its handlers with `routes!`, which adds the route to axum and the
//! operation to the description in one call; [`super::routes`] collects them. The result is
//! served at `/api/openapi.json` and printed by `kefu openapi`; `tests/openapi.rs` checks it
//! against the running server and `scripts/schemathesis.sh` fuzzes the server with it.
//!
//! # Adding a route
//! 1. Above the handler: `#[utoipa::path(post, path = "/things/{id}", tag = "…",
//!    params(("id" = Uuid, Path, description = "…")), request_body = NewThing,
//!    responses((status = 201, body = Thing), AgentErrors, JsonErrors,
//!    (status = 404, description = "…", body = ErrorBody)), security(("bearer" = [])))]`.
//!    The path is relative to where the module's router is nested (`/api/v1` for REST).
//! 2. `#[derive(utoipa::ToSchema)]` on the body and answer types, `utoipa::IntoParams` on
//!    query structs, with `#[schema(…)]`/`#[param(…)]` for the limits the handler checks
//!    (`minimum`, `maximum`, `min_length`, `pattern`, or `schema_with` a constant).
//! 3. In the module's `router()`: `.routes(routes!(handler))` — never `.route(…)`, which
//!    would serve a route the description does not list (`tests/openapi.rs` refuses it).
//! 4. List every status the handler can return: the groups below cover what the
//!    extractors answer (authentication, JSON bodies); add 404/409/429… where the handler
//!    or the domain method it calls returns them.

use std::collections::BTreeMap;

use utoipa::{
    IntoResponses, Modify, OpenApi,
    openapi::{
        self, Content, ContentBuilder, HttpMethod, KnownFormat, Object, ObjectBuilder, Ref, RefOr,
        ResponseBuilder, Schema, SchemaFormat, Type,
        header::HeaderBuilder,
        response::Response,
        security::{Http, HttpAuthScheme, SecurityScheme},
    },
};

use super::error::ErrorBody;
use crate::config::Settings;

/// The document's fixed parts; the operations come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kefu session server",
        description = "REST (JSON) API of kefu. Every error is JSON `{code, message}` \
            (schema `Error`) with the status listed for the operation. Real-time traffic uses \
            the WebSockets `/ws/agent` and `/ws/shopper` with the protobuf contract in \
            `proto/kefu/v1`."
    ),
    modifiers(&BearerToken),
    components(schemas(ErrorBody)),
    tags(
        (name = "account", description = "Agent sign-in"),
        (name = "admin", description = "Agents, groups and canned replies"),
        (name = "conversations", description = "Lists, history, close, rating"),
        (name = "customers", description = "The customer view from the retailer's back office"),
        (name = "actions", description = "Actions in the back office from the chat, and the audit log"),
        (name = "visitor", description = "The shopper's session and widget"),
        (name = "attachments", description = "File upload and download"),
        (name = "bots", description = "Bot accounts and the bot API"),
        (name = "webhooks", description = "The webhook delivery log"),
        (name = "supervisor", description = "The live floor and supervisors' actions (supervisors and admins)"),
        (name = "reports", description = "Service reports from aggregates kept as conversations happen, as JSON and CSV (supervisors and admins)"),
        (name = "desk", description = "Signed builds of the desktop app for Tauri's updater (`[desk_updates]`)"),
        (name = "sockets", description = "WebSocket upgrades (binary protobuf frames)"),
        (name = "ops", description = "Health, readiness, metrics, this description"),
    )
)]
pub struct ApiDoc;

/// The security scheme every protected operation names: `Authorization: Bearer <token>`
/// with an agent (`kfa_…`), shopper (`kfv_…`) or bot (`kfb_…`) token.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, api: &mut openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some(
            "An opaque token: agents get `kfa_…` from `POST /api/v1/auth/login`, shoppers \
             `kfv_…` from `POST /api/v1/visitor/session`, bots `kfb_…` when an admin creates \
             them."
                .into(),
        );
        components
            .security_schemes
            .insert("bearer".into(), SecurityScheme::Http(http));
    }
}

/// The whole description as this server serves it: limits and types that come from the
/// configuration are the configured ones.
pub fn document(settings: &Settings) -> openapi::OpenApi {
    let mut api = super::routes(settings).into_openapi();
    api.openapi = openapi::OpenApiVersion::Version31;
    let history_max = f64::from(settings.limits.history_page_max);
    for path in [
        "/api/v1/conversations/{id}/messages",
        "/api/v1/bot/conversations/{id}/messages",
    ] {
        let get = operation(&mut api, path, HttpMethod::Get);
        let limit = get
            .parameters
            .iter_mut()
            .flatten()
            .find(|p| p.name == "limit");
        if let Some(RefOr::T(Schema::Object(schema))) = limit.and_then(|p| p.schema.as_mut()) {
            schema.maximum = Some(history_max.into());
        }
    }
    // Files are sent as themselves: one media type per allowed type.
    let files = binary_content(&settings.attachments.allowed_types);
    let upload = operation(
        &mut api,
        "/api/v1/conversations/{id}/attachments",
        HttpMethod::Post,
    );
    if let Some(body) = upload.request_body.as_mut() {
        body.content = files.clone().into_iter().collect();
    }
    let download = operation(&mut api, "/api/v1/attachments/{id}", HttpMethod::Get);
    if let Some(RefOr::T(ok)) = download.responses.responses.get_mut("200") {
        ok.content = files.into_iter().collect();
    }
    describe_retry_after(&mut api);
    api
}

/// Every 429 names, when it is known, the seconds to wait in `Retry-After`.
fn describe_retry_after(api: &mut openapi::OpenApi) {
    let header = HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        )
        .description(Some(
            "Seconds until a retry can succeed; absent when the request is more than the \
             quota allows at once",
        ))
        .build();
    for item in api.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            if let Some(RefOr::T(limited)) = op.responses.responses.get_mut("429") {
                limited.headers.insert("Retry-After".into(), header.clone());
            }
        }
    }
}

/// The operation a handler's annotation declared; a missing one is a bug in this file.
fn operation<'a>(
    api: &'a mut openapi::OpenApi,
    path: &str,
    method: HttpMethod,
) -> &'a mut openapi::path::Operation {
    let item = api.paths.paths.get_mut(path);
    let op = item.and_then(|item| match method {
        HttpMethod::Get => item.get.as_mut(),
        HttpMethod::Post => item.post.as_mut(),
        _ => None,
    });
    let name = if matches!(method, HttpMethod::Get) {
        "GET"
    } else {
        "POST"
    };
    op.unwrap_or_else(|| panic!("{name} {path} is not described"))
}

/// Raw bytes of each of `types`.
fn binary_content(types: &[String]) -> Vec<(String, Content)> {
    types
        .iter()
        .map(|t| {
            let bytes = ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
                .build();
            (t.clone(), Content::new(Some(bytes)))
        })
        .collect()
}

/// The description as pretty JSON.
pub fn json(settings: &Settings) -> String {
    document(settings)
        .to_pretty_json()
        .expect("an OpenAPI document always serialises")
}

/// A page-size parameter: an integer from 1 to `max`, `default` when absent.
pub fn limit(max: i64, default: i64) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
        .maximum(Some(max))
        .default(Some(default.into()))
        .build()
}

/// A string that must be one of `values`.
pub fn one_of_strings(values: &[&str]) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

/// One error answer, its body the `Error` schema.
fn error(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Error")))
                .build(),
        )
        .build()
        .into()
}

/// Declares a set of error answers shared by many operations.
macro_rules! error_set {
    ($(#[$doc:meta])* $name:ident { $($status:literal => $description:literal),+ $(,)? }) => {
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                BTreeMap::from([$(($status.to_string(), error($description))),+])
            }
        }
    };
}

error_set! {
    /// What the agent-token extractor answers (`auth::AgentAuth`).
    AgentErrors {
        "401" => "No token, or an unknown, expired or revoked one, or a disabled account: sign in again.",
        "403" => "Not allowed: a shopper or bot token, or the agent's role is too low.",
    }
}

error_set! {
    /// What the shopper-token extractor answers (`auth::VisitorAuth`).
    ShopperErrors {
        "401" => "No token, or an unknown or expired one: start a new visitor session.",
        "403" => "Not allowed: not a shopper token, or the page's origin is not allowed for the site.",
    }
}

error_set! {
    /// What the extractor for agents and shoppers answers (`auth::AnyAuth`).
    CallerErrors {
        "401" => "No token, or an unknown, expired or revoked one.",
        "403" => "Not allowed: a bot token, or the caller may not see or do this.",
    }
}

error_set! {
    /// What the bot-token extractor answers (`auth::BotAuth`).
    BotErrors {
        "401" => "No token, or an unknown one (the bot was deleted).",
        "403" => "Not a bot token (`kfb_…`).",
    }
}

error_set! {
    /// What the JSON body extractor answers (`extract::Json`).
    JsonErrors {
        "400" => "The body is not valid JSON for this operation, or a value is out of range.",
        "413" => "The body is larger than `limits.max_json_bytes`.",
        "415" => "The body is not sent as `Content-Type: application/json`.",
    }
}

error_set! {
    /// What every back-office action answers beyond the token and the body
    /// (`actions::ActionError`); writes add 422 for the back office refusing.
    ActionErrors {
        "403" => "Not allowed: not an agent token, not the conversation's agent, the conversation is closed, no back office is configured, the shopper is not identified, or (returns) the refund is above the agent's limit",
        "404" => "No such conversation or order, or not the agent's",
        "502" => "The back office failed",
    }
}

error_set! {
    /// What path and query extractors answer (`extract::Path`, `extract::Query`): an id
    /// that is no UUID, a parameter of the wrong type or out of range.
    ParamErrors {
        "400" => "A path or query parameter is malformed or out of range.",
    }
}
