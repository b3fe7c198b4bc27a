/* The C side of the C ABI overhead benchmark (bench/capi-bench.sh): the same
 * verification as capi/benches/rust_api.rs (pinned chain, replay off),
 * through shaken_verify_identity, reading the verdict, freeing the result.
 *   capi-bench CERTS_DIR IDENTITY NOW [ITERATIONS]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shaken.h"

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    *len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char *out = malloc(*len);
    if (out) memcpy(out, buf, *len);
    return out;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s CERTS_DIR IDENTITY NOW [ITERATIONS]\n", argv[0]); return 2; }
    char path[4096];
    size_t root_len, chain_len;
    snprintf(path, sizeof path, "%s/root.pem", argv[1]);
    char *root = read_file(path, &root_len);
    snprintf(path, sizeof path, "%s/sp-chain.pem", argv[1]);
    char *chain = read_file(path, &chain_len);
    if (!root || !chain) { fprintf(stderr, "cannot read %s\n", argv[1]); return 2; }
    const char *identity = argv[2];
    int64_t now = strtoll(argv[3], NULL, 10);
    long iterations = argc > 4 ? strtol(argv[4], NULL, 10) : 20000;

    shaken_verifier_options *o = shaken_verifier_options_new();
    shaken_verifier *v = NULL;
    if (!o || shaken_verifier_options_add_trust_anchors(o, root, root_len) ||
        shaken_verifier_options_set_cert_chain(o, chain, chain_len) ||
        shaken_verifier_options_set_replay(o, 0) || shaken_verifier_new(o, &v)) {
        fprintf(stderr, "set-up: %s\n", shaken_last_error());
        return 2;
    }
    shaken_verifier_options_free(o);
    free(root);
    free(chain);

    const char *orig = "12155550121", *dest = "12125550143";
    size_t identity_len = strlen(identity), orig_len = strlen(orig);
    shaken_str d[1] = {{dest, strlen(dest)}};
    double batches[5];
    long passed = 0;
    for (int b = -1; b < 5; b++) { /* batch -1 warms up */
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < iterations; i++) {
            shaken_result *r = NULL;
            if (shaken_verify_identity(v, identity, identity_len, orig, orig_len, d, 1,
                                       NULL, 0, now, &r) != SHAKEN_OK) {
                fprintf(stderr, "verify: %s\n", shaken_last_error());
                return 2;
            }
            passed += shaken_result_passed(r);
            shaken_result_free(r);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (b >= 0)
            batches[b] = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / iterations;
    }
    if (passed != 6 * iterations) { fprintf(stderr, "not every verification passed\n"); return 1; }
    qsort(batches, 5, sizeof batches[0], cmp);
    printf("c_abi ns_per_verify %.0f\n", batches[2]);
    shaken_verifier_free(v);
    return 0;
}
