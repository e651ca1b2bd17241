DROP TABLE bench_json;
DROP TABLE bench_fields;
DROP TABLE bench_tracked;
DROP TABLE bench_floor;
DROP TABLE bench_untracked;
