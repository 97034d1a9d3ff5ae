// wrk_client_cert.so: makes wrk present a client certificate in every TLS
// handshake. Debian's wrk 4.1 has no option for one, and every agent
// endpoint of a beacon now needs mutual TLS (docs/identity.md); wrk is kept
// because its Lua scripts (bench/checkin.lua, upload.lua) and its numbers
// are the reference the earlier results were measured with.
//
//   WRK_CLIENT_CERT=cert.pem WRK_CLIENT_KEY=key.pem LD_PRELOAD=.../wrk_client_cert.so wrk ...
//
// wrk makes one SSL_CTX (ssl_init, SSL_CTX_new) and every connection's SSL
// from it; this library interposes SSL_CTX_new, lets libssl make the
// context, and loads the certificate chain and key into it. Without the two
// variables it changes nothing. A certificate that cannot be loaded ends
// the process: a run that silently presents no certificate would measure
// 401 answers. Prints one line to stderr when it has loaded the
// certificate, which bench/run.sh checks for.
//
// Build: gcc -shared -fPIC -O2 bench/wrk_client_cert.c -ldl -lssl (bench/lib.sh does it).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>

SSL_CTX* SSL_CTX_new(const SSL_METHOD* method) {
  static SSL_CTX* (*real)(const SSL_METHOD*) = NULL;
  if (real == NULL) {
    real = (SSL_CTX * (*)(const SSL_METHOD*)) dlsym(RTLD_NEXT, "SSL_CTX_new");
    if (real == NULL) {
      fprintf(stderr, "wrk_client_cert: SSL_CTX_new not found in libssl\n");
      exit(2);
    }
  }
  SSL_CTX* ctx = real(method);
  const char* cert = getenv("WRK_CLIENT_CERT");
  const char* key = getenv("WRK_CLIENT_KEY");
  if (ctx == NULL || cert == NULL || key == NULL) return ctx;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    fprintf(stderr, "wrk_client_cert: cannot load the client certificate %s and key %s\n", cert, key);
    ERR_print_errors_fp(stderr);
    exit(2);
  }
  fprintf(stderr, "wrk_client_cert: presenting %s\n", cert);
  return ctx;
}
