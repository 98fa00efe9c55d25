// Package bench is the measurement every Go driver shares, in the same order and with the
// same definitions as bench/c/bench_common.h: warm-up (100 spawns), N single-threaded timed
// spawns, N spawns over T goroutines, then Live instances held at once for the RSS figure.
// The one JSON line goes to stdout; everything else to stderr.
package bench

import (
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	ExpectedVersion = 3046000
	Warmup          = 100
	// Pool limits every pooling driver uses: slots for max(live, threads) + headroom,
	// 64 MiB per memory (sqlite.wasm starts at 4 MiB).
	PoolHeadroom    = 64
	PoolMemoryBytes = 64 << 20
)

type Args struct {
	Wasm    string
	Spawns  int
	Threads int
	Live    int
	Mode    string
	Quick   bool
}

// PoolInstances is the pool size for a run: max(Live, Threads) plus headroom.
func (a Args) PoolInstances() int {
	return max(a.Live, a.Threads) + PoolHeadroom
}

// Driver is what a program plugs in. Spawn creates, calls and drops one instance; LiveNew
// creates and calls one and keeps it; LiveFree drops it. They exit the program on failure.
type Driver struct {
	Spawn    func()
	LiveNew  func() any
	LiveFree func(any)
}

// Die prints to stderr and exits 1.
func Die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

// Parse reads the common command line; modes[0] is the default mode.
func Parse(modes ...string) Args {
	a := Args{}
	flag.StringVar(&a.Wasm, "wasm", "build/guest/sqlite.wasm", "the module")
	flag.IntVar(&a.Spawns, "spawns", 10000, "spawns timed single-threaded, and again over all threads")
	flag.IntVar(&a.Threads, "threads", runtime.NumCPU(), "goroutines for spawns_per_sec_all")
	flag.IntVar(&a.Live, "live", 1000, "instances held at once for the RSS figure")
	flag.StringVar(&a.Mode, "mode", modes[0], strings.Join(modes, "|"))
	quick := flag.Bool("quick", false, "spawns 300, live 50 (calls mode: a tenth of the calls)")
	flag.Parse()
	if *quick {
		a.Spawns, a.Live = 300, 50
	}
	a.Quick = *quick
	if a.Spawns < 1 || a.Threads < 1 || a.Live < 1 || !slices.Contains(modes, a.Mode) || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	return a
}

func vmRSSKiB() int64 {
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// percentile is the nearest rank of sorted samples.
func percentile(sorted []float64, p float64) float64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Measure runs the measurement and prints the JSON line.
func Measure(system string, a Args, compileMs float64, d Driver) {
	for range Warmup {
		d.Spawn()
	}

	samples := make([]float64, a.Spawns)
	loopStart := time.Now()
	for i := range samples {
		t := time.Now()
		d.Spawn()
		samples[i] = float64(time.Since(t).Nanoseconds()) / 1e3
	}
	perSec1 := float64(a.Spawns) / time.Since(loopStart).Seconds()
	slices.Sort(samples)

	// Each goroutine times itself, as the C and Rust drivers' threads do.
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	spans := make([][2]time.Time, a.Threads)
	for i := range a.Threads {
		share := a.Spawns / a.Threads
		if i < a.Spawns%a.Threads {
			share++
		}
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			spans[i][0] = time.Now()
			for range share {
				d.Spawn()
			}
			spans[i][1] = time.Now()
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	first, last := spans[0][0], spans[0][1]
	for _, s := range spans[1:] {
		if s[0].Before(first) {
			first = s[0]
		}
		if s[1].After(last) {
			last = s[1]
		}
	}
	perSecAll := float64(a.Spawns) / last.Sub(first).Seconds()

	live := make([]any, a.Live)
	before := vmRSSKiB()
	for i := range live {
		live[i] = d.LiveNew()
	}
	rss := float64(vmRSSKiB()-before) / 1024
	for _, inst := range live {
		d.LiveFree(inst)
	}

	// The same format as bench_common.h, so every driver's line reads alike.
	fmt.Printf("{\"system\": %q, \"mode\": %q, \"compile_ms\": %.3f, \"spawn_median_us\": %.3f, "+
		"\"spawn_p99_us\": %.3f, \"spawns\": %d, \"spawns_per_sec_1\": %.1f, \"spawns_per_sec_all\": %.1f, "+
		"\"threads_all\": %d, \"rss_1000_live_mib\": %.3f}\n",
		system, a.Mode, compileMs, percentile(samples, 50), percentile(samples, 99), a.Spawns, perSec1, perSecAll,
		a.Threads, rss)
}

// The calls mode (bench/README.md): per-call costs on one live instance of
// build/guest/calls.wasm, with the same definitions as bench_common.h.
const (
	CallBatches = 5
	CallWarmup  = 1000
)

// Calls is what a driver plugs into the calls mode; a nil operation is reported as null.
// Call and CallFast call add(1, 2) and return the result (checked to be 3); HostLoop and
// HostLoopFast call host_loop(n) and return the result (checked to be n).
type Calls struct {
	Call, CallFast         func() int32
	HostLoop, HostLoopFast func(n int32) int32
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func timeCall(call func() int32, batch int) float64 {
	for range CallWarmup {
		if call() != 3 {
			Die("add(1, 2) did not return 3")
		}
	}
	per := make([]float64, CallBatches)
	for b := range per {
		t := time.Now()
		for range batch {
			if call() != 3 {
				Die("add(1, 2) did not return 3")
			}
		}
		per[b] = float64(time.Since(t).Nanoseconds()) / float64(batch)
	}
	return median(per)
}

func timeHost(loop func(int32) int32, n int32) float64 {
	if loop(CallWarmup) != CallWarmup {
		Die("host_loop returned the wrong count")
	}
	per := make([]float64, CallBatches)
	for b := range per {
		t := time.Now()
		if loop(n) != n {
			Die("host_loop(%d) returned the wrong count", n)
		}
		per[b] = float64(time.Since(t).Nanoseconds()) / float64(n)
	}
	return median(per)
}

// MeasureCalls runs the calls mode and prints its JSON line.
func MeasureCalls(system string, a Args, c Calls, notes string) {
	batch, n := 200000, int32(1000000)
	if a.Quick {
		batch, n = 20000, 100000
	}
	field := func(name string, present bool, measure func() float64) string {
		if !present {
			return fmt.Sprintf(", %q: null", name)
		}
		return fmt.Sprintf(", %q: %.3f", name, measure())
	}
	line := fmt.Sprintf("{\"system\": %q, \"mode\": \"calls\"", system)
	line += field("call_ns", c.Call != nil, func() float64 { return timeCall(c.Call, batch) })
	line += field("call_fast_ns", c.CallFast != nil, func() float64 { return timeCall(c.CallFast, batch) })
	line += field("host_call_ns", c.HostLoop != nil, func() float64 { return timeHost(c.HostLoop, n) })
	line += field("host_call_fast_ns", c.HostLoopFast != nil, func() float64 { return timeHost(c.HostLoopFast, n) })
	fmt.Printf("%s, \"notes\": %q}\n", line, notes)
}
