package packr

// #include "shim.h"
import "C"

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// OptLevel is Cranelift's optimisation level. The zero value, OptDefault, leaves packr's
// default (OptSpeed).
type OptLevel uint32

// The optimisation levels. OptLevel(n) for n ≥ 1 is packr's level n-1, so a value outside
// these is passed on and rejected by packr with ErrInvalidArgument naming opt_level.
const (
	OptDefault      OptLevel = iota // packr's default: OptSpeed
	OptNone                         // no optimisation: fastest compile
	OptSpeed                        // optimise for speed
	OptSpeedAndSize                 // optimise for speed and size
)

func (o OptLevel) String() string {
	switch o {
	case OptDefault:
		return "default"
	case OptNone:
		return "none"
	case OptSpeed:
		return "speed"
	case OptSpeedAndSize:
		return "speed-and-size"
	}
	return "OptLevel(" + strconv.FormatUint(uint64(o), 10) + ")"
}

// Config holds the settings for NewRuntimeWithConfig. Every zero value means packr's
// default, so Config{} is the same as NewRuntime, and only non-zero fields are applied.
// The one exception is PoolKeepResident, whose 0 is a meaningful setting: it is a pointer,
// and nil (its zero value) keeps the default.
// The settings and their limits are described in packr.h (packr_config_set_*); a value
// packr rejects gives ErrInvalidArgument whose message names the setting.
type Config struct {
	// Pooling turns on the pooling allocator: the runtime reserves address space for
	// PoolInstances instances up front, and spawns reuse warm slots. Instantiating beyond
	// the pool fails with ErrPoolExhausted until an instance is closed.
	Pooling                 bool
	PoolInstances           uint32 // live instances across the pool (and runtimes sharing its engine)
	PoolMemoriesPerInstance uint32 // linear memories per pooled instance
	PoolTablesPerInstance   uint32 // tables per pooled instance
	PoolMemoryBytes         uint64 // largest pooled memory: a multiple of 64 KiB
	PoolTableElements       uint32 // largest pooled table, in elements
	DisableMemoryImages     bool   // turn off copy-on-write memory images
	OptLevel                OptLevel
	SerialCompilation       bool   // compile a module's functions on one thread
	MemoryReservation       uint64 // without pooling: address space reserved per memory, in bytes

	// PoolKeepResident is the bytes of each pooled memory and table reset in place (and
	// kept resident) when an instance is closed, instead of returned to the kernel: 0 to
	// 1 GiB. nil keeps packr's default (1 MiB); point it at 0 to keep nothing resident:
	//
	//	none := uint64(0)
	//	cfg := packr.Config{Pooling: true, PoolKeepResident: &none}
	//
	// The value is read when NewRuntimeWithConfig is called.
	PoolKeepResident       *uint64
	DisablePoolPagemapScan bool   // don't use the PAGEMAP_SCAN ioctl to find the pages to reset
	PoolDecommitBatch      uint32 // freed pooled slots returned to the kernel per batch: 1 to 4096

	// Guardrails (see the package overview). Each instance's own limits are set in its
	// InstanceConfig.

	// Fuel makes the engine count fuel: every instance gets a tank its guest's
	// instructions drain (InstanceConfig.Fuel, else as good as unlimited), and a call that
	// runs dry stops with ErrOutOfFuel. Counting makes guest code slower (10-30% on
	// compute-heavy guests); for wall-clock bounds a timeout costs nothing.
	Fuel bool
	// TimerTick is how often the engine's timer ticks while a call with a timeout runs:
	// 100µs to 1s, rounded up to whole microseconds; 0 keeps packr's default (1 ms). A
	// timeout fires within about two ticks of its deadline.
	TimerTick time.Duration
	// MaxWasmStack is the most stack a guest's frames may use in one call, in bytes: 16 KiB
	// to 64 MiB; 0 keeps packr's default (512 KiB). Deeper recursion is ErrTrap ("call stack
	// exhausted"), on any goroutine.
	MaxWasmStack uint64
	// MaxModuleBytes is the largest module Runtime.Load accepts, in bytes of wasm or text;
	// a larger one is ErrLimit, refused before compiling. 0 (the default) is no limit.
	// Hosts compiling modules they did not write should set it.
	MaxModuleBytes uint64
	// DisableSignalsBasedTraps makes compiled code check bounds and divisions itself
	// instead of relying on signal handlers (slower guest code, about 10-40%), for
	// processes whose signal handlers cannot pass on the signals wasmtime's handle. Go
	// installs its own handlers at startup, before any engine, and wasmtime's pass what is
	// not theirs on to them, so Go hosts rarely need it.
	DisableSignalsBasedTraps bool
}

