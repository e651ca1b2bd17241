//! A tower layer that opens a context for each HTTP request (works with axum).
//!
//! [`ContextLayer`] wraps a service so that every request whose method it tracks runs
//! inside an ambient context ([`ambient_scope_async`]) whose metadata is
//!
//! ```json
//! {"method": "POST", "path": "/posts/7", "request_id": "…", "user": …}
//! ```
//!
//! plus any fields added with [`ContextLayer::field`]. A connection checked out of a pool
//! set up with this crate's checkout hook (for example `pool::deadpool`) while the request
//! is handled carries that context, so every event the request writes records who made the
//! change and in which request.
//!
//! - **method**: the request method, e.g. `"PATCH"`.
//! - **path**: the URI path, without the query string (which may hold secrets).
//! - **request_id**: the request's `x-request-id` header when it is present, visible ASCII
//!   and at most [`MAX_REQUEST_ID_LEN`] bytes long; otherwise a new UUID, which is also set
//!   as the request's `x-request-id` header. Either way the id is available to handlers as
//!   the [`RequestId`] extension and is returned in the response's `x-request-id` header
//!   (unless the handler set that header itself). This applies to every request, tracked
//!   or not.
//! - **user**: what the function given to [`ContextLayer::user`] returns for the request's
//!   [`Parts`] (headers, URI, extensions set by earlier layers such as authentication), or
//!   `null`.
//!
//! # Which methods are tracked
//!
//! By default `POST`, `PUT`, `PATCH` and `DELETE`: [`DEFAULT_METHODS`]. django-pghistory's
//! middleware also tracks `GET`; here every attach of a context writes a row to
//! `pghistory_context`, so wrapping reads would add a row per page view that no event ever
//! references. A request whose method is not tracked runs with no ambient context at all
//! (a pool checkout then clears any context left on the connection). Choose the list with
//! [`ContextLayer::methods`].
//!
//! # Errors
//!
//! The metadata is always a JSON object built from JSON values, so opening the context
//! cannot fail on bad metadata. Should [`ambient_scope_async`] still return an error, the
//! request is not handled: the layer answers `500 Internal Server Error` with an empty
//! (`Default`) body rather than running the handler without its context, and never panics.
//!
//! # Requirements
//!
//! The inner service's response future must be `Send + 'static` and its response body
//! `Default` (for the error response above); axum's `Router` and handlers satisfy both. The
//! layer boxes the inner future once per request.
//!
//! # Scope
//!
//! The context covers the polling of the inner service's response future, which is where
//! axum runs handlers. Work the inner service does synchronously in `call`, or hands to
//! another task with `tokio::spawn`, runs outside it: task-locals do not follow a spawn.
//!
//! # Example
//!
//! ```
//! use http::{Request, Response};
//! use pghistory_diesel::tower::{ContextLayer, RequestId};
//! use tower_layer::Layer;
//!
//! // With axum: `Router::new().route(...).layer(layer)`.
//! let layer = ContextLayer::new()
//!     .user(|parts: &http::request::Parts| {
//!         let user = parts.headers.get("x-user")?.to_str().ok()?;
//!         Some(serde_json::json!(user))
//!     })
//!     .field("service", "blog");
//!
//! # #[derive(Clone)]
//! # struct Handler;
//! # impl tower_service::Service<Request<String>> for Handler {
//! #     type Response = Response<String>;
//! #     type Error = std::convert::Infallible;
//! #     type Future = std::future::Ready<Result<Response<String>, Self::Error>>;
//! #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
//! #         std::task::Poll::Ready(Ok(()))
//! #     }
//! #     fn call(&mut self, req: Request<String>) -> Self::Future {
//! #         let id = req.extensions().get::<RequestId>().unwrap().as_str().to_owned();
//! #         std::future::ready(Ok(Response::new(id)))
//! #     }
//! # }
//! let service = layer.layer(Handler);
//! # let _ = service;
//! ```
//!
//! The repository's `examples/axum-app` is a complete axum app using this layer with a
//! deadpool pool, tested over real HTTP.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value};
use tower_layer::Layer;
use tower_service::Service;

use crate::context::ambient_scope_async;

