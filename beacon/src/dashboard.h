// The web dashboard (docs/dashboard.md), served by the central's admin
// listener beside the REST API it is built on (/api/v1, admin_api.h).
//
// Three kinds of answers, all GET (and HEAD):
//   /                    index.html, our own page;
//   /ui/PATH             our own files (beacon/web/PATH), compiled into the
//                        executable at build time (web_assets.h), so a beacon
//                        from the build tree serves them with nothing installed;
//   /lib/NAME/PATH       library files from Debian packages (libjs-bootstrap5,
//                        libjs-chart.js), read at run time from `js_dir`
//                        (dashboard_js_dir, default /usr/share/javascript).
// Every route is one literal path registered from a fixed list: the embedded
// files and kLibraries below. No part of a request's path ever becomes a file
// name, so "../", an encoded slash or an unknown file is no route's: the
// engine answers 404 before any handler runs.
//
// No authentication here: these files hold no estate data (the app asks the
// API for it, with the administrator's token). Every answer carries a strict
// Content-Security-Policy (kContentSecurityPolicy: no inline script or style,
// nothing from another origin, no framing), X-Content-Type-Options: nosniff,
// Referrer-Policy: no-referrer and an ETag (its content's SHA-256), and
// answers If-None-Match with 304. Our files are "no-cache" (revalidated on
// each use, as they change with every build); library files may be cached for
// an hour (they change only with a package upgrade).
//
// A library file missing from js_dir is 404 (logged once as a warning naming
// its package); the dashboard still works, unstyled and without charts.
//
// Thread safety: after Register(), handlers run concurrently on the engine's
// I/O threads (our files, from memory) and workers (library files, read from
// disk and kept for kLibraryRecheck).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/http_server.h"

namespace beacon {

inline constexpr char kContentSecurityPolicy[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src "
    "'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

// A file of a Debian package served under /lib/.
struct LibraryFile {
  const char* url;      // "/lib/chart.js/chart.min.js"
  const char* path;     // below js_dir: "chart.js/chart.min.js"
  const char* package;  // the Debian package that ships it, for the warning
};

// The allow-list: every library file the dashboard loads, and nothing else.
// Chart.js is taken as chart.min.js, the UMD build Debian 12 ships (3.9),
// which works as a classic script and defines window.Chart.
inline const std::vector<LibraryFile>& Libraries() {
  static const std::vector<LibraryFile> files = {
      {"/lib/bootstrap5/css/bootstrap.min.css", "bootstrap5/css/bootstrap.min.css",
       "libjs-bootstrap5"},
      {"/lib/bootstrap5/js/bootstrap.bundle.min.js", "bootstrap5/js/bootstrap.bundle.min.js",
       "libjs-bootstrap5"},
      {"/lib/chart.js/chart.min.js", "chart.js/chart.min.js", "libjs-chart.js"},
  };
  return files;
}

// How long a library file read from disk is served before it is read again.
inline constexpr std::chrono::seconds kLibraryRecheck{60};

// "text/javascript; charset=utf-8" for "app.js", ...; "" for an extension
// the dashboard does not serve (the build's files are checked against it).
std::string ContentTypeFor(const std::string& path);

class Dashboard {
 public:
  // `js_dir`: the folder holding bootstrap5/ and chart.js/.
  explicit Dashboard(std::string js_dir);
  ~Dashboard();

  // Adds the routes above to `admin` (RouteAccess::kOpen). Logs a warning
  // for each library file missing from js_dir now.
  void Register(common::HttpServer::Listener& admin);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace beacon
