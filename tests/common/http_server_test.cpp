// The server adapter's hardening: every pre-routing refusal gets its status,
// closes the connection and never reaches a handler.
#include "common/http_server.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "support/test_server.h"
#include "support/tls_raw.h"

using testing_support::CountResponses;
using testing_support::FirstStatus;
using testing_support::TestServer;
using testing_support::TlsExchange;

namespace {

const std::string kHost = "Host: 127.0.0.1\r\n";

}  // namespace

TEST_CASE("well-formed requests are served and kept alive") {
  TestServer s;
  std::string get = "GET /v1/things/a HTTP/1.1\r\n" + kHost + "\r\n";
  auto r = TlsExchange(s.port(), std::vector<std::string>{get, get});
  CHECK(CountResponses(r.data) == 2);
  CHECK(FirstStatus(r.data) == 200);
  CHECK(r.data.find("peer 127.0.0.1") != std::string::npos);
  CHECK_FALSE(r.closed);
  CHECK(s.get_calls == 2);

  auto put = TlsExchange(s.port(), "PUT /v1/up/x HTTP/1.1\r\n" + kHost + "Content-Length: 5\r\n\r\nhello");
  CHECK(FirstStatus(put.data) == 201);
  CHECK(s.put_bytes == 5);
}

TEST_CASE("a POST route gets its whole small body and the raw query string") {
  TestServer s;
  auto r = TlsExchange(s.port(), "POST /v1/echo?a=1&b=%20x HTTP/1.1\r\n" + kHost + "Content-Length: 11\r\n\r\nhello world");
  CHECK(FirstStatus(r.data) == 200);
  CHECK(r.data.find("\r\n\r\na=1&b=%20x|hello world") != std::string::npos);
  CHECK_FALSE(r.closed);
  auto empty = TlsExchange(s.port(), "POST /v1/echo HTTP/1.1\r\n" + kHost + "Content-Length: 0\r\n\r\n");
  CHECK(empty.data.find("\r\n\r\n|") != std::string::npos);
  auto big = TlsExchange(s.port(), "POST /v1/echo HTTP/1.1\r\n" + kHost + "Content-Length: 65\r\n\r\n" + std::string(65, 'a'));
  CHECK(FirstStatus(big.data) == 413);
  auto none = TlsExchange(s.port(), "POST /v1/echo HTTP/1.1\r\n" + kHost + "\r\n");
  CHECK(FirstStatus(none.data) == 411);
  auto chunked = TlsExchange(s.port(), "POST /v1/echo HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  CHECK(FirstStatus(chunked.data) == 411);
  auto get = TlsExchange(s.port(), "GET /v1/echo HTTP/1.1\r\n" + kHost + "\r\n");
  CHECK(FirstStatus(get.data) == 405);
}

TEST_CASE("every answer is observed with its listener, route, method and status") {
  std::mutex mu;
  std::vector<std::string> seen;
  common::ServerOptions o = TestServer::Options();
  o.observe = [&](const common::RequestRecord& r) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(r.listener + " " + r.method + " " + r.route + " " + std::to_string(r.status) +
                   (r.seconds >= 0 ? "" : " negative"));
  };
  TestServer s(o);
  (void)TlsExchange(s.port(), std::vector<std::string>{"GET /v1/things/a HTTP/1.1\r\n" + kHost + "\r\n",
                                                     "GET /nowhere HTTP/1.1\r\n" + kHost + "\r\n"});
  (void)TlsExchange(s.port(), "PUT /v1/up/x HTTP/1.1\r\n" + kHost + "Content-Length: 5\r\n\r\nhello");
  std::lock_guard<std::mutex> lock(mu);
  CHECK(seen == std::vector<std::string>{" GET /v1/things/:id 200", " GET  404", " PUT /v1/up/:id 201"});
}

