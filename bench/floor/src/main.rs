//! The floor packr is measured against: plain wasmtime, packr's engine settings, the fastest
//! safe path (one `InstancePre`, a fresh store per spawn, a typed call). Prints one JSON
//! object on stdout; everything else goes to stderr.

use std::process::exit;
use std::sync::{Arc, Barrier};
use std::time::Instant;

use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module, PoolingAllocationConfig, Store,
};

const EXPECTED: i32 = 3_046_000;
const WARMUP: usize = 100;
/// packr's store deadline: never trips, and adding the current epoch cannot overflow.
const NEVER: u64 = u64::MAX / 2;
const POOL_MEMORY_BYTES: u64 = 64 << 20;
const POOL_HEADROOM: u32 = 64;

struct Args {
    wasm: String,
    spawns: usize,
    threads: usize,
    live: usize,
    pooling: bool,
    calls: bool,
    quick: bool,
}

fn usage(message: &str) -> ! {
    eprintln!("packr-bench-floor: {message}");
    eprintln!(
        "usage: packr-bench-floor [--wasm PATH] [--spawns N] [--threads T] [--live N] \
         [--mode default|pooling|calls] [--quick]"
    );
    exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        wasm: "build/guest/sqlite.wasm".into(),
        spawns: 10_000,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        live: 1000,
        pooling: false,
        calls: false,
        quick: false,
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
            "--mode" => match value.as_str() {
                "default" => args.pooling = false,
                "pooling" => args.pooling = true,
                "calls" => args.calls = true,
                _ => usage(&format!("unknown mode {value}")),
            },
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    args
}

/// packr's engine (src/config.rs): multi-memory, epoch interruption, CoW images, and in
/// pooling mode the pool packr builds from the same limits as the C driver sets.
fn engine(args: &Args) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_multi_memory(true);
    config.epoch_interruption(true);
    config.memory_init_cow(true);
    config.parallel_compilation(true);
    if args.pooling {
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

fn spawn(engine: &Engine, pre: &InstancePre<()>) {
    match instantiate(engine, pre) {
        Ok(store) => drop(store),
        Err(e) => {
            eprintln!("packr-bench-floor: spawn failed: {e:?}");
            exit(1)
        }
    }
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

fn main() {
    let args = parse_args();
    let bytes = std::fs::read(&args.wasm).unwrap_or_else(|e| usage(&format!("cannot read {}: {e}", args.wasm)));
    let engine = engine(&args).unwrap_or_else(|e| {
        eprintln!("packr-bench-floor: cannot create the engine: {e:?}");
        exit(1)
    });
    if args.calls {
        if let Err(e) = calls(&args, &engine, &bytes) {
            eprintln!("packr-bench-floor: calls: {e:?}");
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
    let linker = Linker::<()>::new(&engine);
    let pre = linker.instantiate_pre(&module).unwrap_or_else(|e| {
        eprintln!("packr-bench-floor: cannot link: {e:?}");
        exit(1)
    });

    for _ in 0..WARMUP {
        spawn(&engine, &pre);
    }

    let mut samples = Vec::with_capacity(args.spawns);
    let loop_start = Instant::now();
    for _ in 0..args.spawns {
        let t = Instant::now();
        spawn(&engine, &pre);
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let spawns_per_sec_1 = args.spawns as f64 / loop_start.elapsed().as_secs_f64();
    samples.sort_by(f64::total_cmp);

    let shared = Arc::new((engine.clone(), pre.clone()));
    let barrier = Arc::new(Barrier::new(args.threads + 1));
    let workers: Vec<_> = (0..args.threads)
        .map(|i| {
            let share = args.spawns / args.threads + usize::from(i < args.spawns % args.threads);
            let (shared, barrier) = (Arc::clone(&shared), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                for _ in 0..share {
                    spawn(&shared.0, &shared.1);
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
    let live: Vec<Store<()>> = (0..args.live)
        .map(|_| {
            instantiate(&engine, &pre).unwrap_or_else(|e| {
                eprintln!("packr-bench-floor: live instance failed: {e:?}");
                exit(1)
            })
        })
        .collect();
    let rss_live_mib = vm_rss_kib().saturating_sub(before) as f64 / 1024.0;
    drop(live);

    println!(
        "{{\"system\": \"wasmtime (Rust)\", \"mode\": \"{}\", \"compile_ms\": {:.3}, \"spawn_median_us\": {:.3}, \
         \"spawn_p99_us\": {:.3}, \"spawns\": {}, \"spawns_per_sec_1\": {:.1}, \"spawns_per_sec_all\": {:.1}, \
         \"threads_all\": {}, \"rss_1000_live_mib\": {:.3}}}",
        if args.pooling { "pooling" } else { "default" },
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
