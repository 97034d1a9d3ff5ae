// The server engine under pressure: deadlines, minimum body rate, connection
// caps, a saturated worker pool, lingering close, TLS settings, stopping.
// No timing assertions: deadlines are short and the checks generous.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <future>
#include <memory>
#include <thread>

#include "common/http_client.h"
#include "common/http_server.h"
#include "support/test_server.h"
#include "support/tls_raw.h"
#include "support/wait.h"

using std::chrono::seconds;
using testing_support::FirstStatus;
using testing_support::TestServer;
using testing_support::TlsConn;
using testing_support::TlsExchange;
using testing_support::WaitUntil;

namespace {

const std::string kHost = "Host: 127.0.0.1\r\n";

std::string PutHead(const std::string& path, size_t length, const std::string& extra = "") {
  return "PUT " + path + " HTTP/1.1\r\n" + kHost + "Content-Length: " + std::to_string(length) + "\r\n" + extra +
         "\r\n";
}

// A plain TCP connection (no TLS at all): what an idle or slow attacker holds.
struct TcpConn {
  int fd = -1;
  explicit TcpConn(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ~TcpConn() {
    if (fd >= 0) ::close(fd);
  }
  // True when the server has closed its side (read returns 0 or an error).
  bool ClosedByServer(int wait_ms) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, wait_ms) <= 0) return false;
    char c;
    return ::recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
  }
};

common::ServerOptions Fast() {
  common::ServerOptions o = TestServer::Options();
  o.handshake_timeout = seconds(1);
  o.header_timeout = seconds(1);
  o.keep_alive_timeout = seconds(1);
  o.body_timeout = seconds(1);
  return o;
}

}  // namespace

TEST_CASE("a head that trickles in past header_timeout is closed unanswered") {
  TestServer s(Fast());
  TlsConn c(s.port());
  REQUIRE(c.ok());
  REQUIRE(c.Send("GET /v1/things/a HTTP/1.1\r\n"));
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    if (!c.Send("X-Slow: " + std::to_string(i) + "\r\n")) break;
  }
  auto r = c.Read(3000);
  CHECK(r.closed);
  CHECK(r.data.empty());
  CHECK(s.get_calls == 0);
  CHECK(s.server.stats().timeouts >= 1);
}

TEST_CASE("a connection that never finishes its TLS handshake is closed") {
  TestServer s(Fast());
  TcpConn c(s.port());
  REQUIRE(c.fd >= 0);
  CHECK(WaitUntil([&] { return c.ClosedByServer(100); }, seconds(10)));
  CHECK(s.server.stats().timeouts >= 1);
}

TEST_CASE("an idle keep-alive connection is closed after keep_alive_timeout") {
  TestServer s(Fast());
  TlsConn c(s.port());
  REQUIRE(c.Send("GET /v1/things/a HTTP/1.1\r\n" + kHost + "\r\n"));
  auto r = c.Read(4000);
  CHECK(FirstStatus(r.data) == 200);
  CHECK(r.closed);
}

TEST_CASE("a body slower than min_body_rate is cut with 408 and its sink is destroyed") {
  TestServer s(Fast());  // 1 KiB/s over 1 s
  TlsConn c(s.port());
  REQUIRE(c.Send(PutHead("/v1/big/x", 100000) + std::string(100, 'a')));
  REQUIRE(WaitUntil([&] { return s.open_sinks == 1; }, seconds(5)));
  for (int i = 0; i < 6; ++i) {  // 10 bytes a second: far below the rate
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    if (!c.Send(std::string(5, 'b'))) break;
  }
  auto r = c.Read(3000);
  CHECK(FirstStatus(r.data) == 408);
  CHECK(r.closed);
  CHECK(WaitUntil([&] { return s.open_sinks == 0; }, seconds(5)));
  CHECK(s.server.stats().slow_bodies == 1);
}

TEST_CASE("a body at a steady rate above min_body_rate is received whole") {
  TestServer s(Fast());
  TlsConn c(s.port());
  REQUIRE(c.Send(PutHead("/v1/big/x", 6 * 2048)));
  for (int i = 0; i < 6; ++i) {  // 2 KiB every 0.4 s: 5 KiB/s
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    REQUIRE(c.Send(std::string(2048, 'c')));
  }
  auto r = c.Read(2000);
  CHECK(FirstStatus(r.data) == 201);
  CHECK(s.put_bytes == 6 * 2048);
}

