//! Serves the example app on 127.0.0.1.
//!
//! `DATABASE_URL` names the database (required); `PORT` the port (default 0: any free
//! one). The app applies its migrations, then prints the address it listens on.

use std::net::{Ipv4Addr, SocketAddr};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL must be set")?;
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT must be a port number, got {port:?}"))?,
        Err(_) => 0,
    };
    pghistory_diesel_axum_example::migrate(&url).await?;
    let pool = pghistory_diesel_axum_example::pool(&url, 8)?;
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, pghistory_diesel_axum_example::router(pool)).await?;
    Ok(())
}