/// The header the request id is read from and written to.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest incoming `x-request-id` that is kept; a longer one is replaced by a new id,
/// so a client cannot make every context row arbitrarily large.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The methods tracked unless [`ContextLayer::methods`] says otherwise: the writes.
pub const DEFAULT_METHODS: [Method; 4] = [Method::POST, Method::PUT, Method::PATCH, Method::DELETE];

/// The id of the current request, as recorded in the context's `request_id`; inserted
/// into the request's extensions by [`ContextService`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The user function of a layer without one: every request's `user` is `null`.
pub type NoUser = fn(&Parts) -> Option<Value>;

fn no_user(_: &Parts) -> Option<Value> {
    None
}

/// A tower [`Layer`] opening an ambient context per HTTP request; see the
/// [module docs](self).
///
/// `F` is the function that finds the request's user:
/// `Fn(&http::request::Parts) -> Option<serde_json::Value>`.
#[derive(Clone)]
pub struct ContextLayer<F = NoUser> {
    methods: Vec<Method>,
    fields: Map<String, Value>,
    user: F,
}

impl ContextLayer {
    /// A layer tracking [`DEFAULT_METHODS`], with no user function and no extra fields.
    pub fn new() -> Self {
        ContextLayer {
            methods: DEFAULT_METHODS.to_vec(),
            fields: Map::new(),
            user: no_user,
        }
    }
}

impl Default for ContextLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<F> std::fmt::Debug for ContextLayer<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextLayer")
            .field("methods", &self.methods)
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

impl<F> ContextLayer<F> {
    /// Sets the function that finds the request's user, recorded as `user` (`null` when it
    /// returns `None`). It sees the request's headers, URI and extensions, so it can read a
    /// header or what an authentication layer placed in the extensions.
    pub fn user<G>(self, user: G) -> ContextLayer<G>
    where
        G: Fn(&Parts) -> Option<Value>,
    {
        ContextLayer {
            methods: self.methods,
            fields: self.fields,
            user,
        }
    }

    /// Sets the methods whose requests run in a context, replacing [`DEFAULT_METHODS`].
    pub fn methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        self.methods = methods.into_iter().collect();
        self
    }

    /// Adds a fixed field to every request's metadata (e.g. the service's name). The
    /// built-in keys `method`, `path`, `request_id` and `user` are written after these
    /// fields and win over a field of the same name.
    pub fn field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.fields.insert(name.into(), value.into());
        self
    }
}

impl<S, F: Clone> Layer<S> for ContextLayer<F> {
    type Service = ContextService<S, F>;

    fn layer(&self, inner: S) -> Self::Service {
        ContextService {
            inner,
            shared: Arc::new(Shared {
                methods: self.methods.clone(),
                fields: self.fields.clone(),
                user: self.user.clone(),
            }),
        }
    }
}

struct Shared<F> {
    methods: Vec<Method>,
    fields: Map<String, Value>,
    user: F,
}

/// The service [`ContextLayer`] wraps around an inner service: it runs each tracked
/// request's response future inside an ambient context.
pub struct ContextService<S, F = NoUser> {
    inner: S,
    shared: Arc<Shared<F>>,
}

impl<S: Clone, F> Clone for ContextService<S, F> {
    fn clone(&self) -> Self {
        ContextService {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: std::fmt::Debug, F> std::fmt::Debug for ContextService<S, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextService")
            .field("inner", &self.inner)
            .field("methods", &self.shared.methods)
            .field("fields", &self.shared.fields)
            .finish_non_exhaustive()
    }
}

/// The response future of [`ContextService`].
pub type ResponseFuture<B, E> = Pin<Box<dyn Future<Output = Result<Response<B>, E>> + Send>>;

impl<S, F, ReqBody, ResBody> Service<Request<ReqBody>> for ContextService<S, F>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    F: Fn(&Parts) -> Option<Value>,
    ResBody: Default + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        let (request_id, header) = request_id(&parts);
        parts.headers.insert(REQUEST_ID_HEADER, header.clone());
        let metadata = self
            .shared
            .methods
            .contains(&parts.method)
            .then(|| self.shared.metadata(&parts, &request_id));
        parts.extensions.insert(RequestId(request_id));
        let future = self.inner.call(Request::from_parts(parts, body));
        Box::pin(async move {
            let result = match metadata {
                None => future.await,
                Some(metadata) => {
                    match ambient_scope_async(Value::Object(metadata), future).await {
                        Ok(result) => result,
                        Err(_) => return Ok(internal_error()),
                    }
                }
            };
            result.map(|mut response| {
                response
                    .headers_mut()
                    .entry(REQUEST_ID_HEADER)
                    .or_insert(header);
                response
            })
        })
    }
}

