//! Runs the shared case table (tests/cases/cases.tsv) through the exported functions, as
//! the C, C++, Go and Python tests do, so the Rust side cannot drift from them either.

use std::ffi::{c_char, c_void, CStr, CString};
use std::path::Path;
use std::ptr;

use packr::bytes::{packr_bytes, packr_bytes_free};
use packr::caller::{packr_caller, packr_caller_call, packr_caller_memory_read, packr_caller_return_bytes, packr_caller_set_error};
use packr::error::{packr_last_error, packr_status, packr_status_name, PACKR_ERR_GUEST, PACKR_ERR_INVALID_ARGUMENT, PACKR_OK};
use packr::host::{packr_host, packr_host_define_bytes, packr_host_define_func, packr_host_define_wasi, packr_host_free, packr_host_new};
use packr::instance::{
    packr_instance_call, packr_instance_call_bytes, packr_instance_free, packr_instance_global_get, packr_instance_global_set,
    packr_instance_run, packr_instance_wasi_output, packr_module_instantiate, packr_module_instantiate_with,
};
use packr::config::{packr_config_free, packr_config_new, packr_config_set_fuel};
use packr::instance_config::{
    packr_instance_config_free, packr_instance_config_new, packr_instance_config_set_fuel, packr_instance_config_set_memory_limit,
    packr_instance_config_set_table_limit, packr_instance_config_set_timeout_ms, packr_instance_config_set_wasi_args,
    packr_instance_config_set_wasi_stdout,
};
use packr::wasi::PACKR_WASI_CAPTURE;
use packr::module::{packr_module_free, packr_module_load};
use packr::runtime::{packr_runtime_free, packr_runtime_new, packr_runtime_new_with_config, packr_runtime_new_with_host};
use packr::val::{packr_val, packr_val_union, packr_valkind, PACKR_F32, PACKR_F64, PACKR_I32, PACKR_I64, PACKR_V128};

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
                "v128" => {
                    let mut v128 = [0u8; 16];
                    for (i, byte) in v128.iter_mut().enumerate() {
                        *byte = u8::from_str_radix(&value[2 * i..2 * i + 2], 16).unwrap();
                    }
                    packr_val { kind: PACKR_V128, of: packr_val_union { v128 } }
                }
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
                PACKR_F64 => a.of.f64 == b.of.f64,
                _ => a.of.v128 == b.of.v128,
            }
        }
}

fn fail(caller: *mut packr_caller, message: &str) -> packr_status {
    let message = CString::new(message).unwrap();
    unsafe { packr_caller_set_error(caller, message.as_ptr()) };
    PACKR_ERR_INVALID_ARGUMENT
}

/// The case host's functions, told apart by `env` (0 add, 1 fail, 2 peek, 3 twice, 4 swap).
unsafe extern "C" fn case_host(
    env: *mut c_void,
    caller: *mut packr_caller,
    args: *const packr_val,
    nargs: usize,
    results: *mut packr_val,
    nresults: usize,
) -> packr_status {
    let args = unsafe { std::slice::from_raw_parts(args, nargs) };
    let results = unsafe { std::slice::from_raw_parts_mut(results, nresults) };
    unsafe {
        match env as usize {
            0 => results[0].of.i32 = args[0].of.i32.wrapping_add(args[1].of.i32),
            1 => return fail(caller, &format!("refused {}", args[0].of.i32)),
            2 => {
                let mut byte = 0u8;
                let status = packr_caller_memory_read(caller, c"memory".as_ptr(), args[0].of.i32 as u32 as u64, &mut byte, 1);
                if status != PACKR_OK {
                    return fail(caller, CStr::from_ptr(packr_last_error()).to_str().unwrap());
                }
                results[0].of.i32 = byte as i32;
            }
            3 => {
                let status = packr_caller_call(caller, c"double".as_ptr(), args.as_ptr(), 1, results.as_mut_ptr(), 1);
                if status != PACKR_OK {
                    return status;
                }
                results[0].of.i32 += 1;
            }
            _ => {
                let v = args[0].of.v128;
                let mut swapped = [0u8; 16];
                swapped[..8].copy_from_slice(&v[8..]);
                swapped[8..].copy_from_slice(&v[..8]);
                results[0].of.v128 = swapped;
            }
        }
    }
    PACKR_OK
}

/// The case host's bytes function `transform`.
unsafe extern "C" fn transform(_env: *mut c_void, caller: *mut packr_caller, input: *const u8, len: usize) -> packr_status {
    let input = if len == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(input, len) } };
    match input {
        b"guest-error" => PACKR_ERR_GUEST,
        b"host-error" => fail(caller, "transform refused"),
        _ => {
            let upper = input.to_ascii_uppercase();
            unsafe { packr_caller_return_bytes(caller, upper.as_ptr(), upper.len()) }
        }
    }
}

