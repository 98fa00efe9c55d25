package packr

// #include "shim.h"
import "C"

import (
	"encoding/hex"
	"fmt"
	"math"
	"unsafe"
)

// Vec128 is a WebAssembly v128 value: 16 bytes in memory order, byte 0 first (the
// little-endian lane order of packr.h's `packr_val.of.v128`). It is the Go type of a V128
// parameter or result in host functions, Call and CallFunc.
type Vec128 [16]byte

func (v Vec128) String() string { return hex.EncodeToString(v[:]) }

// Value is one WebAssembly value of a kind packr carries (I32, I64, F32, F64 or V128).
// The zero Value is the i32 0. Make one with ValueI32 and the other constructors; read it
// with the accessor of its Kind.
//
// Its memory layout is packr.h's `packr_val`, so a []Value crosses to C without copying:
// the args and results an UntypedFunc receives are packr's own slots. Values returned by
// this package (results, globals) compare with == by kind and value bits; the args an
// UntypedFunc receives may carry unspecified bytes beyond their kind's width, so read
// them with their accessors.
type Value struct {
	kind ValKind
	of   [2]uint64 // packr_val_union: 16 bytes, 8-aligned, at offset 8
}

// The layout must be packr_val's exactly (checked at compile time: a negative array
// length does not compile).
var (
	_ [unsafe.Sizeof(Value{}) - unsafe.Sizeof(C.packr_val{})]byte
	_ [unsafe.Sizeof(C.packr_val{}) - unsafe.Sizeof(Value{})]byte
	_ [unsafe.Offsetof(Value{}.of) - unsafe.Offsetof(C.packr_val{}.of)]byte
	_ [unsafe.Offsetof(C.packr_val{}.of) - unsafe.Offsetof(Value{}.of)]byte
)

// scalar is the Go types of the carried kinds, as host-function parameters and results and
// as the arguments of the CallFunc helpers.
type scalar interface {
	int32 | int64 | float32 | float64 | Vec128
}

// NoResult stands for "no result" as the result type of the CallFunc helpers:
// packr.CallFunc1[packr.NoResult](inst, f, x) calls a function that returns nothing.
type NoResult struct{}

// result is the types the CallFunc helpers can return.
type result interface {
	scalar | NoResult
}

// valGet reads v's payload as T; the caller knows v holds T's kind.
func valGet[T scalar](v *Value) T { return *(*T)(unsafe.Pointer(&v.of)) }

// valSet writes x as v's payload, leaving v's kind as it is.
func valSet[T scalar](v *Value, x T) { *(*T)(unsafe.Pointer(&v.of)) = x }

// kindOf is T's ValKind; a nil pointer converts to an interface without allocating.
func kindOf[T scalar]() ValKind {
	switch any((*T)(nil)).(type) {
	case *int32:
		return I32
	case *int64:
		return I64
	case *float32:
		return F32
	case *float64:
		return F64
	}
	return V128
}

func valueOf[T scalar](x T) Value {
	v := Value{kind: kindOf[T]()}
	valSet(&v, x)
	return v
}

// ValueI32 returns the i32 value x.
func ValueI32(x int32) Value { return valueOf(x) }

// ValueI64 returns the i64 value x.
func ValueI64(x int64) Value { return valueOf(x) }

// ValueF32 returns the f32 value x (NaN payloads are kept).
func ValueF32(x float32) Value { return valueOf(x) }

// ValueF64 returns the f64 value x (NaN payloads are kept).
func ValueF64(x float64) Value { return valueOf(x) }

// ValueV128 returns the v128 value x.
func ValueV128(x Vec128) Value { return valueOf(x) }

// Kind is v's kind.
func (v Value) Kind() ValKind { return v.kind }

func (v *Value) want(k ValKind) {
	if v.kind != k {
		panic(fmt.Sprintf("packr: Value.%v called on a %v value", k, v.kind))
	}
}

// I32 returns v's value. It panics if v is not an i32.
func (v Value) I32() int32 { v.want(I32); return valGet[int32](&v) }

// I64 returns v's value. It panics if v is not an i64.
func (v Value) I64() int64 { v.want(I64); return valGet[int64](&v) }

// F32 returns v's value. It panics if v is not an f32.
func (v Value) F32() float32 { v.want(F32); return valGet[float32](&v) }

// F64 returns v's value. It panics if v is not an f64.
func (v Value) F64() float64 { v.want(F64); return valGet[float64](&v) }

// V128 returns v's value. It panics if v is not a v128.
func (v Value) V128() Vec128 { v.want(V128); return valGet[Vec128](&v) }

// Interface returns v's value as the Go type of its kind: int32, int64, float32, float64
// or Vec128 (what Call returns); nil for a kind packr does not carry.
func (v Value) Interface() any {
	switch v.kind {
	case I32:
		return valGet[int32](&v)
	case I64:
		return valGet[int64](&v)
	case F32:
		return valGet[float32](&v)
	case F64:
		return valGet[float64](&v)
	case V128:
		return valGet[Vec128](&v)
	}
	return nil
}

// String formats v as KIND:VALUE, such as "i32:5" or "v128:000102...0f".
func (v Value) String() string {
	if x := v.Interface(); x != nil {
		return fmt.Sprintf("%v:%v", v.kind, x)
	}
	return v.kind.String() + ":?"
}

// setValue converts a Call argument into *v: int32, int64, float32, float64, Vec128 or a
// Value, or an int that takes the kind of parameter k of sig (i32 or i64) and must fit it.
func setValue(v *Value, a any, k int, sig *funcSig) error {
	switch x := a.(type) {
	case int32:
		v.kind, v.of = I32, [2]uint64{uint64(uint32(x))}
	case int64:
		v.kind, v.of = I64, [2]uint64{uint64(x)}
	case float32:
		v.kind, v.of = F32, [2]uint64{uint64(math.Float32bits(x))}
	case float64:
		v.kind, v.of = F64, [2]uint64{math.Float64bits(x)}
	case Vec128:
		*v = valueOf(x)
	case Value:
		*v = x
	case int:
		want := I64 // past the parameters: the core reports the count
		if k < len(sig.params) {
			want = sig.params[k]
		}
		switch want {
		case I32:
			if x < math.MinInt32 || x > math.MaxInt32 {
				return newError(StatusInvalidArgument, fmt.Sprintf("argument %d is %d, which does not fit the signature's i32", k, x))
			}
			v.kind, v.of = I32, [2]uint64{uint64(uint32(x))}
		case I64:
			v.kind, v.of = I64, [2]uint64{uint64(x)}
		default:
			return newError(StatusTypeMismatch, fmt.Sprintf("argument %d is a Go int, the signature wants %v", k, want))
		}
	default:
		return newError(StatusTypeMismatch, fmt.Sprintf("argument %d is a Go %T; pass int32, int64, float32, float64, Vec128, Value or int", k, a))
	}
	return nil
}

// cval is v as packr's C value (the same memory).
func cval(v *Value) *C.packr_val { return (*C.packr_val)(unsafe.Pointer(v)) }

// values views n packr_vals at p (C memory) as Values; empty when n is 0.
func values(p *C.packr_val, n C.size_t) []Value {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*Value)(unsafe.Pointer(p)), int(n))
}
