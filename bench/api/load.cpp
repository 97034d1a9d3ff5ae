// beacon-bench-api-load: latency of one kind of admin API request
// (docs/benchmarks.md, "API"). One keep-alive TLS connection through the
// project's client adapter (common::HttpClient), requests one after another,
// each timed from send to the last body byte; 10 unmeasured requests first.
//
//   beacon-bench-api-load --url https://127.0.0.1:PORT --ca CA [--token T]
//       [--requests 300] [--devices N] [--deep PAGES] TARGET
//
// TARGET is a path with its query. "{device}" in it is replaced, request by
// request, with a different device of bench/api/fill.cpp's N (--devices).
// --deep PAGES first follows next_cursor PAGES times from TARGET and then
// measures the page after them (TARGET&cursor=...). Prints one line:
// requests, p50, p90, p99 and max in milliseconds, the body size, and how
// many answers were not 200.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/http_client.h"

namespace {

std::string DeviceId(long i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "cccccccc-0000-4000-8000-%012ld", i);
  return buf;
}

std::string Expand(std::string target, long k, long devices) {
  const size_t at = target.find("{device}");
  if (at != std::string::npos) target.replace(at, 8, DeviceId(1 + (k * 7919) % devices));
  return target;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Times admin API requests on one keep-alive connection.", "beacon-bench-api-load");
  std::string url, ca, token, target;
  int requests = 300, deep = 0;
  long devices = 100000;
  app.add_option("--url", url, "https://HOST:PORT")->required();
  app.add_option("--ca", ca, "CA bundle to verify the server")->required();
  app.add_option("--token", token, "API token");
  app.add_option("--requests", requests, "measured requests")->capture_default_str();
  app.add_option("--devices", devices, "devices to pick {device} from")->capture_default_str();
  app.add_option("--deep", deep, "follow next_cursor this many times first");
  app.add_option("TARGET", target, "path and query")->required();
  CLI11_PARSE(app, argc, argv);

  common::ClientOptions o;
  o.url = url;
  o.ca_file = ca;
  o.read_timeout_s = 120;
  auto client = common::HttpClient::Create(o);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", client.status().ToString().c_str());
    return 1;
  }
  common::HeaderList headers;
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  auto get = [&](const std::string& t) { return (*client)->Get(t, headers, 256u << 20); };

  for (int i = 0; i < deep; ++i) {
    auto r = get(target);
    if (!r.ok() || r->status != 200) {
      std::fprintf(stderr, "deep page %d failed\n", i);
      return 1;
    }
    auto doc = nlohmann::json::parse(r->body);
    if (!doc["next_cursor"].is_string()) break;
    const std::string base = target.substr(0, target.find("&cursor="));
    target = base + "&cursor=" + doc["next_cursor"].get<std::string>();
  }
  for (int i = 0; i < 10; ++i) (void)get(Expand(target, i, devices));

  std::vector<double> ms;
  size_t bytes = 0;
  int bad = 0;
  for (int i = 0; i < requests; ++i) {
    const std::string t = Expand(target, i + 10, devices);
    const auto start = std::chrono::steady_clock::now();
    auto r = get(t);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
    if (!r.ok() || r->status != 200) {
      ++bad;
    } else {
      bytes = r->body.size();
    }
  }
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))];
  };
  std::printf(
      "requests=%d p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f body_bytes=%zu not_200=%d\n",
      requests, pct(0.50), pct(0.90), pct(0.99), ms.back(), bytes, bad);
  return bad == 0 ? 0 : 1;
}
