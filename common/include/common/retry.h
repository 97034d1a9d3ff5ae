// What to do after a failure, decided in one place.
//
// Every delivery (client -> beacon, beacon -> upstream, spool -> store) ends
// in one of four outcomes, chosen from the Status code alone:
//   kDone    OK, AlreadyExists: delivered (or the peer already had it)
//   kRetry   Unavailable, DeadlineExceeded, ResourceExhausted, Internal:
//            transient; back off and try again (then fail over)
//   kStop    Unauthenticated, PermissionDenied, NotFound, FailedPrecondition,
//            ...: the peer or our configuration is wrong, not the item; keep
//            the item, stop, report, try again much later
//   kReject  InvalidArgument, DataLoss: this item's own bytes are proven bad
//            and will never be accepted; quarantine it and report
// The drain loop (common/drain.h) turns each outcome into one action.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include "common/status.h"

namespace common {

enum class Outcome { kDone, kRetry, kStop, kReject };

Outcome Classify(const Status& status);

// Maps an HTTP answer to a Status (docs/protocol.md, "Status codes"):
//   2xx, 304                     OK
//   422                          InvalidArgument (the upload itself is bad: reject)
//   408                          DeadlineExceeded (the transfer timed out: retry)
//   429, 502, 503, 504           Unavailable (retry)
//   507                          ResourceExhausted (retry)
//   other 5xx, 1xx, other 3xx    Internal (retry)
//   401, 407                     Unauthenticated (stop)
//   403                          PermissionDenied (stop)
//   404, 405                     NotFound (stop)
//   400, 413 and other 4xx       FailedPrecondition (stop: the request, not
//                                the upload's bytes, is what the peer refuses)
// `context` prefixes the message.
Status StatusFromHttp(int http_status, const std::string& context);

// Seconds from a Retry-After header in delta-seconds form; 0 when absent or
// malformed (HTTP dates are not used by this protocol). Capped at a day.
int ParseRetryAfter(const std::string& value);

// Capped exponential backoff with full jitter: the n-th delay is
// floor + uniform[0, min(cap, base * 2^n)], so a fleet that failed together
// does not retry together, not even when the peer names one Retry-After for
// all. Seeded from std::random_device, so processes started in the same
// second draw differently. Not thread-safe.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap);
  // A fixed seed, for tests.
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, uint64_t seed);
  // The delay before the next attempt: `floor` (a Retry-After) plus jitter.
  std::chrono::milliseconds Next(std::chrono::milliseconds floor = std::chrono::milliseconds(0));
  void Reset() { attempt_ = 0; }
  // Jumps to the cap: the next delays are drawn from [0, cap].
  void Saturate() { attempt_ = 30; }
  int attempt() const { return attempt_; }
  // Continues another sender's backoff: the next delay is the one after
  // `attempt` failures. Lets one Backoff (and its generator) serve many
  // senders that each keep only their count, as the swarm simulator's
  // devices do.
  void set_attempt(int attempt) { attempt_ = attempt < 0 ? 0 : attempt; }

 private:
  std::chrono::milliseconds base_, cap_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace common
