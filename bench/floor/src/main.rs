//! The floor packr is measured against: plain wasmtime, packr's engine settings, the fastest
//! safe path (one `InstancePre`, a fresh store per spawn, a typed call). Prints one JSON
//! object on stdout; everything else goes to stderr.
//!
//! `--mode cache --cache-dir D --cache-phase first|hit`: wasmtime's own artifact, loaded with
//! `Module::deserialize_file` (nothing verifies it): the floor of a verified cache hit.

use std::path::Path;
use std::process::exit;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, InstancePre, Linker, Memory, Module, PoolingAllocationConfig,
    Store, TypedFunc,
};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

const EXPECTED: i32 = 3_046_000;
/// What wasi_reactor.wasm's reactor_get returns once `_initialize` has run.
const REACTOR_EXPECTED: i32 = 41;
const WARMUP: usize = 100;
/// packr's store deadline: never trips, and adding the current epoch cannot overflow.
const NEVER: u64 = u64::MAX / 2;
const POOL_MEMORY_BYTES: u64 = 64 << 20;
const POOL_HEADROOM: u32 = 64;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Default,
    Pooling,
    Calls,
    Wasi,
    Pack,
    Cache,
}

/// The cache mode's phases: `first` fills an empty directory, `hit` is one load in a fresh process.
#[derive(Clone, Copy, PartialEq)]
enum Phase {
    First,
    Hit,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Default => "default",
            Mode::Pooling => "pooling",
            Mode::Calls => "calls",
            Mode::Wasi => "wasi",
            Mode::Pack => "pack",
            Mode::Cache => "cache",
        }
    }
}

struct Args {
    wasm: String,
    spawns: usize,
    threads: usize,
    live: usize,
    mode: Mode,
    quick: bool,
    cache_dir: Option<String>,
    cache_phase: Phase,
}

fn usage(message: &str) -> ! {
    eprintln!("packr-bench-floor: {message}");
    eprintln!(
        "usage: packr-bench-floor [--wasm PATH] [--spawns N] [--threads T] [--live N] \
         [--mode default|pooling|calls|wasi|pack|cache] [--cache-dir D] [--cache-phase first|hit] [--quick]"
    );
    exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        wasm: "build/guest/sqlite.wasm".into(),
        spawns: 10_000,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        live: 1000,
        mode: Mode::Default,
        quick: false,
        cache_dir: None,
        cache_phase: Phase::First,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--quick" {
            args.spawns = 300;
            args.live = 50;
            args.quick = true;
            continue;
        }
        let value = it.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let number = || value.parse::<usize>().ok().filter(|&n| n > 0).unwrap_or_else(|| usage(&format!("bad {flag}")));
        match flag.as_str() {
            "--wasm" => args.wasm = value.clone(),
            "--spawns" => args.spawns = number(),
            "--threads" => args.threads = number(),
            "--live" => args.live = number(),
            "--mode" => {
                args.mode = match value.as_str() {
                    "default" => Mode::Default,
                    "pooling" => Mode::Pooling,
                    "calls" => Mode::Calls,
                    "wasi" => Mode::Wasi,
                    "pack" => Mode::Pack,
                    "cache" => Mode::Cache,
                    _ => usage(&format!("unknown mode {value}")),
                }
            }
            "--cache-dir" => args.cache_dir = Some(value.clone()),
            "--cache-phase" => {
                args.cache_phase = match value.as_str() {
                    "first" => Phase::First,
                    "hit" => Phase::Hit,
                    _ => usage(&format!("unknown cache phase {value}")),
                }
            }
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    args
}

