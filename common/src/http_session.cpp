// The server engine's connection (http_session.h): its start, the sweep's
// deadlines, the TLS handshake, the request head and the route's handler.
#include <openssl/err.h>

#include <boost/asio/post.hpp>
#include <boost/beast/http/status.hpp>
#include <ctime>
#include <memory>

#include "common/config.h"
#include "common/identity.h"
#include "common/log.h"
#include "http_engine.h"
#include "http_session.h"

namespace common::engine {

Session::~Session() {
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

void Session::Start() {
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

void Session::Expire(Clock::time_point now, bool stopping, bool force) {
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

void Session::WaitFor(int error, Step next) {
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

void Session::Handshake() {
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

void Session::Identify() {
  PeerVerdict v = JudgePeer(ssl_, verify_error_);
  identity_ = std::move(v.identity);
  identity_error_ = std::move(v.error);
  cert_serial_ = std::move(v.serial);
}

void Session::ReadHead() {
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

bool Session::TryParseHead() {
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

void Session::OnHead() {
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

bool Session::RunQuick() {
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

void Session::RunHandler() {
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

void Session::OnHandled() {
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
