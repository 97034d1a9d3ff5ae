#include "dashboard.h"

#include <map>
#include <mutex>
#include <utility>

#include "common/fs.h"
#include "common/log.h"
#include "common/sha256.h"
#include "web_assets.h"

namespace beacon {

namespace {

using Clock = std::chrono::steady_clock;

// The largest library file read (chart.js, unminified, is 540 KiB).
constexpr uint64_t kMaxLibraryBytes = 4u << 20;

// One file as served: its bytes, type and validator.
struct StaticFile {
  std::string body;
  std::string content_type;
  std::string etag;  // "\"<32 hex digits of its SHA-256>\""
};

std::string EtagOf(std::string_view body) {
  return "\"" + common::Sha256Hex(body).substr(0, 32) + "\"";
}

// Whether an If-None-Match value names `etag` (a list, weak or strong, or *).
bool Matches(const std::string& if_none_match, const std::string& etag) {
  size_t pos = 0;
  while (pos < if_none_match.size()) {
    size_t end = if_none_match.find(',', pos);
    if (end == std::string::npos) end = if_none_match.size();
    std::string tag = if_none_match.substr(pos, end - pos);
    const size_t first = tag.find_first_not_of(" \t");
    const size_t last = tag.find_last_not_of(" \t");
    tag = first == std::string::npos ? "" : tag.substr(first, last - first + 1);
    if (tag.rfind("W/", 0) == 0) tag = tag.substr(2);
    if (tag == "*" || tag == etag) return true;
    pos = end + 1;
  }
  return false;
}

void SetSecurityHeaders(common::HttpResponse& res) {
  res.Set("Content-Security-Policy", kContentSecurityPolicy);
  res.Set("X-Content-Type-Options", "nosniff");
  res.Set("Referrer-Policy", "no-referrer");
  res.Set("X-Frame-Options", "DENY");  // for browsers older than frame-ancestors
  res.Set("Cross-Origin-Opener-Policy", "same-origin");
}

void Serve(const StaticFile& f, const std::string& cache_control, const common::HttpRequest& req,
           common::HttpResponse& res) {
  SetSecurityHeaders(res);
  res.Set("Cache-Control", cache_control);
  res.Set("ETag", f.etag);
  const std::string inm = req.header("If-None-Match");
  if (!inm.empty() && Matches(inm, f.etag)) {
    res.status = 304;
    return;
  }
  res.status = 200;
  res.content_type = f.content_type;
  res.body = f.body;
}

void NotFound(common::HttpResponse& res, const std::string& what) {
  SetSecurityHeaders(res);
  res.Set("Cache-Control", "no-store");
  res.status = 404;
  res.body = "error: " + what + "\n";
}

}  // namespace

std::string ContentTypeFor(const std::string& path) {
  static const std::map<std::string, std::string> types = {
      {"html", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"json", "application/json"},
  };
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos || path.find('/', dot) != std::string::npos) return "";
  auto it = types.find(path.substr(dot + 1));
  return it == types.end() ? "" : it->second;
}

struct Dashboard::Impl {
  std::string js_dir;
  std::vector<StaticFile> own;  // WebAssets(), in order

  // Library files read from js_dir, by their index in Libraries().
  struct Cached {
    std::shared_ptr<const StaticFile> file;  // null: not read, or missing
    Clock::time_point read_at;
    bool warned = false;
  };
  std::mutex mu;
  std::vector<Cached> libs;

  // The library file, read again when older than kLibraryRecheck; null when
  // it cannot be read (warned once, until it can be again).
  std::shared_ptr<const StaticFile> Library(size_t i) {
    const Clock::time_point now = Clock::now();
    {
      std::lock_guard<std::mutex> lock(mu);
      Cached& c = libs[i];
      if (c.file && now - c.read_at < kLibraryRecheck) return c.file;
    }
    const LibraryFile& lib = Libraries()[i];
    auto body = common::ReadFile(js_dir + "/" + lib.path, kMaxLibraryBytes);
    std::lock_guard<std::mutex> lock(mu);
    Cached& c = libs[i];
    if (!body.ok()) {
      if (!c.warned) {
        common::LogWarn("dashboard: cannot serve " + std::string(lib.url) + ": " +
                        body.status().ToString() + " (install " + lib.package +
                        ", or set dashboard_js_dir)");
      }
      c.warned = true;
      c.file = nullptr;
      return nullptr;
    }
    auto f = std::make_shared<StaticFile>();
    f->etag = EtagOf(*body);
    f->body = std::move(*body);
    f->content_type = ContentTypeFor(lib.path);
    c.file = std::move(f);
    c.read_at = now;
    c.warned = false;
    return c.file;
  }
};

Dashboard::Dashboard(std::string js_dir) : impl_(std::make_shared<Impl>()) {
  impl_->js_dir = std::move(js_dir);
  for (const WebAsset& a : WebAssets()) {
    StaticFile f;
    f.body.assign(reinterpret_cast<const char*>(a.data), a.size);
    f.content_type = ContentTypeFor(a.path);
    f.etag = EtagOf(f.body);
    impl_->own.push_back(std::move(f));
  }
  impl_->libs.resize(Libraries().size());
}

Dashboard::~Dashboard() = default;

void Dashboard::Register(common::HttpServer::Listener& admin) {
  const auto assets = WebAssets();
  for (size_t i = 0; i < assets.size(); ++i) {
    const std::string path = assets[i].path;
    if (impl_->own[i].content_type.empty()) {
      // The build embeds every file of beacon/web/; one of a type we do not
      // know is a mistake there, not a reason to serve it as something.
      common::LogWarn("dashboard: not serving beacon/web/" + path + ": unknown file type");
      continue;
    }
    // Our files are answered from memory on the I/O thread. The "no-cache"
    // ones are revalidated on each use: a new build's files are never mixed
    // with an old build's cached ones.
    common::QuickHandler quick = [impl = impl_, i](const common::HttpRequest& req,
                                                   common::HttpResponse& res) {
      Serve(impl->own[i], "no-cache", req, res);
      return true;
    };
    admin.Get(path == "index.html" ? "/" : "/ui/" + path, nullptr, quick,
              common::RouteAccess::kOpen);
  }
  for (size_t i = 0; i < Libraries().size(); ++i) {
    const LibraryFile& lib = Libraries()[i];
    if (!common::FileExists(impl_->js_dir + "/" + lib.path)) {
      common::LogWarn("dashboard: " + impl_->js_dir + "/" + lib.path + " is missing (install " +
                      lib.package + ", or set dashboard_js_dir): the dashboard will lack it");
    }
    // On a worker: the first use (and one a minute) reads the disk.
    std::shared_ptr<Impl> impl = impl_;
    common::Handler h = [impl, i](const common::HttpRequest& req, common::HttpResponse& res) {
      auto f = impl->Library(i);
      if (!f)
        return NotFound(res, "library file not installed: " + std::string(Libraries()[i].package));
      Serve(*f, "max-age=3600", req, res);
    };
    admin.Get(lib.url, h, nullptr, common::RouteAccess::kOpen);
  }
}

}  // namespace beacon
