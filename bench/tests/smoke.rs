//! The benchmark's smoke mode runs against `DATABASE_URL` and produces every row of its
//! table. No timing is asserted: only that every measurement ran and gave a number.

use std::process::Command;

/// Every (row, context) pair the smoke run must report, for every variant.
const EXPECTED: &[(&str, &str)] = &[
    ("bulk_insert_select", "no"),
    ("bulk_insert_select", "yes"),
    ("bulk_insert_values", "no"),
    ("bulk_insert_values", "yes"),
    ("bulk_update", "no"),
    ("bulk_update", "yes"),
    ("bulk_delete", "no"),
    ("bulk_delete", "yes"),
    ("loop_insert", "no"),
    ("loop_insert", "yes"),
    ("loop_update", "no"),
    ("loop_update", "yes"),
    ("single_insert_c1", "no"),
    ("single_insert_c1", "yes"),
    ("single_insert_c2", "no"),
    ("single_insert_c2", "yes"),
    ("single_update_c1", "no"),
    ("single_update_c1", "yes"),
    ("single_update_c2", "no"),
    ("single_update_c2", "yes"),
    ("single_delete_c1", "no"),
    ("single_delete_c1", "yes"),
    ("single_delete_c2", "no"),
    ("single_delete_c2", "yes"),
    ("async_insert_c1", "no"),
    ("async_insert_c1", "yes"),
    ("async_insert_c2", "no"),
    ("async_insert_c2", "yes"),
    ("ctx_shared_tps", "yes"),
    ("ctx_distinct_tps", "yes"),
    ("ctx_shared_lock_timeouts", "yes"),
    ("ctx_distinct_lock_timeouts", "yes"),
    ("bytes_heap", "no"),
    ("bytes_heap", "yes"),
    ("bytes_index", "no"),
    ("bytes_index", "yes"),
    ("bytes_total", "no"),
    ("bytes_total", "yes"),
    ("wal_insert", "no"),
    ("wal_insert", "yes"),
    ("wal_update", "no"),
    ("wal_update", "yes"),
    ("wal_delete", "no"),
    ("wal_delete", "yes"),
];

const VARIANTS: &[&str] = &["untracked", "floor", "tracked", "fields", "json"];

