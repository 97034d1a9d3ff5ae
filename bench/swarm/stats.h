// What the swarm measured: latency histograms per request type, answers by
// status (or transport error), counters, and per phase of a scenario
// (prime, day, down, storm). All of it is thread-safe: every worker records
// into the same PhaseStats.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace swarm {

enum class Request { kManifest, kFile, kUpload };
inline constexpr int kRequestTypes = 3;
const char* RequestName(Request r);

// A log-linear histogram of non-negative values (the swarm records
// microseconds): exact below 64, then 32 buckets per power of two, so a
// percentile is within about 3% of the true value. Lock-free.
class Histogram {
 public:
  void Add(uint64_t value);
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t Max() const { return max_.load(std::memory_order_relaxed); }
  // The value below which `fraction` (0..1) of the samples lie (the middle
  // of its bucket; Max() for 1); 0 when empty.
  uint64_t Percentile(double fraction) const;

 private:
  static constexpr int kBuckets = 64 + 58 * 32;
  static int Bucket(uint64_t value);
  static uint64_t Middle(int bucket);
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> max_{0};
};

// One phase of a scenario: its wall time, every request's latency and
// answer, and named counters (retries, acknowledgements, ...).
class PhaseStats {
 public:
  explicit PhaseStats(std::string name) : name_(std::move(name)) {}

  void Begin() { begin_ = std::chrono::steady_clock::now(); }
  void End() { end_ = std::chrono::steady_clock::now(); }
  double Seconds() const;

  // `answer` is the HTTP status ("304") or, when there was none, the
  // transport error's code ("Unavailable").
  void Record(Request type, std::chrono::microseconds latency, const std::string& answer);
  void Count(const std::string& counter, uint64_t n = 1);
  uint64_t Counter(const std::string& counter) const;
  uint64_t Answers(Request type, const std::string& answer) const;
  uint64_t Requests() const;

  // Milliseconds from when a device's round was due to when a worker took
  // it up: how far the pool (and the servers behind it) fell behind.
  Histogram& lag_ms() { return lag_ms_; }
  // Outage storm: milliseconds from the relay's return until each device
  // had its check-in answered and its upload acknowledged.
  Histogram& served_ms() { return served_ms_; }

  const std::string& name() const { return name_; }
  nlohmann::json ToJson() const;
  // A table: one line per request type (count, rate, p50/p90/p99/max in
  // ms, answers), then the counters.
  std::string ToText() const;

 private:
  const std::string name_;
  std::chrono::steady_clock::time_point begin_{}, end_{};
  std::array<Histogram, kRequestTypes> latency_us_;
  Histogram lag_ms_;
  Histogram served_ms_;
  mutable std::mutex mu_;
  std::array<std::map<std::string, uint64_t>, kRequestTypes> answers_;
  std::map<std::string, uint64_t> counters_;
};

}  // namespace swarm
