// The HTTPS server adapter: the only server code that includes httplib.h.
//
// It puts cpp-httplib 0.11.4 (Debian 12) behind the hardening rules of
// DESIGN.md. Before any body byte is read, every request is checked against
// the route table and refused, with the connection closed, when it carries
// Transfer-Encoding (411/400), a request Content-Encoding (415), a missing
// (411), duplicated or non-decimal (400) Content-Length on PUT, a body larger
// than the route's cap (413), any body on GET/HEAD (400), too many or too
// long headers (431), a CR/LF/NUL in a header value (400), or a path outside
// the table (404) or a method the path does not take (405).
//
// Handlers see a validated request; the peer address is the socket's, never a
// header. Exceptions from handlers become a bare 500 (their text is logged,
// never sent). Thread safety: routes are added before Start(); handlers run
// concurrently on the worker pool.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace common {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8443;  // 0 picks a free port (see HttpServer::port())
  std::string cert_file;  // PEM certificate chain
  std::string key_file;   // PEM private key
  int threads = 64;       // worker pool: one thread serves one connection
  int backlog = 4096;     // listen backlog (the library's own is 5)
  int read_timeout_s = 5;
  int write_timeout_s = 5;
  int keep_alive_timeout_s = 5;  // an idle connection holds a worker thread
  int keep_alive_max_requests = 10000;
  size_t max_headers = 64;
  size_t max_header_bytes = 4096;  // per header value
};

struct HttpRequest {
  std::string method;
  std::string path;                 // without query string
  std::vector<std::string> params;  // values of the route's ":name" segments, in order
  std::string peer;                 // socket peer address
  uint64_t content_length = 0;
  // First value of a header ("" if absent). Values contain no CR/LF/NUL but
  // are otherwise unvalidated: check them before use. Valid only during the
  // handler call (it refers to the library's request object).
  std::function<std::string(const std::string&)> header;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  void Set(const std::string& name, const std::string& value) { headers.emplace_back(name, value); }
};

// Streams a request body: calls `sink` with successive chunks until the body
// ends or `sink` returns false. Returns false if the body could not be read
// completely (timeout, disconnect) or the sink stopped.
using BodyReader = std::function<bool(const std::function<bool(const char*, size_t)>& sink)>;

using Handler = std::function<void(const HttpRequest&, HttpResponse&)>;
using BodyHandler = std::function<void(const HttpRequest&, const BodyReader&, HttpResponse&)>;

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options);
  ~HttpServer();

  // Route patterns are literal segments and ":name" segments matching one
  // non-empty segment, e.g. "/v1/devices/:device/manifest". GET routes also
  // answer HEAD.
  void Get(const std::string& pattern, Handler handler);
  // PUT routes stream their body; `max_body` is enforced before reading.
  void Put(const std::string& pattern, uint64_t max_body, BodyHandler handler);

  // Loads the certificate, binds and listens. Unavailable if the port is taken.
  Status Start();
  // The bound port (after Start).
  int port() const;
  // Serves until Stop(); returns when the server has stopped.
  void Serve();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits "/a/b/c" into segments and matches a route pattern; exposed for tests.
bool MatchRoute(const std::string& pattern, const std::string& path,
                std::vector<std::string>* params);

}  // namespace common