fn case_host_new() -> *mut packr_host {
    let mut host = ptr::null_mut();
    assert_eq!(unsafe { packr_host_new(&mut host) }, PACKR_OK);
    assert_eq!(unsafe { packr_host_define_wasi(host) }, PACKR_OK);
    let status = unsafe { packr_host_define_bytes(host, c"host".as_ptr(), c"transform".as_ptr(), Some(transform), ptr::null_mut(), None) };
    assert_eq!(status, PACKR_OK);
    let defs: [(&CStr, &[packr_valkind], &[packr_valkind]); 5] = [
        (c"add", &[PACKR_I32, PACKR_I32], &[PACKR_I32]),
        (c"fail", &[PACKR_I32], &[PACKR_I32]),
        (c"peek", &[PACKR_I32], &[PACKR_I32]),
        (c"twice", &[PACKR_I32], &[PACKR_I32]),
        (c"swap", &[PACKR_V128], &[PACKR_V128]),
    ];
    for (i, (name, params, results)) in defs.iter().enumerate() {
        let status = unsafe {
            packr_host_define_func(
                host,
                c"host".as_ptr(),
                name.as_ptr(),
                params.as_ptr(),
                params.len(),
                results.as_ptr(),
                results.len(),
                Some(case_host),
                i as *mut c_void,
                None,
            )
        };
        assert_eq!(status, PACKR_OK);
    }
    host
}

/// A BYTES value of the table: str:TEXT or rep:N:C.
fn parse_bytes(text: &str) -> Vec<u8> {
    if text == "-" {
        return Vec::new();
    }
    match text.split_once(':') {
        Some(("str", value)) => value.replace("\\n", "\n").into_bytes(),
        Some(("rep", spec)) => {
            let (n, c) = spec.split_once(':').expect("rep:N:C");
            c.repeat(n.parse().unwrap()).into_bytes()
        }
        _ => panic!("not BYTES: {text}"),
    }
}

fn take_bytes(bytes: &mut packr_bytes) -> Vec<u8> {
    let copy = if bytes.len == 0 { Vec::new() } else { unsafe { std::slice::from_raw_parts(bytes.data, bytes.len) }.to_vec() };
    unsafe { packr_bytes_free(bytes) };
    copy
}

/// What a row produced besides its status: values, or (ops bytes and run) bytes.
enum Produced {
    Vals(Vec<packr_val>),
    Bytes(Vec<u8>),
    Run { exit: i32, out: Vec<u8> },
}