// NewRuntimeWithConfig creates a runtime with its own engine configured by cfg. The caller
// owns it and should Close it. A rejected setting is ErrInvalidArgument; a pool whose
// address space the operating system refuses is ErrResource.
func NewRuntimeWithConfig(cfg Config) (*Runtime, error) {
	var c *C.packr_config
	var msg *C.char
	if err := check(C.packr_go_config_new(&c, &msg), msg); err != nil {
		return nil, err
	}
	// C memory, so no KeepAlive is needed; freed whatever happens below.
	defer C.packr_config_free(c)

	// Apply the non-zero (non-nil) fields in order, stopping at the first one packr rejects.
	st := C.packr_status(C.PACKR_OK)
	ok := func(set bool) bool { return set && st == C.PACKR_OK }
	if ok(cfg.Pooling) {
		st = C.packr_go_config_set_pooling(c, true, &msg)
	}
	if ok(cfg.PoolInstances != 0) {
		st = C.packr_go_config_set_pool_instances(c, C.uint32_t(cfg.PoolInstances), &msg)
	}
	if ok(cfg.PoolMemoriesPerInstance != 0) {
		st = C.packr_go_config_set_pool_memories_per_instance(c, C.uint32_t(cfg.PoolMemoriesPerInstance), &msg)
	}
	if ok(cfg.PoolTablesPerInstance != 0) {
		st = C.packr_go_config_set_pool_tables_per_instance(c, C.uint32_t(cfg.PoolTablesPerInstance), &msg)
	}
	if ok(cfg.PoolMemoryBytes != 0) {
		st = C.packr_go_config_set_pool_memory_bytes(c, C.uint64_t(cfg.PoolMemoryBytes), &msg)
	}
	if ok(cfg.PoolTableElements != 0) {
		st = C.packr_go_config_set_pool_table_elements(c, C.uint32_t(cfg.PoolTableElements), &msg)
	}
	if ok(cfg.DisableMemoryImages) {
		st = C.packr_go_config_set_memory_images(c, false, &msg)
	}
	if ok(cfg.OptLevel != OptDefault) {
		st = C.packr_go_config_set_opt_level(c, C.uint32_t(cfg.OptLevel-1), &msg)
	}
	if ok(cfg.SerialCompilation) {
		st = C.packr_go_config_set_parallel_compilation(c, false, &msg)
	}
	if ok(cfg.MemoryReservation != 0) {
		st = C.packr_go_config_set_memory_reservation(c, C.uint64_t(cfg.MemoryReservation), &msg)
	}
	if ok(cfg.PoolKeepResident != nil) {
		st = C.packr_go_config_set_pool_keep_resident(c, C.uint64_t(*cfg.PoolKeepResident), &msg)
	}
	if ok(cfg.DisablePoolPagemapScan) {
		st = C.packr_go_config_set_pool_pagemap_scan(c, false, &msg)
	}
	if ok(cfg.PoolDecommitBatch != 0) {
		st = C.packr_go_config_set_pool_decommit_batch(c, C.uint32_t(cfg.PoolDecommitBatch), &msg)
	}
	if ok(cfg.Fuel) {
		st = C.packr_go_config_set_fuel(c, true, &msg)
	}
	if ok(cfg.TimerTick != 0) {
		if cfg.TimerTick < 0 {
			return nil, newError(StatusInvalidArgument, fmt.Sprintf("Config.TimerTick %v is negative", cfg.TimerTick))
		}
		st = C.packr_go_config_set_timer_tick_us(c, C.uint64_t(roundUp(cfg.TimerTick, time.Microsecond)), &msg)
	}
	if ok(cfg.MaxWasmStack != 0) {
		st = C.packr_go_config_set_max_wasm_stack(c, C.size_t(min(cfg.MaxWasmStack, uint64(math.MaxUint))), &msg)
	}
	if ok(cfg.MaxModuleBytes != 0) {
		st = C.packr_go_config_set_max_module_bytes(c, C.uint64_t(cfg.MaxModuleBytes), &msg)
	}
	if ok(cfg.DisableSignalsBasedTraps) {
		st = C.packr_go_config_set_signals_based_traps(c, false, &msg)
	}
	if err := check(st, msg); err != nil {
		return nil, err
	}

	var out *C.packr_runtime
	if err := check(C.packr_go_runtime_new_with_config(c, &out, &msg), msg); err != nil {
		return nil, err
	}
	return newRuntime(out), nil
}

// roundUp is d in whole units, rounded up so that a positive d is never 0. d ≥ 0.
func roundUp(d, unit time.Duration) uint64 {
	n := uint64(d / unit)
	if d%unit != 0 {
		n++
	}
	return n
}
