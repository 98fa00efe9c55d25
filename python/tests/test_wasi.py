"""WASI preview 1 with the real guests in build/guest: wasi_probe.wasm (one feature per run,
picked by argv[1]), wasi_reactor.wasm and quickjs.wasm."""

import threading

import pytest

import packr
from conftest import guest, run_in_threads

CAPTURE = packr.Output.CAPTURE


@pytest.fixture(scope="module")
def wasi_runtime():
    with packr.Host(wasi=True) as host, packr.Runtime(host=host) as rt:
        yield rt


@pytest.fixture(scope="module")
def probe(wasi_runtime):
    with wasi_runtime.load(guest("wasi_probe.wasm")) as module:
        yield module


def run(module, *modes, **options):
    """Runs the probe with argv ["probe", *modes], both streams captured unless `options`
    say otherwise: (exit code, stdout, stderr)."""
    options.setdefault("stdout", CAPTURE)
    options.setdefault("stderr", CAPTURE)
    with module.instantiate(args=["probe", *modes], **options) as inst:
        code = inst.run()
        out = inst.read_stdout() if options["stdout"] in (CAPTURE, "capture") else None
        err = inst.read_stderr() if options["stderr"] in (CAPTURE, "capture") else None
        return code, out, err


def test_args_reach_the_guest_as_given(probe):
    expected = "probe\nargs\ntwo words\nünïcode\n\n".encode()
    assert run(probe, "args", "two words", "ünïcode", "") == (0, expected, b"")


def test_env_keeps_its_order_and_nothing_else_gets_in(probe, monkeypatch):
    monkeypatch.setenv("PACKR_SHOULD_NOT_LEAK", "1")
    assert run(probe, "env", env={"ZED": "last letter", "ALPHA": "a=b"}) == (0, b"ZED=last letter\nALPHA=a=b\n", b"")
    assert run(probe, "env", env=[("B", "2"), ("A", "1")])[1] == b"B=2\nA=1\n"
    assert run(probe, "env")[1] == b""  # the default is empty, not the host's environment


def test_stdin_is_read_to_its_end_and_each_instance_reads_its_own(probe):
    data = bytes(range(256)) * 1000  # binary, several reads' worth
    assert run(probe, "stdin", stdin=data) == (0, data, f"read {len(data)} bytes\n".encode())
    assert run(probe, "stdin", stdin=bytearray(b"second")) == (0, b"second", b"read 6 bytes\n")
    assert run(probe, "stdin") == (0, b"", b"read 0 bytes\n")


def test_streams_are_captured_apart_and_taken_out(probe):
    with probe.instantiate(args=["probe", "streams"], stdout="capture", stderr=CAPTURE) as inst:
        assert inst.run() == 0
        assert inst.read_stdout() == b"to stdout\n"
        assert inst.read_stderr() == b"to stderr\n"
        assert inst.read_stdout() == b"" and inst.read_stderr() == b""  # taken out
        assert inst.stdout_dropped() == 0 and inst.stderr_dropped() == 0


def test_discard_and_inherit(probe, capfd):
    assert run(probe, "streams", stdout=packr.Output.DISCARD) == (0, None, b"to stderr\n")
    assert run(probe, "streams", stdout="inherit", stderr="discard") == (0, None, None)
    assert capfd.readouterr() == ("to stdout\n", "")  # INHERIT writes to this process's fd 1
    run(probe, "streams", stdout=None, stderr=None)  # None is the default: inherit both
    assert capfd.readouterr() == ("to stdout\n", "to stderr\n")


def test_reading_a_stream_that_is_not_captured_says_how_to_capture_it(probe):
    with probe.instantiate(args=["probe", "streams"], stdout="discard") as inst:
        assert inst.run() == 0
        with pytest.raises(packr.InvalidArgumentError) as caught:
            inst.read_stdout()
        assert "stdout is not captured; instantiate with stdout=packr.Output.CAPTURE" in caught.value.message
        with pytest.raises(packr.InvalidArgumentError, match="stderr=packr.Output.CAPTURE"):
            inst.stderr_dropped()


def test_flood_beyond_the_capture_limit_is_dropped_and_counted(probe):
    with probe.instantiate(args=["probe", "flood", "200000"], stdout=CAPTURE, capture_limit=1000) as inst:
        assert inst.run() == 0  # the guest's writes succeed either way
        assert inst.read_stdout() == b"x" * 1000
        assert inst.stdout_dropped() == 199000
        assert inst.read_stdout() == b""
        assert inst.stdout_dropped() == 199000  # counted since the instance was made
    with probe.instantiate(args=["probe", "flood", "10"], stdout=CAPTURE, capture_limit=0) as inst:
        assert inst.run() == 0 and inst.read_stdout() == b"" and inst.stdout_dropped() == 10
    code, out, _ = run(probe, "flood", str(3 << 20))  # the default limit: 1 MiB
    assert code == 0 and out == b"x" * (1 << 20)


