// The server engine: listeners, accepting under the connection caps, the
// I/O threads and their sweep, the worker pool, TLS settings and stopping.
// See http_server.h for the contract and http_session.cpp for a connection.
#include "common/http_server.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <csignal>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <ctime>
#include <thread>

#include "common/log.h"
#include "http_engine.h"

namespace common {

using engine::Clock;
using engine::tcp;

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

std::string DateLine() {
  char buf[64];
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
  return buf;
}

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// The handshake never fails for a client certificate: the first failure is
// written to the int the session set as the SSL's app data, and the session
// answers with HTTP, which a client can read and log, instead of a TLS alert.
int RecordVerifyResult(int ok, X509_STORE_CTX* store) {
  if (ok == 1) return 1;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* first = ssl == nullptr ? nullptr : static_cast<int*>(SSL_get_app_data(ssl));
  if (first != nullptr && *first == X509_V_OK) *first = X509_STORE_CTX_get_error(store);
  return 1;
}

// Trusts the CA certificates of `file` (its CRL blocks are skipped: the
// admit hook does revocation) and asks every client for a certificate.
Status AskForClientCertificates(SSL_CTX* ctx, const std::string& file) {
  BIO* bio = BIO_new_file(file.c_str(), "r");
  if (bio == nullptr) return InvalidArgument("cannot read the client CA bundle " + file + ": " + OpenSslError());
  STACK_OF(X509_INFO)* infos = PEM_X509_INFO_read_bio(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (infos == nullptr) return InvalidArgument("client CA bundle " + file + ": " + OpenSslError());
  X509_STORE* store = X509_STORE_new();
  int certs = 0;
  for (int i = 0; i < sk_X509_INFO_num(infos); ++i) {
    X509* cert = sk_X509_INFO_value(infos, i)->x509;
    if (cert != nullptr && X509_STORE_add_cert(store, cert) == 1) ++certs;
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  ERR_clear_error();
  if (certs == 0) {
    X509_STORE_free(store);
    return InvalidArgument("client CA bundle " + file + " holds no certificate");
  }
  SSL_CTX_set_cert_store(ctx, store);  // owns it now
  // Leaf, at most one intermediate (a rollover's cross-certificate), root:
  // OpenSSL's depth counts the intermediates.
  SSL_CTX_set_verify_depth(ctx, 1);
  SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
  // Ask, do not insist (no SSL_VERIFY_FAIL_IF_NO_PEER_CERT): open routes
  // serve peers without a certificate, identified ones answer 401.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, RecordVerifyResult);
  return Status::Ok();
}

// TLS 1.2 and 1.3 only, AEAD suites with forward secrecy only, the server's
// order, resumption by session ticket (TLS 1.2 and 1.3), and OpenSSL's
// buffers released while a connection is idle.
StatusOr<SSL_CTX*> MakeTlsContext(const ServerOptions& o) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return Internal("SSL_CTX_new: " + OpenSslError());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_cipher_list(ctx,
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"
                          "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305");
  SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Stateless tickets only, as nginx by default: a server-side cache costs
  // memory per session and, once large, a scan of it every 255 handshakes
  // (measured: +50% CPU per handshake with 20,000 cached sessions).
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  static const unsigned char kContext[] = "beacon";
  SSL_CTX_set_session_id_context(ctx, kContext, sizeof kContext - 1);
  SSL_CTX_set_num_tickets(ctx, 1);  // a client resumes with one
  if (SSL_CTX_use_certificate_chain_file(ctx, o.cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    std::string why = OpenSslError();
    SSL_CTX_free(ctx);
    return InvalidArgument("cannot load TLS certificate " + o.cert_file + " or key " + o.key_file + ": " + why);
  }
  if (!o.client_ca_file.empty()) {
    Status st = AskForClientCertificates(ctx, o.client_ca_file);
    if (!st.ok()) {
      SSL_CTX_free(ctx);
      return st;
    }
  }
  return ctx;
}

}  // namespace

bool MatchRoute(const std::string& pattern, const std::string& path, std::vector<std::string>* params) {
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

namespace engine {

const Route* FindRoute(const std::vector<Route>& routes, const std::string& method, const std::string& path,
                       std::vector<std::string>* params, int* status, std::string* allow) {
  std::string m = method == "HEAD" ? "GET" : method;
  bool path_known = false;
  allow->clear();
  for (const auto& r : routes) {
    if (!MatchRoute(r.pattern, path, params)) continue;
    path_known = true;
    if (r.method == m) return &r;
    *allow += (allow->empty() ? "" : ", ") + r.method;
  }
  *status = path_known ? 405 : 404;
  return nullptr;
}

WorkerPool::WorkerPool(int workers, int max_queued)
    : pool_(static_cast<size_t>(std::max(1, workers))), limit_(std::max(1, workers) + std::max(0, max_queued)) {}

bool WorkerPool::TryPost(std::function<void()> task) {
  if (pending_.fetch_add(1) >= limit_) {
    --pending_;
    return false;
  }
  boost::asio::post(pool_, [this, t = std::move(task)] {
    t();
    --pending_;
  });
  return true;
}

void WorkerPool::Post(std::function<void()> task) {
  ++pending_;
  boost::asio::post(pool_, [this, t = std::move(task)] {
    t();
    --pending_;
  });
}

void WorkerPool::Join() { pool_.join(); }

SSL* Shared::NewSsl() {
  std::lock_guard<std::mutex> lock(tls_mu);
  return tls == nullptr ? nullptr : SSL_new(tls);
}

void Shared::SetTls(SSL_CTX* ctx) {
  SSL_CTX* old = nullptr;
  {
    std::lock_guard<std::mutex> lock(tls_mu);
    old = tls;
    tls = ctx;
  }
  if (old != nullptr) SSL_CTX_free(old);  // connections made with it hold their own references
}

Shared::~Shared() { SetTls(nullptr); }

void Shared::Release(const std::string& address) {
  std::lock_guard<std::mutex> lock(address_mu);
  auto it = per_address.find(address);
  if (it != per_address.end() && --it->second <= 0) per_address.erase(it);
}

}  // namespace engine

struct HttpServer::Listener::Impl {
  std::string name;
  std::string host;
  int port = 0;
  int bound_port = 0;
  std::vector<engine::Route> routes;
  std::unique_ptr<tcp::acceptor> acceptor;
};

HttpServer::Listener::Listener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::Listener::~Listener() = default;

void HttpServer::Listener::Get(const std::string& pattern, Handler handler, QuickHandler quick,
                               RouteAccess access) {
  impl_->routes.push_back({"GET", pattern, 0, std::move(handler), std::move(quick), nullptr, access});
}

void HttpServer::Listener::Put(const std::string& pattern, uint64_t max_body, PutHandler handler,
                               RouteAccess access) {
  impl_->routes.push_back({"PUT", pattern, max_body, nullptr, nullptr, std::move(handler), access});
}

namespace {

// A POST body, collected whole for the route's Handler (its size was
// checked against the route's cap before the first byte was read).
class CollectSink : public BodySink {
 public:
  CollectSink(const HttpRequest& request, const Handler& handler) : request_(request), handler_(handler) {
    request_.body.reserve(static_cast<size_t>(request.content_length));
  }
  bool Write(const char* data, size_t size, HttpResponse&) override {
    request_.body.append(data, size);
    return true;
  }
  void Finish(HttpResponse& res) override { handler_(request_, res); }

 private:
  HttpRequest request_;  // a copy: the session's header lookup stays valid until the answer
  const Handler& handler_;
};

}  // namespace

void HttpServer::Listener::Post(const std::string& pattern, uint64_t max_body, Handler handler,
                                RouteAccess access) {
  auto shared = std::make_shared<Handler>(std::move(handler));
  PutHandler collect = [shared](const HttpRequest& req, HttpResponse& res) -> std::unique_ptr<BodySink> {
    if (req.content_length == 0) {
      (*shared)(req, res);
      return nullptr;
    }
    return std::make_unique<CollectSink>(req, *shared);
  };
  impl_->routes.push_back({"POST", pattern, max_body, nullptr, nullptr, std::move(collect), access});
}

int HttpServer::Listener::port() const { return impl_->bound_port; }

struct HttpServer::Impl {
  engine::Shared shared;
  std::vector<std::unique_ptr<Listener>> listeners;
  std::vector<std::unique_ptr<engine::IoThread>> io;
  std::vector<std::unique_ptr<boost::asio::steady_timer>> sweeps;
  std::unique_ptr<engine::WorkerPool> pool;
  size_t next_io = 0;
  std::atomic<bool> started{false};
  std::atomic<int64_t> stop_deadline{0};  // steady clock ticks; 0 = not stopping
  // Refused connections are logged at most every 10 s (acceptor thread).
  Clock::time_point last_refusal_log;
  uint64_t logged_refusals = 0;

  void Accept(Listener::Impl& l) {
    engine::IoThread& target = *io[next_io++ % io.size()];
    l.acceptor->async_accept(target.ctx, [this, &l, &target](const boost::system::error_code& ec,
                                                             tcp::socket socket) {
      if (ec == boost::asio::error::operation_aborted || !l.acceptor->is_open()) return;
      if (!ec) {
        Admit(target, l, std::move(socket));
        return Accept(l);
      }
      // Out of descriptors or memory: wait a little rather than spin.
      LogWarn("accept on port " + std::to_string(l.bound_port) + ": " + ec.message());
      auto pause = std::make_shared<boost::asio::steady_timer>(io[0]->ctx, std::chrono::milliseconds(100));
      pause->async_wait([this, &l, pause](const boost::system::error_code&) {
        if (l.acceptor->is_open()) Accept(l);
      });
    });
  }

  // On the acceptor's thread: applies the connection caps, then hands the
  // socket to its I/O thread.
  void Admit(engine::IoThread& target, Listener::Impl& l, tcp::socket socket) {
    const ServerOptions& o = shared.options;
    boost::system::error_code ec;
    auto endpoint = socket.remote_endpoint(ec);
    if (ec) return;
    std::string peer = endpoint.address().to_string();
    bool over_total = shared.connections_open >= static_cast<uint64_t>(o.max_connections);
    bool over_address = false;
    if (!over_total) {
      std::lock_guard<std::mutex> lock(shared.address_mu);
      int& n = shared.per_address[peer];
      over_address = n >= o.max_connections_per_address;
      if (!over_address) ++n;
    }
    if (over_total || over_address) {
      ++(over_total ? shared.refused_cap : shared.refused_address);
      socket.close(ec);
      LogRefusals();
      return;
    }
    ++shared.connections_open;
    ++shared.accepted;
    socket.set_option(tcp::no_delay(true), ec);
    boost::asio::post(target.ctx, [this, &target, &l, s = std::move(socket), p = std::move(peer)]() mutable {
      engine::StartSession(shared, target, l.routes, l.name, std::move(s), std::move(p));
    });
  }

  void LogRefusals() {
    auto now = Clock::now();
    if (now - last_refusal_log < std::chrono::seconds(10)) return;
    uint64_t total = shared.refused_cap + shared.refused_address;
    LogWarn(std::to_string(total - logged_refusals) + " connections closed at once since the last report: over max_connections (" +
            std::to_string(shared.options.max_connections) + ") or max_connections_per_address (" +
            std::to_string(shared.options.max_connections_per_address) + ")");
    logged_refusals = total;
    last_refusal_log = now;
  }

  bool stopping() const { return stop_deadline.load() != 0; }

  // On io[0], the acceptors' thread.
  void CloseAcceptors() {
    for (auto& l : listeners) {
      boost::system::error_code ec;
      if (l->impl_->acceptor) l->impl_->acceptor->close(ec);
    }
  }

  // Once a second on each I/O thread; while stopping, also at once.
  void Tick(size_t i) {
    engine::IoThread& t = *io[i];
    auto now = Clock::now();
    t.date = DateLine();
    bool force = stopping() && now.time_since_epoch().count() >= stop_deadline.load();
    engine::Sweep(t, now, stopping(), force);
    ++t.sweeps;
    if (stopping() && t.sessions.empty()) {
      sweeps[i]->cancel();  // nothing left: let this thread's loop end
      return;
    }
    sweeps[i]->expires_at(now + std::chrono::seconds(1));
    sweeps[i]->async_wait([this, i](const boost::system::error_code& ec) {
      if (!ec) Tick(i);
    });
  }
};

HttpServer::HttpServer(ServerOptions options) : impl_(new Impl) {
  impl_->shared.options = std::move(options);
  impl_->shared.client_certs = !impl_->shared.options.client_ca_file.empty();
}

HttpServer::~HttpServer() = default;

HttpServer::Listener& HttpServer::Listen(const std::string& host, int port, const std::string& name) {
  auto l = std::make_unique<Listener::Impl>();
  l->name = name;
  l->host = host;
  l->port = port;
  impl_->listeners.push_back(std::make_unique<Listener>(std::move(l)));
  return *impl_->listeners.back();
}

Status HttpServer::Start() {
  Impl& im = *impl_;
  const ServerOptions& o = im.shared.options;
  // OpenSSL writes to the socket with write(): a peer that has gone away
  // must be an error to handle, not SIGPIPE killing the process.
  ::signal(SIGPIPE, SIG_IGN);
  ASSIGN_OR_RETURN(SSL_CTX * tls, MakeTlsContext(o));
  im.shared.SetTls(tls);
  int threads = o.io_threads > 0 ? o.io_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) {
    im.io.push_back(std::make_unique<engine::IoThread>());
    im.io.back()->date = DateLine();
    im.sweeps.push_back(std::make_unique<boost::asio::steady_timer>(im.io.back()->ctx));
  }
  im.pool = std::make_unique<engine::WorkerPool>(o.workers, o.max_queued_work);
  im.shared.pool = im.pool.get();
  for (auto& listener : im.listeners) {
    Listener::Impl& l = *listener->impl_;
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(l.host, ec);
    if (ec) return InvalidArgument("listen address '" + l.host + "' is not an IP address");
    l.acceptor = std::make_unique<tcp::acceptor>(im.io[0]->ctx);
    tcp::endpoint endpoint(address, static_cast<uint16_t>(l.port));
    l.acceptor->open(endpoint.protocol(), ec);
    // SO_REUSEADDR only: SO_REUSEPORT would let a second beacon silently share the port.
    if (!ec) l.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) l.acceptor->bind(endpoint, ec);
    if (!ec) l.acceptor->listen(std::max(16, o.backlog), ec);
    if (ec) return Unavailable("cannot listen on " + l.host + ":" + std::to_string(l.port) + ": " + ec.message());
    l.bound_port = l.acceptor->local_endpoint().port();
    im.Accept(l);
  }
  im.started = true;
  return Status::Ok();
}

Status HttpServer::ReloadTls() {
  ASSIGN_OR_RETURN(SSL_CTX * tls, MakeTlsContext(impl_->shared.options));
  impl_->shared.SetTls(tls);
  ++impl_->shared.tls_reloads;
  LogInfo("TLS context reloaded: " + impl_->shared.options.cert_file +
          (impl_->shared.client_certs ? ", client CAs " + impl_->shared.options.client_ca_file : std::string()));
  return Status::Ok();
}

void HttpServer::Serve() {
  Impl& im = *impl_;
  if (!im.started) return;
  for (size_t i = 0; i < im.io.size(); ++i) {
    engine::IoThread& t = *im.io[i];
    t.on_empty = [&im, i] { im.sweeps[i]->cancel(); };
    boost::asio::post(t.ctx, [&im, i] { im.Tick(i); });
  }
  // A Stop() before Start() left the acceptors to close here.
  if (im.stopping()) boost::asio::post(im.io[0]->ctx, [&im] { im.CloseAcceptors(); });
  std::vector<std::thread> threads;
  for (size_t i = 1; i < im.io.size(); ++i) threads.emplace_back([&im, i] { im.io[i]->ctx.run(); });
  im.io[0]->ctx.run();
  for (auto& t : threads) t.join();
  im.pool->Join();
}

void HttpServer::Stop() {
  Impl& im = *impl_;
  int64_t deadline = (Clock::now() + im.shared.options.stop_timeout).time_since_epoch().count();
  int64_t expected = 0;
  if (!im.stop_deadline.compare_exchange_strong(expected, deadline)) return;
  im.shared.stopping = true;
  if (!im.started) return;
  boost::asio::post(im.io[0]->ctx, [&im] { im.CloseAcceptors(); });
  for (size_t i = 0; i < im.io.size(); ++i) boost::asio::post(im.io[i]->ctx, [&im, i] { im.Tick(i); });
}

ServerStats HttpServer::stats() const {
  const engine::Shared& s = impl_->shared;
  ServerStats out;
  out.connections_open = s.connections_open;
  out.connections_accepted = s.accepted;
  out.refused_connection_cap = s.refused_cap;
  out.refused_address_cap = s.refused_address;
  out.handshakes_full = s.handshakes_full;
  out.handshakes_resumed = s.handshakes_resumed;
  out.requests = s.requests;
  out.busy_503 = s.busy;
  out.timeouts = s.timeouts;
  out.slow_bodies = s.slow_bodies;
  out.refused_identity = s.refused_identity;
  out.refused_admission = s.refused_admission;
  out.tls_reloads = s.tls_reloads;
  for (size_t i = 0; i < impl_->io.size(); ++i) {
    const uint64_t n = impl_->io[i]->sweeps;
    out.sweeps = i == 0 ? n : std::min(out.sweeps, n);
  }
  return out;
}

}  // namespace common
