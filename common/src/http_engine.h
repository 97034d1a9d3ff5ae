// Private to the server engine (http_server.cpp, http_session.cpp): the
// state the sessions share with the server.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <list>
#include <memory>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "common/http_server.h"
#include "common/identity.h"

namespace common::engine {

using Clock = std::chrono::steady_clock;
using boost::asio::ip::tcp;

struct Route {
  std::string method;  // "GET", "PUT" or "POST"
  std::string pattern;
  uint64_t max_body = 0;
  Handler handler;         // GET
  QuickHandler quick;      // GET, optional
  PutHandler put_handler;  // PUT and POST (whose sink collects the body for its Handler)
  RouteAccess access = RouteAccess::kIdentified;
};

// Finds the route for method and path; *status = 404 or 405 when none fits
// (*allow then lists the methods the path takes).
const Route* FindRoute(const std::vector<Route>& routes, const std::string& method, const std::string& path,
                       std::vector<std::string>* params, int* status, std::string* allow);

// Runs handlers. TryPost refuses work once `workers + max_queued` tasks are
// running or waiting; Post (clean-up) never refuses.
class WorkerPool {
 public:
  WorkerPool(int workers, int max_queued);
  bool TryPost(std::function<void()> task);
  void Post(std::function<void()> task);
  void Join();

 private:
  boost::asio::thread_pool pool_;
  std::atomic<int> pending_{0};
  int limit_;
};

class Session;

// One I/O thread: its io_context, the sessions it holds and the sweep that
// enforces their deadlines. Touched only from its own thread.
struct IoThread {
  boost::asio::io_context ctx{1};
  std::list<Session*> sessions;
  std::string date;  // "Date: ...\r\n", refreshed by the sweep
  std::function<void()> on_empty;  // while stopping: the last session has gone
  std::atomic<uint64_t> sweeps{0};  // rounds of the periodic sweep (ServerStats::sweeps)
};

// What every session shares: options, TLS context, pool, counters.
struct Shared {
  ServerOptions options;
  bool client_certs = false;  // options.client_ca_file is set
  WorkerPool* pool = nullptr;
  std::atomic<bool> stopping{false};

  std::atomic<uint64_t> connections_open{0}, accepted{0}, refused_cap{0}, refused_address{0};
  std::atomic<uint64_t> handshakes_full{0}, handshakes_resumed{0}, requests{0}, busy{0}, timeouts{0},
      slow_bodies{0}, refused_identity{0}, refused_admission{0}, tls_reloads{0};

  // The TLS context for new connections, replaced by ReloadTls(). SSL_new()
  // takes its own reference, so a connection keeps the context it began
  // with however often it is replaced.
  SSL* NewSsl();
  void SetTls(SSL_CTX* ctx);  // takes ownership; frees (unreferences) the old one
  ~Shared();

  // Open connections per peer address (the per-address cap).
  std::mutex address_mu;
  std::map<std::string, int> per_address;
  void Release(const std::string& address);

 private:
  std::mutex tls_mu;
  SSL_CTX* tls = nullptr;
};

// Starts serving an accepted connection on `io` (called on io's thread),
// with the routes of the listener named `listener` (both owned by it).
void StartSession(Shared& shared, IoThread& io, const std::vector<Route>& routes, const std::string& listener,
                  tcp::socket socket, std::string peer);
// The verdict on a connection's client certificate, taken once after the
// handshake (http_peer.cpp): the estate identity it proves, or why none.
struct PeerVerdict {
  std::unique_ptr<PeerIdentity> identity;  // null: no verified identity
  std::string error;                       // why not: "no certificate", "certificate has expired", ...
  std::string serial;                      // of the certificate presented, "" for none (for logs)
};
// `verify_error` is what the verify callback recorded (X509_V_OK if it did
// not run: a resumed session carries its first result).
PeerVerdict JudgePeer(SSL* ssl, long verify_error);

// A refusal of a request: status 0 for none.
struct Refusal {
  int status = 0;
  std::string message;  // for "error: <message>"
};
// For each request, with client certificates (http_peer.cpp): the admit
// hook for a peer with an identity (403, or 500 if it throws), the route's
// identity requirement for one without (401). Counts and logs each refusal.
struct RequestLine {
  const std::string& method;
  const std::string& path;
  const std::string& peer;
};
Refusal Admit(Shared& shared, RouteAccess access, const PeerIdentity* identity, const std::string& error,
              const std::string& serial, const RequestLine& request);

// Request-head checks (http_head.cpp).
// "%0d", "%0A", "%00", "%7f": a percent-encoded control character in a
// header value, which no value of this protocol needs.
bool HasEncodedControl(std::string_view v);
// No CR, LF or NUL: safe to write into a response head.
bool SafeHeaderText(const std::string& s);
// The body length a request declares, for a GET route (`get`, no body) or a
// PUT or POST route taking at most `max_body` bytes: `lengths` Content-Length
// fields, the first being `text`.
Refusal CheckLength(bool get, size_t lengths, const std::string& text, uint64_t max_body, int64_t* length);

// Closes sessions whose deadline has passed; when stopping, closes idle ones
// (and every one once `force` is set).
void Sweep(IoThread& io, Clock::time_point now, bool stopping, bool force);

}  // namespace common::engine
