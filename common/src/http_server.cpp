// Hardened server adapter over cpp-httplib 0.11.4. See http_server.h for the
// contract; this file explains the library-specific reasons.
#include "common/http_server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "common/config.h"
#include "common/log.h"

namespace common {
namespace {

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 1;
  if (path.empty() || path[0] != '/') return {"\x01"};  // matches nothing
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Sends `text` as the answer's body and then closes the connection. In
// 0.11.4 a "Connection: close" response header does not end the keep-alive
// loop (only the request's header does), so an unread body would be parsed
// as the next request. A content provider that returns false after writing
// the body makes the write report failure, which does end the loop, after
// the client has the whole response. The library writes no body for HEAD, so
// a HEAD is answered as a GET here (the Request object is not const in the
// library; only the handler signatures are).
void CloseAfter(const httplib::Request& req, httplib::Response& res, const std::string& text) {
  if (req.method == "HEAD") const_cast<httplib::Request&>(req).method = "GET";
  res.body.clear();
  res.headers.erase("Content-Type");  // set again with the provider
  res.set_header("Connection", "close");
  auto body = std::make_shared<std::string>(text);
  res.set_content_provider(body->size(), "text/plain",
                           [body](size_t offset, size_t, httplib::DataSink& sink) {
                             if (offset == 0) sink.write(body->data(), body->size());
                             return false;
                           });
}

// An error answer (>= 400): the error handler installed in Start() turns it
// into a closing one.
void Error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content("error: " + message + "\n", "text/plain");
}

}  // namespace

bool MatchRoute(const std::string& pattern, const std::string& path,
                std::vector<std::string>* params) {
  std::vector<std::string> p = SplitPath(pattern), s = SplitPath(path);
  if (p.size() != s.size()) return false;
  std::vector<std::string> got;
  for (size_t i = 0; i < p.size(); ++i) {
    if (!p[i].empty() && p[i][0] == ':') {
      if (s[i].empty()) return false;
      got.push_back(s[i]);
    } else if (p[i] != s[i]) {
      return false;
    }
  }
  if (params != nullptr) *params = std::move(got);
  return true;
}

struct HttpServer::Impl {
  struct Route {
    std::string method;
    std::string pattern;
    uint64_t max_body = 0;
    Handler handler;
    BodyHandler body_handler;
  };

  ServerOptions options;
  std::vector<Route> routes;
  std::unique_ptr<httplib::SSLServer> server;
  int listen_fd = -1;
  int bound_port = 0;
  // Stop() may come before Serve() has started the library's loop (a signal
  // at start-up); these two flags make sure it is never lost.
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> serving{false};
  std::atomic<bool> finished{false};

  // Finds the route for a request; sets *status to 404/405 when none fits.
  const Route* Find(const std::string& method, const std::string& path,
                    std::vector<std::string>* params, int* status) const {
    bool path_known = false;
    std::string m = method == "HEAD" ? "GET" : method;
    for (const auto& r : routes) {
      if (!MatchRoute(r.pattern, path, params)) continue;
      path_known = true;
      if (r.method == m) return &r;
    }
    *status = path_known ? 405 : 404;
    return nullptr;
  }

