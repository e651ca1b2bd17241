//! The variants compared in every measurement, and the context modes.

/// One table of the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// No history.
    Untracked,
    /// The untracked statement plus one plain `INSERT ... SELECT` of the same rows into an
    /// events table made by our generator, in the same transaction, no trigger.
    Floor,
    /// Insert, update and delete tracked; every column; context by id.
    Tracked,
    /// `fields(id, title)`.
    Fields,
    /// `context = json`.
    Json,
}

impl Variant {
    /// Every variant, in the order of the table's columns.
    pub const ALL: [Variant; 5] = [
        Variant::Untracked,
        Variant::Floor,
        Variant::Tracked,
        Variant::Fields,
        Variant::Json,
    ];

    /// Its name in the results.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Untracked => "untracked",
            Variant::Floor => "floor",
            Variant::Tracked => "tracked",
            Variant::Fields => "fields",
            Variant::Json => "json",
        }
    }

    /// Its table.
    pub fn table(self) -> &'static str {
        match self {
            Variant::Untracked => "bench_untracked",
            Variant::Floor => "bench_floor",
            Variant::Tracked => "bench_tracked",
            Variant::Fields => "bench_fields",
            Variant::Json => "bench_json",
        }
    }

    /// Its events table, if any.
    pub fn events_table(self) -> Option<&'static str> {
        match self {
            Variant::Untracked => None,
            Variant::Floor => Some("bench_floor_events"),
            Variant::Tracked => Some("bench_tracked_events"),
            Variant::Fields => Some("bench_fields_events"),
            Variant::Json => Some("bench_json_events"),
        }
    }
}

/// Whether a context is attached in the measured transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No context.
    Outside,
    /// `pghistory_attach_context(NULL, '{"user":1,"url":"/x"}', true)` first.
    Inside,
}

impl Mode {
    /// Both modes.
    pub const ALL: [Mode; 2] = [Mode::Outside, Mode::Inside];

    /// Its name in the results.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Outside => "no",
            Mode::Inside => "yes",
        }
    }
}

/// Runs `$body` with `$t` naming the Diesel table module of `$variant`.
macro_rules! with_table {
    ($variant:expr, $t:ident => $body:expr) => {
        match $variant {
            $crate::variant::Variant::Untracked => {
                use $crate::schema::bench_untracked as $t;
                $body
            }
            $crate::variant::Variant::Floor => {
                use $crate::schema::bench_floor as $t;
                $body
            }
            $crate::variant::Variant::Tracked => {
                use $crate::schema::bench_tracked as $t;
                $body
            }
            $crate::variant::Variant::Fields => {
                use $crate::schema::bench_fields as $t;
                $body
            }
            $crate::variant::Variant::Json => {
                use $crate::schema::bench_json as $t;
                $body
            }
        }
    };
}
pub(crate) use with_table;
