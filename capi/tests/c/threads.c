/* One signer and one verifier shared by 8 threads at once, with good and bad
 * headers; every result is checked. Run from the repository root:
 *   threads certs/ 1800000000
 * Exit status 0 when every check passed.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shaken.h"

#define THREADS 8
#define ROUNDS 100

static shaken_signer *signer;
static shaken_verifier *verifier;
static int64_t now;

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

static int str_eq(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

struct worker { int id; int checks; int failures; };

#define CHECK(w, cond, ...)                                            \
    do {                                                               \
        (w)->checks++;                                                 \
        if (!(cond)) {                                                 \
            (w)->failures++;                                           \
            fprintf(stderr, "thread %d: check failed: %s: ", (w)->id, #cond); \
            fprintf(stderr, __VA_ARGS__);                              \
            fputc('\n', stderr);                                       \
        }                                                              \
    } while (0)

/* Verify `identity` and check the verdict: sip code 0 means "must pass". */
static void expect(struct worker *w, const char *identity, const char *orig,
                   const char *dest, int code, const char *id, char attest) {
    shaken_str d[1] = {{dest, strlen(dest)}};
    shaken_result *r = NULL;
    int rc = shaken_verify_identity(verifier, identity, strlen(identity), orig,
                                    strlen(orig), d, 1, NULL, 0, now, &r);
    CHECK(w, rc == SHAKEN_OK, "status %d: %s", rc, shaken_last_error());
    if (rc != SHAKEN_OK) return;
    const char *detail = shaken_result_reason_detail(r);
    if (code == 0) {
        char a[2] = {attest, 0};
        CHECK(w, shaken_result_passed(r) == 1, "not passed: %s", detail);
        CHECK(w, str_eq(shaken_result_verstat(r), "TN-Validation-Passed"), "%s", shaken_result_verstat(r));
        CHECK(w, str_eq(shaken_result_attest(r), a), "attest %s", shaken_result_attest(r));
        CHECK(w, str_eq(shaken_result_spc(r), "1234"), "spc %s", shaken_result_spc(r));
        CHECK(w, shaken_result_origid(r) && strlen(shaken_result_origid(r)) == 36, "origid");
        CHECK(w, shaken_result_sip_code(r) == 0, "code %d", shaken_result_sip_code(r));
        CHECK(w, shaken_result_reason_header(r) == NULL, "reason header present");
        CHECK(w, str_eq(shaken_result_verstat_param(r), ";verstat=TN-Validation-Passed"), "param");
        CHECK(w, shaken_result_iat(r) == now, "iat %lld", (long long)shaken_result_iat(r));
    } else {
        char header[96];
        snprintf(header, sizeof header, "Reason: SIP ;cause=%d ;text=\"%s\"", code,
                 shaken_result_reason_text(r));
        CHECK(w, shaken_result_passed(r) == 0, "passed but expected %d %s", code, id);
        CHECK(w, shaken_result_sip_code(r) == code, "code %d, expected %d (%s)",
              shaken_result_sip_code(r), code, detail);
        CHECK(w, str_eq(shaken_result_reason_id(r), id), "id %s, expected %s (%s)",
              shaken_result_reason_id(r), id, detail);
        CHECK(w, detail && strlen(detail) > 0, "no detail");
        CHECK(w, str_eq(shaken_result_reason_header(r), header), "header %s",
              shaken_result_reason_header(r));
    }
    CHECK(w, shaken_result_json(r) && shaken_result_json(r)[0] == '{', "json");
    shaken_result_free(r);
}

static int sign(struct worker *w, const char *orig, const char *dest, char attest,
                int64_t iat, char *out, size_t cap) {
    shaken_str d[1] = {{dest, strlen(dest)}};
    size_t len = 0;
    int rc = shaken_sign(signer, orig, strlen(orig), d, 1, attest, NULL, 0, iat, out, cap, &len);
    CHECK(w, rc == SHAKEN_OK, "sign status %d: %s", rc, shaken_last_error());
    CHECK(w, rc != SHAKEN_OK || strlen(out) == len, "length %zu", len);
    return rc == SHAKEN_OK;
}

