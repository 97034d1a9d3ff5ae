// One connection of the server engine (private to common/src): TLS with
// OpenSSL on the non-blocking socket (asio only tells us when the socket is
// ready), the request head parsed by Beast, the body streamed to the route's
// sink on the worker pool. The connection's phases live in two files:
// http_session.cpp (handshake, request head, handler) and
// http_session_io.cpp (body, answer, closing).
//
// A session lives on one I/O thread and is touched only there, except for
// the handler, sink, request and response while a worker runs them (phase
// kWork: the I/O thread leaves them alone until the worker posts back).
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http_engine.h"

namespace common::engine {

namespace http = boost::beast::http;

inline constexpr size_t kChunk = 128 * 1024;  // body bytes handed to a sink at once (a 100 KiB upload: one call)
inline constexpr auto kLingerGap = std::chrono::seconds(5);     // lingering close: longest silence
inline constexpr auto kLingerTotal = std::chrono::seconds(30);  // lingering close: longest in all

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

  ~Session();

  void Start();

  // Called by the sweep once a second.
  void Expire(Clock::time_point now, bool stopping, bool force);

 private:
  enum class Phase { kHandshake, kIdle, kHead, kWork, kBody, kWrite, kLinger, kClosed };
  using Step = void (Session::*)();

  // ---- readiness -------------------------------------------------------

  // Waits until the socket is ready for what OpenSSL asked (`error` from
  // SSL_get_error), then runs `next`; any other error closes.
  void WaitFor(int error, Step next);

  void Handshake();

  // Once per connection, after the handshake: who the peer is (identity_)
  // or why we do not know (identity_error_), from the certificate's serial.
  void Identify();

  // ---- request head ----------------------------------------------------

  void ReadHead();

  // Parses what has arrived. True when the session moved on (a request to
  // handle or an answer to send); false when more bytes are needed.
  bool TryParseHead();

  void OnHead();

  // On this I/O thread: the route's quick handler. False: run the handler.
  bool RunQuick();

  // On a worker: the route's handler.
  void RunHandler();

  void OnHandled();

  // ---- request body ----------------------------------------------------

  void StartBody();

  void Progress(size_t n);

  void ReadBody();

  // Hands the filled chunk to the sink on a worker (reading pauses), or
  // answers a dropped body.
  void FlushBody();

  void OnBodyWritten(bool ok, bool last);

  // Destroys the sink on a worker (it may remove files).
  void DropSink();

  // ---- response ----------------------------------------------------------

  // A refusal the engine makes itself: it always closes, by default with a
  // lingering close.
  void Answer(int status, const std::string& message, bool linger = true);

  // Sends an answer. An answer >= 400 closes; with `linger`, the bytes the
  // sender may still be writing are read and dropped for a while first, so
  // it gets to read the answer instead of a reset.
  void Respond(const HttpResponse& res, bool close, bool linger = true);

  void SendBytes(std::string bytes, bool close, bool linger);

  void Write();

  void NextRequest();

  // ---- closing -----------------------------------------------------------

  void Linger();

  void Shutdown();

  void Close();

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

}  // namespace common::engine
