// tests/install/cpp/consumer.cpp - a C++ program that knows packr only through
// find_package(packr) and packr::cpp: the cache pattern (compile once, keep a copy, wrap it
// into a runtime sharing the engine, instantiate, call), then the disk cache in argv[1].
#include <packr.hpp>

#include <cstdio>
#include <exception>

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: consumer_cpp CACHE_DIR\n");
        return 2;
    }
    try {
        const char *wat = R"((module (func (export "answer") (result i32) i32.const 42)))";
        packr::Runtime base;
        const packr::Module cached = base.load(wat);
        const packr::Runtime request = packr::Runtime::sharing_engine(base);
        const int32_t a = request.wrap(cached).instantiate().call<int32_t>("answer");

        const packr::Cache cache(argv[1]);
        cache.load(request, wat);
        const int32_t b = cache.load(request, wat).instantiate().call<int32_t>("answer");
        const packr::CacheStats stats = cache.stats();
        std::printf("consumer_cpp: packr %s answered %d, and %d from its disk cache (%llu hit)\n",
                    packr::version().c_str(), a, b, static_cast<unsigned long long>(stats.hits));
        return a == 42 && b == 42 && stats.hits == 1 ? 0 : 1;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "consumer_cpp: %s\n", e.what());
        return 1;
    }
}