TEST_CASE("pre-routing refusals get their status, close, and reach no handler") {
  TestServer s;
  struct Case {
    const char* name;
    std::string request;
    int status;
  };
  std::vector<Case> cases = {
      {"chunked PUT", "PUT /v1/up/x HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 411},
      {"chunked GET", "GET /v1/things/a HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"request Content-Encoding", "PUT /v1/up/x HTTP/1.1\r\n" + kHost + "Content-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello", 415},
      {"duplicate Content-Length", "PUT /v1/up/x HTTP/1.1\r\n" + kHost + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400},
      {"conflicting Content-Length", "PUT /v1/up/x HTTP/1.1\r\n" + kHost + "Content-Length: 5\r\nContent-Length: 50\r\n\r\nhello", 400},
      {"missing Content-Length", "PUT /v1/up/x HTTP/1.1\r\n" + kHost + "\r\n", 411},
      {"non-decimal Content-Length", "PUT /v1/up/x HTTP/1.1\r\n" + kHost + "Content-Length: +5\r\n\r\nhello", 400},
      {"hex Content-Length", "PUT /v1/up/x HTTP/1.1\r\n" + kHost + "Content-Length: 0x5\r\n\r\nhello", 400},
      {"over-size body", "PUT /v1/up/x HTTP/1.1\r\n" + kHost + "Content-Length: 1025\r\n\r\n" + std::string(1025, 'a'), 413},
      {"huge Content-Length", "PUT /v1/up/x HTTP/1.1\r\n" + kHost + "Content-Length: 99999999999999999999\r\n\r\n", 400},
      {"body on GET", "GET /v1/things/a HTTP/1.1\r\n" + kHost + "Content-Length: 5\r\n\r\nhello", 400},
      {"body on HEAD", "HEAD /v1/things/a HTTP/1.1\r\n" + kHost + "Content-Length: 5\r\n\r\nhello", 400},
      {"unknown path", "GET /etc/passwd HTTP/1.1\r\n" + kHost + "\r\n", 404},
      {"path traversal", "GET /v1/things/../../etc HTTP/1.1\r\n" + kHost + "\r\n", 404},
      {"wrong method", "DELETE /v1/things/a HTTP/1.1\r\n" + kHost + "\r\n", 405},
      {"PUT on a GET route", "PUT /v1/things/a HTTP/1.1\r\n" + kHost + "Content-Length: 1\r\n\r\nx", 405},
      {"encoded CRLF in a header", "GET /v1/things/a HTTP/1.1\r\n" + kHost + "X-A: a%0D%0ASet-Cookie: x\r\n\r\n", 400},
      {"request line and fields over the limit together", "GET /v1/things/" + std::string(3000, 'a') + " HTTP/1.1\r\n" + kHost + "X-A: " + std::string(3000, 'a') + "\r\n\r\n", 431},
      {"header value too long", "GET /v1/things/a HTTP/1.1\r\n" + kHost + "X-A: " + std::string(5000, 'a') + "\r\n\r\n", 431},
  };
  std::string many;
  for (int i = 0; i < 100; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  cases.push_back({"too many headers", "GET /v1/things/a HTTP/1.1\r\n" + kHost + many + "\r\n", 431});

  for (const auto& c : cases) {
    INFO(c.name);
    auto r = TlsExchange(s.port(), c.request);
    CHECK(FirstStatus(r.data) == c.status);
    CHECK(r.closed);
    CHECK(CountResponses(r.data) == 1);
  }
  CHECK(s.get_calls == 0);
  CHECK(s.put_calls == 0);
  CHECK(s.put_bytes == 0);
}

TEST_CASE("a body smuggled on a GET is never parsed as a second request") {
  TestServer s;
  std::string inner = "GET /v1/things/smuggled HTTP/1.1\r\n" + kHost + "\r\n";
  std::string outer = "GET /v1/things/a HTTP/1.1\r\n" + kHost + "Content-Length: " +
                      std::to_string(inner.size()) + "\r\n\r\n" + inner;
  // The body arrives in its own TLS record, as an attacker would send it.
  auto r = TlsExchange(s.port(), std::vector<std::string>{outer.substr(0, outer.size() - inner.size()), inner});
  CHECK(FirstStatus(r.data) == 400);
  CHECK(CountResponses(r.data) == 1);
  CHECK(r.closed);
  CHECK(s.get_calls == 0);
}

TEST_CASE("malformed heads are refused and close the connection") {
  TestServer s;
  std::string smuggled = "GET /v1/things/smuggled HTTP/1.1\r\n" + kHost + "\r\n";
  struct Case {
    const char* name;
    std::string head;
    int status;
  };
  std::vector<Case> cases = {
      {"unknown method", "BREW /v1/things/a HTTP/1.1\r\n" + kHost + "Content-Length: 40\r\n\r\n", 400},
      {"bare LF line endings", "GET /v1/things/a HTTP/1.1\n" + kHost + "\r\n", 400},
      {"request target too long", "GET /v1/things/" + std::string(9000, 'a') + " HTTP/1.1\r\n" + kHost + "\r\n", 414},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto r = TlsExchange(s.port(), std::vector<std::string>{c.head, smuggled});
    CHECK(FirstStatus(r.data) == c.status);
    CHECK(CountResponses(r.data) == 1);
    CHECK(r.closed);
  }
  CHECK(s.get_calls == 0);
}

TEST_CASE("a 304 carries Content-Length: 0 and no body, and the connection stays open") {
  // cpp-httplib 0.11.4 (the client) reads a 304 without a length until the
  // connection closes.
  TestServer s;
  std::string get = "GET /v1/same HTTP/1.1\r\n" + kHost + "\r\n";
  auto r = TlsExchange(s.port(), std::vector<std::string>{get, get});
  CHECK(testing_support::CountResponses(r.data) == 2);
  CHECK(FirstStatus(r.data) == 304);
  CHECK(r.data.find("Content-Length: 0\r\n") != std::string::npos);
  CHECK(r.data.find("Content-Type") == std::string::npos);
  CHECK_FALSE(r.closed);
}

TEST_CASE("a Range header gets the whole representation") {
  TestServer s;
  auto r = TlsExchange(s.port(), "GET /v1/things/abc HTTP/1.1\r\n" + kHost + "Range: bytes=0-3\r\n\r\n");
  CHECK(FirstStatus(r.data) == 200);
  CHECK(r.data.find("Content-Range") == std::string::npos);
  // Ranges are not part of the protocol: even a malformed one is ignored.
  auto bad = TlsExchange(s.port(), "GET /v1/things/abc HTTP/1.1\r\n" + kHost + "Range: bytes=oops\r\n\r\n");
  CHECK(FirstStatus(bad.data) == 200);
  CHECK(r.data.find("thing abc peer 127.0.0.1") != std::string::npos);
}

TEST_CASE("Expect: 100-continue is checked before the body is invited") {
  TestServer s;
  auto refused = TlsExchange(s.port(), "PUT /v1/up/x HTTP/1.1\r\n" + kHost +
                                           "Content-Length: 5000\r\nExpect: 100-continue\r\n\r\n");
  CHECK(FirstStatus(refused.data) == 413);
  CHECK(refused.data.find("100 Continue") == std::string::npos);
  CHECK(refused.closed);
  auto invited = TlsExchange(s.port(), std::vector<std::string>{"PUT /v1/up/x HTTP/1.1\r\n" + kHost +
                                           "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n", "hello"});
  CHECK(FirstStatus(invited.data) == 100);
  CHECK(invited.data.find("201 Created") != std::string::npos);
  CHECK(s.put_bytes == 5);
}

TEST_CASE("a client-sent REMOTE_ADDR header does not change the peer") {
  TestServer s;
  auto r = TlsExchange(s.port(), "GET /v1/things/a HTTP/1.1\r\n" + kHost + "REMOTE_ADDR: 203.0.113.9\r\n\r\n");
  CHECK(FirstStatus(r.data) == 200);
  CHECK(r.data.find("peer 127.0.0.1") != std::string::npos);
  CHECK(r.data.find("203.0.113.9") == std::string::npos);
}

TEST_CASE("handler exceptions become a bare 500") {
  TestServer s;
  auto r = TlsExchange(s.port(), "GET /v1/boom HTTP/1.1\r\n" + kHost + "\r\n");
  CHECK(FirstStatus(r.data) == 500);
  CHECK(r.data.find("secret") == std::string::npos);
}

TEST_CASE("the listen backlog is the configured one") {
  common::ServerOptions o = TestServer::Options();
  o.backlog = 1000;
  TestServer s(o);
  std::string cmd = "ss -Hltn 'sport = :" + std::to_string(s.port()) + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[512] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, p);
  ::pclose(p);
  std::string line(buf, n);
  // ss prints: State Recv-Q Send-Q Local Peer; for a listener Send-Q is the backlog.
  char state[32] = {};
  int recvq = 0, sendq = 0;
  REQUIRE(std::sscanf(line.c_str(), "%31s %d %d", state, &recvq, &sendq) == 3);
  CHECK(sendq == 1000);
}

TEST_CASE("route matching") {
  std::vector<std::string> p;
  CHECK(common::MatchRoute("/v1/devices/:d/manifest", "/v1/devices/abc/manifest", &p));
  CHECK(p == std::vector<std::string>{"abc"});
  CHECK_FALSE(common::MatchRoute("/v1/devices/:d/manifest", "/v1/devices//manifest", &p));
  CHECK_FALSE(common::MatchRoute("/v1/devices/:d/manifest", "/v1/devices/a/b/manifest", &p));
  CHECK_FALSE(common::MatchRoute("/v1/devices/:d/manifest", "/v1/devices/a/manifest/", &p));
  CHECK_FALSE(common::MatchRoute("/v1/ping", "v1/ping", &p));
}