/// packr's engine (src/config.rs): multi-memory, epoch interruption, CoW images, and in
/// the pooling and wasi modes the pool packr builds from the same limits as the C driver sets.
fn engine(args: &Args) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_multi_memory(true);
    config.epoch_interruption(true);
    config.memory_init_cow(true);
    config.parallel_compilation(true);
    if matches!(args.mode, Mode::Pooling | Mode::Wasi) {
        let instances = u32::try_from(args.live.max(args.threads)).unwrap_or(u32::MAX - POOL_HEADROOM) + POOL_HEADROOM;
        let mut pool = PoolingAllocationConfig::new();
        pool.total_core_instances(instances)
            .total_memories(instances * 2)
            .total_tables(instances)
            .total_stacks(instances)
            .total_gc_heaps(instances)
            .max_memories_per_module(2)
            .max_tables_per_module(1)
            .max_memory_size(POOL_MEMORY_BYTES as usize)
            .table_elements(20_000)
            // packr's pool defaults: reset touched pages in place rather than unmapping them.
            .linear_memory_keep_resident(1 << 20)
            .table_keep_resident(1 << 20)
            .pagemap_scan(Enabled::Auto);
        config.memory_reservation(POOL_MEMORY_BYTES);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&config)
}

/// One spawn that stays alive: a fresh store and instance, called once.
fn instantiate(engine: &Engine, pre: &InstancePre<()>) -> wasmtime::Result<Store<()>> {
    let mut store = Store::new(engine, ());
    store.set_epoch_deadline(NEVER);
    let instance = pre.instantiate(&mut store)?;
    let version = instance.get_typed_func::<(), i32>(&mut store, "demo_version_number")?;
    let got = version.call(&mut store, ())?;
    if got != EXPECTED {
        wasmtime::bail!("demo_version_number returned {got}, not {EXPECTED}");
    }
    Ok(store)
}

/// The wasi mode's spawn: a fresh store with a fresh WASI context (the builder's defaults:
/// no arguments or environment, stdin empty, stdout and stderr discarded), the reactor's
/// `_initialize`, then `reactor_get`.
fn instantiate_wasi(engine: &Engine, pre: &InstancePre<WasiP1Ctx>) -> wasmtime::Result<Store<WasiP1Ctx>> {
    let mut store = Store::new(engine, WasiCtxBuilder::new().build_p1());
    store.set_epoch_deadline(NEVER);
    let instance = pre.instantiate(&mut store)?;
    instance.get_typed_func::<(), ()>(&mut store, "_initialize")?.call(&mut store, ())?;
    let got = instance.get_typed_func::<(), i32>(&mut store, "reactor_get")?.call(&mut store, ())?;
    if got != REACTOR_EXPECTED {
        wasmtime::bail!("reactor_get returned {got}, not {REACTOR_EXPECTED}");
    }
    Ok(store)
}

/// Makes one live spawn, or exits.
type Spawner<T> = dyn Fn() -> wasmtime::Result<Store<T>> + Send + Sync;

fn spawn<T>(make: &Spawner<T>) -> Store<T> {
    make().unwrap_or_else(|e| {
        eprintln!("packr-bench-floor: spawn failed: {e:?}");
        exit(1)
    })
}

fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    // Nearest rank, as bench_common.h computes it.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Median over 5 batches of `op`'s time per unit (ns), `units` units a batch.
fn median_ns(units: usize, mut op: impl FnMut()) -> f64 {
    let mut per = [0.0f64; 5];
    for slot in &mut per {
        let t = Instant::now();
        op();
        *slot = t.elapsed().as_secs_f64() * 1e9 / units as f64;
    }
    per.sort_by(f64::total_cmp);
    per[2]
}

