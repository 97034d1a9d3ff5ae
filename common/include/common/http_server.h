// The HTTPS server engine: the only server code that includes Boost.Asio,
// Boost.Beast and OpenSSL's SSL API (http_server.cpp, http_session.cpp, http_head.cpp, http_peer.cpp).
//
// A few I/O threads hold every connection (TLS 1.2/1.3 done with OpenSSL
// directly on non-blocking sockets, so an idle connection costs a few KiB);
// handlers run on a bounded worker pool, because they may block (fsync,
// store reads, upstream requests). Deadlines are enforced by a sweep once a
// second rather than a timer per operation.
//
// Everything about a request is decided from its head, before any body byte
// is read: a request is refused, and the connection closed, when it carries
// Transfer-Encoding (411 on PUT, 400 otherwise), a request Content-Encoding
// (415), a missing (411), duplicated or non-decimal (400) Content-Length on
// PUT, a body larger than the route's cap (413), any body on GET/HEAD (400),
// a head over max_header_bytes (431, or 414 when the request line alone does
// not fit) or with more than max_headers fields (431), a percent-encoded
// control character in a header value (400), an unknown method (400), a path
// outside the table (404) or a method the path does not take (405). A PUT
// route's handler then decides (route, size, capacity, duplicates) before
// `100 Continue` is sent. Every answer >= 400 closes the connection with a
// lingering close: what the sender is still writing is read and dropped for
// a few seconds, so it gets to read the answer instead of a reset.
//
// With client_ca_file set, every client is asked for a certificate (see
// "Client certificates" below and docs/server.md): a route is identified by
// default and answers only peers with a verified estate identity (401
// otherwise), and every request that carries an identity passes the `admit`
// hook first (403 when it refuses).
//
// Handlers see a validated request; the peer address is the socket's, never
// a header. Exceptions from handlers become a bare 500 (their text is
// logged, never sent). When every worker is busy and max_queued_work
// requests wait, a new request is answered 503 with Retry-After at once.
//
// Thread safety: listeners and routes are added before Start(); handlers run
// concurrently on the worker pool; Stop(), ReloadTls() and stats() may be
// called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/identity.h"
#include "common/status.h"

