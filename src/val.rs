//! Values that cross the ABI, and the kinds that describe signatures.

use wasmtime::{Val, ValType};

use crate::error::{Error, Result, PACKR_ERR_TYPE_MISMATCH};

/// The kind of a value or of a parameter or result in a signature.
///
/// A fixed-width integer, not an enum, so any number a host writes is defined behaviour:
/// numbers that are not one of the constants below are rejected with
/// `PACKR_ERR_TYPE_MISMATCH`.
///
/// Only `PACKR_I32`, `PACKR_I64`, `PACKR_F32` and `PACKR_F64` can be carried by a
/// `packr_val`. The others appear only when describing a signature, so a host can see why
/// an export cannot be called through packr.
#[allow(non_camel_case_types)]
pub type packr_valkind = u32;

/// A 32-bit integer (`packr_val.of.i32`).
pub const PACKR_I32: packr_valkind = 0;
/// A 64-bit integer (`packr_val.of.i64`).
pub const PACKR_I64: packr_valkind = 1;
/// A 32-bit float (`packr_val.of.f32`).
pub const PACKR_F32: packr_valkind = 2;
/// A 64-bit float (`packr_val.of.f64`).
pub const PACKR_F64: packr_valkind = 3;
/// A 128-bit vector. Signatures only: cannot be passed through `packr_val`.
pub const PACKR_V128: packr_valkind = 4;
/// A function reference. Signatures only: cannot be passed through `packr_val`.
pub const PACKR_FUNCREF: packr_valkind = 5;
/// An external reference. Signatures only: cannot be passed through `packr_val`.
pub const PACKR_EXTERNREF: packr_valkind = 6;
/// Any other reference type (anyref, exnref, typed references). Signatures only.
pub const PACKR_OTHERREF: packr_valkind = 7;

/// The payload of a `packr_val`; which member is meaningful is given by its `kind`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union packr_val_union {
    pub i32: i32,
    pub i64: i64,
    pub f32: f32,
    pub f64: f64,
}

/// A WebAssembly value: `kind` says which member of `of` holds it.
///
/// Arguments are read by `kind`; only that member of `of` needs to be set. Results are
/// written whole, `kind` included.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct packr_val {
    pub kind: packr_valkind,
    pub of: packr_val_union,
}

/// The kind of a wasm value type, in packr's numbering.
pub(crate) fn kind_of(ty: &ValType) -> packr_valkind {
    match ty {
        ValType::I32 => PACKR_I32,
        ValType::I64 => PACKR_I64,
        ValType::F32 => PACKR_F32,
        ValType::F64 => PACKR_F64,
        ValType::V128 => PACKR_V128,
        ValType::Ref(r) if r.heap_type().is_func() && !r.heap_type().is_concrete() => PACKR_FUNCREF,
        ValType::Ref(r) if r.heap_type().is_extern() => PACKR_EXTERNREF,
        ValType::Ref(_) => PACKR_OTHERREF,
    }
}

/// A readable name for any kind number, for messages.
pub(crate) fn kind_name(kind: packr_valkind) -> String {
    match kind {
        PACKR_I32 => "i32".into(),
        PACKR_I64 => "i64".into(),
        PACKR_F32 => "f32".into(),
        PACKR_F64 => "f64".into(),
        PACKR_V128 => "v128".into(),
        PACKR_FUNCREF => "funcref".into(),
        PACKR_EXTERNREF => "externref".into(),
        PACKR_OTHERREF => "reference".into(),
        other => format!("unknown kind {other}"),
    }
}

/// Whether a `packr_val` can carry values of this kind.
pub(crate) fn is_carried(kind: packr_valkind) -> bool {
    kind <= PACKR_F64
}

impl Default for packr_val {
    fn default() -> Self {
        packr_val { kind: PACKR_I32, of: packr_val_union { i64: 0 } }
    }
}

impl packr_val {
    /// The wasm value, checked against the kind the signature expects at `position`.
    pub(crate) fn to_wasm(self, expected: packr_valkind, position: usize) -> Result<Val> {
        if self.kind != expected {
            return Err(Error::new(
                PACKR_ERR_TYPE_MISMATCH,
                format!("argument {position} is {}, the signature wants {}", kind_name(self.kind), kind_name(expected)),
            ));
        }
        // SAFETY: every bit pattern of these plain members is valid, and `kind` names the
        // member the host set.
        Ok(unsafe {
            match self.kind {
                PACKR_I32 => Val::I32(self.of.i32),
                PACKR_I64 => Val::I64(self.of.i64),
                PACKR_F32 => Val::F32(self.of.f32.to_bits()),
                _ => Val::F64(self.of.f64.to_bits()),
            }
        })
    }

    /// The value of a wasm result. Signatures with other types are refused before the
    /// call, so the error is only a safety net.
    pub(crate) fn from_wasm(val: &Val) -> Result<packr_val> {
        Ok(match *val {
            Val::I32(i32) => packr_val { kind: PACKR_I32, of: packr_val_union { i32 } },
            Val::I64(i64) => packr_val { kind: PACKR_I64, of: packr_val_union { i64 } },
            Val::F32(bits) => packr_val { kind: PACKR_F32, of: packr_val_union { f32: f32::from_bits(bits) } },
            Val::F64(bits) => packr_val { kind: PACKR_F64, of: packr_val_union { f64: f64::from_bits(bits) } },
            _ => return Err(Error::new(PACKR_ERR_TYPE_MISMATCH, "a result is not a number")),
        })
    }
}
