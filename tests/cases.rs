//! Runs the shared case table (tests/cases/cases.tsv) through the exported functions, as
//! the C, C++, Go and Python tests do, so the Rust side cannot drift from them either.

use std::ffi::{CStr, CString};
use std::path::Path;
use std::ptr;

use packr::error::{packr_last_error, packr_status_name, PACKR_OK};
use packr::instance::{packr_instance_call, packr_instance_free, packr_module_instantiate};
use packr::module::{packr_module_free, packr_module_load};
use packr::runtime::{packr_runtime_free, packr_runtime_new};
use packr::val::{packr_val, packr_val_union, PACKR_F32, PACKR_F64, PACKR_I32, PACKR_I64};

fn parse_vals(text: &str) -> Vec<packr_val> {
    if text == "-" {
        return Vec::new();
    }
    text.split(' ')
        .map(|token| {
            let (kind, value) = token.split_once(':').expect("KIND:VALUE");
            match kind {
                "i32" => packr_val { kind: PACKR_I32, of: packr_val_union { i32: value.parse().unwrap() } },
                "i64" => packr_val { kind: PACKR_I64, of: packr_val_union { i64: value.parse().unwrap() } },
                "f32" => packr_val { kind: PACKR_F32, of: packr_val_union { f32: value.parse().unwrap() } },
                "f64" => packr_val { kind: PACKR_F64, of: packr_val_union { f64: value.parse().unwrap() } },
                "bad" => packr_val { kind: 99, of: packr_val_union { i64: value.parse().unwrap() } },
                other => panic!("unknown kind {other}"),
            }
        })
        .collect()
}

fn same(a: &packr_val, b: &packr_val) -> bool {
    a.kind == b.kind
        && unsafe {
            match a.kind {
                PACKR_I32 => a.of.i32 == b.of.i32,
                PACKR_I64 => a.of.i64 == b.of.i64,
                PACKR_F32 => a.of.f32 == b.of.f32,
                _ => a.of.f64 == b.of.f64,
            }
        }
}

/// Runs one row; returns the status and the results.
fn run(dir: &Path, file: &str, op: &str, export: &str, args: &[packr_val], nresults: usize) -> (i32, Vec<packr_val>) {
    let bytes = std::fs::read(dir.join(file)).expect("case file");
    let mut results = vec![packr_val { kind: 1000, of: packr_val_union { i64: 0 } }; nresults];
    let (mut rt, mut module, mut instance) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    let export = CString::new(export).unwrap();
    let mut status = unsafe { packr_runtime_new(&mut rt) };
    if status == PACKR_OK {
        status = unsafe { packr_module_load(rt, bytes.as_ptr(), bytes.len(), &mut module) };
    }
    if status == PACKR_OK && op != "load" {
        status = unsafe { packr_module_instantiate(module, &mut instance) };
    }
    if status == PACKR_OK && op == "call" {
        status = unsafe {
            packr_instance_call(instance, export.as_ptr(), args.as_ptr(), args.len(), results.as_mut_ptr(), nresults)
        };
    }
    unsafe {
        packr_instance_free(instance);
        packr_module_free(module);
        packr_runtime_free(rt);
    }
    (status, results)
}

#[test]
fn the_shared_case_table() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let table = std::fs::read_to_string(dir.join("cases.tsv")).unwrap();
    let mut rows = 0;
    for line in table.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 9, "malformed row: {line}");
        let (name, want_status, want_message) = (f[0], f[6], f[8]);
        let args = parse_vals(f[4]);
        let (status, results) = run(&dir, f[1], f[2], f[3], &args, f[5].parse().unwrap());
        let status_name = unsafe { CStr::from_ptr(packr_status_name(status)) }.to_str().unwrap();
        let message = unsafe { CStr::from_ptr(packr_last_error()) }.to_string_lossy().into_owned();
        assert_eq!(status_name, want_status, "case {name}: {message}");
        if status != PACKR_OK && want_message != "-" {
            assert!(message.contains(want_message), "case {name}: {message:?} lacks {want_message:?}");
        }
        if status == PACKR_OK && f[2] == "call" {
            let expected = parse_vals(f[7]);
            assert!(results.iter().zip(&expected).all(|(a, b)| same(a, b)), "case {name}: results differ");
        }
        rows += 1;
    }
    assert!(rows >= 20, "only {rows} rows");
}
