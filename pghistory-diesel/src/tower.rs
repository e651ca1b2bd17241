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
