"""The compile-cache pattern: load once, keep a clone, wrap on hit, instantiate, call, close."""

import threading

from conftest import CASES_DIR, run_in_threads

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
