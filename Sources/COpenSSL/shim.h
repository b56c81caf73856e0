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
#endif
