/* Verify an incoming INVITE read from a file, as a SIP server's module would.
 *
 *   verify_invite INVITE.txt ANCHORS.pem [CHAIN.pem] [NOW]
 *   verify_invite invite.txt certs/root.pem certs/sp-chain.pem 1800000000
 *
 * With CHAIN.pem the signer's chain is pinned (no fetch); without it (or
 * with "-") the x5u URL is fetched, https only, with the SSRF guard.
 * Exit status: 0 passed, 1 did not pass, 2 error.
 *
 * Build: gcc -Wall -Wextra -Werror -Iinclude examples/c/verify_invite.c \
 *            -Ltarget/release -lshaken -Wl,-rpath,$PWD/target/release -o verify_invite
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shaken.h"

/* Read a whole file; the caller frees it. */
static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            char *grown = realloc(buf, cap);
            if (!grown) { free(buf); fclose(f); return NULL; }
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

/* Apply one PEM file to the options with `add`. */
static int add_pem(shaken_verifier_options *o, const char *path,
                   int32_t (*add)(shaken_verifier_options *, const char *, size_t)) {
    size_t len;
    char *pem = read_file(path, &len);
    if (!pem) { perror(path); return -1; }
    int rc = add(o, pem, len);
    free(pem);
    if (rc != SHAKEN_OK) fprintf(stderr, "%s: %s\n", path, shaken_last_error());
    return rc == SHAKEN_OK ? 0 : -1;
}

/* Once per process (after fork): the verifier is shared by every thread. */
static shaken_verifier *make_verifier(const char *anchors, const char *chain) {
    shaken_verifier_options *o = shaken_verifier_options_new();
    shaken_verifier *v = NULL;
    if (!o) return NULL;
    if (add_pem(o, anchors, shaken_verifier_options_add_trust_anchors) == 0 &&
        (!chain || add_pem(o, chain, shaken_verifier_options_set_cert_chain) == 0)) {
        if (shaken_verifier_new(o, &v) != SHAKEN_OK)
            fprintf(stderr, "verifier: %s\n", shaken_last_error());
    }
    shaken_verifier_options_free(o);
    return v;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s INVITE.txt ANCHORS.pem [CHAIN.pem|-] [NOW]\n", argv[0]);
        return 2;
    }
    const char *chain = argc > 3 && strcmp(argv[3], "-") != 0 ? argv[3] : NULL;
    int64_t now = argc > 4 ? strtoll(argv[4], NULL, 10) : 0; /* 0 = system clock */

    shaken_verifier *v = make_verifier(argv[2], chain);
    if (!v) return 2;

    size_t msg_len;
    char *msg = read_file(argv[1], &msg_len);
    if (!msg) { perror(argv[1]); shaken_verifier_free(v); return 2; }

    /* Per call: blocking (a fetch, if any, is bounded by the timeouts). */
    shaken_result *r = NULL;
    int rc = shaken_verify_sip(v, msg, msg_len, now, &r);
    free(msg);
    int status = 2;
    if (rc != SHAKEN_OK) {
        fprintf(stderr, "verify: %s (%s)\n", shaken_status_str(rc), shaken_last_error());
    } else if (shaken_result_passed(r)) {
        /* Forward the call; add the verstat to P-Asserted-Identity. */
        const char *spc = shaken_result_spc(r);
        printf("PASSED attest=%s spc=%s origid=%s\n", shaken_result_attest(r),
               spc ? spc : "-", shaken_result_origid(r));
        printf("P-Asserted-Identity param: %s\n", shaken_result_verstat_param(r));
        status = 0;
    } else {
        /* Reject (or forward unverified, per local policy) with the Reason. */
        printf("FAILED %d %s (%s): %s\n", shaken_result_sip_code(r),
               shaken_result_reason_text(r), shaken_result_reason_id(r),
               shaken_result_reason_detail(r));
        printf("P-Asserted-Identity param: %s\n", shaken_result_verstat_param(r));
        printf("%s\n", shaken_result_reason_header(r));
        status = 1;
    }
    shaken_result_free(r);
    shaken_verifier_free(v);
    return status;
}
