/* Sign an outgoing call: print the Identity header value to add to the INVITE.
 *
 *   sign_call KEY.pem X5U ORIG DEST ATTEST [IAT]
 *   sign_call certs/sp.key.pem https://cr.example.net/sp.pem 12155550121 12125550143 A
 *
 * Build: gcc -Wall -Wextra -Werror -Iinclude examples/c/sign_call.c \
 *            -Ltarget/release -lshaken -Wl,-rpath,$PWD/target/release -o sign_call
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

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s KEY.pem X5U ORIG DEST ATTEST [IAT]\n", argv[0]);
        return 2;
    }
    size_t key_len;
    char *key = read_file(argv[1], &key_len);
    if (!key) { perror(argv[1]); return 2; }

    /* Once at start-up: the signer is shared by every thread. */
    shaken_signer *signer = NULL;
    int rc = shaken_signer_new(key, key_len, argv[2], strlen(argv[2]), &signer);
    free(key);
    if (rc != SHAKEN_OK) {
        fprintf(stderr, "signer: %s\n", shaken_last_error());
        return 2;
    }

    /* Per call. */
    shaken_str dest[1] = {{argv[4], strlen(argv[4])}};
    int64_t iat = argc > 6 ? strtoll(argv[6], NULL, 10) : 0; /* 0 = now */
    char identity[1024];
    size_t len = 0;
    rc = shaken_sign(signer, argv[3], strlen(argv[3]), dest, 1, argv[5][0],
                     NULL, 0, /* origid: a new UUID */
                     iat, identity, sizeof identity, &len);
    if (rc == SHAKEN_OK) {
        printf("%s\n", identity); /* add as "Identity: <value>" */
    } else {
        fprintf(stderr, "sign: %s (%s)\n", shaken_status_str(rc), shaken_last_error());
    }
    shaken_signer_free(signer);
    return rc == SHAKEN_OK ? 0 : 2;
}