/// The calls mode (bench/README.md) on build/guest/calls.wasm: `Func::call` (checked, by
/// values), `TypedFunc::call`, and a `Func::wrap` host function, with packr's engine.
fn calls(args: &Args, engine: &Engine, bytes: &[u8]) -> wasmtime::Result<()> {
    let module = Module::new(engine, bytes)?;
    let mut linker = Linker::<()>::new(engine);
    linker.func_wrap("bench", "inc", |x: i32| x + 1)?;
    let mut store = Store::new(engine, ());
    store.set_epoch_deadline(NEVER);
    let instance = linker.instantiate(&mut store, &module)?;
    let add = instance.get_func(&mut store, "add").ok_or_else(|| wasmtime::format_err!("no add"))?;
    let typed = add.typed::<(i32, i32), i32>(&store)?;
    let host_loop = instance.get_typed_func::<i32, i32>(&mut store, "host_loop")?;
    let (batch, n) = if args.quick { (20_000, 100_000) } else { (200_000, 1_000_000) };
    let mut ok = true;
    let untyped = |store: &mut Store<()>| {
        let mut result = [wasmtime::Val::I32(0)];
        add.call(&mut *store, &[wasmtime::Val::I32(1), wasmtime::Val::I32(2)], &mut result).is_ok() && result[0].i32() == Some(3)
    };
    for _ in 0..1000 {
        ok &= untyped(&mut store) && typed.call(&mut store, (1, 2))? == 3;
    }
    let call_ns = median_ns(batch, || (0..batch).for_each(|_| ok &= untyped(&mut store)));
    let fast_ns = median_ns(batch, || (0..batch).for_each(|_| ok &= typed.call(&mut store, (1, 2)).ok() == Some(3)));
    ok &= host_loop.call(&mut store, 1000)? == 1000;
    let host_ns = median_ns(n, || ok &= host_loop.call(&mut store, n as i32).ok() == Some(n as i32));
    if !ok {
        wasmtime::bail!("a call returned the wrong value");
    }
    println!(
        "{{\"system\": \"wasmtime (Rust)\", \"mode\": \"calls\", \"call_ns\": {call_ns:.3}, \"call_fast_ns\": {fast_ns:.3}, \
         \"host_call_ns\": {host_ns:.3}, \"host_call_fast_ns\": null, \"notes\": \"call: Func::call; fast: TypedFunc::call; \
         host: Linker::func_wrap (typed)\"}}"
    );
    Ok(())
}

/// The pack mode's payload sizes, their names in the JSON fields, and the calls per timed
/// batch (a tenth with --quick): bench/c/packr_bench.c's.
const PACK_SIZES: [(usize, &str, usize); 3] = [(16, "16", 100_000), (4096, "4k", 20_000), (1 << 20, "1m", 200)];

/// pack.wasm's exports, for the pack convention done by hand as packr does it (src/pack.rs):
/// one `__pack_alloc` block holds the two result slots and the input, the export is called,
/// the output copied out, both blocks freed with `__pack_free`.
struct Pack {
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    free: TypedFunc<(i32, i32), ()>,
    echo: TypedFunc<(i32, i32, i32, i32), i32>,
}

fn slot(data: &[u8], at: usize) -> usize {
    u32::from_le_bytes(data[at..at + 4].try_into().expect("four bytes")) as usize
}

impl Pack {
    fn call(&self, store: &mut Store<()>, input: &[u8]) -> wasmtime::Result<Vec<u8>> {
        let total = input.len() + 8;
        let block = self.alloc.call(&mut *store, i32::try_from(total)?)? as u32 as usize;
        let Some(area) = self.memory.data_mut(&mut *store).get_mut(block..block + total).filter(|_| block != 0) else {
            wasmtime::bail!("__pack_alloc({total}) returned {block:#x}");
        };
        area[..8].fill(0);
        area[8..].copy_from_slice(input);
        let code = self.echo.call(&mut *store, ((block + 8) as i32, input.len() as i32, block as i32, block as i32 + 4))?;
        let data = self.memory.data(&*store);
        let (ptr, len) = (slot(data, block), slot(data, block + 4));
        self.free.call(&mut *store, (block as i32, total as i32))?;
        let Some(output) = self.memory.data(&*store).get(ptr..ptr + len).map(<[u8]>::to_vec) else {
            wasmtime::bail!("echo returned {len} bytes at {ptr:#x}, outside memory");
        };
        if ptr != 0 {
            self.free.call(&mut *store, (ptr as i32, len as i32))?;
        }
        if code != 0 {
            wasmtime::bail!("echo returned {code}");
        }
        Ok(output)
    }
}

