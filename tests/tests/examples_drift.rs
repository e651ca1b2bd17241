//! The example apps' and the benchmark's committed migrations install exactly what their
//! schema.rs declares, so a change to the generated SQL cannot leave them behind.

use std::fs;
use std::path::PathBuf;

use pghistory_diesel_codegen::sql::migration;

fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

fn assert_in_sync(project: &str) {
    let root = repo_dir().join(project);
    let text = fs::read_to_string(root.join("src/schema.rs")).unwrap();
    let tables =
        pghistory_diesel_codegen::tables_in_file(&syn::parse_file(&text).unwrap()).unwrap();
    assert!(
        !tables.is_empty(),
        "{project}/src/schema.rs tracks no table"
    );
    let existing = pghistory_diesel_tests::existing_migrations(&root.join("migrations"));
    let migration::Plan { files, changes } = migration::plan(&tables, &existing, "0");
    assert!(
        files.is_none(),
        "{project}/migrations do not install what {project}/src/schema.rs declares: {changes:?}\n\
         fix: in {project}/, run `cargo run -p pghistory-diesel-cli -- generate` (or regenerate \
         its tracking migration) and commit it"
    );
    let setup = migration::setup_files();
    assert!(
        existing.iter().any(|m| m.dir_name == setup.dir_name && m.up == setup.up),
        "{project}/migrations lacks the current setup migration; run `pghistory-diesel setup` there"
    );
}

#[test]
fn the_demo_migrations_match_its_schema() {
    assert_in_sync("examples/demo");
}

#[test]
fn the_axum_example_migrations_match_its_schema() {
    assert_in_sync("examples/axum-app");
}

#[test]
fn the_benchmark_migrations_match_its_schema() {
    assert_in_sync("bench");
}
