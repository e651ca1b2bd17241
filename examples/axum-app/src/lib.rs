//! An axum app whose writes are recorded with who made them and in which request.
//!
//! Three pieces do it:
//! - [`schema`] declares `posts` with `pghistory_diesel::tracked_table!`, and the migrations
//!   in `migrations/` (the setup migration, the app's table, and the tracking migration
//!   `pghistory-diesel generate` wrote) install the triggers;
//! - [`pghistory_diesel::tower::ContextLayer`] opens a context per write request with its
//!   method, path, request id and user (from the `x-user` header);
//! - the deadpool pool from `pghistory_diesel::pool::deadpool` writes that context onto each
//!   connection when a handler checks it out, and clears it when there is none.
//!
//! | route | what |
//! |---|---|
//! | `POST /posts` | create a post from `{"title": …, "body": …}` |
//! | `PATCH /posts/{id}` | change its title: `{"title": …}` |
//! | `DELETE /posts/{id}` | delete it |
//! | `GET /posts/{id}/history` | its events in order, each with its context metadata |
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let url = std::env::var("DATABASE_URL")?;
//! pghistory_diesel_axum_example::migrate(&url).await?;
//! let pool = pghistory_diesel_axum_example::pool(&url, 8)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! axum::serve(listener, pghistory_diesel_axum_example::router(pool)).await?;
//! # Ok(())
//! # }
//! ```

pub mod schema;

use axum::extract::{Path, State};
use axum::http::{request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use diesel::prelude::*;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use pghistory_diesel::context_table::pghistory_context;
use pghistory_diesel::tower::ContextLayer;
use serde::{Deserialize, Serialize};

use crate::schema::{posts, posts_events, PostsEvent};

/// The app's migrations: pghistory-diesel's setup, the `posts` table, and its tracking.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The header the app takes the user from.
pub const USER_HEADER: &str = "x-user";

/// Everything that can stop the app from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be reached.
    #[error("could not connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    /// A migration failed.
    #[error("could not apply the migrations: {0}")]
    Migrate(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The blocking migration task died.
    #[error("the migration task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The pool could not be built.
    #[error("could not build the connection pool: {0}")]
    Pool(#[from] diesel_async::pooled_connection::deadpool::BuildError),
}

/// Applies the pending embedded migrations, on a blocking thread with a sync connection.
pub async fn migrate(database_url: &str) -> Result<(), StartError> {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = diesel::PgConnection::establish(&url)?;
        conn.run_pending_migrations(MIGRATIONS)
            .map(|_| ())
            .map_err(StartError::Migrate)
    })
    .await?
}

/// A deadpool pool of at most `max_size` connections whose checkouts carry the ambient
/// context of the task that checks them out.
pub fn pool(database_url: &str, max_size: usize) -> Result<Pool<AsyncPgConnection>, StartError> {
    pghistory_diesel::pool::deadpool::pool_builder(database_url)
        .max_size(max_size)
        .build()
        .map_err(StartError::from)
}

/// The app: its routes, wrapped in the context layer.
pub fn router(pool: Pool<AsyncPgConnection>) -> Router {
    Router::new()
        .route("/posts", post(create_post))
        .route("/posts/{id}", patch(update_post).delete(delete_post))
        .route("/posts/{id}/history", get(history))
        .layer(
            ContextLayer::new()
                .user(user_of)
                .field("app", "axum-example"),
        )
        .with_state(pool)
}

/// The request's user: the `x-user` header, as a JSON string.
///
/// The header stands in for authentication here; a real app would return what its
/// authentication layer placed in `parts.extensions`, which this function can read too.
fn user_of(parts: &Parts) -> Option<serde_json::Value> {
    let user = parts.headers.get(USER_HEADER)?.to_str().ok()?;
    Some(serde_json::Value::from(user))
}