/// The pack mode (bench/README.md) on build/guest/pack.wasm: the round trip of a pack call of
/// `echo` done by hand with typed funcs, and a plain call of `alloc_count()` beside it.
fn pack(args: &Args, engine: &Engine, bytes: &[u8]) -> wasmtime::Result<()> {
    let module = Module::new(engine, bytes)?;
    let mut linker = Linker::<()>::new(engine);
    // echo never calls it; -1 is the convention's error.
    linker.func_wrap("host", "transform", |_: i32, _: i32, _: i32, _: i32| -1i32)?;
    let mut store = Store::new(engine, ());
    store.set_epoch_deadline(NEVER);
    let instance = linker.instantiate(&mut store, &module)?;
    let pack = Pack {
        memory: instance.get_memory(&mut store, "memory").ok_or_else(|| wasmtime::format_err!("no memory"))?,
        alloc: instance.get_typed_func(&mut store, "__pack_alloc")?,
        free: instance.get_typed_func(&mut store, "__pack_free")?,
        echo: instance.get_typed_func(&mut store, "echo")?,
    };
    let count = instance.get_func(&mut store, "alloc_count").ok_or_else(|| wasmtime::format_err!("no alloc_count"))?;
    let count_typed = count.typed::<(), i32>(&store)?;
    let payload: Vec<u8> = (0..PACK_SIZES[2].0).map(|i| (i * 131 + 7) as u8).collect();
    let mut fields = String::new();
    let mut ok = true;
    for (size, label, batch) in PACK_SIZES {
        let batch = if args.quick { batch / 10 } else { batch };
        let input = &payload[..size];
        if pack.call(&mut store, input)? != input {
            wasmtime::bail!("echo of {size} bytes did not return its input");
        }
        for _ in 0..batch / 10 + 1 {
            ok &= pack.call(&mut store, input)?.len() == size;
        }
        let ns = median_ns(batch, || (0..batch).for_each(|_| ok &= pack.call(&mut store, input).map(|o| o.len()).ok() == Some(size)));
        fields += &format!("\"pack_{label}_ns\": {ns:.3}, \"pack_fast_{label}_ns\": null, \"memcpy2_{label}_ns\": null, ");
    }
    let batch = if args.quick { 20_000 } else { 200_000 };
    let untyped = |store: &mut Store<()>| {
        let mut result = [wasmtime::Val::I32(-1)];
        count.call(&mut *store, &[], &mut result).is_ok() && result[0].i32() == Some(0)
    };
    for _ in 0..batch / 10 {
        ok &= untyped(&mut store) && count_typed.call(&mut store, ())? == 0;
    }
    let plain_ns = median_ns(batch, || (0..batch).for_each(|_| ok &= untyped(&mut store)));
    let plain_fast_ns = median_ns(batch, || (0..batch).for_each(|_| ok &= count_typed.call(&mut store, ()).ok() == Some(0)));
    if !ok {
        wasmtime::bail!("a call failed or returned the wrong value");
    }
    println!(
        "{{\"system\": \"wasmtime (Rust)\", \"mode\": \"pack\", {fields}\"plain_call_ns\": {plain_ns:.3}, \
         \"plain_call_fast_ns\": {plain_fast_ns:.3}, \"notes\": \"pack: the convention by hand with TypedFunc \
         (__pack_alloc, copy in, echo, copy out, two __pack_free); plain call: alloc_count() by Func::call / \
         TypedFunc::call; host.transform: Linker::func_wrap returning -1\"}}"
    );
    Ok(())
}

/// Loads per warm figure of the cache mode (its median; odd, so the median is one sample).
fn cache_loads(args: &Args) -> usize {
    if args.quick { 5 } else { 21 }
}