/// Runs the benchmark binary with `args` against `DATABASE_URL` and returns the JSON
/// file it wrote and what it printed.
fn run_bench(name: &str, args: &[&str]) -> (serde_json::Value, String) {
    assert!(
        std::env::var("DATABASE_URL").is_ok(),
        "DATABASE_URL must be set: run the tests through scripts/test"
    );
    let out = std::env::temp_dir().join(format!("pghistory-bench-{name}-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_pghistory-diesel-bench"))
        .args(args)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run the benchmark binary");
    assert!(
        output.status.success(),
        "the {name} run failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let json_path = std::fs::read_dir(&out)
        .expect("the output directory exists")
        .map(|e| e.expect("a directory entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a JSON file was written");
    let json =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).expect("valid JSON");
    let _ = std::fs::remove_dir_all(&out);
    (json, String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn smoke_mode_reports_every_measurement_for_every_variant() {
    let (json, stdout) = run_bench(
        "smoke",
        &["--smoke", "--phases", "bulk,loop,single,concurrent"],
    );
    let rows = json["rows"].as_array().expect("rows is an array");
    assert_eq!(rows.len(), EXPECTED.len(), "rows reported: {rows:#?}");
    for (key, ctx) in EXPECTED {
        let row = rows
            .iter()
            .find(|r| r["row"] == *key && r["ctx"] == *ctx)
            .unwrap_or_else(|| panic!("no row {key} (ctx {ctx}) in the results"));
        for variant in VARIANTS {
            let value = row["median"][variant]
                .as_f64()
                .unwrap_or_else(|| panic!("{key} (ctx {ctx}) has no value for {variant}"));
            assert!(
                value.is_finite() && value >= 0.0,
                "{key} {ctx} {variant} = {value}"
            );
        }
        // The printed table has the row too.
        let label = row["label"].as_str().unwrap();
        assert!(stdout.contains(label), "the table lacks `{label}`");
    }
    // Lock timeouts must be zero: sharing a context scope never makes transactions wait.
    for key in ["ctx_shared_lock_timeouts", "ctx_distinct_lock_timeouts"] {
        let row = rows.iter().find(|r| r["row"] == key).unwrap();
        for variant in VARIANTS {
            assert_eq!(
                row["median"][variant].as_f64(),
                Some(0.0),
                "{key} {variant}"
            );
        }
    }
}

/// The cpu phase counts instructions with valgrind on a copy of the database. Counts are
/// deterministic, so this can assert what timings cannot: a statement that also writes
/// an event executes more instructions than the same statement on an untracked table.
#[test]
fn cpu_phase_counts_more_instructions_for_a_tracked_insert() {
    let (json, _) = run_bench("cpu", &["--smoke", "--phases", "cpu"]);
    let row = json["rows"]
        .as_array()
        .expect("rows is an array")
        .iter()
        .find(|r| r["row"] == "cpu_loop_insert" && r["ctx"] == "no")
        .unwrap_or_else(|| panic!("no cpu_loop_insert row: {json:#}"));
    let untracked = row["median"]["untracked"]
        .as_f64()
        .expect("untracked was counted");
    let tracked = row["median"]["tracked"]
        .as_f64()
        .expect("tracked was counted");
    assert!(
        untracked > 10_000.0,
        "an INSERT costs more than {untracked} instructions"
    );
    assert!(
        tracked > untracked * 1.5,
        "the tracked INSERT also writes an event: {tracked} vs {untracked} instructions"
    );
}

#[test]
fn smoke_scale_phase_reports_time_memory_and_temp_files_for_untracked_floor_and_tracked() {
    let (json, stdout) = run_bench("scale", &["--smoke", "scale"]);
    let rows = json["rows"].as_array().expect("rows is an array");
    let scale: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["row"].as_str().is_some_and(|k| k.starts_with("scale_")))
        .collect();
    // 9 statements (INSERT, UPDATE, DELETE at 100k narrow and wide; UPDATE and DELETE at
    // 1.2M x 1 KB; UPDATE at 10M narrow), 3 figures each.
    assert_eq!(scale.len(), 27, "scale rows reported: {scale:#?}");
    for row in scale {
        for variant in ["untracked", "floor", "tracked"] {
            let value = row["median"][variant]
                .as_f64()
                .unwrap_or_else(|| panic!("{} has no value for {variant}", row["row"]));
            assert!(
                value.is_finite() && value >= 0.0,
                "{} {variant} = {value}",
                row["row"]
            );
        }
        let key = row["row"].as_str().unwrap();
        if key.ends_with("_hwm") {
            let peak = row["median"]["tracked"].as_f64().unwrap();
            assert!(
                peak > 1.0,
                "a backend's peak memory is megabytes: {key} = {peak}"
            );
        }
        assert!(stdout.contains(row["label"].as_str().unwrap()));
    }
}

/// The read phase at a tiny size: the generator writes exactly the history it promises
/// (ten events per context), every read returns what the generated data says it must, and
/// the plan captured from the server log is the plan of that very read (its top node
/// returned as many rows as the library did).
#[test]
fn smoke_read_phase_generates_its_history_and_captures_the_plan_of_every_read() {
    let (json, stdout) = run_bench("read", &["--smoke", "read"]);
    let read = &json["config"]["read"];
    assert_eq!(read["events"].as_i64(), Some(60_000), "{read:#}");
    assert_eq!(read["contexts"].as_i64(), Some(6_000), "{read:#}");
    let reads = read["reads"].as_array().expect("reads is an array");
    let keys: Vec<&str> = reads.iter().filter_map(|r| r["key"].as_str()).collect();
    for key in [
        "object_timeline",
        "global_page_1",
        "global_page_deep",
        "metadata_user",
        "metadata_shared_user",
        "context_timeline",
        "cli_log",
    ] {
        assert!(keys.contains(&key), "no read {key}: {keys:?}");
    }
    for r in reads {
        let key = r["key"].as_str().unwrap();
        let returned = r["returned"].as_f64().unwrap();
        assert!(returned > 0.0, "{key} returned nothing");
        let (median, p95) = (
            r["median_ms"].as_f64().unwrap(),
            r["p95_ms"].as_f64().unwrap(),
        );
        assert!(
            median > 0.0 && p95 >= median,
            "{key}: median {median}, p95 {p95}"
        );
        let plan = &r["plan"];
        assert!(plan.is_object(), "{key} has no plan: {r:#}");
        let scans = plan["scans"].as_array().unwrap();
        assert!(
            scans.iter().any(|s| s["relation"]
                .as_str()
                .is_some_and(|rel| rel.starts_with("read_") && rel.ends_with("_events"))),
            "{key}'s plan reads no events table: {plan:#}"
        );
        // Every read finds its events through an index, even on this small history.
        let seq: Vec<&str> = plan["big_seq_scans"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r.as_str())
            .filter(|r| r.ends_with("_events"))
            .collect();
        assert!(seq.is_empty(), "{key} scans {seq:?} sequentially: {plan:#}");
        if !key.starts_with("cli_") {
            // A page reads one event more, to know whether another page follows.
            let rows = plan["rows"].as_f64().unwrap();
            assert!(
                rows == returned || rows == returned + 1.0,
                "{key} returned {returned}, its plan {rows}: {plan:#}"
            );
        }
        assert!(stdout.contains(r["label"].as_str().unwrap()));
    }
    // One post has 50 events (one per round), one context 10 (one request), a page 50.
    let returned = |key: &str| reads.iter().find(|r| r["key"] == key).unwrap()["returned"].as_i64();
    assert_eq!(returned("object_timeline"), Some(50));
    assert_eq!(returned("context_timeline"), Some(10));
    // The CLI prints one JSON line per event of the post.
    assert_eq!(returned("cli_log"), Some(50));
    for key in ["global_page_1", "global_page_deep", "metadata_shared_user"] {
        assert_eq!(returned(key), Some(50), "{key}");
    }
}
