// A server engine with a few test routes on a free loopback port, served on
// its own thread: GET /v1/things/:id echoes the id and the peer, GET
// /v1/boom throws, GET /v1/same answers 304, GET /v1/wait blocks until release() (to fill the worker
// pool), PUT /v1/up/:id (cap 1 KiB) and PUT /v1/big/:id (cap 16 MiB) count
// the body; id "full" is refused with 503 and Retry-After before the body.
// POST /v1/echo (cap 64 bytes) answers "<query>|<body>".
// GET /v1/whoami (identified) answers "<kind> <id> serial <serial>" for the
// peer's identity, or "none: <identity_error>"; GET /v1/open is the same on
// an open route. Both matter only with ServerOptions::client_ca_file.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/http_server.h"

namespace testing_support {

// Counts what a PUT route received; the destructor tells whether the body
// was finished or dropped (a cut body must free what its sink holds).
struct CountingSink : common::BodySink {
  std::atomic<uint64_t>& bytes;
  std::atomic<int>& open;
  explicit CountingSink(std::atomic<uint64_t>& b, std::atomic<int>& o) : bytes(b), open(o) { ++open; }
  ~CountingSink() override { --open; }
  bool Write(const char*, size_t n, common::HttpResponse&) override {
    bytes += n;
    return true;
  }
  void Finish(common::HttpResponse& res) override { res.status = 201; }
};

struct TestServer {
  std::atomic<int> get_calls{0};
  std::atomic<int> put_calls{0};
  std::atomic<uint64_t> put_bytes{0};
  std::atomic<int> open_sinks{0};
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  std::atomic<int> waiting{0};
  common::HttpServer server;
  common::HttpServer::Listener& listener;
  std::thread thread;

  explicit TestServer(common::ServerOptions o = Options()) : server(o), listener(server.Listen("127.0.0.1", 0)) {
    listener.Get("/v1/things/:id", [this](const common::HttpRequest& req, common::HttpResponse& res) {
      ++get_calls;
      res.body = "thing " + req.params[0] + " peer " + req.peer + "\n";
    });
    auto whoami = [](const common::HttpRequest& req, common::HttpResponse& res) {
      const common::PeerIdentity* id = req.identity;
      res.body = id == nullptr ? "none: " + req.identity_error + "\n"
                               : std::string(common::PeerKindName(id->kind)) + " " + id->id + " serial " +
                                     id->serial + "\n";
    };
    listener.Post("/v1/echo", 64, [](const common::HttpRequest& req, common::HttpResponse& res) {
      res.body = req.query + "|" + req.body;
    });
    listener.Get("/v1/whoami", whoami);
    listener.Get("/v1/open", whoami, nullptr, common::RouteAccess::kOpen);
    listener.Get("/v1/boom", [](const common::HttpRequest&, common::HttpResponse&) {
      throw std::runtime_error("secret internal detail");
    });
    listener.Get("/v1/same", [](const common::HttpRequest&, common::HttpResponse& res) {
      res.status = 304;
      res.Set("ETag", "\"x\"");
    });
    listener.Get("/v1/wait", [this](const common::HttpRequest&, common::HttpResponse& res) {
      ++waiting;
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [this] { return released; });
      res.body = "released\n";
    });
    auto put = [this](const common::HttpRequest& req, common::HttpResponse& res) -> std::unique_ptr<common::BodySink> {
      ++put_calls;
      if (req.params[0] == "full") {
        res.status = 503;
        res.Set("Retry-After", "7");
        res.body = "full\n";
        return nullptr;
      }
      return std::make_unique<CountingSink>(put_bytes, open_sinks);
    };
    listener.Put("/v1/up/:id", 1024, put);
    listener.Put("/v1/big/:id", 16 << 20, put);
    REQUIRE(server.Start().ok());
    thread = std::thread([this] { server.Serve(); });
  }
  ~TestServer() {
    release();
    server.Stop();
    thread.join();
  }
  static common::ServerOptions Options() {
    common::ServerOptions o;
    o.cert_file = std::string(TEST_CERT_DIR) + "/server.pem";
    o.key_file = std::string(TEST_CERT_DIR) + "/server.key";
    o.io_threads = 1;
    o.workers = 2;
    o.max_header_bytes = 4096;
    return o;
  }
  int port() { return listener.port(); }
  void release() {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
    cv.notify_all();
  }
};

}  // namespace testing_support