/// The median of `n` timed runs of `op`, in ms; what each returns is dropped after its clock stops.
fn median_ms<T>(n: usize, mut op: impl FnMut() -> wasmtime::Result<T>) -> wasmtime::Result<f64> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let value = op()?;
        samples.push(t.elapsed().as_secs_f64() * 1e3);
        drop(value);
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples[n / 2])
}

/// What a loaded module must do: a spawn (outside every timing) whose call returns the version.
fn check_module(engine: &Engine, module: &Module) -> wasmtime::Result<()> {
    let pre = Linker::<()>::new(engine).instantiate_pre(module)?;
    instantiate(engine, &pre).map(drop)
}

/// The cache mode (bench/README.md) on the sqlite guest, with the default mode's engine.
/// Phase `first`: a compile; the miss a cache of wasmtime's own artifacts would pay (that
/// compile, `Module::serialize`, the write to `<dir>/sqlite.cwasm`); then warm loads of the
/// file with `Module::deserialize_file` (an mmap, no check of the contents) and of its bytes
/// with `Module::deserialize`. Phase `hit`: one `deserialize_file` in this fresh process.
fn cache(args: &Args, engine: &Engine, bytes: &[u8]) -> wasmtime::Result<()> {
    let dir = args.cache_dir.as_deref().ok_or_else(|| wasmtime::format_err!("--mode cache needs --cache-dir"))?;
    let path = Path::new(dir).join("sqlite.cwasm");
    // SAFETY: the file is this program's own artifact, written by phase first with an engine
    // of the same settings, and nothing changes it while it is mapped.
    let load = || unsafe { Module::deserialize_file(engine, &path) };
    if args.cache_phase == Phase::Hit {
        let t = Instant::now();
        let module = load()?;
        let hit_ms = t.elapsed().as_secs_f64() * 1e3;
        check_module(engine, &module)?;
        println!("{{\"system\": \"wasmtime (Rust)\", \"mode\": \"cache\", \"hit_ms\": {hit_ms:.3}}}");
        return Ok(());
    }
    let t = Instant::now();
    let module = Module::new(engine, bytes)?;
    let compile_ms = t.elapsed().as_secs_f64() * 1e3;
    let artifact = module.serialize()?;
    std::fs::write(&path, &artifact)?;
    let miss_ms = t.elapsed().as_secs_f64() * 1e3;
    check_module(engine, &module)?;
    check_module(engine, &load()?)?;
    let n = cache_loads(args);
    let warm_hit_ms = median_ms(n, load)?;
    // SAFETY: the bytes are the artifact this engine just made.
    let deserialize_ms = median_ms(n, || unsafe { Module::deserialize(engine, &artifact) })?;
    println!(
        "{{\"system\": \"wasmtime (Rust)\", \"mode\": \"cache\", \"compile_ms\": {compile_ms:.3}, \"miss_ms\": {miss_ms:.3}, \
         \"warm_hit_ms\": {warm_hit_ms:.3}, \"deserialize_ms\": {deserialize_ms:.3}, \"artifact_bytes\": {}, \"loads\": {n}, \
         \"notes\": \"no cache of its own: miss = Module::new + Module::serialize + fs::write of the artifact \
         (the compile timed once, serialize and write after it); hit = Module::deserialize_file (an mmap; the \
         artifact's contents are not checked); from bytes = Module::deserialize of the artifact in memory\"}}",
        artifact.len()
    );
    Ok(())
}

