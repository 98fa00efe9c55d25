package packr

// The calls listed here only read or set the handles: none can call back into Go.

// #cgo noescape packr_go_cache_options_new
// #cgo nocallback packr_go_cache_options_new
// #cgo noescape packr_go_cache_options_set_key
// #cgo nocallback packr_go_cache_options_set_key
// #cgo noescape packr_go_cache_options_set_max_bytes
// #cgo nocallback packr_go_cache_options_set_max_bytes
// #cgo nocallback packr_cache_options_free
// #cgo noescape packr_go_cache_stats
// #cgo nocallback packr_go_cache_stats
// #cgo noescape packr_go_cache_last_problem
// #cgo nocallback packr_go_cache_last_problem
// #cgo noescape packr_cache_dir
// #cgo nocallback packr_cache_dir
// #include "shim.h"
import "C"

import (
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// CacheOptions holds the settings of OpenCacheWith. Its zero value gives what OpenCache
// gives: no key and no size limit. It is only read during OpenCacheWith.
type CacheOptions struct {
	// Key, when not empty, authenticates the cache's artifacts (as SerializeKeyed does):
	// they are written with a MAC of it, and an artifact on disk written with another key,
	// or tampered with, is rejected and recompiled. It must be at least 16 bytes, else
	// OpenCacheWith fails with ErrInvalidArgument. Caches with different keys (or none)
	// may share a directory: their artifacts have different names. Set it when others
	// can write to the directory.
	Key []byte
	// MaxBytes bounds the total size of the artifacts in the directory: after storing one,
	// the least recently used others are removed until the total fits (Stats.Evicted
	// counts them). 0 (the default) is no limit.
	MaxBytes uint64
}

// CacheStats is a snapshot of a Cache's counters (Cache.Stats). The counters are this
// Cache's, since it was opened; BytesOnDisk and Files describe the directory now, whoever
// wrote it.
type CacheStats struct {
	Hits        uint64 // loads served from a verified artifact on disk
	Misses      uint64 // loads that compiled
	Rejected    uint64 // artifacts that failed verification, then recompiled and replaced
	Stored      uint64 // artifacts written
	Evicted     uint64 // artifacts removed by CacheOptions.MaxBytes
	Errors      uint64 // file system problems that degraded a load to compiling or not storing
	BytesOnDisk uint64 // total size of the artifacts in the directory
	Files       uint64 // how many artifacts are in the directory
}

// Cache is a persistent compile cache: a directory of artifacts (serialized modules, see
// Module.Serialize), one per module and engine settings, so a module compiled once is
// loaded without compiling by later loads, in this process or any other using the
// directory. Artifacts are verified before use; a damaged or foreign one is never an
// error, only recompiled and replaced (Stats.Rejected and LastProblem say so), and a file
// system problem degrades to compiling (Stats.Errors).
//
// A Cache is safe for concurrent use by many goroutines, and many processes may share a
// directory: loaders of the same module wait for one compile instead of compiling it
// each. Close waits for loads in progress. A garbage-collected Cache is released as a
// safety net, but call Close to release it promptly.
type Cache struct {
	mu      sync.RWMutex // loads hold RLock; Close holds Lock
	ptr     *C.packr_cache
	dir     string
	cleanup runtime.Cleanup
}

// OpenCache opens the cache in dir, creating the directory if it is missing, with no key
// and no size limit. The caller owns the Cache and should Close it. A directory that
// cannot be created or used is an error naming it.
func OpenCache(dir string) (*Cache, error) {
	return OpenCacheWith(dir, CacheOptions{})
}

// OpenCacheWith opens the cache in dir with opts, as OpenCache does. A key shorter than 16
// bytes is ErrInvalidArgument.
func OpenCacheWith(dir string, opts CacheOptions) (*Cache, error) {
	if strings.IndexByte(dir, 0) >= 0 {
		return nil, newError(StatusInvalidArgument, "cache directory "+strconv.Quote(dir)+" contains a NUL byte")
	}
	var o *C.packr_cache_options
	var msg *C.char
	if err := check(C.packr_go_cache_options_new(&o, &msg), msg); err != nil {
		return nil, err
	}
	// C memory, so no KeepAlive is needed; freed whatever happens below.
	defer C.packr_cache_options_free(o)
	if len(opts.Key) > 0 {
		st := C.packr_go_cache_options_set_key(o, bytesPtr(opts.Key), C.size_t(len(opts.Key)), &msg)
		if err := check(st, msg); err != nil {
			return nil, err
		}
	}
	if opts.MaxBytes != 0 {
		st := C.packr_go_cache_options_set_max_bytes(o, C.uint64_t(opts.MaxBytes), &msg)
		if err := check(st, msg); err != nil {
			return nil, err
		}
	}
	cdir := C.CString(dir)
	defer C.free(unsafe.Pointer(cdir))
	var out *C.packr_cache
	if err := check(C.packr_go_cache_open_with(cdir, o, &out, &msg), msg); err != nil {
		return nil, err
	}
	c := &Cache{ptr: out, dir: C.GoString(C.packr_cache_dir(out))}
	c.cleanup = runtime.AddCleanup(c, func(p *C.packr_cache) { C.packr_cache_free(p) }, out)
	return c, nil
}

// Load returns the module compiled from wasm (a binary module or WebAssembly text) for
// rt's engine, bound to rt: from the directory if a valid artifact of it is there (a hit),
// else compiled, as Runtime.Load does, and stored (a miss). The caller owns the module
// and should Close it; wasm is only read during the call. The errors are Runtime.Load's
// (ErrCompile and the others); an artifact that fails verification is not one of them.
func (c *Cache) Load(rt *Runtime, wasm []byte) (*Module, error) {
	if rt == nil {
		return nil, newError(StatusNullPointer, "runtime is nil")
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	if c.ptr == nil || rt.ptr == nil {
		return nil, ErrClosed
	}
	var out *C.packr_module
	var msg *C.char
	st := C.packr_go_cache_load(c.ptr, rt.ptr, bytesPtr(wasm), C.size_t(len(wasm)), &out, &msg)
	runtime.KeepAlive(c)
	runtime.KeepAlive(rt)
	if err := check(st, msg); err != nil {
		return nil, err
	}
	return newModule(out, &moduleInfo{}, rt.hosted), nil
}

// Stats returns the cache's counters and the directory's size now (a scan of it). A
// closed Cache gives the zero CacheStats.
func (c *Cache) Stats() CacheStats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.ptr == nil {
		return CacheStats{}
	}
	var s C.packr_cache_stats
	var msg *C.char
	st := C.packr_go_cache_stats(c.ptr, &s, &msg)
	runtime.KeepAlive(c)
	if check(st, msg) != nil {
		return CacheStats{} // only a NULL handle fails, and c.ptr is not NULL
	}
	return CacheStats{
		Hits:        uint64(s.hits),
		Misses:      uint64(s.misses),
		Rejected:    uint64(s.rejected),
		Stored:      uint64(s.stored),
		Evicted:     uint64(s.evicted),
		Errors:      uint64(s.errors),
		BytesOnDisk: uint64(s.bytes_on_disk),
		Files:       uint64(s.files),
	}
}

// LastProblem returns why the last artifact was rejected or the last file system problem
// happened, such as "artifact rejected: checksum mismatch (the artifact is damaged)"; ""
// if there has been none, or the Cache is closed.
func (c *Cache) LastProblem() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.ptr == nil {
		return ""
	}
	var b C.packr_bytes
	var msg *C.char
	st := C.packr_go_cache_last_problem(c.ptr, &b, &msg)
	runtime.KeepAlive(c)
	if check(st, msg) != nil {
		return ""
	}
	return string(takeBytes(&b))
}

// Dir returns the cache's directory as packr opened it. It stays valid after Close.
func (c *Cache) Dir() string { return c.dir }

// Close releases the cache. Modules loaded from it keep working, and the artifacts stay in
// the directory for the next Cache. It is idempotent and always returns nil; it waits for
// loads in progress on c.
func (c *Cache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ptr != nil {
		c.cleanup.Stop()
		C.packr_cache_free(c.ptr)
		c.ptr = nil
	}
	return nil
}
