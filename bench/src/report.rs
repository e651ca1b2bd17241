//! Medians, the printed table and the CSV/JSON files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::variant::{Mode, Variant};

/// One measured value.
#[derive(Clone, Debug)]
pub struct Sample {
    /// The row of the table ([`RowDef::key`]).
    pub row: &'static str,
    /// Context mode.
    pub mode: Mode,
    /// Variant.
    pub variant: Variant,
    /// Repetition (from 0).
    pub rep: usize,
    /// The value, in the row's unit.
    pub value: f64,
}

/// A row of the table.
#[derive(Clone, Copy, Debug)]
pub struct RowDef {
    /// Its key in samples and files.
    pub key: &'static str,
    /// What it measures.
    pub label: &'static str,
    /// The unit; `tps` rows are better when higher, all others when lower.
    pub unit: &'static str,
}

/// Every row, in print order. A row appears once per context mode it was measured in.
pub const ROWS: &[RowDef] = &[
    RowDef {
        key: "bulk_insert_select",
        label: "bulk INSERT ... SELECT generate_series",
        unit: "ms",
    },
    RowDef {
        key: "bulk_insert_values",
        label: "bulk insert_into(..).values(&vec), chunked",
        unit: "ms",
    },
    RowDef {
        key: "bulk_update",
        label: "bulk UPDATE (title, score) of every row",
        unit: "ms",
    },
    RowDef {
        key: "bulk_delete",
        label: "bulk DELETE of every row",
        unit: "ms",
    },
    RowDef {
        key: "loop_insert",
        label: "server-side loop of single-row INSERTs",
        unit: "us/stmt",
    },
    RowDef {
        key: "loop_update",
        label: "server-side loop of single-row UPDATEs by pk",
        unit: "us/stmt",
    },
    RowDef {
        key: "cpu_bulk_insert",
        label: "server CPU: bulk INSERT ... SELECT",
        unit: "instr/row",
    },
    RowDef {
        key: "cpu_bulk_update",
        label: "server CPU: bulk UPDATE (title, score)",
        unit: "instr/row",
    },
    RowDef {
        key: "cpu_bulk_delete",
        label: "server CPU: bulk DELETE",
        unit: "instr/row",
    },
    RowDef {
        key: "cpu_loop_insert",
        label: "server CPU: loop of single-row INSERTs",
        unit: "instr/stmt",
    },
    RowDef {
        key: "cpu_loop_update",
        label: "server CPU: loop of single-row UPDATEs by pk",
        unit: "instr/stmt",
    },
    RowDef {
        key: "single_insert_c1",
        label: "Diesel single-row insert, 1 client",
        unit: "tps",
    },
    RowDef {
        key: "single_insert_c2",
        label: "Diesel single-row insert, 2 clients",
        unit: "tps",
    },
    RowDef {
        key: "single_update_c1",
        label: "Diesel single-row update by pk, 1 client",
        unit: "tps",
    },
    RowDef {
        key: "single_update_c2",
        label: "Diesel single-row update by pk, 2 clients",
        unit: "tps",
    },
    RowDef {
        key: "single_delete_c1",
        label: "Diesel single-row delete by pk, 1 client",
        unit: "tps",
    },
    RowDef {
        key: "single_delete_c2",
        label: "Diesel single-row delete by pk, 2 clients",
        unit: "tps",
    },
    RowDef {
        key: "async_insert_c1",
        label: "diesel-async single-row insert, 1 client",
        unit: "tps",
    },
    RowDef {
        key: "async_insert_c2",
        label: "diesel-async single-row insert, 2 clients",
        unit: "tps",
    },
    RowDef {
        key: "ctx_shared_tps",
        label: "concurrent transactions, one shared context scope",
        unit: "tps",
    },
    RowDef {
        key: "ctx_distinct_tps",
        label: "concurrent transactions, a context each",
        unit: "tps",
    },
    RowDef {
        key: "ctx_shared_lock_timeouts",
        label: "lock timeouts, shared scope",
        unit: "count",
    },
    RowDef {
        key: "ctx_distinct_lock_timeouts",
        label: "lock timeouts, a context each",
        unit: "count",
    },
    RowDef {
        key: "bytes_heap",
        label: "on disk per event: heap (untracked: the row itself)",
        unit: "B",
    },
    RowDef {
        key: "bytes_index",
        label: "on disk per event: indexes (untracked: its pkey)",
        unit: "B",
    },
    RowDef {
        key: "bytes_total",
        label: "on disk per event: total",
        unit: "B",
    },
    RowDef {
        key: "wal_insert",
        label: "WAL per row, bulk insert",
        unit: "B",
    },
    RowDef {
        key: "wal_update",
        label: "WAL per row, bulk update",
        unit: "B",
    },
    RowDef {
        key: "wal_delete",
        label: "WAL per row, bulk delete",
        unit: "B",
    },
    RowDef {
        key: "scale_i100k_n_ms",
        label: "scale: INSERT ... SELECT 100k narrow rows: time",
        unit: "ms",
    },
    RowDef {
        key: "scale_i100k_n_hwm",
        label: "scale: INSERT ... SELECT 100k narrow rows: backend peak memory (VmHWM)",
        unit: "MB",
    },
    RowDef {
        key: "scale_i100k_n_tmp",
        label: "scale: INSERT ... SELECT 100k narrow rows: temp files written",
        unit: "MB",
    },
    RowDef {
        key: "scale_u100k_n_ms",
        label: "scale: UPDATE 100k narrow rows: time",
        unit: "ms",
    },
    RowDef {
        key: "scale_u100k_n_hwm",
        label: "scale: UPDATE 100k narrow rows: backend peak memory (VmHWM)",
        unit: "MB",
    },
    RowDef {
        key: "scale_u100k_n_tmp",
        label: "scale: UPDATE 100k narrow rows: temp files written",
        unit: "MB",
    },
    RowDef {
        key: "scale_d100k_n_ms",
        label: "scale: DELETE 100k narrow rows: time",
        unit: "ms",
    },
    RowDef {
        key: "scale_d100k_n_hwm",
        label: "scale: DELETE 100k narrow rows: backend peak memory (VmHWM)",
        unit: "MB",
    },
    RowDef {
        key: "scale_d100k_n_tmp",
        label: "scale: DELETE 100k narrow rows: temp files written",
        unit: "MB",
    },
    RowDef {
        key: "scale_i100k_w_ms",
        label: "scale: INSERT ... SELECT 100k rows x 1 KB: time",
        unit: "ms",
    },
    RowDef {
        key: "scale_i100k_w_hwm",
        label: "scale: INSERT ... SELECT 100k rows x 1 KB: backend peak memory (VmHWM)",
        unit: "MB",
    },
    RowDef {
        key: "scale_i100k_w_tmp",
        label: "scale: INSERT ... SELECT 100k rows x 1 KB: temp files written",
        unit: "MB",
    },
    RowDef {
        key: "scale_u100k_w_ms",
        label: "scale: UPDATE 100k rows x 1 KB: time",
        unit: "ms",
    },
    RowDef {
        key: "scale_u100k_w_hwm",
        label: "scale: UPDATE 100k rows x 1 KB: backend peak memory (VmHWM)",
        unit: "MB",
    },
    RowDef {
        key: "scale_u100k_w_tmp",
        label: "scale: UPDATE 100k rows x 1 KB: temp files written",
        unit: "MB",
    },
    RowDef {
        key: "scale_d100k_w_ms",
        label: "scale: DELETE 100k rows x 1 KB: time",
        unit: "ms",
    },
    RowDef {
        key: "scale_d100k_w_hwm",
        label: "scale: DELETE 100k rows x 1 KB: backend peak memory (VmHWM)",
        unit: "MB",
    },
    RowDef {
        key: "scale_d100k_w_tmp",
        label: "scale: DELETE 100k rows x 1 KB: temp files written",
        unit: "MB",
    },
    RowDef {
        key: "scale_u1m2_w_ms",
        label: "scale: UPDATE 1.2M rows x 1 KB: time",
        unit: "ms",
    },
    RowDef {
        key: "scale_u1m2_w_hwm",
        label: "scale: UPDATE 1.2M rows x 1 KB: backend peak memory (VmHWM)",
        unit: "MB",
    },
    RowDef {
        key: "scale_u1m2_w_tmp",
        label: "scale: UPDATE 1.2M rows x 1 KB: temp files written",
        unit: "MB",
    },
    RowDef {
        key: "scale_d1m2_w_ms",
        label: "scale: DELETE 1.2M rows x 1 KB: time",
        unit: "ms",
    },
    RowDef {
        key: "scale_d1m2_w_hwm",
        label: "scale: DELETE 1.2M rows x 1 KB: backend peak memory (VmHWM)",
        unit: "MB",
    },
    RowDef {
        key: "scale_d1m2_w_tmp",
        label: "scale: DELETE 1.2M rows x 1 KB: temp files written",
        unit: "MB",
    },
    RowDef {
        key: "scale_u10m_n_ms",
        label: "scale: UPDATE 10M narrow rows: time",
        unit: "ms",
    },
    RowDef {
        key: "scale_u10m_n_hwm",
        label: "scale: UPDATE 10M narrow rows: backend peak memory (VmHWM)",
        unit: "MB",
    },
    RowDef {
        key: "scale_u10m_n_tmp",
        label: "scale: UPDATE 10M narrow rows: temp files written",
        unit: "MB",
    },
];