TEST_CASE("connections over the per-address cap are closed at once and counted") {
  common::ServerOptions o = TestServer::Options();
  o.max_connections_per_address = 3;
  TestServer s(o);
  std::vector<std::unique_ptr<TlsConn>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<TlsConn>(s.port()));
    REQUIRE(held.back()->ok());
  }
  TlsConn over(s.port());
  CHECK_FALSE(over.ok());
  CHECK(s.server.stats().refused_address_cap == 1);
  held.pop_back();  // a slot frees when a connection closes
  CHECK(WaitUntil([&] { return TlsConn(s.port()).ok(); }, seconds(5)));
}

TEST_CASE("connections over the global cap are closed at once and counted") {
  common::ServerOptions o = TestServer::Options();
  o.max_connections = 2;
  TestServer s(o);
  TlsConn a(s.port()), b(s.port());
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  TlsConn over(s.port());
  CHECK_FALSE(over.ok());
  CHECK(s.server.stats().refused_connection_cap == 1);
  // The held connections are still served.
  REQUIRE(a.Send("GET /v1/things/a HTTP/1.1\r\n" + kHost + "\r\n"));
  CHECK(FirstStatus(a.Read(500).data) == 200);
}

TEST_CASE("a saturated worker pool answers 503 with Retry-After at once") {
  common::ServerOptions o = TestServer::Options();
  o.workers = 1;
  o.max_queued_work = 0;
  o.retry_after_s = 9;
  TestServer s(o);
  TlsConn blocker(s.port());
  REQUIRE(blocker.Send("GET /v1/wait HTTP/1.1\r\n" + kHost + "\r\n"));
  REQUIRE(WaitUntil([&] { return s.waiting == 1; }, seconds(5)));
  auto r = TlsExchange(s.port(), "GET /v1/things/a HTTP/1.1\r\n" + kHost + "\r\n");
  CHECK(FirstStatus(r.data) == 503);
  CHECK(r.data.find("Retry-After: 9\r\n") != std::string::npos);
  // Our own senders read it whole (its Content-Length is right).
  common::ClientOptions co;
  co.url = "https://127.0.0.1:" + std::to_string(s.port());
  co.ca_file = std::string(TEST_CERT_DIR) + "/ca.pem";
  auto client = common::HttpClient::Create(co);
  REQUIRE(client.ok());
  auto res = (*client)->Get("/v1/things/a", {});
  REQUIRE(res.ok());
  CHECK(res->status == 503);
  CHECK(res->body == "error: the server is too busy\n");
  CHECK(s.server.stats().busy_503 == 2);
  s.release();
  CHECK(FirstStatus(blocker.Read(1000).data) == 200);
  // Free again: served.
  CHECK(FirstStatus(TlsExchange(s.port(), "GET /v1/things/a HTTP/1.1\r\n" + kHost + "\r\n").data) == 200);
}

TEST_CASE("a refused upload is never invited, and a sender writing its body still reads the refusal") {
  TestServer s;
  SECTION("Expect: 100-continue gets the refusal instead of 100") {
    auto r = TlsExchange(s.port(), PutHead("/v1/big/full", 4 << 20, "Expect: 100-continue\r\n"));
    CHECK(FirstStatus(r.data) == 503);
    CHECK(r.data.find("100 Continue") == std::string::npos);
    CHECK(r.data.find("Retry-After: 7\r\n") != std::string::npos);
    CHECK(r.closed);
  }
  SECTION("a sender that writes 4 MiB before reading gets the 503, not a reset") {
    TlsConn c(s.port());
    REQUIRE(c.Send(PutHead("/v1/big/full", 4 << 20)));
    CHECK(c.Send(std::string(4 << 20, 'z')));  // lingering close reads and drops it
    auto r = c.Read(2000);
    CHECK(FirstStatus(r.data) == 503);
    CHECK(r.data.find("Retry-After: 7\r\n") != std::string::npos);
  }
  CHECK(s.put_bytes == 0);
  CHECK(s.open_sinks == 0);
}

TEST_CASE("pipelined requests in one record are answered in order") {
  TestServer s;
  auto r = TlsExchange(s.port(), "GET /v1/things/one HTTP/1.1\r\n" + kHost + "\r\n" + "GET /v1/things/two HTTP/1.1\r\n" +
                                     kHost + "\r\n");
  CHECK(testing_support::CountResponses(r.data) == 2);
  CHECK(r.data.find("thing one") < r.data.find("thing two"));
}

