//! The raw call path every call into wasm takes (by name, through a func handle, from a
//! host callback): packr checks kinds and counts once, then enters wasm through wasmtime's
//! unchecked raw-value entry without allocating.

use std::mem::MaybeUninit;

use wasmtime::{AsContextMut, Func, ValRaw};

use crate::error::{Error, Phase, Result};
use crate::types::Signature;
use crate::val::packr_val;

/// Arguments and results up to this many live on the stack during a call.
const INLINE_VALS: usize = 16;

/// Runs `body` on `n` uninitialised slots: on the stack when few, on the heap otherwise.
#[inline]
fn with_slots<T: Copy, R>(n: usize, body: impl FnOnce(&mut [MaybeUninit<T>]) -> R) -> R {
    if n <= INLINE_VALS {
        let mut inline = [const { MaybeUninit::<T>::uninit() }; INLINE_VALS];
        body(&mut inline[..n])
    } else {
        let mut heap = vec![MaybeUninit::<T>::uninit(); n];
        body(&mut heap)
    }
}

/// Calls `func`, whose wasm type is `signature`, with `args`, writing `results` only on
/// success.
///
/// The caller must have checked the call against `signature` (`Signature::check_call`) and
/// `signature` must be `func`'s type with carried kinds only: that is what makes the
/// unchecked entry sound.
#[inline]
pub(crate) fn call_checked_raw(
    mut store: impl AsContextMut,
    func: &Func,
    signature: &Signature,
    args: &[packr_val],
    results: &mut [packr_val],
) -> Result<()> {
    let n = args.len().max(results.len());
    with_slots::<ValRaw, _>(n, |slots| {
        for (slot, arg) in slots.iter_mut().zip(args) {
            slot.write(arg.raw());
        }
        for slot in slots.iter_mut().skip(args.len()) {
            slot.write(ValRaw::i64(0));
        }
        // SAFETY: every slot was written just above.
        let raw = unsafe { &mut *(slots as *mut [MaybeUninit<ValRaw>] as *mut [ValRaw]) };
        // SAFETY: the arguments match `func`'s parameters (checked by the caller against its
        // signature), the slots hold max(params, results) values, and no value is a reference.
        unsafe { func.call_unchecked(store.as_context_mut(), raw as *mut [ValRaw]) }
            .map_err(|e| Error::wasmtime(Phase::Call, &e))?;
        for ((out, kind), raw) in results.iter_mut().zip(signature.results()).zip(raw.iter()) {
            *out = packr_val::from_raw(*kind, raw);
        }
        Ok(())
    })
}