  httplib::Server::HandlerResponse PreRoute(const httplib::Request& req, httplib::Response& res) {
    using HR = httplib::Server::HandlerResponse;
    // The library adds four headers of its own (REMOTE_ADDR, ...).
    if (req.headers.size() > options.max_headers + 4) {
      Error(res, 431, "too many header fields");
      return HR::Handled;
    }
    for (const auto& [name, value] : req.headers) {
      if (value.size() > options.max_header_bytes || name.size() > 256) {
        Error(res, 431, "header field too large");
        return HR::Handled;
      }
      // 0.11.4 percent-decodes header values, so "%0D%0A" arrives as a real
      // line break; such a value must never reach a response or a log.
      if (value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
        Error(res, 400, "control character in a header value");
        return HR::Handled;
      }
    }
    // Ranges are not part of the protocol; a partial manifest or file must
    // never look complete, so the whole representation is always sent.
    if (!req.ranges.empty()) const_cast<httplib::Request&>(req).ranges.clear();
    if (req.has_header("Transfer-Encoding")) {
      Error(res, req.method == "PUT" ? 411 : 400,
             "Transfer-Encoding is not accepted; send Content-Length");
      return HR::Handled;
    }
    if (req.has_header("Content-Encoding")) {
      // The library would inflate gzip/brotli bodies before any size check.
      Error(res, 415, "request Content-Encoding is not accepted");
      return HR::Handled;
    }
    std::vector<std::string> params;
    int status = 0;
    const Route* route = Find(req.method, req.path, &params, &status);
    size_t cl_count = req.get_header_value_count("Content-Length");
    std::string cl = req.get_header_value("Content-Length");
    if (route == nullptr) {
      if (status == 405) {
        std::string allow;
        for (const auto& r : routes) {
          if (MatchRoute(r.pattern, req.path, nullptr)) allow += (allow.empty() ? "" : ", ") + r.method;
        }
        res.set_header("Allow", allow);
      }
      Error(res, status, status == 404 ? "no such endpoint" : "method not allowed");
      return HR::Handled;
    }
    if (cl_count > 1) {
      Error(res, 400, "duplicate Content-Length");
      return HR::Handled;
    }
    if (route->method == "GET") {
      if (cl_count == 1 && cl != "0") {
        Error(res, 400, "a GET or HEAD request has no body");
        return HR::Handled;
      }
      return HR::Unhandled;
    }
    if (cl_count == 0) {
      Error(res, 411, "Content-Length is required");
      return HR::Handled;
    }
    int64_t length = 0;
    if (!ParseDecimal(cl, &length)) {
      Error(res, 400, "Content-Length is not a decimal number");
      return HR::Handled;
    }
    if (static_cast<uint64_t>(length) > route->max_body) {
      Error(res, 413, "body larger than " + std::to_string(route->max_body) + " bytes");
      return HR::Handled;
    }
    return HR::Unhandled;
  }

  HttpRequest MakeRequest(const httplib::Request& req, std::vector<std::string> params) {
    HttpRequest r;
    r.method = req.method;
    r.path = req.path;
    r.params = std::move(params);
    r.peer = req.remote_addr;  // the socket's address, never a header
    std::string cl = req.get_header_value("Content-Length");
    int64_t length = 0;
    r.content_length = ParseDecimal(cl, &length) ? static_cast<uint64_t>(length) : 0;
    r.header = [&req](const std::string& name) { return req.get_header_value(name); };
    return r;
  }

  static void Apply(const HttpResponse& out, httplib::Response& res) {
    res.status = out.status;
    for (const auto& [k, v] : out.headers) res.set_header(k, v);
    if (!out.body.empty()) res.set_content(out.body, out.content_type);
  }
};

HttpServer::HttpServer(ServerOptions options) : impl_(new Impl) {
  impl_->options = std::move(options);
}

HttpServer::~HttpServer() = default;

void HttpServer::Get(const std::string& pattern, Handler handler) {
  impl_->routes.push_back({"GET", pattern, 0, std::move(handler), nullptr});
}

void HttpServer::Put(const std::string& pattern, uint64_t max_body, BodyHandler handler) {
  impl_->routes.push_back({"PUT", pattern, max_body, nullptr, std::move(handler)});
}

