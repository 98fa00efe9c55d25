//! Host functions from the input: definitions with arbitrary modules, names (non-UTF-8,
//! duplicates) and signatures (any u32 kinds), served by one callback that follows a
//! script from the input: return results (right or wrong kinds), fail with any status and
//! message, use the caller's memory, call back into the guest (nesting), call the busy
//! instance, interrupt it. A fixed guest imports env::h0..h3 and is linked and called.
//!
//! Checked: each definition's status and that its finalizer runs exactly once (at once
//! when the definition fails; after the last handle is freed otherwise; never for a NULL
//! callback); the link outcome; what each callback receives (argument kinds and values,
//! zeroed result slots of the declared kinds, the instance's data); every
//! `packr_caller_*` status; and each call's status, results and message from what the
//! callbacks did.

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
  (import "env" "h0" (func $h0 (param i32) (result i32)))
  (import "env" "h1" (func $h1 (param i64 f32) (result f64 i32)))
  (import "env" "h2" (func $h2))
  (import "env" "h3" (func $h3 (param v128 f64) (result v128)))
  (memory (export "memory") 1 2)
  (global (export "g") (mut i32) (i32.const 0))
  (func (export "call_h0") (param i32) (result i32) (call $h0 (local.get 0)))
  (func (export "call_h1") (param i64 f32) (result f64 i32) (call $h1 (local.get 0) (local.get 1)))
  (func (export "call_h2") (call $h2))
  (func (export "call_h3") (param v128 f64) (result v128) (call $h3 (local.get 0) (local.get 1)))
  (func (export "grow") (result i32) (memory.grow (i32.const 1)))
  (func (export "trap") unreachable)
  (func (export "spin") (loop $l (br $l))))"#;

const I: packr_valkind = PACKR_I32;
const L: packr_valkind = PACKR_I64;
const F: packr_valkind = PACKR_F32;
const D: packr_valkind = PACKR_F64;
const V: packr_valkind = PACKR_V128;

/// The imports, and the exports that call them (same signature).
const IMPORTS: [(&str, &[packr_valkind], &[packr_valkind]); 4] =
    [("h0", &[I], &[I]), ("h1", &[L, F], &[D, I]), ("h2", &[], &[]), ("h3", &[V, D], &[V])];
const CALLERS: [&str; 4] = ["call_h0", "call_h1", "call_h2", "call_h3"];

#[derive(Arbitrary, Debug)]
enum Text {
    Env,
    /// One of h0..h3.
    H(u8),
    Bytes(Vec<u8>),
}

