//! Arbitrary operations on an instance of a fixed module whose exports the target knows: calls
//! by name and by func handle with arbitrary names (non-UTF-8, NUL inside, NULL), kinds
//! (any u32), counts and values; memory reads and writes at arbitrary offsets and lengths;
//! global reads and writes; the guardrail functions. Each status is predicted from a model
//! of the module and checked, and every successful call's results against what the
//! function computes.

#![no_main]

use std::ffi::c_char;
use std::ptr;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use packr_fuzz::api::*;
use packr_fuzz::*;

const MODULE: &str = r#"(module
  (memory (export "memory") 1 4)
  (memory (export "mem2") 0 2)
  (global (export "gi32") (mut i32) (i32.const 7))
  (global (export "gi64") (mut i64) (i64.const -1))
  (global (export "gf32") (mut f32) (f32.const 1.5))
  (global (export "gf64") (mut f64) (f64.const -2.5))
  (global (export "gv128") (mut v128) (v128.const i64x2 1 2))
  (global (export "const") i32 (i32.const 42))
  (global (export "gref") (mut funcref) (ref.null func))
  (table (export "table") 2 funcref)
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "add64") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
  (func (export "swap") (param f32 f64) (result f64 f32) (local.get 1) (local.get 0))
  (func (export "vid") (param v128) (result v128) (local.get 0))
  (func (export "none"))
  (func (export "many") (param i32 i64 f32 f64 v128 i32 i64 f32 f64 v128) (result i32 i64 f32 f64 v128 i32 i64 f32 f64 v128)
    (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
    (local.get 5) (local.get 6) (local.get 7) (local.get 8) (local.get 9))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "spin") (loop $l (br $l)))
  (func $rec (export "recurse") (param i32) (result i32) (call $rec (i32.add (local.get 0) (i32.const 1))))
  (func (export "takes_ref") (param funcref))
  (func (export "gives_ref") (result externref) (ref.null extern))
)"#;

/// What the model knows of an export.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Func(&'static [packr_valkind], &'static [packr_valkind]),
    Global(packr_valkind, bool),
    Memory,
    Table,
}

use Kind::*;

const I: packr_valkind = PACKR_I32;
const L: packr_valkind = PACKR_I64;
const F: packr_valkind = PACKR_F32;
const D: packr_valkind = PACKR_F64;
const V: packr_valkind = PACKR_V128;
const MANY: &[packr_valkind] = &[I, L, F, D, V, I, L, F, D, V];

const EXPORTS: &[(&str, Kind)] = &[
    ("memory", Memory),
    ("mem2", Memory),
    ("gi32", Global(I, true)),
    ("gi64", Global(L, true)),
    ("gf32", Global(F, true)),
    ("gf64", Global(D, true)),
    ("gv128", Global(V, true)),
    ("const", Global(I, false)),
    ("gref", Global(PACKR_FUNCREF, true)),
    ("table", Table),
    ("add", Func(&[I, I], &[I])),
    ("add64", Func(&[L, L], &[L])),
    ("swap", Func(&[F, D], &[D, F])),
    ("vid", Func(&[V], &[V])),
    ("none", Func(&[], &[])),
    ("many", Func(MANY, MANY)),
    ("div", Func(&[I, I], &[I])),
    ("load", Func(&[I], &[I])),
    ("store", Func(&[I, I], &[])),
    ("grow", Func(&[I], &[I])),
    ("spin", Func(&[], &[])),
    ("recurse", Func(&[I], &[I])),
    ("takes_ref", Func(&[PACKR_FUNCREF], &[])),
    ("gives_ref", Func(&[], &[PACKR_EXTERNREF])),
];

/// A name as a C host would pass it.
#[derive(Arbitrary, Debug)]
enum Name {
    Null,
    Known(u8),
    /// A known name with arbitrary bytes after a NUL (reads as the known name).
    KnownNul(u8, Vec<u8>),
    Bytes(Vec<u8>),
}

