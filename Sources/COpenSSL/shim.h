// libcrypto and libssl for signing, digests and (later) FTPS.
#ifndef OSSFTP_COPENSSL_SHIM_H
#define OSSFTP_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/md5.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/err.h>

// Macros Swift cannot call, as functions.
static inline long cossl_ctx_set_min_tls12(SSL_CTX *ctx) { return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION); }
static inline long cossl_ctx_enable_server_session_cache(SSL_CTX *ctx) {
    return SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
}
static inline BIO *cossl_bio_new_mem(void) { return BIO_new(BIO_s_mem()); }
static inline long cossl_ctx_set_dh_auto(SSL_CTX *ctx) { return SSL_CTX_set_dh_auto(ctx, 1); }
/// A passphrase callback that gives none: an encrypted key fails to load instead of OpenSSL
/// asking for its passphrase on the terminal (a server would wait there forever).
static int cossl_no_passphrase(char *buffer, int size, int rwflag, void *userdata) {
    (void)buffer; (void)size; (void)rwflag;
    if (userdata) *(int *)userdata = 1;
    return -1;
}
static inline void cossl_ctx_refuse_passphrase(SSL_CTX *ctx, int *asked) {
    SSL_CTX_set_default_passwd_cb(ctx, cossl_no_passphrase);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, asked);
}
#endif
