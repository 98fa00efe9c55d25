/* tests/install/clash.c - libpackr.a among a host's own symbols: another Rust static library
 * (tests/install/other_rust) and functions named like BLAKE3's C kernels, which packr's
 * static library carries renamed (make install), so a host with its own C BLAKE3 neither
 * clashes with packr's nor has packr call the host's. Built with `packr-static` both before
 * and after the other Rust library; runs a disk-cache round trip (BLAKE3 names the module)
 * in the directory argv[1]. */
#include <packr.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t other_rust_digits(uint32_t n);

/* The host's own "BLAKE3": packr must never call these. */
#define NOT_PACKRS(name) void name(void); void name(void) { fprintf(stderr, "packr called the host's " #name "\n"); abort(); }
NOT_PACKRS(blake3_hash_many_avx512)
NOT_PACKRS(blake3_hash_many_avx2)
NOT_PACKRS(blake3_hash_many_sse41)
NOT_PACKRS(blake3_hash_many_sse2)
NOT_PACKRS(blake3_compress_in_place_avx512)
NOT_PACKRS(blake3_compress_in_place_sse41)
NOT_PACKRS(blake3_compress_in_place_sse2)
NOT_PACKRS(blake3_compress_xof_avx512)
NOT_PACKRS(blake3_xof_many_avx512)

int main(int argc, char **argv) {
    const char *wat = "(module (func (export \"answer\") (result i32) i32.const 42))";
    packr_runtime *runtime = NULL;
    packr_cache *cache = NULL;
    packr_module *module = NULL;
    packr_cache_stats stats;
    if (argc != 2 || packr_runtime_new(&runtime) != PACKR_OK || packr_cache_open(argv[1], &cache) != PACKR_OK) {
        fprintf(stderr, "clash: %s\n", packr_last_error());
        return 1;
    }
    for (int i = 0; i < 2; i++) {
        packr_module_free(module);
        module = NULL;
        if (packr_cache_load(cache, runtime, (const uint8_t *)wat, strlen(wat), &module) != PACKR_OK) {
            fprintf(stderr, "clash: %s\n", packr_last_error());
            return 1;
        }
    }
    packr_cache_get_stats(cache, &stats);
    size_t digits = other_rust_digits(12); /* "01234567891011" */
    printf("clash: packr %s beside another Rust library (%zu digits) and a host BLAKE3: %llu hit\n", packr_version(),
           digits, (unsigned long long)stats.hits);
    packr_module_free(module);
    packr_cache_free(cache);
    packr_runtime_free(runtime);
    return digits == 14 && stats.hits == 1 ? 0 : 1;
}
