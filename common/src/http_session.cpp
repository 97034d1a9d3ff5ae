// One connection of the server engine: TLS with OpenSSL on the non-blocking
// socket (asio only tells us when the socket is ready), the request head
// parsed by Beast, the body streamed to the route's sink on the worker pool.
//
// A session lives on one I/O thread and is touched only there, except for
// the handler, sink, request and response while a worker runs them (phase
// kWork: the I/O thread leaves them alone until the worker posts back).
#include <openssl/err.h>
#include <openssl/x509.h>

#include <boost/asio/post.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>

#include "common/config.h"
#include "common/identity.h"
#include "common/log.h"
#include "http_engine.h"

namespace common::engine {
namespace {

namespace http = boost::beast::http;

constexpr size_t kChunk = 128 * 1024;  // body bytes handed to a sink at once (a 100 KiB upload: one call)
constexpr auto kLingerGap = std::chrono::seconds(5);     // lingering close: longest silence
constexpr auto kLingerTotal = std::chrono::seconds(30);  // lingering close: longest in all

}  // namespace

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Shared& shared, IoThread& io, const std::vector<Route>& routes, const std::string& listener,
          tcp::socket socket, std::string peer)
      : shared_(shared),
        io_(io),
        routes_(routes),
        listener_(listener),
        socket_(std::move(socket)),
        peer_(std::move(peer)) {
    it_ = io_.sessions.insert(io_.sessions.end(), this);
  }

  ~Session() {
    DropSink();
    if (ssl_ != nullptr) {
      // A connection that ended without close_notify must not take its
      // session out of the cache: the client may still resume it.
      SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
      SSL_free(ssl_);
    }
    io_.sessions.erase(it_);
    --shared_.connections_open;
    shared_.Release(peer_);
    if (shared_.stopping && io_.sessions.empty() && io_.on_empty) io_.on_empty();
  }

  void Start() {
    if (shared_.stopping) return Close();  // accepted just before the acceptor closed
    boost::system::error_code ec;
    socket_.non_blocking(true, ec);
    if (ec) return Close();
    phase_ = Phase::kHandshake;
    deadline_ = Clock::now() + shared_.options.handshake_timeout;
    // No TLS state until the client speaks: a handshake waiting for its
    // ClientHello holds OpenSSL's buffers (tens of KiB), a silent
    // connection only its socket.
    WaitFor(SSL_ERROR_WANT_READ, &Session::Handshake);
  }

  // Called by the sweep once a second.
  void Expire(Clock::time_point now, bool stopping, bool force) {
    if (phase_ == Phase::kClosed) return;
    if (force) return Close();
    // Stopping closes every connection with no request under way.
    bool waiting = phase_ == Phase::kIdle || phase_ == Phase::kHandshake || (phase_ == Phase::kHead && in_.empty());
    if (stopping && waiting) return Close();
    switch (phase_) {
      case Phase::kWork: return;  // ours to finish, not the peer's
      case Phase::kBody:
        if (now - progress_mark_ >= shared_.options.body_timeout) {
          ++shared_.timeouts;
          ++shared_.slow_bodies;
          LogDebug("body from " + peer_ + " slower than min_body_rate: cut");
          DropSink();
          // No lingering for a peer this slow: answer and close.
          remaining_ = 0;
          return Answer(408, "the body arrived slower than the server's minimum rate; send it again", false);
        }
        return;
      default: break;
    }
    if (now >= deadline_) {
      if (phase_ != Phase::kLinger) ++shared_.timeouts;
      Close();
    }
  }

 private:
  enum class Phase { kHandshake, kIdle, kHead, kWork, kBody, kWrite, kLinger, kClosed };
  using Step = void (Session::*)();

  // ---- readiness -------------------------------------------------------

  // Waits until the socket is ready for what OpenSSL asked (`error` from
  // SSL_get_error), then runs `next`; any other error closes.
  void WaitFor(int error, Step next) {
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) return Close();
    auto what = error == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write;
    // A wait left behind when the sweep changed course (a slow body cut
    // while its read was pending) must not run its step: only the newest does.
    uint64_t generation = ++waits_;
    socket_.async_wait(what, [self = shared_from_this(), next, generation](const boost::system::error_code& ec) {
      if (ec || self->phase_ == Phase::kClosed || self->waits_ != generation) return;
      ((*self).*next)();
    });
  }

  void Handshake() {
    if (ssl_ == nullptr) {
      ssl_ = shared_.NewSsl();
      if (ssl_ == nullptr || SSL_set_fd(ssl_, socket_.native_handle()) != 1) return Close();
      SSL_set_app_data(ssl_, &verify_error_);  // for the verify callback (http_server.cpp)
      SSL_set_accept_state(ssl_);
    }
    ERR_clear_error();
    int r = SSL_do_handshake(ssl_);
    if (r != 1) return WaitFor(SSL_get_error(ssl_, r), &Session::Handshake);
    ++(SSL_session_reused(ssl_) ? shared_.handshakes_resumed : shared_.handshakes_full);
    if (shared_.client_certs) Identify();
    // The first request must follow the handshake promptly.
    phase_ = Phase::kHead;
    deadline_ = Clock::now() + shared_.options.header_timeout;
    ReadHead();
  }

  // Once per connection, after the handshake: who the peer is (identity_)
  // or why we do not know (identity_error_), from the certificate's serial.
  void Identify() {
    PeerVerdict v = JudgePeer(ssl_, verify_error_);
    identity_ = std::move(v.identity);
    identity_error_ = std::move(v.error);
    cert_serial_ = std::move(v.serial);
  }

  // ---- request head ----------------------------------------------------

  void ReadHead() {
    for (;;) {
      if (TryParseHead()) return;
      char buf[16384];
      size_t n = 0;
      ERR_clear_error();
      int r = SSL_read_ex(ssl_, buf, sizeof buf, &n);
      if (r != 1) return WaitFor(SSL_get_error(ssl_, r), &Session::ReadHead);
      if (phase_ == Phase::kIdle) {
        phase_ = Phase::kHead;
        deadline_ = Clock::now() + shared_.options.header_timeout;
      }
      in_.append(buf, n);
    }
  }

  // Parses what has arrived. True when the session moved on (a request to
  // handle or an answer to send); false when more bytes are needed.
  bool TryParseHead() {
    if (in_.empty()) return false;
    if (!parser_) {
      started_ = Clock::now();
      parser_.emplace();
      parser_->header_limit(static_cast<uint32_t>(shared_.options.max_header_bytes));
      parser_->eager(false);
      parser_->body_limit(boost::none);  // the route's cap is checked in OnHead
    }
    boost::beast::error_code ec;
    size_t used = parser_->put(boost::asio::buffer(in_.data() + parsed_, in_.size() - parsed_), ec);
    parsed_ += used;
    // The request line and the fields together: in_ starts with this
    // request (Beast applies header_limit to each part on its own).
    if (ec == http::error::need_more || (!ec && !parser_->is_header_done())) {
      if (in_.size() <= shared_.options.max_header_bytes) return false;
      ec = http::error::header_limit;
    }
    if (!ec && parsed_ > shared_.options.max_header_bytes) ec = http::error::header_limit;
    if (ec == http::error::header_limit) {
      size_t line_end = in_.find("\r\n");
      if (line_end == std::string::npos || line_end > shared_.options.max_header_bytes) {
        Answer(414, "request line too long");
      } else {
        Answer(431, "request header block too large");
      }
      return true;
    }
    if (ec) {
      Answer(400, "malformed request");
      return true;
    }
    OnHead();
    return true;
  }

  void OnHead() {
    ++shared_.requests;
    const auto& msg = parser_->get();
    const ServerOptions& o = shared_.options;
    keep_alive_ = msg.keep_alive();
    head_only_ = msg.method() == http::verb::head;  // refusals of a HEAD too are headers alone
    size_t count = 0;
    for (const auto& f : msg) {
      if (++count > o.max_headers) return Answer(431, "too many header fields");
      if (HasEncodedControl(f.value())) return Answer(400, "control character in a header value");
    }
    if (msg.method() == http::verb::unknown) return Answer(400, "unknown method");
    std::string method(msg.method_string());
    method_ = method;
    bool with_body = msg.method() == http::verb::put || msg.method() == http::verb::post;
    if (msg.find(http::field::transfer_encoding) != msg.end()) {
      return Answer(with_body ? 411 : 400, "Transfer-Encoding is not accepted; send Content-Length");
    }
    if (msg.find(http::field::content_encoding) != msg.end()) {
      return Answer(415, "request Content-Encoding is not accepted");
    }
    std::string target(msg.target());
    size_t mark = target.find('?');
    std::string path = target.substr(0, mark);
    // Segments are matched literally and no route takes an encoded or
    // unusual character, so such a path is no route's ("..%2F" included).
    if (path.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/") !=
        std::string::npos) {
      return Answer(404, "no such endpoint");
    }
    std::vector<std::string> params;
    int status = 0;
    std::string allow;
    route_ = FindRoute(routes_, method, path, &params, &status, &allow);
    if (route_ == nullptr) {
      extra_ = status == 405 ? "Allow: " + allow + "\r\n" : "";
      return Answer(status, status == 404 ? "no such endpoint" : "method not allowed");
    }
    // Who, before how much: an unidentified peer learns nothing about sizes.
    if (shared_.client_certs) {
      Refusal no = Admit(shared_, route_->access, identity_.get(), identity_error_, cert_serial_, {method, path, peer_});
      if (no.status != 0) return Answer(no.status, no.message);
    }
    int64_t length = 0;
    Refusal bad = CheckLength(route_->method == "GET", msg.count(http::field::content_length),
                              std::string(msg[http::field::content_length]), route_->max_body, &length);
    if (bad.status != 0) return Answer(bad.status, bad.message);
    expect_continue_ = with_body && boost::beast::iequals(msg[http::field::expect], "100-continue");
    remaining_ = static_cast<uint64_t>(length);
    request_ = HttpRequest{method,  path, mark == std::string::npos ? std::string() : target.substr(mark + 1),
                           std::move(params), peer_, remaining_, identity_.get(), identity_error_, nullptr, {}};
    request_.header = [this](const std::string& name) {
      auto it = parser_->get().find(name);
      return it == parser_->get().end() ? std::string() : std::string(it->value());
    };
    response_ = HttpResponse{};
    if (route_->quick && RunQuick()) return Respond(response_, response_.status >= 400);
    phase_ = Phase::kWork;
    bool queued = shared_.pool->TryPost([self = shared_from_this()]() mutable {
      self->RunHandler();
      IoThread& io = self->io_;
      boost::asio::post(io.ctx, [s = std::move(self)] { s->OnHandled(); });
    });
    if (!queued) {
      ++shared_.busy;
      HttpResponse busy{503, "text/plain", "error: the server is too busy\n", {}};
      busy.Set("Retry-After", std::to_string(shared_.options.retry_after_s));
      Respond(busy, true);
    }
  }

  // On this I/O thread: the route's quick handler. False: run the handler.
  bool RunQuick() {
    try {
      if (route_->quick(request_, response_)) return true;
    } catch (const std::exception& e) {
      LogError(std::string("handler exception: ") + e.what());
      response_ = HttpResponse{500, "text/plain", "error: internal error\n", {}};
      return true;
    }
    response_ = HttpResponse{};
    if (route_->handler) return false;
    response_ = HttpResponse{500, "text/plain", "error: internal error\n", {}};
    return true;
  }

  // On a worker: the route's handler.
  void RunHandler() {
    try {
      if (route_->method == "GET") {
        route_->handler(request_, response_);
      } else {
        sink_ = route_->put_handler(request_, response_);
      }
    } catch (const std::exception& e) {
      LogError(std::string("handler exception: ") + e.what());
      sink_.reset();
      response_ = HttpResponse{500, "text/plain", "error: internal error\n", {}};
    } catch (...) {
      LogError("handler exception of unknown type");
      sink_.reset();
      response_ = HttpResponse{500, "text/plain", "error: internal error\n", {}};
    }
  }

  void OnHandled() {
    if (phase_ == Phase::kClosed) return;
    if (route_->method == "GET" || remaining_ == 0) {
      if (sink_) return FlushBody();  // an empty body: Finish() at once
      return Respond(response_, response_.status >= 400);
    }
    if (sink_ || response_.status < 400) {
      // Invited: the body goes to the sink, or is read and dropped before
      // an answer such as "already stored".
      if (sink_) chunk_.resize(static_cast<size_t>(std::min<uint64_t>(remaining_, kChunk)));
      if (expect_continue_) {
        out_ = "HTTP/1.1 100 Continue\r\n\r\n";
        written_ = 0;
        after_continue_ = true;
        phase_ = Phase::kWrite;
        deadline_ = Clock::now() + shared_.options.write_timeout;
        return Write();
      }
      return StartBody();
    }
    Respond(response_, true);  // refused before the body: never invited
  }

  // ---- request body ----------------------------------------------------

  void StartBody() {
    phase_ = Phase::kBody;
    progress_mark_ = Clock::now();
    progress_ = 0;
    ReadBody();
  }

  void Progress(size_t n) {
    remaining_ -= n;
    progress_ += n;
    if (progress_ >= shared_.options.min_body_rate * static_cast<uint64_t>(shared_.options.body_timeout.count())) {
      progress_mark_ = Clock::now();
      progress_ = 0;
    }
  }

  void ReadBody() {
    // Bytes that came with the head.
    if (parsed_ < in_.size() && remaining_ > 0) {
      size_t k = static_cast<size_t>(std::min<uint64_t>(remaining_, in_.size() - parsed_));
      if (sink_) k = std::min(k, chunk_.size() - filled_);
      if (sink_) std::memcpy(chunk_.data() + filled_, in_.data() + parsed_, k);
      filled_ += sink_ ? k : 0;
      parsed_ += k;
      Progress(k);
    }
    for (;;) {
      if (remaining_ == 0 || (sink_ && filled_ == chunk_.size())) return FlushBody();
      char scratch[16384];
      char* dst = sink_ ? chunk_.data() + filled_ : scratch;
      size_t room = sink_ ? chunk_.size() - filled_ : sizeof scratch;
      size_t want = static_cast<size_t>(std::min<uint64_t>(remaining_, room));
      size_t n = 0;
      ERR_clear_error();
      int r = SSL_read_ex(ssl_, dst, want, &n);
      if (r != 1) {
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return WaitFor(e, &Session::ReadBody);
        DropSink();  // the peer went away mid-body
        return Close();
      }
      if (sink_) filled_ += n;
      Progress(n);
    }
  }

  // Hands the filled chunk to the sink on a worker (reading pauses), or
  // answers a dropped body.
  void FlushBody() {
    if (!sink_) return Respond(response_, response_.status >= 400);
    phase_ = Phase::kWork;
    bool last = remaining_ == 0;
    shared_.pool->Post([self = shared_from_this(), last]() mutable {
      bool ok = true;
      try {
        ok = self->filled_ == 0 || self->sink_->Write(self->chunk_.data(), self->filled_, self->response_);
        if (ok && last) self->sink_->Finish(self->response_);
      } catch (const std::exception& e) {
        LogError(std::string("body sink exception: ") + e.what());
        ok = false;
        self->response_ = HttpResponse{500, "text/plain", "error: internal error\n", {}};
      }
      if (!ok || last) self->sink_.reset();
      IoThread& io = self->io_;
      boost::asio::post(io.ctx, [s = std::move(self), ok, last] { s->OnBodyWritten(ok, last); });
    });
  }

  void OnBodyWritten(bool ok, bool last) {
    if (phase_ == Phase::kClosed) return;
    if (!ok) return Respond(response_, true);
    if (last) {
      std::string().swap(chunk_);
      return Respond(response_, response_.status >= 400);
    }
    filled_ = 0;
    StartBody();
  }

  // Destroys the sink on a worker (it may remove files).
  void DropSink() {
    if (!sink_) return;
    shared_.pool->Post([s = std::shared_ptr<BodySink>(std::move(sink_))] {});
  }

  // ---- response ----------------------------------------------------------

  // A refusal the engine makes itself: it always closes, by default with a
  // lingering close.
  void Answer(int status, const std::string& message, bool linger = true) {
    HttpResponse res;
    res.status = status;
    res.body = "error: " + message + "\n";
    Respond(res, true, linger);
  }

  // Sends an answer. An answer >= 400 closes; with `linger`, the bytes the
  // sender may still be writing are read and dropped for a while first, so
  // it gets to read the answer instead of a reset.
  void Respond(const HttpResponse& res, bool close, bool linger = true) {
    for (const auto& [k, v] : res.headers) {
      if (!SafeHeaderText(k) || !SafeHeaderText(v) || k.empty()) {
        LogError("a handler set a header with a line break; answering 500");
        return Respond(HttpResponse{500, "text/plain", "error: internal error\n", {}}, true, linger);
      }
    }
    close = close || !keep_alive_ || shared_.stopping ||
            ++served_ >= static_cast<uint64_t>(shared_.options.keep_alive_max_requests);
    std::string out;
    out.reserve(256 + (head_only_ ? 0 : res.body.size()));
    out += "HTTP/1.1 ";
    out += std::to_string(res.status);
    out += ' ';
    out += http::obsolete_reason(static_cast<http::status>(res.status));
    out += "\r\n";
    out += io_.date;
    bool has_body = res.status >= 200 && res.status != 204 && res.status != 304;
    if (has_body) {
      out += "Content-Type: " + res.content_type + "\r\nContent-Length: " + std::to_string(res.body.size()) + "\r\n";
    } else if (res.status == 304) {
      // cpp-httplib 0.11.4, our own client, reads a 304 without a length
      // until the connection closes: it must be told there is nothing.
      out += "Content-Length: 0\r\n";
    }
    for (const auto& [k, v] : res.headers) out += k + ": " + v + "\r\n";
    out += extra_;
    if (close) out += "Connection: close\r\n";
    out += "\r\n";
    if (has_body && !head_only_) out += res.body;
    if (shared_.options.observe) {
      static const std::string kNone;
      shared_.options.observe(RequestRecord{listener_, route_ != nullptr ? route_->pattern : kNone, method_,
                                            res.status,
                                            std::chrono::duration<double>(Clock::now() - started_).count()});
    }
    SendBytes(std::move(out), close, close && linger && res.status >= 400);
  }

  void SendBytes(std::string bytes, bool close, bool linger) {
    out_ = std::move(bytes);
    written_ = 0;
    close_after_ = close;
    linger_ = linger;
    phase_ = Phase::kWrite;
    deadline_ = Clock::now() + shared_.options.write_timeout;
    Write();
  }

  void Write() {
    while (written_ < out_.size()) {
      size_t n = 0;
      ERR_clear_error();
      int r = SSL_write_ex(ssl_, out_.data() + written_, out_.size() - written_, &n);
      if (r != 1) return WaitFor(SSL_get_error(ssl_, r), &Session::Write);
      written_ += n;
    }
    std::string().swap(out_);
    if (after_continue_) {
      after_continue_ = false;
      return StartBody();
    }
    if (close_after_) return linger_ ? Linger() : Shutdown();
    NextRequest();
  }

  void NextRequest() {
    in_.erase(0, parsed_);
    if (in_.empty()) std::string().swap(in_);  // an idle connection holds no buffer
    parsed_ = 0;
    filled_ = 0;
    parser_.reset();
    extra_.clear();
    route_ = nullptr;
    method_.clear();
    head_only_ = false;
    expect_continue_ = false;
    request_ = HttpRequest{};
    response_ = HttpResponse{};
    phase_ = in_.empty() ? Phase::kIdle : Phase::kHead;
    deadline_ = Clock::now() + (in_.empty() ? shared_.options.keep_alive_timeout : shared_.options.header_timeout);
    ReadHead();
  }

  // ---- closing -----------------------------------------------------------

  void Linger() {
    if (phase_ != Phase::kLinger) {
      SSL_shutdown(ssl_);  // close_notify after the answer; reading goes on
      phase_ = Phase::kLinger;
      linger_end_ = Clock::now() + kLingerTotal;
      deadline_ = Clock::now() + kLingerGap;
    }
    for (;;) {
      char scratch[16384];
      size_t n = 0;
      ERR_clear_error();
      int r = SSL_read_ex(ssl_, scratch, sizeof scratch, &n);
      if (r != 1) {
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return WaitFor(e, &Session::Linger);
        return Close();  // the sender closed: it has read the answer
      }
      deadline_ = std::min(linger_end_, Clock::now() + kLingerGap);
    }
  }

  void Shutdown() {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // best effort: one close_notify, no wait for the peer's
    Close();
  }

  void Close() {
    phase_ = Phase::kClosed;
    boost::system::error_code ec;
    socket_.close(ec);
  }

  Shared& shared_;
  IoThread& io_;
  const std::vector<Route>& routes_;
  const std::string& listener_;
  tcp::socket socket_;
  std::string peer_;
  std::list<Session*>::iterator it_;
  SSL* ssl_ = nullptr;
  int verify_error_ = X509_V_OK;  // the client certificate's first verification failure
  std::unique_ptr<PeerIdentity> identity_;  // with client_certs: the verified identity, or null
  std::string identity_error_;  // and why it is null
  std::string cert_serial_;     // the presented certificate's serial ("": none), for logs
  Phase phase_ = Phase::kHandshake;
  Clock::time_point deadline_;
  uint64_t waits_ = 0;  // generation of the newest socket wait

  std::string in_;     // received head bytes (and whatever followed them)
  size_t parsed_ = 0;  // bytes of in_ consumed
  std::optional<http::request_parser<http::empty_body>> parser_;
  const Route* route_ = nullptr;
  std::string method_;              // of the request being answered, for observe
  Clock::time_point started_;       // its first byte
  HttpRequest request_;
  HttpResponse response_;
  std::unique_ptr<BodySink> sink_;
  bool keep_alive_ = true;
  bool head_only_ = false;
  bool expect_continue_ = false;
  uint64_t served_ = 0;
  std::string extra_;  // engine header lines for the next answer (Allow)

  uint64_t remaining_ = 0;  // body bytes not yet read
  std::string chunk_;       // body bytes for the sink
  size_t filled_ = 0;
  Clock::time_point progress_mark_;  // body: when it last advanced by min_body_rate * body_timeout
  uint64_t progress_ = 0;

  std::string out_;
  size_t written_ = 0;
  bool close_after_ = false;
  bool linger_ = false;
  bool after_continue_ = false;
  Clock::time_point linger_end_;
};

void StartSession(Shared& shared, IoThread& io, const std::vector<Route>& routes, const std::string& listener,
                  tcp::socket socket, std::string peer) {
  std::make_shared<Session>(shared, io, routes, listener, std::move(socket), std::move(peer))->Start();
}

void Sweep(IoThread& io, Clock::time_point now, bool stopping, bool force) {
  // Expire() only closes sockets; sessions leave the list later, from
  // their aborted waits, so iterating here is safe.
  for (Session* s : io.sessions) s->Expire(now, stopping, force);
}

}  // namespace common::engine
