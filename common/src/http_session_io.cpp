// The server engine's connection (http_session.h), after the head: the
// request body streamed to the route's sink, the answer, the next request
// on a kept-alive connection, and the closing (lingering or not).
#include <openssl/err.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/beast/http/status.hpp>
#include <cstring>
#include <memory>

#include "common/log.h"
#include "http_engine.h"
#include "http_session.h"

namespace common::engine {

void Session::StartBody() {
  phase_ = Phase::kBody;
  progress_mark_ = Clock::now();
  progress_ = 0;
  ReadBody();
}

void Session::Progress(size_t n) {
  remaining_ -= n;
  progress_ += n;
  if (progress_ >= shared_.options.min_body_rate * static_cast<uint64_t>(shared_.options.body_timeout.count())) {
    progress_mark_ = Clock::now();
    progress_ = 0;
  }
}

void Session::ReadBody() {
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

void Session::FlushBody() {
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

void Session::OnBodyWritten(bool ok, bool last) {
  if (phase_ == Phase::kClosed) return;
  if (!ok) return Respond(response_, true);
  if (last) {
    std::string().swap(chunk_);
    return Respond(response_, response_.status >= 400);
  }
  filled_ = 0;
  StartBody();
}

void Session::DropSink() {
  if (!sink_) return;
  shared_.pool->Post([s = std::shared_ptr<BodySink>(std::move(sink_))] {});
}

void Session::Answer(int status, const std::string& message, bool linger) {
  HttpResponse res;
  res.status = status;
  res.body = "error: " + message + "\n";
  Respond(res, true, linger);
}

void Session::Respond(const HttpResponse& res, bool close, bool linger) {
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

void Session::SendBytes(std::string bytes, bool close, bool linger) {
  out_ = std::move(bytes);
  written_ = 0;
  close_after_ = close;
  linger_ = linger;
  phase_ = Phase::kWrite;
  deadline_ = Clock::now() + shared_.options.write_timeout;
  Write();
}

void Session::Write() {
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

void Session::NextRequest() {
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

void Session::Linger() {
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

void Session::Shutdown() {
  ERR_clear_error();
  SSL_shutdown(ssl_);  // best effort: one close_notify, no wait for the peer's
  Close();
}

void Session::Close() {
  phase_ = Phase::kClosed;
  boost::system::error_code ec;
  socket_.close(ec);
}

}  // namespace common::engine