/// The median of one (row, mode) for every variant.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The row.
    pub row: RowDef,
    /// Context mode.
    pub mode: Mode,
    /// Medians (sums for counts), in [`Variant::ALL`] order; `None` when not measured.
    pub medians: [Option<f64>; 5],
}

impl Summary {
    fn get(&self, v: Variant) -> Option<f64> {
        let i = Variant::ALL.iter().position(|x| *x == v).unwrap_or(0);
        self.medians[i]
    }

    /// `a / b` when both were measured and `b` is not zero.
    pub fn ratio(&self, a: Variant, b: Variant) -> Option<f64> {
        match (self.get(a), self.get(b)) {
            (Some(x), Some(y)) if y != 0.0 => Some(x / y),
            _ => None,
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// One summary per (row, mode) that has samples, in print order.
pub fn summarize(samples: &[Sample]) -> Vec<Summary> {
    let mut out = Vec::new();
    for row in ROWS {
        for mode in Mode::ALL {
            let mut medians = [None; 5];
            for (i, v) in Variant::ALL.iter().enumerate() {
                let mut values: Vec<f64> = samples
                    .iter()
                    .filter(|s| s.row == row.key && s.mode == mode && s.variant == *v)
                    .map(|s| s.value)
                    .collect();
                // Counts (lock timeouts) are summed: one timeout in one slice must show.
                medians[i] = if row.unit == "count" {
                    (!values.is_empty()).then(|| values.iter().sum())
                } else {
                    median(&mut values)
                };
            }
            if medians.iter().any(Option::is_some) {
                out.push(Summary {
                    row: *row,
                    mode,
                    medians,
                });
            }
        }
    }
    out
}

fn num(x: Option<f64>) -> String {
    match x {
        None => "-".to_owned(),
        Some(x) if x.abs() >= 100.0 || x == 0.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.2}"),
    }
}

fn ratio(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_owned(), |x| format!("{x:.2}"))
}

/// The table, as Markdown.
pub fn table(summaries: &[Summary]) -> String {
    use Variant::*;
    let mut s = String::new();
    s.push_str("| measurement | ctx | unit | untracked | floor | tracked | fields | json | floor/u | tracked/u | fields/u | json/u | tracked/floor | fields/floor | json/floor |\n");
    s.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for sum in summaries {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            sum.row.label,
            sum.mode.name(),
            sum.row.unit,
            num(sum.get(Untracked)),
            num(sum.get(Floor)),
            num(sum.get(Tracked)),
            num(sum.get(Fields)),
            num(sum.get(Json)),
            ratio(sum.ratio(Floor, Untracked)),
            ratio(sum.ratio(Tracked, Untracked)),
            ratio(sum.ratio(Fields, Untracked)),
            ratio(sum.ratio(Json, Untracked)),
            ratio(sum.ratio(Tracked, Floor)),
            ratio(sum.ratio(Fields, Floor)),
            ratio(sum.ratio(Json, Floor)),
        );
    }
    s
}