/// Runs a `bytes` or `run` row on the case host's runtime.
fn run_bytes(dir: &Path, file: &str, op: &str, export: &str, args: &str) -> (i32, Produced) {
    let code = std::fs::read(dir.join(file)).expect("case file");
    let host = case_host_new();
    let (mut base, mut rt, mut module, mut instance, mut config) =
        (ptr::null_mut(), ptr::null_mut(), ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    let mut produced = Produced::Bytes(Vec::new());
    let export = CString::new(export).unwrap();
    let argv: Vec<CString> = std::iter::once("case".to_string())
        .chain(args.split(' ').filter(|a| *a != "-").map(|a| String::from_utf8(parse_bytes(a)).unwrap()))
        .map(|a| CString::new(a).unwrap())
        .collect();
    let argv: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    let status = (|| unsafe {
        let mut status = packr_runtime_new(&mut base);
        if status == PACKR_OK {
            status = packr_runtime_new_with_host(base, host, &mut rt);
        }
        if status == PACKR_OK {
            status = packr_module_load(rt, code.as_ptr(), code.len(), &mut module);
        }
        if status != PACKR_OK {
            return status;
        }
        assert_eq!(packr_instance_config_new(&mut config), PACKR_OK);
        if op == "run" {
            assert_eq!(packr_instance_config_set_wasi_args(config, argv.as_ptr(), argv.len()), PACKR_OK);
            assert_eq!(packr_instance_config_set_wasi_stdout(config, PACKR_WASI_CAPTURE), PACKR_OK);
        }
        status = packr_module_instantiate_with(module, config, ptr::null_mut(), &mut instance);
        if status != PACKR_OK {
            return status;
        }
        if op == "run" {
            let mut exit = -1;
            status = packr_instance_run(instance, &mut exit);
            let mut out = packr_bytes { data: ptr::null_mut(), len: 0 };
            assert_eq!(packr_instance_wasi_output(instance, 1, &mut out), PACKR_OK);
            produced = Produced::Run { exit, out: take_bytes(&mut out) };
            return status;
        }
        let input = parse_bytes(args);
        let mut out = packr_bytes { data: ptr::null_mut(), len: 0 };
        status = packr_instance_call_bytes(instance, export.as_ptr(), input.as_ptr(), input.len(), &mut out);
        produced = Produced::Bytes(take_bytes(&mut out));
        status
    })();
    unsafe {
        packr_instance_free(instance);
        packr_instance_config_free(config);
        packr_module_free(module);
        packr_runtime_free(rt);
        packr_runtime_free(base);
        packr_host_free(host);
    }
    (status, produced)
}

/// Runs one row; returns the status and the results.
fn run(dir: &Path, file: &str, op: &str, export: &str, args: &[packr_val], nresults: usize) -> (i32, Vec<packr_val>) {
    let bytes = std::fs::read(dir.join(file)).expect("case file");
    let mut results = vec![packr_val { kind: 1000, of: packr_val_union { i64: 0 } }; nresults];
    let (mut base, mut rt, mut module, mut instance) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    let export = CString::new(export).unwrap();
    let mut status = if op == "fuel" {
        let mut config = ptr::null_mut();
        assert_eq!(unsafe { packr_config_new(&mut config) }, PACKR_OK);
        assert_eq!(unsafe { packr_config_set_fuel(config, true) }, PACKR_OK);
        let status = unsafe { packr_runtime_new_with_config(config, &mut base) };
        unsafe { packr_config_free(config) };
        status
    } else {
        unsafe { packr_runtime_new(&mut base) }
    };
    if status == PACKR_OK && (op == "hostcall" || op == "instantiate_host") {
        let host = case_host_new();
        status = unsafe { packr_runtime_new_with_host(base, host, &mut rt) };
        unsafe { packr_host_free(host) };
    } else {
        rt = base;
        base = ptr::null_mut();
    }
    if status == PACKR_OK {
        status = unsafe { packr_module_load(rt, bytes.as_ptr(), bytes.len(), &mut module) };
    }
    let guarded = matches!(op, "timeout" | "fuel" | "limit");
    if status == PACKR_OK && guarded {
        let mut config = ptr::null_mut();
        assert_eq!(unsafe { packr_instance_config_new(&mut config) }, PACKR_OK);
        unsafe {
            match op {
                "timeout" => assert_eq!(packr_instance_config_set_timeout_ms(config, 10), PACKR_OK),
                "fuel" => assert_eq!(packr_instance_config_set_fuel(config, 10_000), PACKR_OK),
                _ => {
                    assert_eq!(packr_instance_config_set_memory_limit(config, 262_144), PACKR_OK);
                    assert_eq!(packr_instance_config_set_table_limit(config, 10), PACKR_OK);
                }
            }
        }
        status = unsafe { packr_module_instantiate_with(module, config, ptr::null_mut(), &mut instance) };
        unsafe { packr_instance_config_free(config) };
    } else if status == PACKR_OK && op != "load" {
        status = unsafe { packr_module_instantiate(module, &mut instance) };
    }
    let calls = op == "call" || op == "hostcall" || (guarded && export.as_bytes() != b"-");
    if status == PACKR_OK && calls {
        status = unsafe {
            packr_instance_call(instance, export.as_ptr(), args.as_ptr(), args.len(), results.as_mut_ptr(), nresults)
        };
    }
    if status == PACKR_OK && op == "global_set" {
        status = unsafe { packr_instance_global_set(instance, export.as_ptr(), &args[0]) };
    }
    if status == PACKR_OK && op.starts_with("global_") {
        status = unsafe { packr_instance_global_get(instance, export.as_ptr(), &mut results[0]) };
    }
    unsafe {
        packr_instance_free(instance);
        packr_module_free(module);
        packr_runtime_free(rt);
        packr_runtime_free(base);
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
        let (status, produced) = if f[2] == "bytes" || f[2] == "run" {
            run_bytes(&dir, f[1], f[2], f[3], f[4])
        } else {
            let (status, results) = run(&dir, f[1], f[2], f[3], &parse_vals(f[4]), f[5].parse().unwrap());
            (status, Produced::Vals(results))
        };
        let status_name = unsafe { CStr::from_ptr(packr_status_name(status)) }.to_str().unwrap();
        let message = unsafe { CStr::from_ptr(packr_last_error()) }.to_string_lossy().into_owned();
        assert_eq!(status_name, want_status, "case {name}: {message}");
        if status != PACKR_OK && want_message != "-" {
            assert!(message.contains(want_message), "case {name}: {message:?} lacks {want_message:?}");
        }
        match produced {
            _ if status != PACKR_OK => {}
            Produced::Vals(results) if f[7] != "-" => {
                let expected = parse_vals(f[7]);
                assert_eq!(results.len(), expected.len(), "case {name}");
                assert!(results.iter().zip(&expected).all(|(a, b)| same(a, b)), "case {name}: results differ");
            }
            Produced::Vals(_) => {}
            Produced::Bytes(output) => assert!(output == parse_bytes(f[7]), "case {name}: the output differs"),
            Produced::Run { exit, out } => {
                let (want_exit, want_out) = f[7].split_once(' ').expect("exit:N out:TEXT");
                assert_eq!(format!("exit:{exit}"), want_exit, "case {name}");
                assert_eq!(out, parse_bytes(&want_out.replacen("out:", "str:", 1)), "case {name}: stdout differs");
            }
        }
        rows += 1;
    }
    assert!(rows >= 53, "only {rows} rows");
}
