//! Values that cross the ABI, and the kinds that describe signatures.

use wasmtime::{Val, ValRaw, ValType, V128};

use crate::error::{Error, Result, PACKR_ERR_TYPE_MISMATCH};

/// The kind of a value or of a parameter or result in a signature.
///
/// A fixed-width integer, not an enum, so any number a host writes is defined behaviour:
/// numbers that are not one of the constants below are rejected with
/// `PACKR_ERR_TYPE_MISMATCH`.
///
/// `PACKR_I32`, `PACKR_I64`, `PACKR_F32`, `PACKR_F64` and `PACKR_V128` can be carried by a
/// `packr_val`. The reference kinds appear only when describing a signature, so a host can
/// see why an export cannot be called through packr.
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
/// A 128-bit vector (`packr_val.of.v128`, 16 bytes in WebAssembly's little-endian lane
/// order: byte 0 is the lowest byte of lane 0).
pub const PACKR_V128: packr_valkind = 4;
/// A function reference. Signatures only: cannot be passed through `packr_val` yet.
pub const PACKR_FUNCREF: packr_valkind = 5;
/// An external reference. Signatures only: cannot be passed through `packr_val` yet.
pub const PACKR_EXTERNREF: packr_valkind = 6;
/// Any other reference type (anyref, exnref, typed references). Signatures only.
pub const PACKR_OTHERREF: packr_valkind = 7;

/// The payload of a `packr_val`; which member is meaningful is given by its `kind`.
///
/// Its size (16 bytes) and alignment (8) are fixed: reference kinds will arrive as
/// pointer-sized members without changing the layout of `packr_val` (24 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub union packr_val_union {
    pub i32: i32,
    pub i64: i64,
    pub f32: f32,
    pub f64: f64,
    pub v128: [u8; 16],
}

/// A WebAssembly value: `kind` says which member of `of` holds it.
///
/// Arguments are read by `kind`; only that member of `of` needs to be set. Results are
/// written whole, `kind` included, with the bytes the kind does not use set to zero.
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