Status HttpServer::Start() {
  Impl& im = *impl_;
  const ServerOptions& o = im.options;
  im.server = std::make_unique<httplib::SSLServer>(o.cert_file.c_str(), o.key_file.c_str());
  if (!im.server->is_valid()) {
    return InvalidArgument("cannot load TLS certificate " + o.cert_file + " or key " + o.key_file);
  }
  httplib::SSLServer& svr = *im.server;
  SSL_CTX_set_min_proto_version(svr.ssl_context(), TLS1_2_VERSION);

  int threads = std::max(1, o.threads);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  svr.set_read_timeout(o.read_timeout_s, 0);
  svr.set_write_timeout(o.write_timeout_s, 0);
  svr.set_keep_alive_timeout(o.keep_alive_timeout_s);
  svr.set_keep_alive_max_count(static_cast<size_t>(o.keep_alive_max_requests));
  uint64_t max_body = 0;
  for (const auto& r : im.routes) max_body = std::max(max_body, r.max_body);
  svr.set_payload_max_length(static_cast<size_t>(max_body));
  // Accepted sockets inherit TCP_NODELAY from the listening socket on Linux.
  svr.set_tcp_nodelay(true);
  // The library's default sets SO_REUSEPORT, which would let a second beacon
  // silently share the port; only SO_REUSEADDR is wanted. The callback also
  // hands us the listening socket so its backlog can be raised below.
  svr.set_socket_options([&im](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    im.listen_fd = sock;
  });
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      LogError(std::string("handler exception: ") + e.what());
    } catch (...) {
      LogError("handler exception of unknown type");
    }
    Error(res, 500, "internal error");
  });
  // Every error answer closes the connection, including the ones the library
  // writes itself before any handler runs (400 for a malformed request line
  // or header, 414, 416): whatever body followed them is never parsed as a
  // request. An answer's own error text is kept.
  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req,
                                                                httplib::Response& res) {
    if (!res.content_provider_) CloseAfter(req, res, res.body.empty() ? "error: request refused\n" : res.body);
    // Handled makes the library compute Content-Length for the provider.
    return httplib::Server::HandlerResponse::Handled;
  }));
  // "Expect: 100-continue" is answered before routing; check the request
  // first so that a refused upload is never invited to send its body.
  svr.set_expect_100_continue_handler([&im](const httplib::Request& req, httplib::Response& res) {
    return im.PreRoute(req, res) == httplib::Server::HandlerResponse::Handled ? res.status : 100;
  });
  svr.set_pre_routing_handler(
      [&im](const httplib::Request& req, httplib::Response& res) { return im.PreRoute(req, res); });

  svr.Get(".*", [&im](const httplib::Request& req, httplib::Response& res) {
    std::vector<std::string> params;
    int status = 0;
    const Impl::Route* route = im.Find(req.method, req.path, &params, &status);
    if (route == nullptr) return Error(res, status, "no such endpoint");
    HttpResponse out;
    route->handler(im.MakeRequest(req, std::move(params)), out);
    Impl::Apply(out, res);
  });
  svr.Put(".*", [&im](const httplib::Request& req, httplib::Response& res,
                      const httplib::ContentReader& reader) {
    std::vector<std::string> params;
    int status = 0;
    const Impl::Route* route = im.Find(req.method, req.path, &params, &status);
    if (route == nullptr) return Error(res, status, "no such endpoint");
    HttpRequest in = im.MakeRequest(req, std::move(params));
    uint64_t consumed = 0;
    bool finished = false;
    BodyReader body = [&](const std::function<bool(const char*, size_t)>& sink) {
      bool ok = reader([&](const char* data, size_t len) {
        consumed += len;
        return sink(data, len);
      });
      finished = ok && consumed == in.content_length;
      return finished;
    };
    HttpResponse out;
    route->body_handler(in, body, out);
    if (!finished && in.content_length > 0) {
      // Part of the body is still on the wire: close rather than parse it.
      Impl::Apply(out, res);
      CloseAfter(req, res, out.body.empty() ? "error: request refused\n" : out.body);
      return;
    }
    Impl::Apply(out, res);
  });

  im.bound_port = o.port == 0 ? svr.bind_to_any_port(o.host) : (svr.bind_to_port(o.host, o.port) ? o.port : -1);
  if (im.bound_port <= 0) {
    return Unavailable("cannot listen on " + o.host + ":" + std::to_string(o.port));
  }
  // The library listens with a backlog of 5; raise it on the same socket.
  if (im.listen_fd >= 0 && ::listen(im.listen_fd, std::max(16, o.backlog)) != 0) {
    return Internal("listen() with a larger backlog failed");
  }
  return Status::Ok();
}

int HttpServer::port() const { return impl_->bound_port; }

void HttpServer::Serve() {
  Impl& im = *impl_;
  if (!im.server) return;
  im.serving = true;
  if (im.stop_requested) {
    // The library never ran, so it will not close the socket it bound.
    ::close(im.listen_fd);
  } else {
    im.server->listen_after_bind();
  }
  im.finished = true;
}

void HttpServer::Stop() {
  Impl& im = *impl_;
  im.stop_requested = true;
  if (!im.server || !im.serving) return;
  // Serve() has committed to listening: wait until the library runs, then
  // stop it (stop() does nothing before that).
  while (!im.server->is_running() && !im.finished) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  im.server->stop();
}

}  // namespace common