/// The spawn measurement (bench/README.md), in the order every driver keeps: warm-up, timed
/// single-threaded spawns, the threaded run, then the live instances' RSS. Prints the JSON.
fn measure<T: 'static>(args: &Args, compile_ms: f64, make: Arc<Spawner<T>>) {
    for _ in 0..WARMUP {
        drop(spawn(&*make));
    }

    let mut samples = Vec::with_capacity(args.spawns);
    let loop_start = Instant::now();
    for _ in 0..args.spawns {
        let t = Instant::now();
        drop(spawn(&*make));
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let spawns_per_sec_1 = args.spawns as f64 / loop_start.elapsed().as_secs_f64();
    samples.sort_by(f64::total_cmp);

    let barrier = Arc::new(Barrier::new(args.threads + 1));
    let workers: Vec<_> = (0..args.threads)
        .map(|i| {
            let share = args.spawns / args.threads + usize::from(i < args.spawns % args.threads);
            let (make, barrier) = (Arc::clone(&make), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                for _ in 0..share {
                    drop(spawn(&*make));
                }
                (start, Instant::now())
            })
        })
        .collect();
    barrier.wait();
    // Each worker times itself: the main thread may not run again until they are done.
    let spans: Vec<_> = workers.into_iter().map(|w| w.join().unwrap_or_else(|_| exit(1))).collect();
    let first = spans.iter().map(|s| s.0).min().unwrap_or_else(Instant::now);
    let last = spans.iter().map(|s| s.1).max().unwrap_or(first);
    let spawns_per_sec_all = args.spawns as f64 / (last - first).as_secs_f64();

    let before = vm_rss_kib();
    let live: Vec<Store<T>> = (0..args.live).map(|_| spawn(&*make)).collect();
    let rss_live_mib = vm_rss_kib().saturating_sub(before) as f64 / 1024.0;
    drop(live);

    println!(
        "{{\"system\": \"wasmtime (Rust)\", \"mode\": \"{}\", \"compile_ms\": {:.3}, \"spawn_median_us\": {:.3}, \
         \"spawn_p99_us\": {:.3}, \"spawns\": {}, \"spawns_per_sec_1\": {:.1}, \"spawns_per_sec_all\": {:.1}, \
         \"threads_all\": {}, \"rss_1000_live_mib\": {:.3}}}",
        args.mode.name(),
        compile_ms,
        percentile(&samples, 50.0),
        percentile(&samples, 99.0),
        args.spawns,
        spawns_per_sec_1,
        spawns_per_sec_all,
        args.threads,
        rss_live_mib,
    );
}

fn main() {
    let args = parse_args();
    let bytes = std::fs::read(&args.wasm).unwrap_or_else(|e| usage(&format!("cannot read {}: {e}", args.wasm)));
    let engine = engine(&args).unwrap_or_else(|e| {
        eprintln!("packr-bench-floor: cannot create the engine: {e:?}");
        exit(1)
    });
    let run: Option<fn(&Args, &Engine, &[u8]) -> wasmtime::Result<()>> = match args.mode {
        Mode::Calls => Some(calls),
        Mode::Pack => Some(pack),
        Mode::Cache => Some(cache),
        _ => None,
    };
    if let Some(run) = run {
        if let Err(e) = run(&args, &engine, &bytes) {
            eprintln!("packr-bench-floor: {}: {e:?}", args.mode.name());
            exit(1)
        }
        return;
    }

    let start = Instant::now();
    let module = Module::new(&engine, &bytes).unwrap_or_else(|e| {
        eprintln!("packr-bench-floor: cannot compile {}: {e:?}", args.wasm);
        exit(1)
    });
    let compile_ms = start.elapsed().as_secs_f64() * 1e3;
    let link_failed = |e: wasmtime::Error| -> ! {
        eprintln!("packr-bench-floor: cannot link: {e:?}");
        exit(1)
    };
    if args.mode == Mode::Wasi {
        let mut linker = Linker::<WasiP1Ctx>::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |cx| cx).unwrap_or_else(|e| link_failed(e));
        let pre = linker.instantiate_pre(&module).unwrap_or_else(|e| link_failed(e));
        measure(&args, compile_ms, Arc::new(move || instantiate_wasi(&engine, &pre)));
    } else {
        let pre = Linker::<()>::new(&engine).instantiate_pre(&module).unwrap_or_else(|e| link_failed(e));
        measure(&args, compile_ms, Arc::new(move || instantiate(&engine, &pre)));
    }
}