namespace common {

// Client certificates. With client_ca_file set, the engine asks every client
// for a certificate during the handshake but never fails the handshake for
// it: it verifies the chain itself (against client_ca_file's certificates,
// at most leaf, one intermediate such as a rollover's cross-certificate, and
// a root; purpose "SSL client"; the dates; no revocation, which is the
// `admit` hook's business) and, when that succeeds, reads the estate
// identity from the leaf (common/identity.h) once per connection. Then, for
// each request, before its handler runs and before any body byte is read:
//   - a peer with an identity goes through `admit`, on every route; a reason
//     from it is answered 403 "error: client certificate refused: <reason>";
//   - a peer without one is answered 401 on an identified route:
//     "error: client certificate required" (no certificate) or
//     "error: client certificate refused: <reason>" (expired, not yet valid,
//     unknown certificate authority, names no estate device or beacon, ...);
//     an open route (RouteAccess::kOpen) serves it, with a null identity.
// Both refusals close the connection (lingering), are counted and logged
// (warn) with the peer address, the reason and the certificate's serial.
// Without client_ca_file no certificate is asked for, every route is open
// and `admit` is never called.
enum class RouteAccess {
  kIdentified,  // the default: a verified estate identity is required (with client_ca_file)
  kOpen,        // any peer; HttpRequest::identity is still set when it has one
};

// One answered request, for metrics (ServerOptions::observe).
struct RequestRecord {
  const std::string& listener;  // the name given to Listen()
  const std::string& route;     // the route's pattern; "" when no route took the request
  const std::string& method;    // "" when the head could not be parsed
  int status = 0;
  double seconds = 0;  // from the request's first byte to its answer being queued
};

struct ServerOptions {
  std::string cert_file;  // PEM certificate chain (ECDSA P-256 recommended)
  std::string key_file;   // PEM private key
  // PEM bundle of the CA certificates client certificates must chain to;
  // X509 CRL blocks in it are skipped. Empty = no client certificates.
  std::string client_ca_file;
  // Called for every request whose peer has an identity, on the I/O thread
  // (several at once, one per I/O thread): must be thread-safe and cheap (a
  // set lookup, say of revoked serials under a shared_mutex). Returns "" to
  // admit, or the reason for a 403. Runs per request, not per connection, so
  // a revocation reaches kept-alive connections too. Null = admit all.
  std::function<std::string(const PeerIdentity&)> admit;
  int io_threads = 0;     // threads holding connections; 0 = one per core
  int workers = 16;       // threads running handlers (they may block on disk)
  int max_queued_work = 256;  // requests waiting for a worker before 503
  int retry_after_s = 60;     // Retry-After sent with the engine's own 503
  int backlog = 4096;         // listen backlog (connections the kernel queues)
  size_t max_header_bytes = 8192;  // request line and header fields together
  size_t max_headers = 64;         // header fields per request
  std::chrono::seconds handshake_timeout{10};  // TCP accept to TLS established
  std::chrono::seconds header_timeout{10};     // first byte of a request to its whole head
  std::chrono::seconds keep_alive_timeout{30};  // idle between requests
  std::chrono::seconds write_timeout{30};      // one response, to the last byte
  // A body must advance by min_body_rate * body_timeout bytes (or end) in
  // every body_timeout; a slower one is cut (408) and its sink destroyed.
  uint64_t min_body_rate = 1024;
  std::chrono::seconds body_timeout{10};
  std::chrono::seconds stop_timeout{20};  // Stop(): longest wait for requests in flight
  int max_connections = 20000;            // open connections, all listeners
  int max_connections_per_address = 1000;  // open connections from one peer address
  int keep_alive_max_requests = 10000;
  // Called for every answer to a request (not for `100 Continue`), on the
  // I/O thread: must be thread-safe and cheap (atomic counters). Null = none.
  std::function<void(const RequestRecord&)> observe;
};

struct HttpRequest {
  std::string method;               // "GET", "HEAD", "PUT" or "POST"
  std::string path;                 // without query string
  // What followed the first '?' in the target, raw (still percent-encoded,
  // unvalidated: check it before use); "" for none.
  std::string query;
  std::vector<std::string> params;  // values of the route's ":name" segments, in order
  std::string peer;                 // socket peer address
  uint64_t content_length = 0;
  // The peer's verified estate identity, owned by the connection (valid
  // during the handler call); null without one (then only on an open route,
  // or when the server has no client_ca_file).
  const PeerIdentity* identity = nullptr;
  // Why `identity` is null, for logs and refusals: "no certificate",
  // "certificate has expired", ...; "" with an identity or without
  // client_ca_file. Never contains request data.
  std::string identity_error;
  // First value of a header ("" if absent). Values contain no CR/LF/NUL but
  // are otherwise unvalidated: check them before use. Valid only during the
  // handler call.
  std::function<std::string(const std::string&)> header;
  // A POST route's whole body (at most its max_body bytes); "" otherwise.
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  void Set(const std::string& name, const std::string& value) { headers.emplace_back(name, value); }
};

// Where a PUT body goes. Opened by the route's handler after it has checked
// the request head; called on the worker pool, one call at a time.
class BodySink {
 public:
  // Destroyed without Finish() when the body did not arrive (too slow, the
  // peer went away, Write() refused, the server stopped): undo everything.
  virtual ~BodySink() = default;
  // The next part of the body, in order. Returning false refuses the upload:
  // `res` holds the answer and the rest of the body is not read.
  virtual bool Write(const char* data, size_t size, HttpResponse& res) = 0;
  // The whole body has been written: make it durable and answer.
  virtual void Finish(HttpResponse& res) = 0;
};

using Handler = std::function<void(const HttpRequest&, HttpResponse&)>;
// Runs on an I/O thread, so it must never block (no disk, no network, no
// lock held for long): answers in `res` and returns true, or returns false
// with `res` untouched to have the route's Handler run on a worker instead.
// Saves two thread switches for requests answered from memory.
using QuickHandler = std::function<bool(const HttpRequest&, HttpResponse&)>;
// Returns the sink for the body, or nullptr having answered in `res`. An
// answer below 400 without a sink (say, "already stored") is sent after the
// body has been read and dropped; an answer >= 400 is sent at once, without
// `100 Continue`, and the body is never read.
using PutHandler = std::function<std::unique_ptr<BodySink>(const HttpRequest&, HttpResponse&)>;

// Counters since Start(), for logs, tests and metrics.
struct ServerStats {
  uint64_t connections_open = 0;
  uint64_t connections_accepted = 0;
  uint64_t refused_connection_cap = 0;  // over max_connections: closed at once
  uint64_t refused_address_cap = 0;     // over max_connections_per_address
  uint64_t handshakes_full = 0;
  uint64_t handshakes_resumed = 0;
  uint64_t requests = 0;
  uint64_t busy_503 = 0;  // refused because the worker pool was saturated
  uint64_t timeouts = 0;  // handshake, header, idle, write or body-rate deadline passed
  uint64_t slow_bodies = 0;  // of which: bodies cut for min_body_rate
  uint64_t refused_identity = 0;   // 401: identified route, no verified identity
  uint64_t refused_admission = 0;  // 403: the admit hook refused the identity
  uint64_t tls_reloads = 0;        // successful ReloadTls() calls
  // Sweep rounds of the I/O thread that swept least: each I/O thread sweeps
  // about once a second while its loop turns, so this grows only while every
  // loop does (the beacon's watchdog keep-alive is tied to it).
  uint64_t sweeps = 0;
};

class HttpServer {
 public:
  // One set of routes on one address. Owned by the HttpServer.
  class Listener {
   public:
    // Route patterns are literal segments and ":name" segments matching one
    // non-empty segment, e.g. "/v1/devices/:device/manifest". GET routes also
    // answer HEAD. With `quick`, it is tried first; `handler` may then be
    // null if `quick` always answers. `access`: see RouteAccess (it matters
    // only when the server has a client_ca_file).
    void Get(const std::string& pattern, Handler handler, QuickHandler quick = nullptr,
             RouteAccess access = RouteAccess::kIdentified);
    // PUT routes: `max_body` is enforced from Content-Length before reading.
    void Put(const std::string& pattern, uint64_t max_body, PutHandler handler,
             RouteAccess access = RouteAccess::kIdentified);
    // POST routes: a small body (at most `max_body`, checked from
    // Content-Length before reading) is read whole into HttpRequest::body,
    // then `handler` runs on a worker. For forms and API calls, not uploads.
    void Post(const std::string& pattern, uint64_t max_body, Handler handler,
              RouteAccess access = RouteAccess::kIdentified);
    // The bound port (after Start).
    int port() const;