TEST_CASE("hundreds of idle and slow connections do not keep a request from being answered") {
  common::ServerOptions o = TestServer::Options();
  o.keep_alive_timeout = seconds(60);
  o.header_timeout = seconds(60);
  o.handshake_timeout = seconds(60);
  TestServer s(o);
  std::vector<std::unique_ptr<TcpConn>> idle_tcp;
  std::vector<std::unique_ptr<TlsConn>> idle_tls, slow;
  for (int i = 0; i < 200; ++i) idle_tcp.push_back(std::make_unique<TcpConn>(s.port()));
  for (int i = 0; i < 100; ++i) idle_tls.push_back(std::make_unique<TlsConn>(s.port()));
  for (int i = 0; i < 100; ++i) {
    slow.push_back(std::make_unique<TlsConn>(s.port()));
    slow.back()->Send("GET /v1/things/slow HTTP/1.1\r\nX-A: ");  // and never the rest
  }
  for (auto& c : idle_tls) REQUIRE(c->ok());
  auto r = TlsExchange(s.port(), "GET /v1/things/probe HTTP/1.1\r\n" + kHost + "\r\n", 5000);
  CHECK(FirstStatus(r.data) == 200);
  CHECK(s.server.stats().connections_open >= 400);
}

TEST_CASE("TLS: 1.2 and 1.3 only, AEAD suites only, sessions resumed") {
  TestServer s;
  TlsConn::Options old;
  old.max_version = TLS1_1_VERSION;
  CHECK_FALSE(TlsConn(s.port(), old).ok());
  TlsConn::Options cbc;
  cbc.max_version = TLS1_2_VERSION;
  cbc.ciphers = "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256";
  CHECK_FALSE(TlsConn(s.port(), cbc).ok());
  TlsConn::Options gcm12;
  gcm12.max_version = TLS1_2_VERSION;
  gcm12.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
  CHECK(TlsConn(s.port(), gcm12).ok());

  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    INFO("version " << version);
    TlsConn::Options first;
    first.max_version = version;
    SSL_SESSION* session = nullptr;
    {
      TlsConn a(s.port(), first);
      REQUIRE(a.ok());
      CHECK_FALSE(a.resumed());
      session = a.TakeSession();
    }
    REQUIRE(session != nullptr);
    TlsConn::Options again = first;
    again.session = session;
    TlsConn b(s.port(), again);
    CHECK(b.ok());
    CHECK(b.resumed());
    SSL_SESSION_free(session);
  }
  // The server counts a handshake when it has finished its side.
  CHECK(WaitUntil([&] { return s.server.stats().handshakes_resumed >= 2; }, seconds(5)));
}

TEST_CASE("stop: idle connections close, an upload in flight finishes, then Serve returns") {
  auto s = std::make_unique<TestServer>();
  TlsConn idle(s->port());
  REQUIRE(idle.ok());
  TlsConn upload(s->port());
  REQUIRE(upload.Send(PutHead("/v1/big/x", 2000) + std::string(1000, 'u')));
  REQUIRE(WaitUntil([&] { return s->open_sinks == 1; }, seconds(5)));
  s->server.Stop();
  CHECK(WaitUntil([&] { return idle.Read(100).closed; }, seconds(5)));
  REQUIRE(upload.Send(std::string(1000, 'v')));
  auto r = upload.Read(2000);
  CHECK(FirstStatus(r.data) == 201);
  CHECK(r.data.find("Connection: close") != std::string::npos);
  CHECK(s->put_bytes == 2000);
  s.reset();  // joins Serve()
}

TEST_CASE("stop: an upload that does not finish within stop_timeout is cut, never acknowledged") {
  common::ServerOptions o = TestServer::Options();
  o.stop_timeout = seconds(1);
  o.body_timeout = seconds(60);
  auto s = std::make_unique<TestServer>(o);
  TlsConn upload(s->port());
  REQUIRE(upload.Send(PutHead("/v1/big/x", 2000) + std::string(1000, 'u')));
  REQUIRE(WaitUntil([&] { return s->open_sinks == 1; }, seconds(5)));
  s->server.Stop();
  auto r = upload.Read(5000);
  CHECK(r.closed);
  CHECK(r.data.find("201") == std::string::npos);
  CHECK(WaitUntil([&] { return s->open_sinks == 0; }, seconds(5)));  // its sink undone
}
