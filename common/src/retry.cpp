#include "common/retry.h"

#include <algorithm>

#include "common/config.h"

namespace common {

Outcome Classify(const Status& status) {
  switch (status.code()) {
    case Code::kOk:
    case Code::kAlreadyExists:  // the peer has it: delivered
      return Outcome::kDone;
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
    case Code::kResourceExhausted:
    case Code::kInternal:
      return Outcome::kRetry;
    case Code::kInvalidArgument:
    case Code::kDataLoss:
      return Outcome::kReject;
    default:
      return Outcome::kStop;
  }
}

Status StatusFromHttp(int s, const std::string& context) {
  std::string m = context + ": HTTP " + std::to_string(s);
  if ((s >= 200 && s < 300) || s == 304) return Status::Ok();
  switch (s) {
    case 422: return InvalidArgument(m);
    case 408: return DeadlineExceeded(m);
    case 429: case 502: case 503: case 504: return Unavailable(m);
    case 507: return ResourceExhausted(m);
    case 401:
    case 407:  // proxy authentication required: wrong or missing credentials
      return Unauthenticated(m);
    case 403: return PermissionDenied(m);
    case 404: case 405: return NotFound(m);
    default: break;
  }
  if (s >= 400 && s < 500) return FailedPrecondition(m);
  return Internal(m);
}

int ParseRetryAfter(const std::string& v) {
  int64_t seconds = 0;
  if (!ParseDecimal(v, &seconds)) return 0;
  return static_cast<int>(std::min<int64_t>(seconds, 86400));
}

namespace {
uint64_t RandomSeed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}
}  // namespace

Backoff::Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap)
    : Backoff(base, cap, RandomSeed()) {}

Backoff::Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, uint64_t seed)
    : base_(base), cap_(cap), rng_(seed) {}

std::chrono::milliseconds Backoff::Next(std::chrono::milliseconds floor) {
  int shift = std::min(attempt_, 30);
  ++attempt_;
  int64_t ceiling = std::min<int64_t>(cap_.count(), base_.count() << shift);
  if (ceiling < 0) ceiling = cap_.count();
  std::uniform_int_distribution<int64_t> dist(0, ceiling);
  return floor + std::chrono::milliseconds(dist(rng_));
}

}  // namespace common
