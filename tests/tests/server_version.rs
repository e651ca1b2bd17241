//! The server the suite runs against is the one asked for: with `PGH_PG_VERSION=13`
//! (`scripts/with-postgres`, `scripts/test-matrix`) every other test reached a PostgreSQL 13,
//! so "passed on 13" means what it says, and a `DATABASE_URL` pointing at another server is
//! caught here instead of being reported as a run on 13.

use diesel::prelude::*;
use pghistory_diesel_tests::{server_major, server_url};

#[test]
fn the_server_is_a_supported_major_and_the_one_asked_for() {
    let mut conn = PgConnection::establish(&server_url()).expect("connect to the server");
    let major = server_major(&mut conn);
    assert!(
        (13..=18).contains(&major),
        "PostgreSQL {major} is outside the supported range 13 to 18"
    );
    if let Ok(wanted) = std::env::var("PGH_PG_VERSION") {
        let wanted: i32 = wanted
            .parse()
            .unwrap_or_else(|_| panic!("PGH_PG_VERSION={wanted:?} is not a major version"));
        assert_eq!(
            major, wanted,
            "PGH_PG_VERSION asks for PostgreSQL {wanted}, but DATABASE_URL reaches PostgreSQL {major}"
        );
    }
}