def test_files_in_a_preopen_and_nothing_outside(probe, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("hello from the host\n")
    (tmp_path / "outside.txt").write_text("secret\n")
    code, out, err = run(probe, "files", "/data", preopens=[(data, "/data", True)])
    assert (code, err) == (0, b"")
    assert out == (b"hello from the host\n"
                   b"entry: in.txt\nentry: out.txt\n"
                   b"refused: /data/../outside.txt\nrefused: /etc/passwd\n")
    assert (data / "out.txt").read_text() == "written by wasm\n"


def test_a_read_only_preopen_refuses_writes(probe, tmp_path):
    (tmp_path / "in.txt").write_text("read me\n")
    code, out, err = run(probe, "files", "/ro", preopens=[packr.Preopen(str(tmp_path), "/ro")])
    assert code == 1 and out == b"read me\n"
    assert err.startswith(b"/ro/out.txt: ")  # the probe names the write that failed
    assert not (tmp_path / "out.txt").exists()


def test_preopens_are_checked_when_the_instance_is_made(probe, tmp_path):
    with pytest.raises(packr.NotFoundError, match="cannot preopen"):
        probe.instantiate(preopens=[(tmp_path / "missing", "/x")])
    (tmp_path / "file").write_text("")
    with pytest.raises(packr.InvalidArgumentError, match="not a directory"):
        probe.instantiate(preopens=[(tmp_path / "file", "/x")])
    with pytest.raises(TypeError, match="a preopen is"):
        probe.instantiate(preopens=[str(tmp_path)])
    with pytest.raises(TypeError, match="writable must be a bool"):
        probe.instantiate(preopens=[(tmp_path, "/x", "yes")])


def test_clock_and_random(probe):
    assert run(probe, "clock") == (0, b"realtime ok\nmonotonic ok\n", b"")
    assert run(probe, "random") == (0, b"random ok\n", b"")


def test_exit_codes(probe):
    for code in (0, 1, 7, 125):
        with probe.instantiate(args=["probe", "exit", str(code)]) as inst:
            assert inst.exit_code is None
            assert inst.run() == code
            assert inst.exit_code == code  # proc_exit was called, even for 0
    with probe.instantiate(args=["probe", "return"], stdout=CAPTURE) as inst:
        assert inst.run() == 0 and inst.read_stdout() == b"done\n"
        assert inst.exit_code is None  # main returned: no proc_exit
    with probe.instantiate(args=["probe", "exit", "126"]) as inst:
        with pytest.raises(packr.TrapError, match=r"invalid exit status outside of \[0\.\.126\)"):
            inst.run()  # wasmtime's WASI takes codes 0 to 125 only
    assert run(probe, "no such mode") == (2, b"", b"unknown mode\n")
    assert run(probe) == (2, b"", b"unknown mode\n")  # argv[1] missing


def test_proc_exit_in_a_call_raises_exit_error(probe):
    with probe.instantiate(args=["probe", "exit", "42"]) as inst:
        with pytest.raises(packr.ExitError) as caught:
            inst.call("_start")
        assert isinstance(caught.value, packr.PackrError)
        assert caught.value.status_name == "PACKR_ERR_EXIT"
        assert caught.value.exit_code == 42 == inst.exit_code
        assert caught.value.message == "the guest exited with code 42"


EXIT_WAT = """
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "f" (func $f (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "quit") (param i32) (call $exit (local.get 0)))
  (func (export "outer") (param i32) (result i32) (call $f (local.get 0))))
"""


def test_proc_exit_inside_caller_call_travels_as_exit_error():
    seen = []
    host = packr.Host(wasi=True)

    @host.func("env", "f", ["i32"], ["i32"])
    def f(caller, code):
        try:
            caller.call("quit", code)
        except packr.ExitError as e:
            seen.append(e)
            raise
        return 0

    with packr.Runtime(host=host) as rt, rt.load(EXIT_WAT) as module, module.instantiate() as inst:
        with pytest.raises(packr.ExitError) as caught:
            inst.call("outer", 3)
        assert caught.value is seen[0]  # the same object, re-raised by the outer call
        assert caught.value.message == "the guest exited with code 3"
        assert caught.value.exit_code is None  # packr keeps no code for an exit inside Caller.call
        assert caught.value.__notes__[-1].startswith("PACKR_ERR_HOST: host function env::f failed: ")


def test_instances_on_many_threads_keep_their_own_world(probe):
    results = {}

    def work(n):
        for i in range(5):
            code, out, err = run(probe, "args", f"thread {n} run {i}", stdin=b"unused", env={"N": str(n)})
            results[(n, i)] = (code, out)

    assert run_in_threads(4, work) == []
    assert results == {(n, i): (0, f"probe\nargs\nthread {n} run {i}\n".encode()) for n in range(4) for i in range(5)}


def test_wasi_options_need_a_host_that_serves_wasi(tmp_path):
    with packr.Runtime() as rt, rt.load('(module (func (export "_start")))') as module:
        with pytest.raises(packr.InvalidArgumentError) as caught:
            module.instantiate(args=["x"])
        assert "WASI options were given to Module.instantiate" in caught.value.message
        assert "Host.define_wasi" in caught.value.message
        with module.instantiate() as inst:
            assert inst.run() == 0  # run works without WASI for any `_start: [] -> []`
    with packr.Runtime() as rt, rt.load(guest("wasi_probe.wasm")) as module:
        with pytest.raises(packr.LinkError, match="a host serves WASI with Host.define_wasi"):
            module.instantiate()


def test_define_wasi_reaches_runtimes_made_afterwards():
    host = packr.Host()
    assert host.wasi is False
    with packr.Runtime(host=host) as before, before.load(guest("wasi_reactor.wasm")) as module:
        with pytest.raises(packr.LinkError):
            module.instantiate()
    host.define_wasi()
    host.define_wasi()  # again: a no-op
    assert host.wasi is True
    with packr.Runtime(host=host) as after, after.load(guest("wasi_reactor.wasm")) as module:
        with module.instantiate() as inst:
            assert inst.call("reactor_get") == 41
    host.close()
    with pytest.raises(TypeError, match="wasi must be a bool"):
        packr.Host(wasi=1)


def test_bad_options_are_refused_before_anything_is_made(probe):
    cases = [
        (dict(args="probe args"), TypeError, "sequence of str"),
        (dict(args=["probe", 5]), TypeError, r"args\[1\] must be a str"),
        (dict(args=["nul\0"]), ValueError, "contains a NUL"),
        (dict(env={"A": 1}), TypeError, r"env\['A'\] must be a str"),
        (dict(env=["A=1"]), TypeError, "mapping or \\(name, value\\) pairs"),
        (dict(stdin="text"), TypeError, "stdin must be bytes"),
        (dict(stdout="pipe"), ValueError, "stdout must be packr.Output"),
        (dict(stderr=7), ValueError, "stderr must be packr.Output"),
        (dict(stdout=True), ValueError, "stdout must be packr.Output"),
        (dict(capture_limit=-1), OverflowError, "does not fit"),
        (dict(capture_limit=1.5), TypeError, "capture_limit must be an int"),
    ]
    for options, error, message in cases:
        with pytest.raises(error, match=message):
            probe.instantiate(**options)
    assert packr.Output(2) is CAPTURE and packr.Output["DISCARD"] == 1  # an IntEnum of the C modes


def test_a_reactor_is_initialized_at_instantiation(wasi_runtime):
    with wasi_runtime.load(guest("wasi_reactor.wasm")) as module:
        with module.instantiate(stdout=CAPTURE) as inst:
            assert inst.call("reactor_get") == 41  # _initialize ran the constructor
            assert inst.call("reactor_hello") == 0
            assert inst.read_stdout() == b"hello from reactor\n"
            with pytest.raises(packr.NotFoundError, match="exports no `_start`"):
                inst.run()


@pytest.fixture(scope="module")
def quickjs(wasi_runtime):
    with wasi_runtime.load(guest("quickjs.wasm")) as module:
        yield module


def test_quickjs_runs_a_program_from_stdin(quickjs):
    with quickjs.instantiate(args=["qjs"], stdin=b"print(1+2)", stdout=CAPTURE, stderr=CAPTURE) as inst:
        assert inst.run() == 0
        assert inst.read_stdout() == b"3\n"
        assert inst.read_stderr() == b""


def test_quickjs_reports_an_uncaught_exception(quickjs):
    program = b"console.log('before'); throw new Error('boom')"
    with quickjs.instantiate(args=["qjs"], stdin=program, stdout=CAPTURE, stderr=CAPTURE) as inst:
        assert inst.run() == 1
        assert inst.read_stdout() == b"before\n"
        assert inst.read_stderr().startswith(b"Uncaught Error: boom\n")
    with quickjs.instantiate(args=["qjs", "-e", "print([1, 2].map(x => x * 21).join())"], stdout=CAPTURE) as inst:
        assert inst.run() == 0 and inst.read_stdout() == b"21,42\n"


WRITE_AND_WAIT_WAT = """
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "env" "wait" (func $wait))
  (memory (export "memory") 1)
  (data (i32.const 64) "partial\\n")
  (func (export "go")
    (i32.store (i32.const 16) (i32.const 64))
    (i32.store (i32.const 20) (i32.const 8))
    (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 32)))
    (call $wait)))
"""


def test_captured_output_can_be_read_while_a_call_runs():
    written, done = threading.Event(), threading.Event()
    host = packr.Host(wasi=True)

    @host.func("env", "wait", [], [])
    def wait(caller):
        written.set()
        assert done.wait(10)

    with packr.Runtime(host=host) as rt, rt.load(WRITE_AND_WAIT_WAT) as module:
        with module.instantiate(stdout=CAPTURE) as inst:
            seen = []

            def reader():
                assert written.wait(10)
                seen.append(inst.read_stdout())  # the call is still inside `wait`
                done.set()

            thread = threading.Thread(target=reader)
            thread.start()
            inst.call("go")
            thread.join()
            assert seen == [b"partial\n"]