static void *run(void *arg) {
    struct worker *w = arg;
    const char *dest = "12125550143";
    char orig[32], good[1024], bad[1024], sip[2048];
    for (int i = 0; i < ROUNDS; i++) {
        char attest = "ABC"[i % 3];
        snprintf(orig, sizeof orig, "1215555%02d%02d", w->id, i % 100);
        if (!sign(w, orig, dest, attest, now, good, sizeof good)) continue;

        /* Good, then the same PASSporT again: a replay. */
        expect(w, good, orig, dest, 0, NULL, attest);
        expect(w, good, orig, dest, 438, "replay", 0);

        /* Another calling number than the signed one. */
        expect(w, good, "19995550100", dest, 438, "orig-mismatch", 0);

        /* One signature character changed. */
        strcpy(bad, good);
        char *sig = strchr(strchr(bad, '.') + 1, '.') + 1;
        sig[10] = sig[10] == 'A' ? 'B' : 'A';
        expect(w, bad, orig, dest, 438, "signature-invalid", 0);

        /* Signed an hour ago: stale. */
        if (sign(w, orig, dest, attest, now - 3600, bad, sizeof bad))
            expect(w, bad, orig, dest, 403, "iat-stale", 0);

        /* Not a header at all. */
        expect(w, "garbage;info=<x>", orig, dest, 438, "token-malformed", 0);

        /* A whole INVITE, with a fresh PASSporT. */
        if (!sign(w, orig, dest, attest, now, good, sizeof good)) continue;
        snprintf(sip, sizeof sip,
                 "INVITE sip:+%s@example.net SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK%d-%d\r\n"
                 "From: <tel:+%s>;tag=%d\r\nTo: <tel:+%s>\r\n"
                 "Call-ID: %d-%d@192.0.2.1\r\nCSeq: 1 INVITE\r\n"
                 "Identity: %s\r\nContent-Length: 0\r\n\r\n",
                 dest, w->id, i, orig, i, dest, w->id, i, good);
        shaken_result *r = NULL;
        int rc = shaken_verify_sip(verifier, sip, strlen(sip), now, &r);
        CHECK(w, rc == SHAKEN_OK, "verify_sip status %d: %s", rc, shaken_last_error());
        CHECK(w, shaken_result_passed(r) == 1, "sip not passed: %s", shaken_result_reason_detail(r));
        shaken_result_free(r);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s CERTS_DIR NOW\n", argv[0]);
        return 2;
    }
    char path[4096];
    size_t key_len, root_len, chain_len;
    snprintf(path, sizeof path, "%s/sp.key.pem", argv[1]);
    char *key = read_file(path, &key_len);
    snprintf(path, sizeof path, "%s/root.pem", argv[1]);
    char *root = read_file(path, &root_len);
    snprintf(path, sizeof path, "%s/sp-chain.pem", argv[1]);
    char *chain = read_file(path, &chain_len);
    if (!key || !root || !chain) { fprintf(stderr, "cannot read %s\n", argv[1]); return 2; }
    now = strtoll(argv[2], NULL, 10);

    const char *x5u = "https://cr.example.net/sp.pem";
    int rc = shaken_signer_new(key, key_len, x5u, strlen(x5u), &signer);
    shaken_verifier_options *o = shaken_verifier_options_new();
    if (rc != SHAKEN_OK || !o ||
        shaken_verifier_options_add_trust_anchors(o, root, root_len) != SHAKEN_OK ||
        shaken_verifier_options_set_cert_chain(o, chain, chain_len) != SHAKEN_OK ||
        shaken_verifier_new(o, &verifier) != SHAKEN_OK) {
        fprintf(stderr, "set-up: %s\n", shaken_last_error());
        return 2;
    }
    shaken_verifier_options_free(o);
    free(key); free(root); free(chain);

    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.id = i, .checks = 0, .failures = 0};
        if (pthread_create(&t[i], NULL, run, &w[i]) != 0) { perror("pthread_create"); return 2; }
    }
    int checks = 0, failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        checks += w[i].checks;
        failures += w[i].failures;
    }
    shaken_verifier_free(verifier);
    shaken_signer_free(signer);
    printf("threads: %d threads, %d checks, %d failures\n", THREADS, checks, failures);
    return failures == 0 && checks > 0 ? 0 : 1;
}
