// The dashboard's static files on a real listener (TLS, the server engine):
// the index at /, our files with their types, the library allow-list, the
// security headers on every answer, revalidation, and 404 for everything
// else (traversal included). The app itself is tested in a browser
// (tests/dashboard/browser_test.py).
#include "dashboard.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "support/temp_dir.h"
#include "support/tls_raw.h"
#include "web_assets.h"

using testing_support::FirstStatus;
using testing_support::TempDir;
using testing_support::TlsExchange;

namespace {

// A listener with the dashboard, its libraries in a folder of our own.
struct DashboardServer {
  TempDir libs{"dashboard-libs"};
  std::unique_ptr<beacon::Dashboard> dashboard;
  std::unique_ptr<common::HttpServer> server;
  common::HttpServer::Listener* admin = nullptr;

  // Writes every library file but those in `missing`.
  explicit DashboardServer(const std::vector<std::string>& missing = {}) {
    for (const auto& lib : beacon::Libraries()) {
      if (std::find(missing.begin(), missing.end(), lib.path) != missing.end()) continue;
      const std::string path = libs.path + "/" + lib.path;
      REQUIRE(common::MakeDirs(common::ParentDir(path)).ok());
      REQUIRE(common::WriteFileAtomic(path, std::string("/* ") + lib.path + " */\n").ok());
    }
    // A file beside them that is on no list.
    REQUIRE(common::MakeDirs(libs.path + "/chart.js").ok());
    REQUIRE(common::WriteFileAtomic(libs.path + "/chart.js/chart.js", "not served\n").ok());
    common::ServerOptions o;
    o.cert_file = std::string(TEST_CERT_DIR) + "/server.pem";
    o.key_file = std::string(TEST_CERT_DIR) + "/server.key";
    o.io_threads = 1;
    o.workers = 2;
    server = std::make_unique<common::HttpServer>(o);
    admin = &server->Listen("127.0.0.1", 0, "admin");
    dashboard = std::make_unique<beacon::Dashboard>(libs.path);
    dashboard->Register(*admin);
    REQUIRE(server->Start().ok());
    serve = std::thread([this] { server->Serve(); });
  }
  ~DashboardServer() {
    server->Stop();
    serve.join();
  }
  std::string Get(const std::string& path, const std::string& extra = "") {
    return TlsExchange(admin->port(), "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra +
                                          "Connection: close\r\n\r\n")
        .data;
  }
  std::thread serve;
};

std::string Header(const std::string& response, const std::string& name) {
  const std::string key = "\r\n" + name + ": ";
  const size_t at = response.find(key);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  return response.substr(start, response.find("\r\n", start) - start);
}

std::string Body(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

void CheckSecurityHeaders(const std::string& r) {
  CHECK(Header(r, "Content-Security-Policy") == beacon::kContentSecurityPolicy);
  CHECK(Header(r, "X-Content-Type-Options") == "nosniff");
  CHECK(Header(r, "Referrer-Policy") == "no-referrer");
  CHECK(Header(r, "X-Frame-Options") == "DENY");
}

}  // namespace

TEST_CASE("the dashboard's index is served at / with a strict Content-Security-Policy") {
  DashboardServer s;
  const std::string r = s.Get("/");
  CHECK(FirstStatus(r) == 200);
  CHECK(Header(r, "Content-Type") == "text/html; charset=utf-8");
  CHECK(Header(r, "Cache-Control") == "no-cache");
  CheckSecurityHeaders(r);
  const std::string csp = Header(r, "Content-Security-Policy");
  for (const char* part : {"default-src 'self'", "script-src 'self'", "style-src 'self'",
                           "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"}) {
    CHECK(csp.find(part) != std::string::npos);
  }
  CHECK(csp.find("unsafe") == std::string::npos);
  const std::string html = Body(r);
  CHECK(html.find("<script type=\"module\" src=\"/ui/app.js\"></script>") != std::string::npos);
  // No inline script or style: the policy would block them.
  CHECK(html.find("<script>") == std::string::npos);
  CHECK(html.find("style=") == std::string::npos);
  CHECK(html.find("<style") == std::string::npos);
  // Every module is preloaded, so the browser fetches them at once rather
  // than a level of imports at a time.
  for (const beacon::WebAsset& a : beacon::WebAssets()) {
    const std::string path = a.path;
    if (path.size() > 3 && path.substr(path.size() - 3) == ".js" && path != "app.js") {
      INFO(path);
      CHECK(html.find("<link rel=\"modulepreload\" href=\"/ui/" + path + "\">") != std::string::npos);
    }
  }
  CHECK(FirstStatus(s.Get("/index.html")) == 404);
  CHECK(FirstStatus(s.Get("/ui/index.html")) == 404);
}

TEST_CASE("every embedded file is served under /ui/ with its type") {
  DashboardServer s;
  REQUIRE(beacon::WebAssets().size() >= 5);
  for (const beacon::WebAsset& a : beacon::WebAssets()) {
    const std::string path = a.path;
    INFO(path);
    CHECK_FALSE(beacon::ContentTypeFor(path).empty());
    if (path == "index.html") continue;
    const std::string r = s.Get("/ui/" + path);
    CHECK(FirstStatus(r) == 200);
    CHECK(Header(r, "Content-Type") == beacon::ContentTypeFor(path));
    CHECK(Body(r) == std::string(reinterpret_cast<const char*>(a.data), a.size));
    CheckSecurityHeaders(r);
  }
  CHECK(Header(s.Get("/ui/app.js"), "Content-Type") == "text/javascript; charset=utf-8");
  CHECK(Header(s.Get("/ui/app.css"), "Content-Type") == "text/css; charset=utf-8");
  CHECK(Header(s.Get("/ui/pages/devices.js"), "Content-Type") == "text/javascript; charset=utf-8");
  CHECK(Header(s.Get("/ui/favicon.svg"), "Content-Type") == "image/svg+xml");
}

TEST_CASE("content types by extension, and none for an unknown one") {
  CHECK(beacon::ContentTypeFor("a/b.html") == "text/html; charset=utf-8");
  CHECK(beacon::ContentTypeFor("x.png") == "image/png");
  CHECK(beacon::ContentTypeFor("x.map").empty());
  CHECK(beacon::ContentTypeFor("x").empty());
  CHECK(beacon::ContentTypeFor("a.js/x").empty());
}

TEST_CASE("library files come from the allow-list only") {
  DashboardServer s;
  for (const auto& lib : beacon::Libraries()) {
    INFO(lib.url);
    const std::string r = s.Get(lib.url);
    CHECK(FirstStatus(r) == 200);
    CHECK(Body(r) == std::string("/* ") + lib.path + " */\n");
    CHECK(Header(r, "Content-Type") == beacon::ContentTypeFor(lib.path));
    CHECK(Header(r, "Cache-Control") == "max-age=3600");
    CheckSecurityHeaders(r);
  }
  // Beside an allowed file, up and out of the folder, encoded, unknown.
  for (const char* path :
       {"/lib/chart.js/chart.js", "/lib/chart.js/../../etc/passwd", "/lib/../etc/passwd",
        "/ui/../lib/chart.js/chart.min.js", "/lib/chart.js/%2e%2e/chart.min.js",
        "/lib/bootstrap5/css/bootstrap.min.css.map", "/lib/", "/ui/", "/ui/nope.js",
        "/ui/pages/../app.js", "/lib/chart.js/chart.min.js/x"}) {
    INFO(path);
    CHECK(FirstStatus(s.Get(path)) == 404);
  }
}

TEST_CASE("a library file missing from dashboard_js_dir is 404 until it is there") {
  DashboardServer s({"chart.js/chart.min.js"});
  const std::string r = s.Get("/lib/chart.js/chart.min.js");
  CHECK(FirstStatus(r) == 404);
  CHECK(Body(r).find("libjs-chart.js") != std::string::npos);
  CheckSecurityHeaders(r);
  REQUIRE(common::WriteFileAtomic(s.libs.path + "/chart.js/chart.min.js", "late\n").ok());
  const std::string later = s.Get("/lib/chart.js/chart.min.js");
  CHECK(FirstStatus(later) == 200);
  CHECK(Body(later) == "late\n");
}

TEST_CASE("an unchanged file is revalidated with its ETag: 304") {
  DashboardServer s;
  for (const char* path : {"/", "/ui/app.js", "/lib/chart.js/chart.min.js"}) {
    INFO(path);
    const std::string first = s.Get(path);
    const std::string etag = Header(first, "ETag");
    REQUIRE(etag.size() == 34);
    const std::string again = s.Get(path, "If-None-Match: " + etag + "\r\n");
    CHECK(FirstStatus(again) == 304);
    CHECK(Body(again).empty());
    CHECK(Header(again, "ETag") == etag);
    CheckSecurityHeaders(again);
    CHECK(FirstStatus(s.Get(path, "If-None-Match: \"other\", W/" + etag + "\r\n")) == 304);
    CHECK(FirstStatus(s.Get(path, "If-None-Match: \"other\"\r\n")) == 200);
  }
}

TEST_CASE("HEAD gets the headers without the body") {
  DashboardServer s;
  const std::string r =
      TlsExchange(s.admin->port(),
                  "HEAD /ui/app.js HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
          .data;
  CHECK(FirstStatus(r) == 200);
  CHECK(Body(r).empty());
  CheckSecurityHeaders(r);
}
