//! The pack convention against a hostile guest: before each `packr_instance_call_bytes` (or
//! `packr_instance_call_func_bytes`) the input sets the guest's knobs (globals): what
//! `__pack_alloc` returns (a proper block, any pointer, 0, a trap, a hang) and whether it
//! grows memory first; whether `__pack_free` traps; the export's return code and the
//! pointer and length it writes into its result slots. packr must answer with the status
//! the convention gives (modelled exactly for `call`), read nothing outside the guest's
//! memory, and on success return exactly the bytes the slots point to.
//!
//! `roundtrip` goes the other way too: it passes its input to a host import of the pack
//! convention (`packr_host_define_bytes`) whose callback answers with bytes, nothing,
//! `PACKR_ERR_GUEST` or a failure, while the same hostile `__pack_alloc` serves
//! `packr_caller_return_bytes`.

#![no_main]

use std::cell::RefCell;
use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use packr_fuzz::api::*;
use packr_fuzz::*;

const GUEST: &str = r#"(module
  (import "env" "bytes" (func $bytes (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 4)
  (global $alloc_mode (export "alloc_mode") (mut i32) (i32.const 0))
  (global $alloc_val (export "alloc_val") (mut i32) (i32.const 0))
  (global $grow (export "grow") (mut i32) (i32.const 0))
  (global $free_trap (export "free_trap") (mut i32) (i32.const 0))
  (global $code (export "code") (mut i32) (i32.const 0))
  (global $echo (export "echo") (mut i32) (i32.const 1))
  (global $out_ptr (export "out_ptr") (mut i32) (i32.const 0))
  (global $out_len (export "out_len") (mut i32) (i32.const 0))
  (global $slots (export "slots") (mut i32) (i32.const 1))
  (global $spin (export "spin") (mut i32) (i32.const 0))
  (global $rt_pp (export "rt_pp") (mut i32) (i32.const 16))
  (global $rt_lp (export "rt_lp") (mut i32) (i32.const 20))
  (global $bump (mut i32) (i32.const 1024))
  (global $allocs (export "allocs") (mut i32) (i32.const 0))
  (global $frees (export "frees") (mut i32) (i32.const 0))
  (global $seen_in (export "seen_in") (mut i32) (i32.const 0))
  (global $seen_len (export "seen_len") (mut i32) (i32.const 0))
  (global $seen_pp (export "seen_pp") (mut i32) (i32.const 0))
  (global $seen_lp (export "seen_lp") (mut i32) (i32.const 0))
  (global $rt_code (export "rt_code") (mut i32) (i32.const 0))
  (func $fits (param $p i32) (param $n i32) (result i32)
    (i64.le_u (i64.add (i64.extend_i32_u (local.get $p)) (i64.extend_i32_u (local.get $n)))
              (i64.mul (i64.extend_i32_u (memory.size)) (i64.const 65536))))
  (func (export "__pack_alloc") (param $n i32) (result i32) (local $p i32)
    (global.set $allocs (i32.add (global.get $allocs) (i32.const 1)))
    (if (global.get $grow) (then (drop (memory.grow (global.get $grow)))))
    (if (i32.eq (global.get $alloc_mode) (i32.const 1)) (then (return (global.get $alloc_val))))
    (if (i32.eq (global.get $alloc_mode) (i32.const 2)) (then unreachable))
    (if (i32.eq (global.get $alloc_mode) (i32.const 3)) (then (loop $l (br $l))))
    (local.set $p (global.get $bump))
    (if (i32.eqz (call $fits (local.get $p) (local.get $n))) (then (local.set $p (i32.const 1024))))
    (if (i32.eqz (call $fits (local.get $p) (local.get $n))) (then (return (i32.const 0))))
    (global.set $bump (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (local.get $p))
  (func (export "__pack_free") (param i32 i32)
    (global.set $frees (i32.add (global.get $frees) (i32.const 1)))
    (if (global.get $free_trap) (then unreachable)))
  (func (export "call") (param $in i32) (param $len i32) (param $pp i32) (param $lp i32) (result i32)
    (global.set $seen_in (local.get $in))
    (global.set $seen_len (local.get $len))
    (global.set $seen_pp (local.get $pp))
    (global.set $seen_lp (local.get $lp))
    (if (global.get $spin) (then (loop $l (br $l))))
    (if (global.get $slots) (then
      (i32.store (local.get $pp) (select (local.get $in) (global.get $out_ptr) (global.get $echo)))
      (i32.store (local.get $lp) (select (local.get $len) (global.get $out_len) (global.get $echo)))))
    (global.get $code))
  (func (export "roundtrip") (param $in i32) (param $len i32) (param $pp i32) (param $lp i32) (result i32)
    (global.set $seen_pp (local.get $pp))
    (global.set $rt_code (call $bytes (local.get $in) (local.get $len) (global.get $rt_pp) (global.get $rt_lp)))
    (if (i32.lt_s (global.get $rt_code) (i32.const 0)) (then (return (i32.const -1))))
    (i32.store (local.get $pp) (i32.load (global.get $rt_pp)))
    (i32.store (local.get $lp) (i32.load (global.get $rt_lp)))
    (i32.const 0))
  (func (export "bad_shape") (param i32) (result i32) (local.get 0)))"#;

/// A module without the pack exports, and one whose allocator has another type.
const NO_ALLOC: &str = r#"(module (memory (export "memory") 1)
  (func (export "call") (param i32 i32 i32 i32) (result i32) (i32.const 0)))"#;
const BAD_ALLOC: &str = r#"(module (memory (export "memory") 1)
  (func (export "__pack_alloc") (param i64) (result i32) (i32.const 0))
  (func (export "__pack_free") (param i32 i32))
  (func (export "call") (param i32 i32 i32 i32) (result i32) (i32.const 0)))"#;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Alloc {
    Bump,
    Value(u32),
    /// Near the end of the memory (where blocks cross it).
    NearEnd(u16),
    Zero,
    Trap,
    Hang,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Out {
    Echo,
    Value(u32, u32),
    /// A length that reaches exactly to, or just past, the end of the memory.
    ToEnd(u16, i8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct Knobs {
    alloc: Alloc,
    grow: u8,
    free_trap: bool,
    code: i8,
    out: Out,
    slots: bool,
    spin: bool,
}

#[derive(Arbitrary, Debug, Clone)]
enum BytesAction {
    Return(Vec<u8>),
    ReturnTwice(Vec<u8>),
    ReturnNull(u8),
    Empty,
    Guest(Vec<u8>),
    Fail(i32),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Call { knobs: Knobs, input: Vec<u8>, by_func: bool },
    Roundtrip { knobs: Knobs, input: Vec<u8>, action: BytesAction, bad_slot: Option<u32> },
    Name(u8),
    NullInput(u8),
    Incomplete(bool),
}

#[derive(Arbitrary, Debug)]
struct Input {
    ops: Vec<Op>,
}

/// Per instance (its host data): what the bytes callback is to do and saw.
struct Ctx {
    action: Option<BytesAction>,
    input: Vec<u8>,
    ran: bool,
    returned: Option<Vec<u8>>,
    status: packr_status,
    return_status: Option<packr_status>,
}

unsafe extern "C" fn bytes_cb(_: *mut c_void, caller: *mut packr_caller, input: *const u8, len: usize) -> packr_status {
    let ctx = unsafe { &*(packr_caller_data(caller) as *const RefCell<Ctx>) };
    let mut c = ctx.borrow_mut();
    c.ran = true;
    let got = if len == 0 {
        assert!(input.is_null(), "an empty input is not NULL");
        &[][..]
    } else {
        unsafe { std::slice::from_raw_parts(input, len) }
    };
    assert_eq!(got, c.input.as_slice(), "the bytes callback got another input than the guest passed");
    // The allocator's outcomes: the ones of a call into the guest, and the convention's.
    let give: &[packr_status] = &[PACKR_OK, PACKR_ERR_GUEST, PACKR_ERR_OUT_OF_BOUNDS, PACKR_ERR_TRAP, PACKR_ERR_TIMEOUT, PACKR_ERR_OUT_OF_FUEL];
    let action = c.action.clone().unwrap_or(BytesAction::Empty);
    let status = match action {
        BytesAction::Return(b) | BytesAction::ReturnTwice(b) => {
            let s = check("packr_caller_return_bytes", give, || unsafe { packr_caller_return_bytes(caller, array_ptr(&b), b.len()) });
            c.return_status = Some(s);
            if s == PACKR_OK {
                c.returned = Some(b.clone());
                if matches!(c.action, Some(BytesAction::ReturnTwice(_))) {
                    check("packr_caller_return_bytes (again)", &[PACKR_ERR_INVALID_ARGUMENT], || unsafe {
                        packr_caller_return_bytes(caller, array_ptr(&b), b.len())
                    });
                }
            }
            s
        }
        BytesAction::ReturnNull(n) => {
            let n = usize::from(n % 3);
            let want = if n == 0 { PACKR_OK } else { PACKR_ERR_NULL_POINTER };
            check("packr_caller_return_bytes(NULL)", &[want], || unsafe { packr_caller_return_bytes(caller, ptr::null(), n) });
            if n == 0 {
                c.returned = Some(Vec::new());
            }
            PACKR_OK
        }
        BytesAction::Empty => PACKR_OK,
        BytesAction::Guest(b) => {
            // Bytes returned and then an error: packr takes them back.
            let s = check("packr_caller_return_bytes", give, || unsafe { packr_caller_return_bytes(caller, array_ptr(&b), b.len()) });
            c.return_status = Some(s);
            PACKR_ERR_GUEST
        }
        BytesAction::Fail(s) => s,
    };
    c.status = status;
    status
}

struct State {
    module: Shared<packr_module>,
    no_alloc: Shared<packr_module>,
    bad_alloc: Shared<packr_module>,
    call_func: Shared<packr_func>,
}

static STATE: OnceLock<State> = OnceLock::new();

fn state() -> &'static State {
    STATE.get_or_init(|| {
        let config = fuzz_config(0);
        let base = make("packr_runtime_new_with_config", &[PACKR_OK], |out| unsafe { packr_runtime_new_with_config(config, out) }).unwrap();
        let host = make("packr_host_new", &[PACKR_OK], |out| unsafe { packr_host_new(out) }).unwrap();
        ok("packr_host_define_bytes", unsafe { packr_host_define_bytes(host, c"env".as_ptr(), c"bytes".as_ptr(), Some(bytes_cb), ptr::null_mut(), None) });
        let runtime = make("packr_runtime_new_with_host", &[PACKR_OK], |out| unsafe { packr_runtime_new_with_host(base, host, out) }).unwrap();
        let module = load_text(runtime, GUEST);
        let call_func = make("packr_module_func", &[PACKR_OK], |out| unsafe { packr_module_func(module, c"call".as_ptr(), out) }).unwrap();
        let st = State {
            module: Shared(module),
            no_alloc: Shared(load_text(runtime, NO_ALLOC)),
            bad_alloc: Shared(load_text(runtime, BAD_ALLOC)),
            call_func: Shared(call_func),
        };
        unsafe {
            packr_host_free(host);
            packr_config_free(config);
            packr_runtime_free(base);
            packr_runtime_free(runtime);
        }
        st
    })
}

fn set(instance: *mut packr_instance, name: &str, value: i32) {
    let name = c_string(name.as_bytes());
    let v = packr_val { kind: PACKR_I32, of: packr_val_union { i32: value } };
    ok("packr_instance_global_set", unsafe { packr_instance_global_set(instance, name.as_ptr().cast(), &v) });
}

fn get(instance: *mut packr_instance, name: &str) -> i32 {
    let name = c_string(name.as_bytes());
    let (_, v) = with_out("packr_instance_global_get", &[PACKR_OK], |out| unsafe { packr_instance_global_get(instance, name.as_ptr().cast(), out) });
    unsafe { v.unwrap().of.i32 }
}

fn memory_size(instance: *mut packr_instance) -> u64 {
    with_out("packr_instance_memory_size", &[PACKR_OK], |out| unsafe { packr_instance_memory_size(instance, ptr::null(), out) }).1.unwrap()
}

fn read(instance: *mut packr_instance, at: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    ok("packr_instance_memory_read", unsafe { packr_instance_memory_read(instance, ptr::null(), at, buf.as_mut_ptr(), len) });
    buf
}

/// Sets the knobs; returns the pointer `__pack_alloc` is set to return (None: bump).
fn apply(instance: *mut packr_instance, k: &Knobs) -> Option<u32> {
    let size = memory_size(instance) as u32;
    let (mode, value) = match k.alloc {
        Alloc::Bump => (0, None),
        Alloc::Value(v) => (1, Some(v)),
        Alloc::NearEnd(d) => (1, Some(size.wrapping_sub(u32::from(d % 64)))),
        Alloc::Zero => (1, Some(0)),
        Alloc::Trap => (2, None),
        Alloc::Hang => (3, None),
    };
    set(instance, "alloc_mode", mode);
    set(instance, "alloc_val", value.unwrap_or(0) as i32);
    set(instance, "grow", i32::from(k.grow % 3));
    set(instance, "free_trap", i32::from(k.free_trap));
    set(instance, "code", i32::from(k.code % 3));
    set(instance, "slots", i32::from(k.slots));
    set(instance, "spin", i32::from(k.spin));
    match k.out {
        Out::Echo => set(instance, "echo", 1),
        Out::Value(p, l) => {
            set(instance, "echo", 0);
            set(instance, "out_ptr", p as i32);
            set(instance, "out_len", l as i32);
        }
        Out::ToEnd(p, d) => {
            set(instance, "echo", 0);
            let p = u32::from(p) % size.max(1);
            set(instance, "out_ptr", p as i32);
            set(instance, "out_len", (size - p).wrapping_add_signed(i32::from(d % 3)) as i32);
        }
    }
    for n in ["allocs", "frees", "seen_pp", "seen_in", "seen_len", "seen_lp"] {
        set(instance, n, 0);
    }
    if matches!(k.alloc, Alloc::Trap | Alloc::Hang) { None } else { value.or(None) }
}

fn fits(p: u32, n: u64, size: u64) -> bool {
    u64::from(p) + n <= size
}

/// The exact status of a `call` pack call, from the knobs and the memory size after it.
fn expect_call(k: &Knobs, alloc_val: Option<u32>, input: &[u8], size_after: u64) -> (packr_status, bool) {
    let total = input.len() as u64 + 8;
    match k.alloc {
        Alloc::Trap => return (PACKR_ERR_TRAP, false),
        Alloc::Hang => return (PACKR_ERR_OUT_OF_FUEL, false),
        _ => {}
    }
    if let Some(p) = alloc_val {
        if p == 0 {
            return (PACKR_ERR_GUEST, false);
        }
        if !fits(p, total, size_after) {
            return (PACKR_ERR_OUT_OF_BOUNDS, false);
        }
    }
    // The export runs; a bump allocation always fits (it returns 0 otherwise: never for
    // inputs of at most 4 KiB in a memory of at least one page).
    if k.spin {
        return (PACKR_ERR_OUT_OF_FUEL, true);
    }
    if k.free_trap {
        return (PACKR_ERR_TRAP, true);
    }
    let code = i32::from(k.code % 3);
    if code != 0 && code != -1 {
        return (PACKR_ERR_GUEST, true);
    }
    // The output's bounds are checked next (by the caller, from the slots), then the code.
    (if code == -1 { PACKR_ERR_GUEST } else { PACKR_OK }, true)
}

/// Every status a pack call of this guest may end with.
const PACK_ALL: &[packr_status] =
    &[PACKR_OK, PACKR_ERR_GUEST, PACKR_ERR_OUT_OF_BOUNDS, PACKR_ERR_TRAP, PACKR_ERR_HOST, PACKR_ERR_OUT_OF_FUEL, PACKR_ERR_TIMEOUT];

struct Run {
    instance: *mut packr_instance,
    ctx: *const RefCell<Ctx>,
}

fn pack_call(r: &Run, knobs: &Knobs, input: &[u8], by_func: bool) {
    let instance = r.instance;
    let alloc_val = apply(instance, knobs);
    // Re-arm a tank small enough that `spin` and `Hang` stop quickly.
    refuel(instance);
    let mut out = Out2::new();
    mark_last_error();
    let status = unsafe {
        if by_func {
            packr_instance_call_func_bytes(instance, state().call_func.0, array_ptr(input), input.len(), out.ptr())
        } else {
            packr_instance_call_bytes(instance, c"call".as_ptr(), array_ptr(input), input.len(), out.ptr())
        }
    };
    let what = if by_func { "packr_instance_call_func_bytes" } else { "packr_instance_call_bytes" };
    verify(what, PACK_ALL, status);
    let message = last_error();
    let size = memory_size(instance);
    let (mut want, ran) = expect_call(knobs, alloc_val, input, size);
    let code_ok = matches!(knobs.code % 3, 0 | -1);
    if ran && !knobs.spin && !knobs.free_trap && code_ok && knobs.slots {
        // The slots hold what the export wrote: the output must lie inside memory.
        let (p, l) = match knobs.out {
            Out::Echo => (get(instance, "seen_in") as u32, input.len() as u32),
            _ => (get(instance, "out_ptr") as u32, get(instance, "out_len") as u32),
        };
        if !fits(p, u64::from(l), size) {
            want = PACKR_ERR_OUT_OF_BOUNDS;
        }
    }
    assert!(status == want, "{what}: {} where the convention gives {} ({knobs:?}); message: {message}", status_name(status), status_name(want));
    if ran {
        // The export saw the input in a block of the guest's memory, after the two slots.
        let (seen_in, seen_len, pp, lp) = (get(instance, "seen_in") as u32, get(instance, "seen_len"), get(instance, "seen_pp") as u32, get(instance, "seen_lp") as u32);
        assert_eq!(seen_len as usize, input.len(), "the export got another input length");
        assert_eq!((seen_in, lp), (pp + 8, pp + 4), "the slots and input are not laid out as the convention says");
        if let Some(p) = alloc_val {
            assert_eq!(pp, p, "the block is not the one __pack_alloc returned");
        }
        if !knobs.free_trap && !knobs.spin {
            // Everything __pack_alloc gave was freed: the block, and a non-NULL output.
            let frees = get(instance, "frees");
            assert!(frees >= 1, "the block was not freed");
        }
    }
    if status == PACKR_OK {
        let got = unsafe { out.get() };
        let pp = get(instance, "seen_pp") as u64;
        let slot = read(instance, pp, 8);
        let (p, l) = (u32::from_le_bytes(slot[..4].try_into().unwrap()), u32::from_le_bytes(slot[4..].try_into().unwrap()));
        let bytes = if got.len == 0 {
            assert!(got.data.is_null(), "an empty output is not {{NULL, 0}}");
            Vec::new()
        } else {
            unsafe { std::slice::from_raw_parts(got.data, got.len) }.to_vec()
        };
        assert_eq!(bytes, read(instance, u64::from(p), l as usize), "the output is not what the slots point to");
        if matches!(knobs.out, Out::Echo) && knobs.slots {
            assert_eq!(bytes, input, "an echo returned other bytes");
        }
        let mut got = got;
        unsafe { packr_bytes_free(&mut got) };
        assert!(got.data.is_null() && got.len == 0, "packr_bytes_free did not reset the bytes");
    } else {
        assert!(out.untouched(), "a failed pack call wrote its output");
    }
    let _ = r.ctx;
}

/// An out-slot for packr_bytes.
type Out2 = packr_fuzz::Out<packr_bytes>;

fn refuel(instance: *mut packr_instance) {
    let (_, fuel) = with_out("packr_instance_fuel", &[PACKR_OK], |out| unsafe { packr_instance_fuel(instance, out) });
    let fuel: u64 = fuel.unwrap();
    if fuel < 50_000 {
        ok("packr_instance_add_fuel", unsafe { packr_instance_add_fuel(instance, 50_000 - fuel) });
    }
}

fn roundtrip(r: &Run, knobs: &Knobs, input: &[u8], action: &BytesAction, bad_slot: Option<u32>) {
    let instance = r.instance;
    apply(instance, knobs);
    refuel(instance);
    set(instance, "rt_pp", bad_slot.map_or(16, |s| s as i32));
    set(instance, "rt_code", -99);
    {
        let mut c = unsafe { &*r.ctx }.borrow_mut();
        c.action = Some(action.clone());
        c.input = input.to_vec();
        c.ran = false;
        c.returned = None;
        c.status = PACKR_OK;
        c.return_status = None;
    }
    let mut out = Out2::new();
    let status = check(
        "packr_instance_call_bytes(roundtrip)",
        PACK_ALL,
        || unsafe { packr_instance_call_bytes(instance, c"roundtrip".as_ptr(), array_ptr(input), input.len(), out.ptr()) },
    );
    let c = unsafe { &*r.ctx }.borrow();
    let rt_code = get(instance, "rt_code");
    if c.ran {
        // The import's code: 1 with bytes, 0 with none, -1 for PACKR_ERR_GUEST; anything
        // else fails the call before the guest sees a code.
        match (c.status, &c.returned) {
            (PACKR_OK, Some(b)) if !b.is_empty() => assert!(rt_code == 1 || rt_code == -99, "import code {rt_code} for bytes"),
            (PACKR_OK, _) => assert!(rt_code == 0 || rt_code == -99, "import code {rt_code} for no bytes"),
            (PACKR_ERR_GUEST, _) => assert!(rt_code == -1 || rt_code == -99, "import code {rt_code} for PACKR_ERR_GUEST"),
            _ => {
                assert_eq!(rt_code, -99, "the guest saw a code after its import failed");
                assert!([PACKR_ERR_HOST, PACKR_ERR_OUT_OF_FUEL, PACKR_ERR_TIMEOUT].contains(&status), "a failed import gave {}", status_name(status));
            }
        }
        // (Only with proper blocks: an allocator that hands out one block twice lets the
        // result overwrite the outer call's slots.)
        if c.status == PACKR_ERR_GUEST && rt_code == -1 && !knobs.free_trap && matches!(knobs.alloc, Alloc::Bump) {
            assert_eq!(status, PACKR_ERR_GUEST, "the guest's -1 after PACKR_ERR_GUEST");
        }
    }
    if status == PACKR_OK {
        let got = unsafe { out.get() };
        let bytes = if got.len == 0 { Vec::new() } else { unsafe { std::slice::from_raw_parts(got.data, got.len) }.to_vec() };
        if matches!(knobs.alloc, Alloc::Bump) && bad_slot.is_none() {
            // No block or slot overlaps another: the guest got exactly the callback's bytes back.
            let want = c.returned.clone().unwrap_or_default();
            assert_eq!(bytes, want, "the bytes a host import returned came back otherwise");
        }
        let mut got = got;
        unsafe { packr_bytes_free(&mut got) };
    } else {
        assert!(out.untouched(), "a failed pack call wrote its output");
    }
}

fn scenario(input: &Input) {
    let st = state();
    let ctx = RefCell::new(Ctx { action: None, input: Vec::new(), ran: false, returned: None, status: PACKR_OK, return_status: None });
    let guard = Guard { timeout_ms: 2000, fuel: 50_000, memory_limit: 4 << 16, table_limit: 10 };
    let cfg = instance_config(&guard);
    let instance = make("packr_module_instantiate_with", &[PACKR_OK], |out| unsafe {
        packr_module_instantiate_with(st.module.0, cfg, &ctx as *const RefCell<Ctx> as *mut c_void, out)
    })
    .unwrap();
    let r = Run { instance, ctx: &ctx };
    for op in input.ops.iter().take(24) {
        match op {
            Op::Call { knobs, input, by_func } => pack_call(&r, knobs, &input[..input.len().min(4096)], *by_func),
            Op::Roundtrip { knobs, input, action, bad_slot } => roundtrip(&r, knobs, &input[..input.len().min(4096)], action, *bad_slot),
            Op::Name(i) => {
                let (name, want): (&[u8], packr_status) = match i % 5 {
                    0 => (b"bad_shape\0", PACKR_ERR_TYPE_MISMATCH),
                    1 => (b"missing\0", PACKR_ERR_NOT_FOUND),
                    2 => (b"memory\0", PACKR_ERR_TYPE_MISMATCH),
                    3 => (b"\xff\0", PACKR_ERR_INVALID_ARGUMENT),
                    _ => (b"__pack_free\0", PACKR_ERR_TYPE_MISMATCH),
                };
                let mut out = Out2::new();
                check("packr_instance_call_bytes (bad export)", &[want], || unsafe {
                    packr_instance_call_bytes(instance, name.as_ptr().cast::<c_char>(), ptr::null(), 0, out.ptr())
                });
                assert!(out.untouched());
            }
            Op::NullInput(n) => {
                let n = usize::from(*n % 3) + 1;
                let mut out = Out2::new();
                check("packr_instance_call_bytes(NULL input)", &[PACKR_ERR_NULL_POINTER], || unsafe {
                    packr_instance_call_bytes(instance, c"call".as_ptr(), ptr::null(), n, out.ptr())
                });
                assert!(out.untouched());
            }
            Op::Incomplete(bad) => {
                // Modules without the convention's exports, or with a mistyped one.
                let (module, want) = if *bad { (st.bad_alloc.0, PACKR_ERR_TYPE_MISMATCH) } else { (st.no_alloc.0, PACKR_ERR_NOT_FOUND) };
                let other = make("packr_module_instantiate", &[PACKR_OK], |out| unsafe { packr_module_instantiate(module, out) }).unwrap();
                let mut out = Out2::new();
                check("packr_instance_call_bytes (no convention)", &[want], || unsafe {
                    packr_instance_call_bytes(other, c"call".as_ptr(), b"x".as_ptr(), 1, out.ptr())
                });
                assert!(out.untouched());
                unsafe { packr_instance_free(other) };
            }
        }
    }
    unsafe {
        packr_instance_free(instance);
        packr_instance_config_free(cfg);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else { return };
    leak_checked(|| scenario(&input));
});
