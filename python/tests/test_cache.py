"""Compile caches: the in-memory pattern (load once, keep a clone, wrap on hit), artifacts
(Module.serialize, Runtime.deserialize) and the persistent directory cache (packr.Cache)."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import packr
from conftest import CASES_DIR, run_in_threads

CALC = (CASES_DIR / "calc.wat").read_text()
KEY = bytes(range(32))
OTHER_KEY = b"another key, 16+"
PYTHON_DIR = Path(__file__).resolve().parents[1]

THREADS = 16
SPAWNS = 50


class ModuleCache:
    def __init__(self, runtime):
        self._runtime = runtime
        self._modules = {}
        self._lock = threading.Lock()

    def module(self, key, source):
        """A module handle the caller owns: a wrap of the cached clone, compiled only once."""
        with self._lock:
            cached = self._modules.get(key)
            if cached is None:
                with self._runtime.load(source) as loaded:
                    cached = self._modules[key] = loaded.clone()
        return self._runtime.wrap(cached)

    def close(self):
        for module in self._modules.values():
            module.close()


def test_many_threads_spawn_from_one_module(runtime):
    cache = ModuleCache(runtime)
    source = (CASES_DIR / "calc.wat").read_text()

    def serve(n):
        for i in range(SPAWNS):
            with cache.module("calc", source) as module, module.instantiate() as instance:
                assert instance.call("add", n, i) == n + i
                assert instance.call("count") == 1  # a fresh instance every time

    errors = run_in_threads(THREADS, serve)
    cache.close()
    assert errors == []
    assert len(cache._modules) == 1


def const_module(n):
    """A small module of its own for each n: `get` returns n."""
    return f'(module (func (export "get") (result i32) (i32.const {n})))'


def artifacts(directory):
    return sorted(Path(directory).glob("*.packr"))


def later_file_times(directory, probe):
    """Waits until the file system stamps a later time than any artifact in `directory` has
    (eviction goes by the time of last use, which ext4 keeps in clock ticks of a few ms)."""
    newest = max(path.stat().st_mtime_ns for path in artifacts(directory))
    probe.touch()
    while probe.stat().st_mtime_ns <= newest:
        time.sleep(0.001)
        probe.touch()


def damage(path, change):
    """Rewrites the artifact at `path` (packr writes them read-only) with change(bytearray)."""
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    path.write_bytes(change(data))


def flip_middle(data):
    data[len(data) // 2] ^= 0xFF
    return data


def rejected(call):
    with pytest.raises(packr.ArtifactError) as caught:
        call()
    assert caught.value.status == 22 and caught.value.status_name == "PACKR_ERR_ARTIFACT"
    assert caught.value.message.startswith("artifact rejected: ")
    return caught.value.message


# Module.serialize and Runtime.deserialize


def test_serialize_round_trip_into_another_runtime(calc):
    artifact = calc.serialize()
    assert isinstance(artifact, bytes) and len(artifact) > 128  # wasmtime's payload and packr's trailer
    with packr.Runtime() as other, other.deserialize(artifact) as module:
        assert module.exports == calc.exports
        with module.instantiate() as inst:
            assert inst.call("add", 2, 3) == 5
            assert inst.call("count") == 1
        with module.clone() as clone, clone.instantiate() as inst:
            assert inst.call("add64", 1 << 40, 1) == (1 << 40) + 1
    with packr.Runtime() as other, other.deserialize(memoryview(artifact)) as module:  # any bytes-like
        with module.func("add") as add, module.instantiate() as inst:
            assert add(inst, 40, 2) == 42


def test_keyed_round_trip(calc):
    artifact = calc.serialize(KEY)
    assert artifact != calc.serialize()
    with packr.Runtime() as other, other.deserialize(artifact, key=bytearray(KEY)) as module:
        with module.instantiate() as inst:
            assert inst.call("add", 20, 22) == 42


@pytest.mark.parametrize("written, given, why", [
    (KEY, OTHER_KEY, "MAC mismatch"),
    (KEY, None, "signed with a key, and none was given"),
    (None, KEY, "written without a key, and a key was given"),
], ids=["wrong-key", "missing-key", "unexpected-key"])
def test_a_key_that_does_not_match_is_rejected(runtime, calc, written, given, why):
    artifact = calc.serialize(written)
    assert why in rejected(lambda: runtime.deserialize(artifact, given))


def test_keys_shorter_than_16_bytes_are_invalid(runtime, calc, tmp_path):
    short = b"x" * 15
    for call in (lambda: calc.serialize(short), lambda: runtime.deserialize(calc.serialize(KEY), short),
                 lambda: packr.Cache(tmp_path, key=short)):
        with pytest.raises(packr.InvalidArgumentError) as caught:
            call()
        assert "16" in caught.value.message
    with pytest.raises(TypeError, match="key must be bytes"):
        calc.serialize("a text key, not bytes")
    with pytest.raises(TypeError, match="data must be bytes"):
        runtime.deserialize("not bytes")


@pytest.mark.parametrize("key", [None, KEY], ids=["checksum", "mac"])
def test_a_flipped_byte_is_rejected(runtime, calc, key):
    artifact = calc.serialize(key)
    message = rejected(lambda: runtime.deserialize(bytes(flip_middle(bytearray(artifact))), key))
    assert ("MAC mismatch" if key else "checksum mismatch") in message
    for at in (0, len(artifact) - 1):  # the payload's first byte, the trailer's last
        flipped = bytearray(artifact)
        flipped[at] ^= 0x01
        rejected(lambda: runtime.deserialize(bytes(flipped), key))


@pytest.mark.parametrize("keep", [lambda n: n - 1, lambda n: n // 2, lambda n: 100, lambda n: 0],
                         ids=["one-byte-short", "half", "shorter-than-the-trailer", "empty"])
def test_a_truncated_artifact_is_rejected(runtime, calc, keep):
    artifact = calc.serialize()
    assert "truncated" in rejected(lambda: runtime.deserialize(artifact[:keep(len(artifact))]))


def test_not_an_artifact_is_rejected(runtime, calc):
    assert "not a packr artifact" in rejected(lambda: runtime.deserialize(b"\0asm" + bytes(4096)))
    padded = calc.serialize() + b"\0"
    assert "not a packr artifact" in rejected(lambda: runtime.deserialize(padded))


def test_an_artifact_of_an_engine_with_other_settings_is_rejected(calc):
    artifact = calc.serialize()
    with packr.Runtime(packr.Config(fuel=True)) as fueled:
        assert "other settings" in rejected(lambda: fueled.deserialize(artifact))
        with fueled.load(CALC) as theirs:
            fueled_artifact = theirs.serialize()
    with packr.Runtime() as plain:
        assert "other settings" in rejected(lambda: plain.deserialize(fueled_artifact))


# packr.Cache


def test_miss_then_hit(runtime, tmp_path):
    with packr.Cache(tmp_path) as cache:
        assert cache.dir == str(tmp_path)
        assert cache.stats() == packr.CacheStats(0, 0, 0, 0, 0, 0, 0, 0)
        assert cache.last_problem() is None
        with cache.load(runtime, CALC) as module, module.instantiate() as inst:
            assert inst.call("add", 2, 3) == 5
        first = cache.stats()
        assert (first.hits, first.misses, first.stored, first.files) == (0, 1, 1, 1)
        [artifact] = artifacts(tmp_path)
        assert first.bytes_on_disk == artifact.stat().st_size
        with cache.load(runtime, CALC.encode()) as module, module.instantiate() as inst:  # text as bytes
            assert inst.call("add", 2, 3) == 5
        assert cache.stats()._replace(hits=0) == first and cache.stats().hits == 1
        with packr.Runtime() as other, cache.load(other, CALC) as module:  # same settings: same artifact
            with module.instantiate() as inst:
                assert inst.call("add", 2, 3) == 5
        stats = cache.stats()
        assert (stats.hits, stats.misses, stats.rejected, stats.errors, stats.files) == (2, 1, 0, 0, 1)


def test_a_new_handle_on_the_directory_hits(runtime, tmp_path):
    with packr.Cache(str(tmp_path)) as cache:
        cache.load(runtime, CALC).close()
    with packr.Cache(tmp_path) as cache, cache.load(runtime, CALC) as module:
        stats = cache.stats()
        assert (stats.hits, stats.misses, stats.stored, stats.files) == (1, 0, 0, 1)
        with module.instantiate() as inst:
            assert inst.call("count") == 1


def test_each_engine_setting_and_key_has_its_own_artifact(runtime, tmp_path):
    with packr.Runtime(packr.Config(fuel=True)) as fueled, packr.Cache(tmp_path) as cache:
        for rt in (runtime, fueled, runtime, fueled):
            with cache.load(rt, CALC) as module, module.instantiate() as inst:
                assert inst.call("add", 1, 2) == 3
        stats = cache.stats()
        assert (stats.hits, stats.misses, stats.rejected, stats.files) == (2, 2, 0, 2)
    for key in (KEY, OTHER_KEY):
        with packr.Cache(tmp_path, key=key) as keyed:
            keyed.load(runtime, CALC).close()
            keyed.load(runtime, CALC).close()
            stats = keyed.stats()
            assert (stats.hits, stats.misses, stats.rejected) == (1, 1, 0)
    assert len(artifacts(tmp_path)) == 4
    assert sum("-k" in path.name for path in artifacts(tmp_path)) == 2


def test_a_damaged_file_is_recompiled_and_replaced(runtime, tmp_path):
    with packr.Cache(tmp_path) as cache:
        cache.load(runtime, CALC).close()
    [artifact] = artifacts(tmp_path)
    damage(artifact, flip_middle)
    with packr.Cache(tmp_path) as cache:
        with cache.load(runtime, CALC) as module, module.instantiate() as inst:
            assert inst.call("add", 40, 2) == 42
        stats = cache.stats()
        assert (stats.hits, stats.misses, stats.rejected, stats.stored, stats.files) == (0, 1, 1, 1, 1)
        assert cache.last_problem() == f"{artifact}: artifact rejected: checksum mismatch: the artifact is damaged"
        cache.load(runtime, CALC).close()  # the replacement is good
        assert cache.stats().hits == 1 and cache.stats().rejected == 1


def test_a_truncated_file_is_recompiled(runtime, tmp_path):
    with packr.Cache(tmp_path) as cache:
        cache.load(runtime, CALC).close()
    [artifact] = artifacts(tmp_path)
    damage(artifact, lambda data: data[: len(data) // 2])
    with packr.Cache(tmp_path) as cache, cache.load(runtime, CALC) as module, module.instantiate() as inst:
        assert inst.call("add", 1, 1) == 2
        assert cache.stats().rejected == 1
        assert f"{artifact}: artifact rejected: " in cache.last_problem()


def test_a_keyed_cache_rejects_an_artifact_without_its_key(runtime, tmp_path):
    with packr.Cache(tmp_path, key=KEY) as keyed:
        keyed.load(runtime, CALC).close()
    [artifact] = artifacts(tmp_path)
    with runtime.load(CALC) as module:
        planted = module.serialize()  # no key: anyone can make this
    damage(artifact, lambda data: planted)
    with packr.Cache(tmp_path, key=KEY) as keyed, keyed.load(runtime, CALC) as module:
        with module.instantiate() as inst:
            assert inst.call("add", 3, 4) == 7
        assert keyed.stats().rejected == 1
        assert "written without a key" in keyed.last_problem()


def test_compile_errors_are_raised_and_nothing_is_stored(runtime, tmp_path):
    with packr.Cache(tmp_path) as cache:
        with pytest.raises(packr.CompileError):
            cache.load(runtime, b"\0asm garbage")
        assert cache.stats().files == 0 and cache.stats().stored == 0 and artifacts(tmp_path) == []


def test_threads_loading_the_same_module_wait_for_one_compile(runtime, tmp_path):
    threads = 8
    with packr.Cache(tmp_path) as cache:
        def load(n):
            with cache.load(runtime, CALC) as module, module.instantiate() as inst:
                assert inst.call("add", n, 1) == n + 1

        assert run_in_threads(threads, load) == []
        stats = cache.stats()
        assert (stats.hits, stats.misses, stats.rejected, stats.stored, stats.files) == (threads - 1, 1, 0, 1, 1)


def test_threads_loading_different_modules(runtime, tmp_path):
    with packr.Cache(tmp_path) as cache:
        def load(n):
            for _ in range(2):
                with cache.load(runtime, const_module(n)) as module, module.instantiate() as inst:
                    assert inst.call("get") == n

        assert run_in_threads(8, load) == []
        stats = cache.stats()
        assert (stats.hits, stats.misses, stats.stored, stats.files) == (8, 8, 8, 8)


def test_max_bytes_evicts_the_least_recently_used(runtime, tmp_path):
    sources = [const_module(n) for n in range(3)]
    with packr.Cache(tmp_path / "probe") as probe:
        for source in sources:
            probe.load(runtime, source).close()
    sizes = sorted(path.stat().st_size for path in artifacts(tmp_path / "probe"))
    limit = sizes[1] + sizes[2]  # any two fit, all three do not
    with packr.Cache(tmp_path / "bounded", max_bytes=limit) as cache:
        for n in (0, 1, 0, 2):  # 0 is used again after 1, so 1 is the least recently used
            with cache.load(runtime, sources[n]) as module, module.instantiate() as inst:
                assert inst.call("get") == n
            later_file_times(cache.dir, tmp_path / "tick")
        stats = cache.stats()
        assert (stats.hits, stats.misses, stats.stored, stats.evicted, stats.files) == (1, 3, 3, 1, 2)
        assert stats.bytes_on_disk <= limit
        cache.load(runtime, sources[0]).close()
        cache.load(runtime, sources[2]).close()
        assert cache.stats().hits == 3  # both kept
        cache.load(runtime, sources[1]).close()
        assert cache.stats().misses == 4  # 1 was evicted
        assert cache.stats().bytes_on_disk <= limit


def test_another_process_hits(runtime, tmp_path):
    with packr.Cache(tmp_path) as cache:
        cache.load(runtime, CALC).close()
    child = """