    struct Impl;
    std::unique_ptr<Impl> impl_;
    explicit Listener(std::unique_ptr<Impl> impl);
    ~Listener();
  };

  explicit HttpServer(ServerOptions options);
  ~HttpServer();

  // Adds a listener on host:port (0 picks a free port); `name` labels its
  // requests in RequestRecord.
  Listener& Listen(const std::string& host, int port, const std::string& name = "");
  // Loads the certificate, binds and listens on every listener. Unavailable
  // if a port is taken, InvalidArgument for a bad certificate or key. Sets
  // SIGPIPE to be ignored, process-wide. Starts the worker threads: block
  // the signals the process waits for before calling it.
  Status Start();
  // Reads cert_file, key_file and client_ca_file again into a new TLS
  // context (after a CA rollover changed the bundle, or a renewal the
  // certificate). Connections accepted afterwards handshake with it;
  // connections already open keep the one they began with. Session tickets
  // of the old context are not accepted by the new one (those clients do a
  // full handshake). On error (InvalidArgument, as Start) the old context
  // stays in use. Any thread, after Start().
  Status ReloadTls();
  // Serves until Stop(); returns when every connection is closed and every
  // handler has returned.
  void Serve();
  // Stops accepting, closes idle connections, lets requests in flight finish
  // (up to stop_timeout), then closes the rest. Any thread; idempotent.
  void Stop();
  ServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits "/a/b/c" into segments and matches a route pattern; exposed for tests.
bool MatchRoute(const std::string& pattern, const std::string& path, std::vector<std::string>* params);

}  // namespace common
