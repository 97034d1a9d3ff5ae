#include "stats.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace swarm {

const char* RequestName(Request r) {
  switch (r) {
    case Request::kManifest:
      return "manifest";
    case Request::kFile:
      return "file";
    case Request::kUpload:
      return "upload";
  }
  return "?";
}

int Histogram::Bucket(uint64_t value) {
  if (value < 64) return static_cast<int>(value);
  int msb = 63 - __builtin_clzll(value);
  int shift = msb - 5;  // value >> shift is in [32, 63]
  return 64 + (shift - 1) * 32 + static_cast<int>((value >> shift) - 32);
}

uint64_t Histogram::Middle(int bucket) {
  if (bucket < 64) return static_cast<uint64_t>(bucket);
  int k = bucket - 64;
  int shift = k / 32 + 1;
  uint64_t lower = static_cast<uint64_t>(k % 32 + 32) << shift;
  return lower + (uint64_t{1} << shift) / 2;
}

void Histogram::Add(uint64_t value) {
  buckets_[Bucket(value)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  uint64_t seen = max_.load(std::memory_order_relaxed);
  while (value > seen && !max_.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

uint64_t Histogram::Percentile(double fraction) const {
  uint64_t total = Count();
  if (total == 0) return 0;
  if (fraction >= 1) return Max();
  // The rank of the sample asked for, 1-based: p99 of 100 samples is the 99th.
  auto rank = static_cast<uint64_t>(fraction * static_cast<double>(total));
  rank = std::clamp<uint64_t>(rank, 1, total);
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += buckets_[b].load(std::memory_order_relaxed);
    if (seen >= rank) return std::min(Middle(b), Max());
  }
  return Max();
}

double PhaseStats::Seconds() const {
  auto end =
      end_ == std::chrono::steady_clock::time_point{} ? std::chrono::steady_clock::now() : end_;
  return std::chrono::duration<double>(end - begin_).count();
}

void PhaseStats::Record(Request type, std::chrono::microseconds latency,
                        const std::string& answer) {
  latency_us_[static_cast<int>(type)].Add(
      static_cast<uint64_t>(std::max<int64_t>(0, latency.count())));
  std::lock_guard<std::mutex> lock(mu_);
  ++answers_[static_cast<int>(type)][answer];
}

void PhaseStats::Count(const std::string& counter, uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  counters_[counter] += n;
}

uint64_t PhaseStats::Counter(const std::string& counter) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counters_.find(counter);
  return it == counters_.end() ? 0 : it->second;
}

uint64_t PhaseStats::Answers(Request type, const std::string& answer) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto& m = answers_[static_cast<int>(type)];
  auto it = m.find(answer);
  return it == m.end() ? 0 : it->second;
}

uint64_t PhaseStats::Requests() const {
  uint64_t n = 0;
  for (const auto& h : latency_us_) n += h.Count();
  return n;
}

namespace {

double Ms(uint64_t us) { return static_cast<double>(us) / 1000.0; }

nlohmann::json Percentiles(const Histogram& h, double scale) {
  auto v = [&](uint64_t x) { return static_cast<double>(x) * scale; };
  return {{"count", h.Count()},
          {"p50", v(h.Percentile(0.5))},
          {"p90", v(h.Percentile(0.9))},
          {"p99", v(h.Percentile(0.99))},
          {"max", v(h.Max())}};
}

}  // namespace

nlohmann::json PhaseStats::ToJson() const {
  const double seconds = Seconds();
  nlohmann::json j;
  j["phase"] = name_;
  j["seconds"] = seconds;
  j["requests"] = Requests();
  j["requests_per_s"] = seconds > 0 ? static_cast<double>(Requests()) / seconds : 0.0;
  std::lock_guard<std::mutex> lock(mu_);
  for (int t = 0; t < kRequestTypes; ++t) {
    const Histogram& h = latency_us_[t];
    if (h.Count() == 0) continue;
    nlohmann::json r = Percentiles(h, 0.001);  // milliseconds
    r["per_s"] = seconds > 0 ? static_cast<double>(h.Count()) / seconds : 0.0;
    r["answers"] = answers_[t];
    j["latency_ms"][RequestName(static_cast<Request>(t))] = r;
  }
  j["counters"] = counters_;
  if (lag_ms_.Count() > 0) j["round_lag_ms"] = Percentiles(lag_ms_, 1);
  if (served_ms_.Count() > 0) j["served_ms"] = Percentiles(served_ms_, 1);
  return j;
}

std::string PhaseStats::ToText() const {
  const double seconds = Seconds();
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line, "phase %s: %.1f s, %llu requests, %.0f requests/s\n",
                name_.c_str(), seconds, static_cast<unsigned long long>(Requests()),
                seconds > 0 ? static_cast<double>(Requests()) / seconds : 0.0);
  out << line;
  std::snprintf(line, sizeof line, "  %-9s %9s %8s %9s %9s %9s %9s  %s\n", "request", "count",
                "per s", "p50 ms", "p90 ms", "p99 ms", "max ms", "answers");
  out << line;
  std::lock_guard<std::mutex> lock(mu_);
  for (int t = 0; t < kRequestTypes; ++t) {
    const Histogram& h = latency_us_[t];
    if (h.Count() == 0) continue;
    std::string answers;
    for (const auto& [k, v] : answers_[t])
      answers += (answers.empty() ? "" : " ") + k + ":" + std::to_string(v);
    std::snprintf(line, sizeof line, "  %-9s %9llu %8.0f %9.1f %9.1f %9.1f %9.1f  %s\n",
                  RequestName(static_cast<Request>(t)), static_cast<unsigned long long>(h.Count()),
                  seconds > 0 ? static_cast<double>(h.Count()) / seconds : 0.0,
                  Ms(h.Percentile(0.5)), Ms(h.Percentile(0.9)), Ms(h.Percentile(0.99)), Ms(h.Max()),
                  answers.c_str());
    out << line;
  }
  auto ms_line = [&](const char* what, const Histogram& h) {
    if (h.Count() == 0) return;
    std::snprintf(line, sizeof line, "  %s (ms): p50 %llu, p90 %llu, p99 %llu, max %llu, of %llu\n",
                  what, static_cast<unsigned long long>(h.Percentile(0.5)),
                  static_cast<unsigned long long>(h.Percentile(0.9)),
                  static_cast<unsigned long long>(h.Percentile(0.99)),
                  static_cast<unsigned long long>(h.Max()),
                  static_cast<unsigned long long>(h.Count()));
    out << line;
  };
  ms_line("round lag", lag_ms_);
  ms_line("device served after the relay returned", served_ms_);
  if (!counters_.empty()) {
    out << "  counters:";
    for (const auto& [k, v] : counters_) out << " " << k << "=" << v;
    out << "\n";
  }
  return out.str();
}

}  // namespace swarm
