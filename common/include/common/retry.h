// What to do after a failure, decided in one place.
//
// Every delivery (client -> beacon, beacon -> upstream) ends in one of four
// outcomes, chosen from the Status code alone:
//   kDone    OK, AlreadyExists: delivered (or the peer already had it)
//   kRetry   Unavailable, DeadlineExceeded, ResourceExhausted, Internal:
//            transient; back off and try again (then fail over)
//   kStop    Unauthenticated, PermissionDenied, NotFound, FailedPrecondition,
//            ...: the peer or our configuration is wrong, not the item; keep
//            the item, stop this round and report, try again much later
//   kReject  InvalidArgument, DataLoss: this item itself is bad and will
//            never be accepted; quarantine it and report
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include "common/status.h"

namespace common {

enum class Outcome { kDone, kRetry, kStop, kReject };

Outcome Classify(const Status& status);

// Maps an HTTP answer to a Status: 2xx and 304 OK; 400/413/415/422 ->
// InvalidArgument; 401 -> Unauthenticated; 403 -> PermissionDenied; 404 ->
// NotFound; 408/429/502/503/504 -> Unavailable; 507 -> ResourceExhausted;
// other 5xx -> Internal (retried); anything else -> Internal. `context`
// prefixes the message.
Status StatusFromHttp(int http_status, const std::string& context);

// Seconds from a Retry-After header in delta-seconds form; 0 when absent or
// malformed (HTTP dates are not used by this protocol). Capped at a day.
int ParseRetryAfter(const std::string& value);

// Capped exponential backoff with full jitter: the n-th delay is uniform in
// [0, min(cap, base * 2^n)], so a fleet that failed together does not retry
// together. Not thread-safe.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, uint64_t seed);
  // The delay before the next attempt; at least `floor` (a Retry-After).
  std::chrono::milliseconds Next(std::chrono::milliseconds floor = std::chrono::milliseconds(0));
  void Reset() { attempt_ = 0; }
  int attempt() const { return attempt_; }

 private:
  std::chrono::milliseconds base_, cap_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace common