impl Text {
    fn buffer(&self) -> Vec<u8> {
        match self {
            Text::Env => c_string(b"env"),
            Text::H(i) => c_string(IMPORTS[usize::from(*i % 4)].0.as_bytes()),
            Text::Bytes(b) => c_string(b),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Sig {
    /// The import's own, if the name is one.
    Right,
    Any(Vec<u32>, Vec<u32>),
    Small(Vec<u8>, Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Def {
    module: Text,
    name: Text,
    sig: Sig,
    finalizer: bool,
    null_callback: bool,
}

/// A kind a callback writes into a result slot.
#[derive(Arbitrary, Debug, Clone, Copy)]
struct ResultVal {
    wrong_kind: Option<u32>,
    payload: [u8; 16],
}

#[derive(Arbitrary, Debug, Clone)]
enum MemName {
    Default,
    Memory,
    Global,
    Missing,
    NotUtf8,
}

impl MemName {
    fn buffer(&self) -> Option<Vec<u8>> {
        match self {
            MemName::Default => None,
            MemName::Memory => Some(c_string(b"memory")),
            MemName::Global => Some(c_string(b"g")),
            MemName::Missing => Some(c_string(b"nope")),
            MemName::NotUtf8 => Some(c_string(b"\xff\xfe")),
        }
    }
    fn error(&self) -> Option<packr_status> {
        match self {
            MemName::Default | MemName::Memory => None,
            MemName::Global => Some(PACKR_ERR_TYPE_MISMATCH),
            MemName::Missing => Some(PACKR_ERR_NOT_FOUND),
            MemName::NotUtf8 => Some(PACKR_ERR_INVALID_ARGUMENT),
        }
    }
}

/// One step of a callback; each invocation takes the next one from the script.
#[derive(Arbitrary, Debug, Clone)]
enum Action {
    /// Write these results (the declared kinds, unless a wrong one is given) and return.
    Results(Vec<ResultVal>),
    /// Return a status (any number), after setting a message (None: no message).
    Fail { status: i32, message: Option<Vec<u8>> },
    /// Call one of the guest's exports through the caller, then return `then`.
    CallBack { export: u8, payloads: Vec<[u8; 16]>, pass_on: bool },
    /// Caller memory access, then succeed.
    Memory { name: MemName, offset: u64, len: u8, from_end: bool, write: bool },
    /// Zero-copy access: write a byte through the pointer and read it back.
    MemoryData { name: MemName, at: u16 },
    /// packr_caller_func_signature of an export (index into a list including non-functions).
    Signature(u8),
    /// packr_instance_call on the instance from inside its own callback.
    Busy,
    /// packr_instance_interrupt from inside the callback.
    Interrupt,
    /// packr_caller_return_bytes in a values callback.
    ReturnBytes(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct CallOp {
    export: u8,
    payloads: Vec<[u8; 16]>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// Define env::h0..h3 with their right signatures before `defs` (so most inputs link).
    standard: bool,
    defs: Vec<Def>,
    trap_unknown: bool,
    free_host_early: bool,
    script: Vec<Action>,
    calls: Vec<CallOp>,
}

/// What one callback did, for the call it served to be judged by.
#[derive(Clone)]
struct Outcome {
    /// The status it returned.
    status: packr_status,
    /// The results it left, and whether all have the declared kinds.
    results: Vec<packr_val>,
    kinds_ok: bool,
    /// The first stop (timeout, interrupt, fuel) a nested call of it reported.
    first_stop: Option<packr_status>,
    /// The message the outer failure names, when known.
    message: Option<String>,
    /// Stops that nested calls hit (the outer guest may then stop too).
    stops: Vec<packr_status>,
}

/// Per scenario: the script and the callbacks' reports.
struct Ctx {
    script: Vec<Action>,
    cursor: usize,
    depth: usize,
    outcomes: Vec<Outcome>,
    instance: *mut packr_instance,
    /// The arguments the next callback must receive (what the guest passes on).
    expect_args: Vec<Vec<packr_val>>,
    /// An interrupt was requested and may not have been seen yet.
    interrupt_pending: bool,
    /// Which imports are trap stubs (undefined, with unknown imports trapping).
    stub: [bool; 4],
}

/// A definition's env: which import it serves (None if none) and its finalizer count.
struct Env {
    ctx: *const RefCell<Ctx>,
    module: String,
    name: String,
    params: Vec<packr_valkind>,
    results: Vec<packr_valkind>,
    finalized: std::cell::Cell<u32>,
}

unsafe extern "C" fn finalize(env: *mut c_void) {
    let env = unsafe { &*(env as *const Env) };
    env.finalized.set(env.finalized.get() + 1);
}

const STOPS: [packr_status; 3] = [PACKR_ERR_TIMEOUT, PACKR_ERR_INTERRUPTED, PACKR_ERR_OUT_OF_FUEL];
const MAX_DEPTH: usize = 6;

/// The statuses a guest call may end with given the outcome of the callback it reached.
fn judge(outcome: Option<&Outcome>, stub: bool, pending: bool) -> Vec<packr_status> {
    let mut allowed = match outcome {
        // The callback never ran: the import is a trap stub, or the guest stopped first.
        None => {
            let mut v = vec![PACKR_ERR_OUT_OF_FUEL, PACKR_ERR_TIMEOUT];
            if stub {
                v.push(PACKR_ERR_TRAP);
            }
            v
        }
        Some(o) if o.status == PACKR_OK && o.kinds_ok => vec![PACKR_OK],
        Some(o) if o.status == PACKR_OK => vec![PACKR_ERR_HOST],
        Some(o) if Some(o.status) == o.first_stop => vec![o.status],
        Some(_) => vec![PACKR_ERR_HOST],
    };
    if let Some(o) = outcome {
        allowed.extend(&o.stops);
    }
    if pending {
        allowed.push(PACKR_ERR_INTERRUPTED);
    }
    allowed
}

/// Arguments of `kinds` from payloads.
fn vals(kinds: &[packr_valkind], payloads: &[[u8; 16]]) -> Vec<packr_val> {
    kinds
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let mut v = zero(*k);
            let w = payload_width(*k);
            let mut bytes = [0u8; 16];
            if let Some(p) = payloads.get(i) {
                bytes[..w].copy_from_slice(&p[..w]);
            }
            v.of.v128 = bytes;
            v
        })
        .collect()
}

unsafe extern "C" fn serve(env: *mut c_void, caller: *mut packr_caller, args: *const packr_val, nargs: usize, results: *mut packr_val, nresults: usize) -> packr_status {
    let env = unsafe { &*(env as *const Env) };
    let cell = unsafe { &*env.ctx };
    assert_eq!(unsafe { packr_caller_data(caller) }, env.ctx as *mut c_void, "packr_caller_data is not the instance's data");
    assert_eq!((nargs, nresults), (env.params.len(), env.results.len()), "a callback got counts other than its definition's");
    let args = if nargs == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(args, nargs) } };
    let results = if nresults == 0 { &mut [][..] } else { unsafe { std::slice::from_raw_parts_mut(results, nresults) } };
    for (a, k) in args.iter().zip(&env.params) {
        // fuzz/regressions/host/README.md: once the bytes past a 32-bit argument were garbage.
        check_result("a callback's argument", a, *k);
    }
    for (r, k) in results.iter().zip(&env.results) {
        check_result("a callback's result slot", r, *k);
        assert!(payload(r).iter().all(|b| *b == 0), "a result slot is not pre-filled with zero");
    }
    let (action, depth, expect) = {
        let mut ctx = cell.borrow_mut();
        let action = ctx.script.get(ctx.cursor).cloned();
        ctx.cursor += 1;
        ctx.depth += 1;
        (action, ctx.depth, ctx.expect_args.pop())
    };
    if let Some(expect) = expect {
        assert_eq!(expect.len(), args.len());
        for (a, e) in args.iter().zip(&expect) {
            assert!(same_val(a, e), "a callback got {:?} where the guest passed {:?}", payload(a), payload(e));
        }
    }
    let mut o = Outcome { status: PACKR_OK, results: Vec::new(), kinds_ok: true, first_stop: None, message: None, stops: Vec::new() };
    act(env, cell, caller, action, depth, results, &mut o);
    o.results = results.to_vec();
    o.kinds_ok = results.iter().zip(&env.results).all(|(r, k)| r.kind == *k);
    let status = o.status;
    let mut ctx = cell.borrow_mut();
    ctx.depth -= 1;
    ctx.outcomes.push(o);
    status
}

/// A packr_caller_* failure also becomes the callback's message (its first line).
fn note_failure(o: &mut Outcome, status: packr_status) {
    if status != PACKR_OK {
        o.message = Some(last_error().lines().next().unwrap_or_default().to_owned());
    }
}

fn act(env: &Env, cell: &RefCell<Ctx>, caller: *mut packr_caller, action: Option<Action>, depth: usize, results: &mut [packr_val], o: &mut Outcome) {
    match action {
        None => {}
        Some(Action::Results(vals)) => {
            for (i, r) in results.iter_mut().enumerate() {
                let v = vals.get(i).copied().unwrap_or(ResultVal { wrong_kind: None, payload: [0; 16] });
                let kind = v.wrong_kind.unwrap_or(env.results[i]);
                let w = payload_width(env.results[i]);
                let mut bytes = [0u8; 16];
                bytes[..w].copy_from_slice(&v.payload[..w]);
                *r = packr_val { kind, of: packr_val_union { v128: bytes } };
            }
        }
        Some(Action::Fail { status, message }) => {
            if let Some(m) = message {
                let buf = c_string(&m);
                let text = std::str::from_utf8(c_prefix(&buf)).ok().map(str::to_owned);
                let want = if text.is_some() { PACKR_OK } else { PACKR_ERR_INVALID_ARGUMENT };
                let s = check("packr_caller_set_error", &[want], || unsafe { packr_caller_set_error(caller, buf.as_ptr().cast()) });
                // A refused message leaves the one before (not checked).
                o.message = if s == PACKR_OK { text } else { None };
            } else {
                // Without a message, the failure names the status.
                o.message = Some(status_name(status));
            }
            o.status = status;
        }
        Some(Action::CallBack { export, payloads, pass_on }) => {
            if depth > MAX_DEPTH {
                return;
            }
            let i = usize::from(export % 4);
            let (_, params, rkinds) = IMPORTS[i];
            let args = vals(params, &payloads);
            let name = c_string(CALLERS[i].as_bytes());
            let mut out = result_slots(rkinds.len());
            let (before, pending, stub) = {
                let mut ctx = cell.borrow_mut();
                ctx.expect_args.push(args.clone());
                (ctx.outcomes.len(), ctx.interrupt_pending, ctx.stub[i])
            };
            mark_last_error();
            let status = unsafe { packr_caller_call(caller, name.as_ptr().cast(), args.as_ptr(), args.len(), out.as_mut_ptr(), out.len()) };
            let (inner, pending) = {
                let mut ctx = cell.borrow_mut();
                let inner = (ctx.outcomes.len() > before).then(|| ctx.outcomes.pop().unwrap());
                if inner.is_none() {
                    ctx.expect_args.pop();
                }
                // An interrupt asked for during the call may stop it too.
                (inner, pending || ctx.interrupt_pending)
            };
            let allowed = judge(inner.as_ref(), stub, pending);
            verify("packr_caller_call", &allowed, status);
            if status == PACKR_ERR_INTERRUPTED {
                cell.borrow_mut().interrupt_pending = false;
            }
            if let Some(inner) = &inner {
                o.stops.extend(&inner.stops);
                if status == PACKR_OK {
                    for (got, want) in out.iter().zip(&inner.results) {
                        assert!(same_val(got, want), "packr_caller_call returned {:?} where the callback wrote {:?}", payload(got), payload(want));
                    }
                }
            }
            results_checked("packr_caller_call", status, &out, rkinds);
            note_failure(o, status);
            if STOPS.contains(&status) {
                o.first_stop = o.first_stop.or(Some(status));
                o.stops.push(status);
            }
            if pass_on {
                o.status = status;
            }
        }
        Some(Action::Memory { name, offset, len, from_end, write }) => {
            let buf_name = name.buffer();
            let np = buf_name.as_ref().map_or(ptr::null(), |b| b.as_ptr().cast::<c_char>());
            let allowed = name.error().map_or(vec![PACKR_OK], |e| vec![e]);
            let mut size = Out::<u64>::new();
            let s = check("packr_caller_memory_size", &allowed, || unsafe { packr_caller_memory_size(caller, np, size.ptr()) });
            note_failure(o, s);
            if s != PACKR_OK {
                assert!(size.untouched(), "a failed packr_caller_memory_size wrote its output");
                return;
            }
            let size = unsafe { size.get() };
            let at = if from_end { size.wrapping_sub(offset % 64) } else { offset };
            let len = usize::from(len);
            let fits = at.checked_add(len as u64).is_some_and(|e| e <= size);
            let want = if fits { PACKR_OK } else { PACKR_ERR_OUT_OF_BOUNDS };
            let mut buf = vec![0xA5u8; len];
            if write {
                let s = check("packr_caller_memory_write", &[want], || unsafe { packr_caller_memory_write(caller, np, at, buf.as_ptr(), len) });
                note_failure(o, s);
            } else {
                let s = check("packr_caller_memory_read", &[want], || unsafe { packr_caller_memory_read(caller, np, at, buf.as_mut_ptr(), len) });
                note_failure(o, s);
                if s != PACKR_OK {
                    assert!(buf.iter().all(|b| *b == 0xA5), "a refused caller read copied bytes");
                }
            }
        }
        Some(Action::MemoryData { name, at }) => {
            let buf_name = name.buffer();
            let np = buf_name.as_ref().map_or(ptr::null(), |b| b.as_ptr().cast::<c_char>());
            let allowed = name.error().map_or(vec![PACKR_OK], |e| vec![e]);
            let mut data = Out::<*mut u8>::new();
            let mut size = Out::<u64>::new();
            let s = check("packr_caller_memory_data", &allowed, || unsafe { packr_caller_memory_data(caller, np, data.ptr(), size.ptr()) });
            note_failure(o, s);
            if s != PACKR_OK {
                assert!(data.untouched() && size.untouched(), "a failed packr_caller_memory_data wrote its outputs");
                return;
            }
            let (data, size) = unsafe { (data.get(), size.get()) };
            if size == 0 {
                return;
            }
            let at = u64::from(at) % size;
            let value = (at as u8) ^ 0x5a;
            unsafe { *data.add(at as usize) = value };
            let mut back = [0u8; 1];
            ok("packr_caller_memory_read", unsafe { packr_caller_memory_read(caller, np, at, back.as_mut_ptr(), 1) });
            assert_eq!(back[0], value, "memory written through packr_caller_memory_data reads back otherwise");
        }
        Some(Action::Signature(i)) => {
            let names: [(&str, Option<(&[packr_valkind], &[packr_valkind])>); 6] = [
                ("call_h0", Some((&[I], &[I]))),
                ("call_h1", Some((&[L, F], &[D, I]))),
                ("grow", Some((&[], &[I]))),
                ("memory", None),
                ("g", None),
                ("nope", None),
            ];
            let (name, sig) = names[usize::from(i) % names.len()];
            let want = match (name, sig) {
                (_, Some(_)) => PACKR_OK,
                ("nope", None) => PACKR_ERR_NOT_FOUND,
                _ => PACKR_ERR_TYPE_MISMATCH,
            };
            let buf = c_string(name.as_bytes());
            let (s, got) = with_out("packr_caller_func_signature", &[want], |out| unsafe { packr_caller_func_signature(caller, buf.as_ptr().cast(), out) });
            note_failure(o, s);
            if let (Some(got), Some((p, r))) = (got, sig) {
                assert_eq!(unsafe { signature_kinds(&got) }, (p.to_vec(), r.to_vec()), "packr_caller_func_signature");
            }
        }
        Some(Action::Busy) => {
            let instance = cell.borrow().instance;
            let mut out = result_slots(0);
            check("packr_instance_call inside a callback", &[PACKR_ERR_BUSY], || unsafe {
                packr_instance_call(instance, c"call_h2".as_ptr(), ptr::null(), 0, out.as_mut_ptr(), 0)
            });
            let mut size = Out::<u64>::new();
            check("packr_instance_memory_size inside a callback", &[PACKR_ERR_BUSY], || unsafe {
                packr_instance_memory_size(instance, ptr::null(), size.ptr())
            });
            assert!(size.untouched());
        }
        Some(Action::Interrupt) => {
            let mut ctx = cell.borrow_mut();
            ok("packr_instance_interrupt", unsafe { packr_instance_interrupt(ctx.instance) });
            ctx.interrupt_pending = true;
        }
        Some(Action::ReturnBytes(bytes)) => {
            let s = check("packr_caller_return_bytes in a values callback", &[PACKR_ERR_INVALID_ARGUMENT], || unsafe {
                packr_caller_return_bytes(caller, array_ptr(&bytes), bytes.len())
            });
            note_failure(o, s);
        }
    }
}

struct State {
    base: Shared<packr_runtime>,
    module: Shared<packr_module>,
}

static STATE: OnceLock<State> = OnceLock::new();

fn kinds_of(sig: &Sig, name: &[u8]) -> (Vec<u32>, Vec<u32>) {
    match sig {
        Sig::Right => match IMPORTS.iter().find(|(n, _, _)| n.as_bytes() == name) {
            Some((_, p, r)) => (p.to_vec(), r.to_vec()),
            None => (vec![], vec![]),
        },
        Sig::Any(p, r) => (p.iter().take(20).copied().collect(), r.iter().take(20).copied().collect()),
        Sig::Small(p, r) => (p.iter().take(20).map(|k| u32::from(k % 9)).collect(), r.iter().take(20).map(|k| u32::from(k % 9)).collect()),
    }
}

fn scenario(input: &Input) {
    let st = STATE.get_or_init(|| {
        let config = fuzz_config(0);
        let base = make("packr_runtime_new_with_config", &[PACKR_OK], |out| unsafe { packr_runtime_new_with_config(config, out) }).unwrap();
        unsafe { packr_config_free(config) };
        let module = load_text(base, GUEST);
        State { base: Shared(base), module: Shared(module) }
    });
    let ctx = RefCell::new(Ctx {
        script: input.script.iter().take(64).cloned().collect(),
        cursor: 0,
        depth: 0,
        outcomes: Vec::new(),
        instance: ptr::null_mut(),
        expect_args: Vec::new(),
        interrupt_pending: false,
        stub: [false; 4],
    });
    let host = make("packr_host_new", &[PACKR_OK], |out| unsafe { packr_host_new(out) }).unwrap();
    ok("packr_host_set_unknown_imports_trap", unsafe { packr_host_set_unknown_imports_trap(host, input.trap_unknown) });

    // Define; model which imports end up served, and by what signature.
    let mut envs: Vec<(Box<Env>, bool, packr_status)> = Vec::new();
    let mut defined: Vec<(Vec<u8>, Vec<u8>, Vec<u32>, Vec<u32>)> = Vec::new();
    let standard: Vec<Def> = if input.standard {
        (0..4).map(|i| Def { module: Text::Env, name: Text::H(i), sig: Sig::Right, finalizer: true, null_callback: false }).collect()
    } else {
        Vec::new()
    };
    for def in standard.iter().chain(input.defs.iter().take(12)) {
        let (module, name) = (def.module.buffer(), def.name.buffer());
        let (m, n) = (c_prefix(&module).to_vec(), c_prefix(&name).to_vec());
        let (params, results) = kinds_of(&def.sig, &n);
        let mut allowed = Vec::new();
        if def.null_callback {
            allowed.push(PACKR_ERR_NULL_POINTER);
        } else {
            if std::str::from_utf8(&m).is_err() || std::str::from_utf8(&n).is_err() {
                allowed.push(PACKR_ERR_INVALID_ARGUMENT);
            }
            if params.iter().chain(&results).any(|k| !carried(*k)) {
                allowed.push(PACKR_ERR_TYPE_MISMATCH);
            }
            if allowed.is_empty() && defined.iter().any(|(dm, dn, _, _)| *dm == m && *dn == n) {
                allowed.push(PACKR_ERR_INVALID_ARGUMENT);
            }
            if allowed.is_empty() {
                allowed.push(PACKR_OK);
            }
        }
        let env = Box::new(Env {
            ctx: &ctx,
            module: String::from_utf8_lossy(&m).into_owned(),
            name: String::from_utf8_lossy(&n).into_owned(),
            params: params.clone(),
            results: results.clone(),
            finalized: std::cell::Cell::new(0),
        });
        let callback: packr_host_callback = if def.null_callback { None } else { Some(serve) };
        let finalizer: packr_finalizer = if def.finalizer { Some(finalize) } else { None };
        let status = check("packr_host_define_func", &allowed, || unsafe {
            packr_host_define_func(
                host,
                module.as_ptr().cast(),
                name.as_ptr().cast(),
                array_ptr(&params),
                params.len(),
                array_ptr(&results),
                results.len(),
                callback,
                &*env as *const Env as *mut c_void,
                finalizer,
            )
        });
        // A failed definition has run its finalizer already; a NULL callback never does.
        let want = u32::from(def.finalizer && status != PACKR_OK && !def.null_callback);
        assert_eq!(env.finalized.get(), want, "finalizer count right after packr_host_define_func returned {}", status_name(status));
        if status == PACKR_OK {
            defined.push((m, n, params, results));
        }
        envs.push((env, def.finalizer && !def.null_callback, status));
    }

    let runtime = make("packr_runtime_new_with_host", &[PACKR_OK], |out| unsafe { packr_runtime_new_with_host(st.base.0, host, out) }).unwrap();
    let mut host = Some(host);
    let finalized_none = |envs: &[(Box<Env>, bool, packr_status)], when: &str| {
        for (env, fin, status) in envs {
            if *fin && *status == PACKR_OK {
                assert_eq!(env.finalized.get(), 0, "{}::{}: a finalizer ran {when}", env.module, env.name);
            }
        }
    };
    if input.free_host_early {
        unsafe { packr_host_free(host.take().unwrap()) };
        finalized_none(&envs, "when the host was freed, its runtime alive");
    }
    let module = make("packr_runtime_wrap_module", &[PACKR_OK], |out| unsafe { packr_runtime_wrap_module(runtime, st.module.0, out) }).unwrap();

    // Each import: served (right signature), a trap stub (undefined, traps on), or unmet.
    let mut stub = [false; 4];
    let mut unmet = false;
    for (i, (name, p, r)) in IMPORTS.iter().enumerate() {
        match defined.iter().find(|(m, n, _, _)| m == b"env" && n == name.as_bytes()) {
            Some((_, _, dp, dr)) if dp == p && dr == r => {}
            Some(_) => unmet = true,
            None if input.trap_unknown => stub[i] = true,
            None => unmet = true,
        }
    }
    ctx.borrow_mut().stub = stub;
    let guard = Guard { timeout_ms: 2000, fuel: 1_000_000, memory_limit: 2 << 16, table_limit: 10 };
    let cfg = instance_config(&guard);
    let want = if unmet { PACKR_ERR_LINK } else { PACKR_OK };
    let instance = make("packr_module_instantiate_with", &[want], |out| unsafe {
        packr_module_instantiate_with(module, cfg, &ctx as *const RefCell<Ctx> as *mut c_void, out)
    });
    unsafe { packr_instance_config_free(cfg) };
    trace!("host: {} definitions, instantiate {}", defined.len(), status_name(want));
    if want == PACKR_ERR_LINK {
        // The message names an unmet import.
        assert!(last_error().contains("env::h") || last_error().contains("`h"), "a link error without the import: {}", last_error());
    }

    if let Some(instance) = instance {
        ctx.borrow_mut().instance = instance;
        for call in input.calls.iter().take(16) {
            let i = usize::from(call.export % 4);
            let (_, params, rkinds) = IMPORTS[i];
            let args = vals(params, &call.payloads);
            let mut out = result_slots(rkinds.len());
            let pending = {
                let mut c = ctx.borrow_mut();
                c.expect_args.clear();
                c.expect_args.push(args.clone());
                c.outcomes.clear();
                c.interrupt_pending
            };
            let name = c_string(CALLERS[i].as_bytes());
            let status = check("packr_instance_call", GUEST_RUN_ALL, || unsafe {
                packr_instance_call(instance, name.as_ptr().cast(), args.as_ptr(), args.len(), out.as_mut_ptr(), out.len())
            });
            let (outcome, pending) = {
                let mut c = ctx.borrow_mut();
                assert!(c.outcomes.len() <= 1, "one guest call served more than one outer callback");
                (c.outcomes.pop(), pending || c.interrupt_pending)
            };
            trace!("host: {} -> {}", CALLERS[i], status_name(status));
            let allowed = judge(outcome.as_ref(), stub[i], pending);
            verify("packr_instance_call (judged by its callback)", &allowed, status);
            if status == PACKR_ERR_INTERRUPTED {
                ctx.borrow_mut().interrupt_pending = false;
            }
            results_checked("packr_instance_call", status, &out, rkinds);
            if let (PACKR_OK, Some(o)) = (status, &outcome) {
                for (got, want) in out.iter().zip(&o.results) {
                    assert!(same_val(got, want), "the guest returned {:?} where the callback wrote {:?}", payload(got), payload(want));
                }
            }
            if let (PACKR_ERR_HOST, Some(o)) = (status, &outcome) {
                let env_of = |name: &str| envs.iter().find(|(e, _, s)| *s == PACKR_OK && e.module == "env" && e.name == name);
                let (env, _, _) = env_of(IMPORTS[i].0).expect("a served import has a definition");
                let prefix = format!("host function {}::{} failed: ", env.module, env.name);
                let message = last_error();
                assert!(message.starts_with(&prefix), "the message {message:?} does not start with {prefix:?}");
                if let Some(text) = &o.message {
                    if o.kinds_ok && o.status != PACKR_OK {
                        assert!(message[prefix.len()..].starts_with(text.as_str()), "the message {message:?} does not carry the callback's {text:?}");
                    }
                }
            }
        }
        unsafe { packr_instance_free(instance) };
    }
    // The finalizers run once the host, the runtime and the module are gone, not before.
    unsafe { packr_runtime_free(runtime) };
    finalized_none(&envs, "while a module of its runtime lived");
    if let Some(host) = host {
        unsafe { packr_host_free(host) };
        finalized_none(&envs, "while a module of its runtime lived");
    }
    unsafe { packr_module_free(module) };
    for (env, fin, _) in &envs {
        assert_eq!(env.finalized.get(), u32::from(*fin), "{}::{}: finalizer ran {} times", env.module, env.name, env.finalized.get());
    }
}

/// Every status a call into this guest may end with, before the callbacks' outcomes narrow it.
const GUEST_RUN_ALL: &[packr_status] =
    &[PACKR_OK, PACKR_ERR_TRAP, PACKR_ERR_HOST, PACKR_ERR_TIMEOUT, PACKR_ERR_OUT_OF_FUEL, PACKR_ERR_INTERRUPTED];

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else { return };
    leak_checked(|| scenario(&input));
});