/// For every row measured both outside and inside a context: inside ÷ outside, per
/// variant (the context's own cost; for `tps` below 1 is slower).
pub fn context_table(summaries: &[Summary]) -> String {
    let mut s = String::new();
    s.push_str("| measurement | unit | untracked | floor | tracked | fields | json |\n");
    s.push_str("|---|---|---:|---:|---:|---:|---:|\n");
    for out in summaries.iter().filter(|x| x.mode == Mode::Outside) {
        let Some(inside) = summaries
            .iter()
            .find(|x| x.mode == Mode::Inside && x.row.key == out.row.key)
        else {
            continue;
        };
        let cells: Vec<String> = Variant::ALL
            .iter()
            .map(|v| match (inside.get(*v), out.get(*v)) {
                (Some(a), Some(b)) if b != 0.0 => format!("{:.2}", a / b),
                _ => "-".to_owned(),
            })
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            out.row.label,
            out.row.unit,
            cells.join(" | ")
        );
    }
    s
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes `<stem>.csv` (medians and ratios), `<stem>-samples.csv` (every value) and
/// `<stem>.json` (both, plus `config`) into `dir`; returns the JSON path.
pub fn write_files(
    dir: &Path,
    stem: &str,
    config: serde_json::Value,
    samples: &[Sample],
    summaries: &[Summary],
) -> Result<PathBuf, Error> {
    use Variant::*;
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_owned(),
        source,
    })?;
    let f = |x: Option<f64>| x.map_or_else(String::new, |x| x.to_string());

    let mut csv = String::from("row,ctx,unit,untracked,floor,tracked,fields,json,floor_u,tracked_u,fields_u,json_u,tracked_floor,fields_floor,json_floor\n");
    let mut rows_json = Vec::new();
    for sum in summaries {
        let ratios = [
            sum.ratio(Floor, Untracked),
            sum.ratio(Tracked, Untracked),
            sum.ratio(Fields, Untracked),
            sum.ratio(Json, Untracked),
            sum.ratio(Tracked, Floor),
            sum.ratio(Fields, Floor),
            sum.ratio(Json, Floor),
        ];
        let _ = writeln!(
            csv,
            "{},{},{},{}",
            sum.row.key,
            sum.mode.name(),
            sum.row.unit,
            sum.medians
                .iter()
                .chain(ratios.iter())
                .map(|x| f(*x))
                .collect::<Vec<_>>()
                .join(",")
        );
        let values: serde_json::Map<String, serde_json::Value> = Variant::ALL
            .iter()
            .zip(sum.medians.iter())
            .map(|(v, m)| (v.name().to_owned(), serde_json::json!(m)))
            .collect();
        rows_json.push(serde_json::json!({
            "row": sum.row.key,
            "label": sum.row.label,
            "ctx": sum.mode.name(),
            "unit": sum.row.unit,
            "median": values,
            "ratio_to_untracked": {
                "floor": ratios[0], "tracked": ratios[1], "fields": ratios[2], "json": ratios[3],
            },
            "ratio_to_floor": { "tracked": ratios[4], "fields": ratios[5], "json": ratios[6] },
        }));
    }
    write(&dir.join(format!("{stem}.csv")), &csv)?;

    let mut raw = String::from("rep,row,ctx,variant,value\n");
    for s in samples {
        let _ = writeln!(
            raw,
            "{},{},{},{},{}",
            s.rep,
            s.row,
            s.mode.name(),
            s.variant.name(),
            s.value
        );
    }
    write(&dir.join(format!("{stem}-samples.csv")), &raw)?;

    let samples_json: Vec<serde_json::Value> = samples
        .iter()
        .map(|s| {
            serde_json::json!({
                "rep": s.rep, "row": s.row, "ctx": s.mode.name(), "variant": s.variant.name(), "value": s.value,
            })
        })
        .collect();
    let json = serde_json::json!({ "config": config, "rows": rows_json, "samples": samples_json });
    let path = dir.join(format!("{stem}.json"));
    write(
        &path,
        &serde_json::to_string_pretty(&json).unwrap_or_default(),
    )?;
    Ok(path)
}