import json, sys
import packr
with packr.Runtime() as rt, packr.Cache(sys.argv[1]) as cache, cache.load(rt, open(sys.argv[2]).read()) as module:
    with module.instantiate() as inst:
        print(json.dumps({"add": inst.call("add", 20, 22), "stats": cache.stats()._asdict()}))
"""
    result = subprocess.run(
        [sys.executable, "-c", child, str(tmp_path), str(CASES_DIR / "calc.wat")], cwd=PYTHON_DIR,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["add"] == 42
    stats = report["stats"]
    assert (stats["hits"], stats["misses"], stats["rejected"], stats["stored"], stats["files"]) == (1, 0, 0, 0, 1)


def test_directory_is_created_and_dir_outlives_close(runtime, tmp_path):
    where = tmp_path / "a" / "b"
    cache = packr.Cache(where)
    assert where.is_dir() and cache.dir == str(where)
    module = cache.load(runtime, CALC)
    cache.close()
    cache.close()  # idempotent
    assert cache.closed and cache.dir == str(where) and "closed" in repr(cache)
    with pytest.raises(packr.ClosedError):
        cache.load(runtime, CALC)
    with pytest.raises(packr.ClosedError):
        cache.stats()
    with module, module.instantiate() as inst:  # modules outlive their cache
        assert inst.call("add", 2, 2) == 4


def test_a_directory_that_cannot_be_used_degrades_to_compiling(runtime, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with packr.Cache(blocker) as cache:
        assert f"cannot create the cache directory {blocker}" in cache.last_problem()
        with cache.load(runtime, CALC) as module, module.instantiate() as inst:
            assert inst.call("add", 2, 3) == 5
        stats = cache.stats()
        assert (stats.hits, stats.misses, stats.stored, stats.files) == (0, 1, 0, 0) and stats.errors >= 2
        assert str(blocker) in cache.last_problem()
    assert blocker.read_text() == "not a directory"


def test_bad_directory_arguments(tmp_path):
    with pytest.raises(packr.InvalidArgumentError, match="`dir` is empty"):
        packr.Cache("")
    with pytest.raises(ValueError, match="null byte"):
        packr.Cache(str(tmp_path) + "\0x")
    with pytest.raises(TypeError):
        packr.Cache(42)
    with pytest.raises(OverflowError):
        packr.Cache(tmp_path, max_bytes=-1)