/// A post.
#[derive(Debug, Serialize, Deserialize, Queryable, Selectable)]
#[diesel(table_name = posts, check_for_backend(diesel::pg::Pg))]
pub struct Post {
    /// Its id.
    pub id: i32,
    /// Its title.
    pub title: String,
    /// Its body.
    pub body: Option<String>,
}

/// The body of `POST /posts`.
#[derive(Debug, Serialize, Deserialize)]
pub struct NewPost {
    /// The title.
    pub title: String,
    /// The body.
    #[serde(default)]
    pub body: Option<String>,
}

/// The body of `PATCH /posts/{id}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct TitleChange {
    /// The new title.
    pub title: String,
}

/// One event of `GET /posts/{id}/history`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct HistoryEntry {
    /// The event id, increasing in write order.
    pub event_id: i64,
    /// `insert`, `update` or `delete`.
    pub label: String,
    /// The post's title in this snapshot.
    pub title: String,
    /// The post's body in this snapshot.
    pub body: Option<String>,
    /// The context row the event references, if it was written in one.
    pub context_id: Option<uuid::Uuid>,
    /// That context's metadata: method, path, request id, user.
    pub context: Option<serde_json::Value>,
}

type Db = State<Pool<AsyncPgConnection>>;

async fn create_post(
    State(pool): Db,
    Json(new): Json<NewPost>,
) -> Result<(StatusCode, Json<Post>), AppError> {
    let mut conn = pool.get().await.map_err(AppError::pool)?;
    let post = diesel::insert_into(posts::table)
        .values((posts::title.eq(new.title), posts::body.eq(new.body)))
        .returning(Post::as_returning())
        .get_result(&mut conn)
        .await?;
    Ok((StatusCode::CREATED, Json(post)))
}

async fn update_post(
    State(pool): Db,
    Path(id): Path<i32>,
    Json(change): Json<TitleChange>,
) -> Result<Json<Post>, AppError> {
    let mut conn = pool.get().await.map_err(AppError::pool)?;
    let post = diesel::update(posts::table.find(id))
        .set(posts::title.eq(change.title))
        .returning(Post::as_returning())
        .get_result(&mut conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound)?;
    Ok(Json(post))
}

async fn delete_post(State(pool): Db, Path(id): Path<i32>) -> Result<StatusCode, AppError> {
    let mut conn = pool.get().await.map_err(AppError::pool)?;
    let deleted = diesel::delete(posts::table.find(id))
        .execute(&mut conn)
        .await?;
    if deleted == 0 {
        return Err(AppError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn history(
    State(pool): Db,
    Path(id): Path<i32>,
) -> Result<Json<Vec<HistoryEntry>>, AppError> {
    let mut conn = pool.get().await.map_err(AppError::pool)?;
    let rows: Vec<(PostsEvent, Option<serde_json::Value>)> = posts_events::table
        .left_join(pghistory_context::table)
        .filter(posts_events::pgh_obj_id.eq(id))
        .order(posts_events::pgh_id)
        .select((
            PostsEvent::as_select(),
            pghistory_context::metadata.nullable(),
        ))
        .load(&mut conn)
        .await?;
    let entries = rows
        .into_iter()
        .map(|(event, context)| HistoryEntry {
            event_id: event.pgh_id,
            label: event.pgh_label,
            title: event.title,
            body: event.body,
            context_id: event.pgh_context_id,
            context,
        })
        .collect();
    Ok(Json(entries))
}

/// A handler's failure, answered with a status code and a short text.
#[derive(Debug)]
enum AppError {
    NotFound,
    Pool(String),
    Database(diesel::result::Error),
}

impl AppError {
    fn pool(e: impl std::fmt::Display) -> AppError {
        AppError::Pool(e.to_string())
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> AppError {
        AppError::Database(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::NotFound => (StatusCode::NOT_FOUND, "no such post").into_response(),
            AppError::Pool(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("no database connection: {e}"),
            )
                .into_response(),
            AppError::Database(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("database error: {e}"),
            )
                .into_response(),
        }
    }
}
