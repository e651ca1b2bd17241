//! pghistory-diesel demo: apply migrations (ours included) the way Diesel apps do, write
//! rows in several ways, and print the history the triggers recorded.
//!
//! Run it with `scripts/demo` (starts a throwaway PostgreSQL unless `DATABASE_URL` is set).
//! It works in a database of its own, `pghistory_demo`, created afresh on each run.

mod schema;

use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use pghistory_diesel::context_table::{pghistory_context, Context};
use pghistory_diesel::history::History;
use serde_json::json;

use schema::*;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

diesel::define_sql_function! {
    /// Postgres' `quote_ident`, so the database name is quoted by the server.
    fn quote_ident(name: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn demo_database(server_url: &str) -> Result<String, Error> {
    let mut admin = PgConnection::establish(server_url)?;
    let name: String = diesel::select(quote_ident("pghistory_demo")).get_result(&mut admin)?;
    // Database names cannot be bound; this one is a constant, quoted by the server.
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)?;
    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin)?;
    let (base, query) = server_url.split_once('?').unwrap_or((server_url, ""));
    let slash = base.rfind('/').ok_or("DATABASE_URL has no database path")?;
    let mut url = format!("{}/pghistory_demo", &base[..slash]);
    if !query.is_empty() {
        url = format!("{url}?{query}");
    }
    Ok(url)
}

fn main() -> Result<(), Error> {
    let server_url =
        std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set (use scripts/demo)")?;
    let url = demo_database(&server_url)?;
    let mut conn = PgConnection::establish(&url)?;

    // 1. Migrations, as any Diesel app applies them: the app's table, our setup migration
    //    and the tracking migration written by `pghistory-diesel generate`.
    let applied = conn.run_pending_migrations(MIGRATIONS)?;
    println!("applied {} migrations:", applied.len());
    for version in &applied {
        println!("  {version}");
    }
    pghistory_diesel::check::check_setup(&mut conn)?;
    pghistory_diesel::check::check_table::<posts::table>(&mut conn)?;

    // 2. Writes, inside a context that says who and why.
    let ids: Vec<i32> = pghistory_diesel::context::with_context(
        &mut conn,
        json!({"user": "ada", "reason": "import"}),
        |conn| {
            diesel::insert_into(posts::table)
                .values(&vec![
                    (
                        posts::title.eq("Hello"),
                        posts::body.eq(Some("first post")),
                        posts::score.eq(1),
                    ),
                    (
                        posts::title.eq("Second"),
                        posts::body.eq(None),
                        posts::score.eq(2),
                    ),
                    (
                        posts::title.eq("Third"),
                        posts::body.eq(Some("draft")),
                        posts::score.eq(3),
                    ),
                ])
                .returning(posts::id)
                .get_results::<i32>(conn)
        },
    )?;
    println!("\ninserted posts {ids:?} as ada (one multi-row INSERT)");

    pghistory_diesel::context::with_context(
        &mut conn,
        json!({"user": "bob", "reason": "moderation"}),
        |conn| {
            // A bulk update through Diesel: one statement, one event per changed row.
            diesel::update(posts::table)
                .set(posts::score.eq(posts::score + 10))
                .execute(conn)?;
            // A no-op update writes nothing.
            diesel::update(posts::table)
                .set(posts::title.eq(posts::title))
                .execute(conn)?;
            // Raw SQL is captured too.
            diesel::sql_query("UPDATE posts SET body = 'edited by hand' WHERE title = 'Second'")
                .execute(conn)?;
            diesel::delete(posts::table.filter(posts::title.eq("Third"))).execute(conn)
        },
    )?;
    println!(
        "bob bumped every score, made a no-op update, edited one post with raw SQL, deleted one"
    );

    // Outside any context: the events carry no context.
    diesel::update(posts::table.filter(posts::title.eq("Hello")))
        .set(posts::title.eq("Hello, world"))
        .execute(&mut conn)?;
    println!("an update without context");

    // 3. The history, read with the Diesel DSL: events joined to their context.
    let events: Vec<(PostsEvent, Option<Context>)> = posts_events::table
        .left_join(pghistory_context::table)
        .order(posts_events::pgh_id)
        .select((PostsEvent::as_select(), Option::<Context>::as_select()))
        .load(&mut conn)?;
    println!("\nhistory of posts ({} events):", events.len());
    println!(
        "{:>4}  {:<7} {:>4}  {:<14} {:<16} {:>5}  context",
        "id", "label", "obj", "title", "body", "score"
    );
    for (event, context) in &events {
        let who = context
            .as_ref()
            .map(|c| c.metadata.to_string())
            .unwrap_or_else(|| "-".to_owned());
        println!(
            "{:>4}  {:<7} {:>4}  {:<14} {:<16} {:>5}  {}",
            event.pgh_id,
            event.pgh_label,
            event.pgh_obj_id,
            event.title,
            event.body.as_deref().unwrap_or("NULL"),
            event.score,
            who
        );
    }
    let per_label: Vec<(String, i64)> = posts_events::table
        .group_by(posts_events::pgh_label)
        .select((posts_events::pgh_label, diesel::dsl::count_star()))
        .order(posts_events::pgh_label)
        .load(&mut conn)?;
    println!("\nevents per label: {per_label:?}");

    // 4. One object's story, with what each event changed.
    let first = ids[0];
    println!("\npost {first}, event by event:");
    for event in History::new()
        .tracks::<posts::table>(first)
        .load(&mut conn)?
    {
        let changes = event
            .pgh_diff
            .map(|d| d.to_string())
            .unwrap_or_else(|| "(first event)".to_owned());
        println!("  #{:<3} {:<7} {}", event.pgh_id, event.pgh_label, changes);
    }

    // 5. Revert the post to how it was first recorded: itself a new, recorded change.
    let original = History::new()
        .tracks::<posts::table>(first)
        .load(&mut conn)?[0]
        .pgh_id;
    pghistory_diesel::history::revert::<posts::table>(&mut conn, original)?;
    let (title, score): (String, i32) = posts::table
        .find(first)
        .select((posts::title, posts::score))
        .first(&mut conn)?;
    println!("\nreverted post {first} to event #{original}: title {title:?}, score {score}");

    // 6. A many-to-many join table is tracked like any other: links and unlinks are events.
    let rust: i32 = diesel::insert_into(tags::table)
        .values(tags::name.eq("rust"))
        .returning(tags::id)
        .get_result(&mut conn)?;
    let link = diesel::insert_into(post_tags::table)
        .values((post_tags::post_id.eq(first), post_tags::tag_id.eq(rust)));
    pghistory_diesel::context::with_context(&mut conn, json!({"user": "ada"}), |conn| {
        link.execute(conn)?;
        diesel::delete(post_tags::table.filter(post_tags::tag_id.eq(rust))).execute(conn)?;
        link.execute(conn)
    })?;
    let links: Vec<(String, i32, String)> = post_tags_events::table
        .inner_join(tags::table.on(tags::id.eq(post_tags_events::tag_id)))
        .order(post_tags_events::pgh_id)
        .select((
            post_tags_events::pgh_label,
            post_tags_events::post_id,
            tags::name,
        ))
        .load(&mut conn)?;
    println!("\ntag links of the posts <-> tags join table, as recorded:");
    for (label, post, tag) in links {
        println!("  {label:<7} post {post} <-> {tag}");
    }
    Ok(())
}