/// The wasm value type of a carried kind (callers check `is_carried` first).
pub(crate) fn val_type(kind: packr_valkind) -> ValType {
    match kind {
        PACKR_I32 => ValType::I32,
        PACKR_I64 => ValType::I64,
        PACKR_F32 => ValType::F32,
        PACKR_F64 => ValType::F64,
        _ => ValType::V128,
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
    kind <= PACKR_V128
}

impl Default for packr_val {
    fn default() -> Self {
        packr_val { kind: PACKR_I32, of: packr_val_union { v128: [0; 16] } }
    }
}

impl packr_val {
    /// A zero of `kind`.
    #[cfg(test)]
    pub(crate) fn zero(kind: packr_valkind) -> Self {
        packr_val { kind, of: packr_val_union { v128: [0; 16] } }
    }

    /// Checks that this `what` (an "argument" or "result") at `position` is of `expected` kind.
    #[inline]
    pub(crate) fn check(&self, expected: packr_valkind, what: &str, position: usize) -> Result<()> {
        if self.kind == expected { Ok(()) } else { Err(self.mismatch(expected, what, position)) }
    }

    #[cold]
    fn mismatch(&self, expected: packr_valkind, what: &str, position: usize) -> Error {
        Error::new(
            PACKR_ERR_TYPE_MISMATCH,
            format!("{what} {position} is {}, the signature wants {}", kind_name(self.kind), kind_name(expected)),
        )
    }

    /// The raw wasm value. The caller has checked `kind` against the signature, which only
    /// holds carried kinds.
    #[inline]
    pub(crate) fn raw(&self) -> ValRaw {
        // SAFETY: every bit pattern of these plain members is valid, and `kind` names the
        // member the host set (only that member is read: a wider load after the host's
        // narrower store would also stall the pipeline).
        unsafe {
            match self.kind {
                PACKR_I32 | PACKR_F32 => ValRaw::u32(self.of.i32 as u32),
                PACKR_V128 => ValRaw::v128(u128::from_le_bytes(self.of.v128)),
                _ => ValRaw::i64(self.of.i64),
            }
        }
    }

    /// Writes `kind` and `of` into `slot` field by field: building the value elsewhere and
    /// copying it in makes the compiler move it through a stack temporary whose overlapping
    /// loads and stores stall (measured: a third of a host call's cost).
    #[inline]
    pub(crate) fn write_to(slot: &mut std::mem::MaybeUninit<packr_val>, kind: packr_valkind, of: packr_val_union) {
        let p = slot.as_mut_ptr();
        // SAFETY: `p` points to writable memory for a `packr_val`; each field is written once.
        unsafe {
            (&raw mut (*p).kind).write(kind);
            (&raw mut (*p).of).write(of);
        }
    }

    /// The payload of a raw wasm value of a carried `kind`, with unused bytes zero (as
    /// `from_raw`). Read by kind: compiled wasm stores a 32-bit argument's 4 bytes only,
    /// so the other 4 of its slot are whatever was on the stack (found by the `host` fuzzer).
    #[inline]
    pub(crate) fn raw_payload(kind: packr_valkind, raw: &ValRaw) -> packr_val_union {
        packr_val::from_raw(kind, raw).of
    }

    /// The value of a raw wasm value of a carried `kind`, every byte of it defined (the
    /// members a kind does not use are zero), as the header promises for results.
    #[inline]
    pub(crate) fn from_raw(kind: packr_valkind, raw: &ValRaw) -> packr_val {
        let mut of = packr_val_union { v128: [0; 16] };
        match kind {
            PACKR_I32 => of.i32 = raw.get_i32(),
            PACKR_I64 => of.i64 = raw.get_i64(),
            PACKR_F32 => of.f32 = f32::from_bits(raw.get_f32()),
            PACKR_F64 => of.f64 = f64::from_bits(raw.get_f64()),
            _ => of.v128 = raw.get_v128().to_le_bytes(),
        }
        packr_val { kind, of }
    }

    /// The checked wasm value of this argument (for globals, where wasmtime wants a `Val`).
    pub(crate) fn to_wasm(self, expected: packr_valkind, position: usize) -> Result<Val> {
        self.check(expected, "argument", position)?;
        // SAFETY: as in `to_raw`.
        Ok(unsafe {
            match self.kind {
                PACKR_I32 => Val::I32(self.of.i32),
                PACKR_I64 => Val::I64(self.of.i64),
                PACKR_F32 => Val::F32(self.of.f32.to_bits()),
                PACKR_F64 => Val::F64(self.of.f64.to_bits()),
                _ => Val::V128(V128::from(u128::from_le_bytes(self.of.v128))),
            }
        })
    }

    /// The value of a wasm value (unused bytes zero), or `PACKR_ERR_TYPE_MISMATCH` for a reference.
    pub(crate) fn from_wasm(val: &Val) -> Result<packr_val> {
        let mut of = packr_val_union { v128: [0; 16] };
        let kind = match *val {
            Val::I32(i32) => {
                of.i32 = i32;
                PACKR_I32
            }
            Val::I64(i64) => {
                of.i64 = i64;
                PACKR_I64
            }
            Val::F32(bits) => {
                of.f32 = f32::from_bits(bits);
                PACKR_F32
            }
            Val::F64(bits) => {
                of.f64 = f64::from_bits(bits);
                PACKR_F64
            }
            Val::V128(v) => {
                of.v128 = v.as_u128().to_le_bytes();
                PACKR_V128
            }
            _ => return Err(Error::new(PACKR_ERR_TYPE_MISMATCH, "the value is a reference, which packr values cannot carry")),
        };
        Ok(packr_val { kind, of })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_fixed() {
        assert_eq!(std::mem::size_of::<packr_val_union>(), 16);
        assert_eq!(std::mem::size_of::<packr_val>(), 24);
        assert_eq!(std::mem::align_of::<packr_val>(), 8);
    }

    #[test]
    fn values_come_back_with_every_byte_defined() {
        let v = packr_val::from_raw(PACKR_I32, &ValRaw::i32(-1));
        assert_eq!(unsafe { v.of.v128 }, [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let v = packr_val::from_wasm(&Val::F32(1.0f32.to_bits())).unwrap();
        assert_eq!(unsafe { v.of.v128 }[4..], [0; 12]);
    }

    #[test]
    fn raw_round_trips_every_carried_kind() {
        let mut bytes = [0u8; 16];
        bytes.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8 * 17);
        let vals = [
            packr_val { kind: PACKR_I32, of: packr_val_union { i32: -3 } },
            packr_val { kind: PACKR_I64, of: packr_val_union { i64: i64::MIN } },
            packr_val { kind: PACKR_F32, of: packr_val_union { f32: -0.5 } },
            packr_val { kind: PACKR_F64, of: packr_val_union { f64: 1e300 } },
            packr_val { kind: PACKR_V128, of: packr_val_union { v128: bytes } },
        ];
        // The bytes a kind owns: compare those only, the rest of the union is unspecified.
        let owned = |v: &packr_val| -> Vec<u8> {
            let n = match v.kind { PACKR_I32 | PACKR_F32 => 4, PACKR_V128 => 16, _ => 8 };
            unsafe { v.of.v128[..n].to_vec() }
        };
        for v in vals {
            let back = packr_val::from_raw(v.kind, &v.raw());
            let wasm = packr_val::from_wasm(&v.to_wasm(v.kind, 0).unwrap()).unwrap();
            let payload = packr_val { kind: v.kind, of: packr_val::raw_payload(v.kind, &v.raw()) };
            assert_eq!(unsafe { payload.of.v128 }, unsafe { back.of.v128 }, "raw_payload is from_raw's payload");
            for other in [back, wasm] {
                assert_eq!((other.kind, owned(&other)), (v.kind, owned(&v)));
            }
        }
        let v128 = vals[4].raw().get_v128();
        assert_eq!(v128 & 0xff, 0, "byte 0 is the low byte");
        assert_eq!((v128 >> 8) & 0xff, 17);
    }
}