impl<F: Fn(&Parts) -> Option<Value>> Shared<F> {
    fn metadata(&self, parts: &Parts, request_id: &str) -> Map<String, Value> {
        let mut metadata = self.fields.clone();
        metadata.insert("method".to_owned(), Value::from(parts.method.as_str()));
        metadata.insert("path".to_owned(), Value::from(parts.uri.path()));
        metadata.insert("request_id".to_owned(), Value::from(request_id));
        metadata.insert("user".to_owned(), (self.user)(parts).unwrap_or(Value::Null));
        metadata
    }
}

/// The incoming request id when it is usable, else a new UUID; with its header value.
fn request_id(parts: &Parts) -> (String, HeaderValue) {
    if let Some(value) = parts.headers.get(&REQUEST_ID_HEADER) {
        if let Ok(text) = value.to_str() {
            if !text.is_empty() && text.len() <= MAX_REQUEST_ID_LEN {
                return (text.to_owned(), value.clone());
            }
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let value = HeaderValue::from_str(&id).expect("a UUID is a valid header value");
    (id, value)
}

fn internal_error<B: Default>() -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use serde_json::json;

    use super::*;
    use crate::context::{current_ambient, Ambient};

    /// What the inner service saw while its response future ran.
    #[derive(Debug, Default)]
    struct Seen {
        ambient: Option<Ambient>,
        request_id: Option<RequestId>,
        header: Option<String>,
    }

    /// An inner service that reports the ambient context in force while its future is
    /// polled, not when `call` runs.
    #[derive(Clone)]
    struct Probe {
        response_header: Option<&'static str>,
    }

    impl Service<Request<()>> for Probe {
        type Response = Response<Seen>;
        type Error = Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<Response<Seen>, Infallible>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: Request<()>) -> Self::Future {
            let request_id = req.extensions().get::<RequestId>().cloned();
            let header = req
                .headers()
                .get(REQUEST_ID_HEADER)
                .map(|v| v.to_str().unwrap().to_owned());
            let response_header = self.response_header;
            Box::pin(async move {
                let mut response = Response::new(Seen {
                    ambient: current_ambient(),
                    request_id,
                    header,
                });
                if let Some(value) = response_header {
                    response
                        .headers_mut()
                        .insert(REQUEST_ID_HEADER, HeaderValue::from_static(value));
                }
                Ok(response)
            })
        }
    }

    fn probe() -> Probe {
        Probe {
            response_header: None,
        }
    }

    fn request(method: Method, uri: &str, headers: &[(&str, &[u8])]) -> Request<()> {
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, HeaderValue::from_bytes(value).unwrap());
        }
        builder.body(()).unwrap()
    }

    fn user_header(parts: &Parts) -> Option<Value> {
        Some(Value::from(parts.headers.get("x-user")?.to_str().ok()?))
    }

    async fn call<S: Service<Request<()>, Response = Response<Seen>, Error = Infallible>>(
        service: &mut S,
        req: Request<()>,
    ) -> Response<Seen> {
        service.call(req).await.unwrap()
    }

    #[tokio::test]
    async fn a_tracked_request_runs_in_a_context_with_method_path_request_id_and_user() {
        let layer = ContextLayer::new()
            .user(user_header)
            .field("service", "blog")
            .field("method", "spoofed");
        let mut service = layer.layer(probe());
        let req = request(
            Method::POST,
            "/posts/7?token=secret",
            &[("x-request-id", b"req-1"), ("x-user", b"alice")],
        );
        let response = call(&mut service, req).await;
        assert_eq!(response.headers()[REQUEST_ID_HEADER], "req-1");
        let seen = response.into_body();
        let ambient = seen.ambient.expect("a context while the handler runs");
        assert_eq!(
            Value::Object(ambient.metadata),
            json!({
                "service": "blog",
                "method": "POST",
                "path": "/posts/7",
                "request_id": "req-1",
                "user": "alice",
            })
        );
        assert_eq!(
            seen.request_id.as_ref().map(RequestId::as_str),
            Some("req-1")
        );
        assert_eq!(current_ambient(), None, "the context ends with the request");
    }

    #[tokio::test]
    async fn each_request_gets_a_scope_of_its_own() {
        let mut service = ContextLayer::new().layer(probe());
        let first = call(&mut service, request(Method::DELETE, "/a", &[]))
            .await
            .into_body();
        let second = call(&mut service, request(Method::DELETE, "/a", &[]))
            .await
            .into_body();
        let (first, second) = (first.ambient.unwrap(), second.ambient.unwrap());
        assert_ne!(first.scope_id, second.scope_id);
        assert_eq!(first.metadata["user"], Value::Null);
        assert_ne!(first.metadata["request_id"], second.metadata["request_id"]);
    }

    #[tokio::test]
    async fn reads_run_without_a_context_but_still_get_a_request_id() {
        let mut service = ContextLayer::new().user(user_header).layer(probe());
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            let response = call(
                &mut service,
                request(method.clone(), "/posts", &[("x-user", b"bob")]),
            )
            .await;
            let id = response.headers()[REQUEST_ID_HEADER]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{method}: {id}");
            let seen = response.into_body();
            assert_eq!(seen.ambient, None, "{method} opened a context");
            assert_eq!(
                seen.request_id.as_ref().map(RequestId::as_str),
                Some(id.as_str())
            );
            assert_eq!(
                seen.header.as_deref(),
                Some(id.as_str()),
                "the handler sees the id as a header"
            );
        }
    }

    #[tokio::test]
    async fn the_tracked_methods_can_be_chosen() {
        let mut service = ContextLayer::new().methods([Method::GET]).layer(probe());
        let get = call(&mut service, request(Method::GET, "/", &[]))
            .await
            .into_body();
        let post = call(&mut service, request(Method::POST, "/", &[]))
            .await
            .into_body();
        assert_eq!(get.ambient.unwrap().metadata["method"], "GET");
        assert_eq!(post.ambient, None);
    }

    #[tokio::test]
    async fn an_unusable_request_id_is_replaced_by_a_new_uuid() {
        let long = vec![b'a'; MAX_REQUEST_ID_LEN + 1];
        let longest = vec![b'b'; MAX_REQUEST_ID_LEN];
        let mut service = ContextLayer::new().layer(probe());
        for bad in [&b""[..], b"caf\xc3\xa9", &long] {
            let response = call(
                &mut service,
                request(Method::PUT, "/", &[("x-request-id", bad)]),
            )
            .await;
            let id = response.headers()[REQUEST_ID_HEADER]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{bad:?} kept as {id}");
            let seen = response.into_body();
            assert_eq!(
                seen.ambient.unwrap().metadata["request_id"],
                Value::from(id.as_str())
            );
            assert_eq!(seen.header.as_deref(), Some(id.as_str()));
        }
        let response = call(
            &mut service,
            request(Method::PUT, "/", &[("x-request-id", &longest)]),
        )
        .await;
        assert_eq!(
            response.headers()[REQUEST_ID_HEADER].as_bytes(),
            &longest[..]
        );
    }

    #[tokio::test]
    async fn a_request_id_header_set_by_the_handler_is_kept() {
        let mut service = ContextLayer::new().layer(Probe {
            response_header: Some("from-handler"),
        });
        let response = call(
            &mut service,
            request(Method::POST, "/", &[("x-request-id", b"from-client")]),
        )
        .await;
        assert_eq!(response.headers()[REQUEST_ID_HEADER], "from-handler");
        assert_eq!(
            response.into_body().ambient.unwrap().metadata["request_id"],
            "from-client"
        );
    }

    #[tokio::test]
    async fn inside_an_outer_scope_the_request_context_nests() {
        let mut service = ContextLayer::new().layer(probe());
        let future = service.call(request(Method::PATCH, "/x", &[]));
        let outer = json!({"job": "import", "method": "outer"});
        let (outer_scope, seen) = ambient_scope_async(outer, async {
            (
                current_ambient().unwrap().scope_id,
                future.await.unwrap().into_body(),
            )
        })
        .await
        .unwrap();
        let ambient = seen.ambient.unwrap();
        assert_eq!(ambient.scope_id, outer_scope);
        assert_eq!(ambient.metadata["job"], "import");
        assert_eq!(ambient.metadata["method"], "PATCH");
    }
}