impl Name {
    /// The buffer to pass (None for NULL).
    fn buffer(&self) -> Option<Vec<u8>> {
        match self {
            Name::Null => None,
            Name::Known(i) => Some(c_string(EXPORTS[*i as usize % EXPORTS.len()].0.as_bytes())),
            Name::KnownNul(i, tail) => {
                let mut v = c_string(EXPORTS[*i as usize % EXPORTS.len()].0.as_bytes());
                v.extend_from_slice(tail);
                v.push(0);
                Some(v)
            }
            Name::Bytes(b) => Some(c_string(b)),
        }
    }
}

/// What a name leads to: NULL, not UTF-8, no such export, or an export.
enum Lookup {
    Null,
    NotUtf8,
    Missing,
    Found(&'static str, Kind),
}

fn lookup(buf: &Option<Vec<u8>>) -> Lookup {
    let Some(buf) = buf else { return Lookup::Null };
    let name = c_prefix(buf);
    let Ok(name) = std::str::from_utf8(name) else { return Lookup::NotUtf8 };
    match EXPORTS.iter().find(|(n, _)| *n == name) {
        Some((n, k)) => Lookup::Found(n, *k),
        None => Lookup::Missing,
    }
}

fn name_ptr(buf: &Option<Vec<u8>>) -> *const c_char {
    buf.as_ref().map_or(ptr::null(), |b| b.as_ptr().cast())
}

#[derive(Arbitrary, Debug)]
struct Arg {
    kind: u8,
    /// Any u32 kind instead of the small ones.
    wild_kind: Option<u32>,
    payload: [u8; 16],
}

impl Arg {
    fn val(&self) -> packr_val {
        let kind = self.wild_kind.unwrap_or(u32::from(self.kind % 6));
        let mut v = zero(kind);
        v.of.v128 = self.payload;
        v
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// By name, with arguments given or made to fit the signature.
    Call { name: Name, args: Vec<Arg>, fit: bool, nresults: Option<u8>, null_args: bool, null_results: bool },
    /// Through a func handle resolved on the module.
    CallFunc { name: Name, args: Vec<Arg>, fit: bool },
    Read { name: Option<Name>, offset: Offset, len: u16 },
    Write { name: Option<Name>, offset: Offset, bytes: Vec<u8> },
    Size { name: Option<Name> },
    GlobalGet { name: Name },
    GlobalSet { name: Name, value: Arg },
    GlobalType { name: Name },
    Signature { name: Name },
    Interrupt,
    SetTimeout(u8),
    AddFuel(u64),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Offset {
    Any(u64),
    /// Relative to the end of the memory.
    FromEnd(i16),
}

struct State {
    runtime: Shared<packr_runtime>,
    module: Shared<packr_module>,
    /// A module of other code, whose func handles `calls` must refuse.
    other: Shared<packr_module>,
}

static STATE: OnceLock<State> = OnceLock::new();

fn state() -> &'static State {
    STATE.get_or_init(|| {
        let runtime = standard_runtime(0);
        let module = load_text(runtime, MODULE);
        let other = load_text(runtime, r#"(module (func (export "add") (param i32 i32) (result i32) (local.get 0)))"#);
        State { runtime: Shared(runtime), module: Shared(module), other: Shared(other) }
    })
}

/// An instance and what the model tracks of it.
struct Model {
    instance: *mut packr_instance,
    interrupt: Pending,
    timeout_ms: u64,
}

/// Whether an interrupt waits for the next call into the guest.
#[derive(Clone, Copy, PartialEq)]
enum Pending {
    No,
    Yes,
    /// A call stopped for another reason (fuel) before the interrupt was seen, or after.
    Maybe,
}

/// The statuses a call of `name` may give, and whether the guest runs (so the results can
/// be checked against the function).
fn expected_call(m: &Model, lookup: &Lookup, args: &[packr_val], nresults: usize) -> (Vec<packr_status>, Option<&'static str>) {
    match lookup {
        Lookup::Null => (vec![PACKR_ERR_NULL_POINTER], None),
        Lookup::NotUtf8 => (vec![PACKR_ERR_INVALID_ARGUMENT], None),
        Lookup::Missing => (vec![PACKR_ERR_NOT_FOUND], None),
        Lookup::Found(_, Func(params, results)) if !params.iter().chain(*results).all(|k| carried(*k)) => {
            (vec![PACKR_ERR_TYPE_MISMATCH], None)
        }
        Lookup::Found(name, Func(params, results)) => {
            let fits = args.len() == params.len() && nresults == results.len() && args.iter().zip(*params).all(|(a, k)| a.kind == *k);
            if !fits {
                return (vec![PACKR_ERR_TYPE_MISMATCH], None);
            }
            if m.interrupt == Pending::Yes {
                // The guest stops at its first function entry: by the interrupt, or by an
                // empty tank if that is checked first.
                return (vec![PACKR_ERR_INTERRUPTED, PACKR_ERR_OUT_OF_FUEL], Some(*name));
            }
            let outcome = match *name {
                "div" => {
                    let (a, b) = unsafe { (args[0].of.i32, args[1].of.i32) };
                    if b == 0 || (a == i32::MIN && b == -1) { vec![PACKR_ERR_TRAP] } else { vec![PACKR_OK] }
                }
                // Out of bounds traps; the model does not track the memory's size.
                "load" | "store" => vec![PACKR_OK, PACKR_ERR_TRAP],
                "spin" => vec![PACKR_ERR_OUT_OF_FUEL, PACKR_ERR_TIMEOUT],
                "recurse" => vec![PACKR_ERR_TRAP, PACKR_ERR_OUT_OF_FUEL, PACKR_ERR_TIMEOUT],
                _ => vec![PACKR_OK],
            };
            // Fuel runs out for any call once the tank is dry; a timeout can strike any
            // call that runs long enough (a slow machine), so both always fit.
            let mut outcome = outcome;
            outcome.extend([PACKR_ERR_OUT_OF_FUEL, PACKR_ERR_TIMEOUT]);
            if m.interrupt == Pending::Maybe {
                outcome.push(PACKR_ERR_INTERRUPTED);
            }
            (outcome, Some(*name))
        }
        Lookup::Found(..) => (vec![PACKR_ERR_TYPE_MISMATCH], None),
    }
}

/// Checks the results of a successful call of `name` against what it computes.
fn check_computed(name: &str, args: &[packr_val], results: &[packr_val]) {
    let want: Vec<packr_val> = unsafe {
        match name {
            "add" => vec![packr_val { kind: I, of: packr_val_union { i32: args[0].of.i32.wrapping_add(args[1].of.i32) } }],
            "add64" => vec![packr_val { kind: L, of: packr_val_union { i64: args[0].of.i64.wrapping_add(args[1].of.i64) } }],
            "div" => vec![packr_val { kind: I, of: packr_val_union { i32: args[0].of.i32 / args[1].of.i32 } }],
            "swap" => vec![args[1], args[0]],
            "vid" => vec![args[0]],
            "many" => args.to_vec(),
            _ => return,
        }
    };
    for (i, (got, want)) in results.iter().zip(&want).enumerate() {
        // Payload bytes past the kind's width are zero in results: compare the used ones.
        let w = payload_width(want.kind);
        let ok = got.kind == want.kind && (payload(got)[..w] == payload(want)[..w] || same_val(got, &zero_padded(want)));
        assert!(ok, "`{name}` result {i}: got kind {} {:?}, want kind {} {:?}", got.kind, payload(got), want.kind, payload(want));
    }
}

fn zero_padded(v: &packr_val) -> packr_val {
    let mut z = zero(v.kind);
    let w = payload_width(v.kind);
    let mut bytes = [0u8; 16];
    bytes[..w].copy_from_slice(&payload(v)[..w]);
    z.of.v128 = bytes;
    z
}

fn args_for(args: &[Arg], fit: bool, lookup: &Lookup) -> Vec<packr_val> {
    match (fit, lookup) {
        (true, Lookup::Found(_, Func(params, _))) => params
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let mut v = zero(*k);
                if let Some(a) = args.get(i) {
                    let w = payload_width(*k);
                    let mut bytes = [0u8; 16];
                    bytes[..w].copy_from_slice(&a.payload[..w]);
                    v.of.v128 = bytes;
                }
                v
            })
            .collect(),
        _ => args.iter().take(24).map(Arg::val).collect(),
    }
}

fn results_len(lookup: &Lookup, fit: bool, nresults: Option<u8>) -> usize {
    match (lookup, nresults) {
        (_, Some(n)) if !fit => usize::from(n % 24),
        (Lookup::Found(_, Func(_, results)), _) => results.len(),
        (_, Some(n)) => usize::from(n % 24),
        _ => 0,
    }
}

/// The memory a memory op's name resolves to (None NULL means "memory").
fn memory_lookup(name: &Option<Name>) -> (Option<Vec<u8>>, Lookup) {
    match name.as_ref().and_then(Name::buffer) {
        None => (None, Lookup::Found("memory", Memory)),
        Some(buf) => {
            let buf = Some(buf);
            let l = lookup(&buf);
            (buf, l)
        }
    }
}

fn memory_status(l: &Lookup) -> Option<packr_status> {
    match l {
        Lookup::Null => unreachable!("NULL means the default memory"),
        Lookup::NotUtf8 => Some(PACKR_ERR_INVALID_ARGUMENT),
        Lookup::Missing => Some(PACKR_ERR_NOT_FOUND),
        Lookup::Found(_, Memory) => None,
        Lookup::Found(..) => Some(PACKR_ERR_TYPE_MISMATCH),
    }
}

fn memory_size(m: &Model, name: *const c_char) -> u64 {
    let (_, size) = with_out("packr_instance_memory_size", &[PACKR_OK], |out| unsafe { packr_instance_memory_size(m.instance, name, out) });
    size.unwrap()
}

fn offset_of(offset: Offset, size: u64) -> u64 {
    match offset {
        Offset::Any(o) => o,
        Offset::FromEnd(d) => size.wrapping_add_signed(i64::from(d)),
    }
}

fn in_bounds(offset: u64, len: usize, size: u64) -> bool {
    offset.checked_add(len as u64).is_some_and(|end| end <= size)
}

fn run_op(m: &mut Model, op: &Op) {
    let st = state();
    match op {
        Op::Call { name, args, fit, nresults, null_args, null_results } => {
            let buf = name.buffer();
            let l = lookup(&buf);
            let vals = args_for(args, *fit, &l);
            let n = results_len(&l, *fit, *nresults);
            let mut out = result_slots(n);
            let (mut allowed, runs) = expected_call(m, &l, &vals, n);
            // NULL arrays are refused only when their count is not 0.
            let args_ptr = if *null_args { ptr::null() } else { vals.as_ptr() };
            let results_ptr = if *null_results { ptr::null_mut() } else { out.as_mut_ptr() };
            let nulls = (*null_args && !vals.is_empty()) || (*null_results && n > 0);
            if nulls {
                allowed.push(PACKR_ERR_NULL_POINTER);
            }
            let status = check("packr_instance_call", &allowed, || unsafe {
                packr_instance_call(m.instance, name_ptr(&buf), args_ptr, vals.len(), results_ptr, n)
            });
            if nulls {
                // Which argument error comes first is not specified; the guest must not run.
                assert!(status != PACKR_OK, "a call with a NULL array succeeded");
            }
            after_call(m, status, runs, &vals, &out);
        }
        Op::CallFunc { name, args, fit } => {
            let buf = name.buffer();
            let l = lookup(&buf);
            let resolve: Vec<packr_status> = match &l {
                Lookup::Found(_, Func(..)) if fits_carried(&l) => vec![PACKR_OK],
                Lookup::Found(..) => vec![PACKR_ERR_TYPE_MISMATCH],
                Lookup::Null => vec![PACKR_ERR_NULL_POINTER],
                Lookup::NotUtf8 => vec![PACKR_ERR_INVALID_ARGUMENT],
                Lookup::Missing => vec![PACKR_ERR_NOT_FOUND],
            };
            let func = make("packr_module_func", &resolve, |out| unsafe { packr_module_func(st.module.0, name_ptr(&buf), out) });
            let Some(func) = func else { return };
            let vals = args_for(args, *fit, &l);
            let n = results_len(&l, *fit, None);
            let mut out = result_slots(n);
            let (allowed, runs) = expected_call(m, &l, &vals, n);
            let status = check("packr_instance_call_func", &allowed, || unsafe {
                packr_instance_call_func(m.instance, func, array_ptr(&vals), vals.len(), out.as_mut_ptr(), n)
            });
            after_call(m, status, runs, &vals, &out);
            unsafe { packr_func_free(func) };
        }
        Op::Read { name, offset, len } => {
            let (buf, l) = memory_lookup(name);
            let len = usize::from(*len) * 4;
            let mut data = vec![0xA5u8; len];
            let allowed = match memory_status(&l) {
                Some(s) => vec![s],
                None => {
                    let size = memory_size(m, name_ptr(&buf));
                    let at = offset_of(*offset, size);
                    let want = if in_bounds(at, len, size) { PACKR_OK } else { PACKR_ERR_OUT_OF_BOUNDS };
                    let s = check("packr_instance_memory_read", &[want], || unsafe {
                        packr_instance_memory_read(m.instance, name_ptr(&buf), at, data.as_mut_ptr(), len)
                    });
                    if s != PACKR_OK {
                        assert!(data.iter().all(|b| *b == 0xA5), "a refused read copied bytes");
                    }
                    return;
                }
            };
            check("packr_instance_memory_read", &allowed, || unsafe {
                packr_instance_memory_read(m.instance, name_ptr(&buf), 0, data.as_mut_ptr(), len)
            });
            assert!(data.iter().all(|b| *b == 0xA5), "a refused read copied bytes");
        }
        Op::Write { name, offset, bytes } => {
            let (buf, l) = memory_lookup(name);
            if let Some(s) = memory_status(&l) {
                check("packr_instance_memory_write", &[s], || unsafe {
                    packr_instance_memory_write(m.instance, name_ptr(&buf), 0, array_ptr(bytes), bytes.len())
                });
                return;
            }
            let name = name_ptr(&buf);
            let size = memory_size(m, name);
            let at = offset_of(*offset, size);
            let fits = in_bounds(at, bytes.len(), size);
            // What the in-bounds part of the range holds before, to see that a refused
            // write changed nothing.
            let (lo, hi) = (at.min(size), at.saturating_add(bytes.len() as u64).min(size));
            let mut before = vec![0u8; (hi - lo) as usize];
            ok("packr_instance_memory_read", unsafe { packr_instance_memory_read(m.instance, name, lo, before.as_mut_ptr(), before.len()) });
            let want = if fits { PACKR_OK } else { PACKR_ERR_OUT_OF_BOUNDS };
            check("packr_instance_memory_write", &[want], || unsafe {
                packr_instance_memory_write(m.instance, name, at, array_ptr(bytes), bytes.len())
            });
            let mut after = vec![0u8; before.len()];
            ok("packr_instance_memory_read", unsafe { packr_instance_memory_read(m.instance, name, lo, after.as_mut_ptr(), after.len()) });
            if fits {
                assert_eq!(&after, bytes, "memory does not hold what was written");
            } else {
                assert_eq!(after, before, "a refused write changed memory");
            }
        }
        Op::Size { name } => {
            let (buf, l) = memory_lookup(name);
            let allowed = memory_status(&l).map_or(vec![PACKR_OK], |s| vec![s]);
            let (_, size) = with_out("packr_instance_memory_size", &allowed, |out| unsafe {
                packr_instance_memory_size(m.instance, name_ptr(&buf), out)
            });
            if let Some(size) = size {
                assert!(size % 65536 == 0 && size <= 4 * 65536, "memory size {size}");
            }
        }
        Op::GlobalGet { name } => {
            let buf = name.buffer();
            let (allowed, kind) = global_expect(&lookup(&buf));
            let (_, v) = with_out("packr_instance_global_get", &allowed, |out| unsafe { packr_instance_global_get(m.instance, name_ptr(&buf), out) });
            if let Some(v) = v {
                check_result("packr_instance_global_get", &v, kind.unwrap());
            }
        }
        Op::GlobalSet { name, value } => {
            let buf = name.buffer();
            let l = lookup(&buf);
            let v = value.val();
            let (mut allowed, kind) = global_expect(&l);
            let mutable = matches!(l, Lookup::Found(_, Global(_, true)));
            if allowed == [PACKR_OK] && (!mutable || Some(v.kind) != kind) {
                allowed = vec![PACKR_ERR_TYPE_MISMATCH];
            }
            let status = check("packr_instance_global_set", &allowed, || unsafe { packr_instance_global_set(m.instance, name_ptr(&buf), &v) });
            if status == PACKR_OK {
                let (_, got) = with_out("packr_instance_global_get", &[PACKR_OK], |out| unsafe { packr_instance_global_get(m.instance, name_ptr(&buf), out) });
                let got = got.unwrap();
                assert!(same_val(&got, &v), "global reads {:?} after being set to {:?}", payload(&got), payload(&v));
            }
        }
        Op::GlobalType { name } => {
            let buf = name.buffer();
            let l = lookup(&buf);
            let allowed = match &l {
                Lookup::Found(_, Global(..)) => vec![PACKR_OK],
                other => global_expect(other).0,
            };
            let mut kind = Out::<packr_valkind>::new();
            let mut mutable = Out::<bool>::new();
            let status = check("packr_module_global_type", &allowed, || unsafe {
                packr_module_global_type(st.module.0, name_ptr(&buf), kind.ptr(), mutable.ptr())
            });
            if status == PACKR_OK {
                let Lookup::Found(_, Global(k, mu)) = l else { unreachable!() };
                assert_eq!(unsafe { (kind.get(), mutable.get()) }, (k, mu), "packr_module_global_type");
            } else {
                assert!(kind.untouched() && mutable.untouched(), "a failed packr_module_global_type wrote its outputs");
            }
        }
        Op::Signature { name } => {
            let buf = name.buffer();
            let l = lookup(&buf);
            let allowed = match &l {
                Lookup::Null => vec![PACKR_ERR_NULL_POINTER],
                Lookup::NotUtf8 => vec![PACKR_ERR_INVALID_ARGUMENT],
                Lookup::Missing => vec![PACKR_ERR_NOT_FOUND],
                Lookup::Found(_, Func(..)) => vec![PACKR_OK],
                Lookup::Found(..) => vec![PACKR_ERR_TYPE_MISMATCH],
            };
            let (_, sig) = with_out("packr_instance_func_signature", &allowed, |out| unsafe {
                packr_instance_func_signature(m.instance, name_ptr(&buf), out)
            });
            if let (Some(sig), Lookup::Found(_, Func(params, results))) = (sig, l) {
                assert_eq!(unsafe { signature_kinds(&sig) }, (params.to_vec(), results.to_vec()), "signature");
            }
        }
        Op::Interrupt => {
            ok("packr_instance_interrupt", unsafe { packr_instance_interrupt(m.instance) });
            m.interrupt = Pending::Yes;
        }
        Op::SetTimeout(ms) => {
            // 0 (none) or 1..=20 ms: `spin` is then stopped by the timeout or by fuel.
            let ms = u64::from(*ms % 21);
            ok("packr_instance_set_timeout_ms", unsafe { packr_instance_set_timeout_ms(m.instance, ms) });
            m.timeout_ms = ms;
        }
        Op::AddFuel(fuel) => {
            // Keep the tank small, so `spin` stays short whatever the timeout.
            let add = fuel % 100_000;
            let (_, before) = with_out("packr_instance_fuel", &[PACKR_OK], |out| unsafe { packr_instance_fuel(m.instance, out) });
            let before: u64 = before.unwrap();
            if before > 500_000 {
                return;
            }
            ok("packr_instance_add_fuel", unsafe { packr_instance_add_fuel(m.instance, add) });
            let (_, after) = with_out("packr_instance_fuel", &[PACKR_OK], |out| unsafe { packr_instance_fuel(m.instance, out) });
            assert_eq!(after.unwrap(), before + add, "packr_instance_add_fuel");
        }
    }
}

fn fits_carried(l: &Lookup) -> bool {
    matches!(l, Lookup::Found(_, Func(p, r)) if p.iter().chain(*r).all(|k| carried(*k)))
}

fn global_expect(l: &Lookup) -> (Vec<packr_status>, Option<packr_valkind>) {
    match l {
        Lookup::Null => (vec![PACKR_ERR_NULL_POINTER], None),
        Lookup::NotUtf8 => (vec![PACKR_ERR_INVALID_ARGUMENT], None),
        Lookup::Missing => (vec![PACKR_ERR_NOT_FOUND], None),
        Lookup::Found(_, Global(k, _)) if carried(*k) => (vec![PACKR_OK], Some(*k)),
        Lookup::Found(..) => (vec![PACKR_ERR_TYPE_MISMATCH], None),
    }
}

fn after_call(m: &mut Model, status: packr_status, runs: Option<&str>, args: &[packr_val], out: &[packr_val]) {
    let Some(name) = runs else {
        assert!(slots_untouched(out), "a refused call wrote its results");
        return;
    };
    let kinds = match EXPORTS.iter().find(|(n, _)| *n == name) {
        Some((_, Func(_, r))) => *r,
        _ => unreachable!(),
    };
    // Only a call that entered the guest sees (and clears) a pending interrupt.
    m.interrupt = match (m.interrupt, status) {
        (_, PACKR_ERR_INTERRUPTED | PACKR_OK) => Pending::No,
        (Pending::No, _) => Pending::No,
        _ => Pending::Maybe,
    };
    results_checked(name, status, out, kinds);
    if status == PACKR_OK {
        check_computed(name, args, out);
    }
}

fuzz_target!(|data: &[u8]| {
    let st = state();
    let mut u = Unstructured::new(data);
    let Ok(ops) = u.arbitrary::<Vec<Op>>() else { return };
    leak_checked(|| {
        let guard = Guard { timeout_ms: 0, fuel: 100_000, memory_limit: 4 << 16, table_limit: 10 };
        let cfg = instance_config(&guard);
        let instance = make("packr_module_instantiate_with", &[PACKR_OK], |out| unsafe {
            packr_module_instantiate_with(st.module.0, cfg, ptr::null_mut(), out)
        })
        .unwrap();
        unsafe { packr_instance_config_free(cfg) };
        let mut m = Model { instance, interrupt: Pending::No, timeout_ms: 0 };
        for op in ops.iter().take(64) {
            run_op(&mut m, op);
        }
        // A func handle of other code is refused on this instance.
        let func = make("packr_module_func", &[PACKR_OK], |out| unsafe { packr_module_func(st.other.0, c"add".as_ptr(), out) }).unwrap();
        let args = [zero(I), zero(I)];
        let mut out = result_slots(1);
        check("packr_instance_call_func of other code", &[PACKR_ERR_INVALID_ARGUMENT], || unsafe {
            packr_instance_call_func(m.instance, func, args.as_ptr(), 2, out.as_mut_ptr(), 1)
        });
        assert!(slots_untouched(&out));
        unsafe {
            packr_func_free(func);
            packr_instance_free(m.instance);
        }
        let _ = st.runtime.0;
    });
});
