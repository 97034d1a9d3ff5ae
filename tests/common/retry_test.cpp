#include "common/retry.h"

#include <catch2/catch.hpp>

using common::Outcome;

TEST_CASE("HTTP statuses map to codes and outcomes") {
  struct Case {
    int http;
    Outcome outcome;
  };
  for (auto c : std::vector<Case>{{200, Outcome::kDone},   {201, Outcome::kDone},   {304, Outcome::kDone},
                                  {400, Outcome::kStop},   {401, Outcome::kStop},   {403, Outcome::kStop},
                                  {404, Outcome::kStop},   {411, Outcome::kStop},   {413, Outcome::kStop},
                                  {415, Outcome::kStop},   {431, Outcome::kStop},   {422, Outcome::kReject},
                                  {408, Outcome::kRetry},  {429, Outcome::kRetry},  {500, Outcome::kRetry},
                                  {502, Outcome::kRetry},  {503, Outcome::kRetry},  {504, Outcome::kRetry},
                                  {507, Outcome::kRetry}}) {
    INFO(c.http);
    CHECK(common::Classify(common::StatusFromHttp(c.http, "PUT x")) == c.outcome);
  }
  CHECK(common::StatusFromHttp(503, "PUT x").message() == "PUT x: HTTP 503");
  CHECK(common::Classify(common::Unavailable("down")) == Outcome::kRetry);
  CHECK(common::Classify(common::DeadlineExceeded("slow")) == Outcome::kRetry);
  CHECK(common::Classify(common::Unauthenticated("bad cert")) == Outcome::kStop);
  CHECK(common::Classify(common::FailedPrecondition("old policy")) == Outcome::kStop);
  CHECK(common::Classify(common::DataLoss("corrupt")) == Outcome::kReject);
  CHECK(common::Classify(common::AlreadyExists("dup")) == Outcome::kDone);
}

TEST_CASE("backoff is capped, jittered and honours a floor") {
  using std::chrono::milliseconds;
  common::Backoff b(milliseconds(100), milliseconds(5000), 42);
  int64_t max_seen = 0;
  bool varied = false;
  int64_t prev = -1;
  for (int i = 0; i < 200; ++i) {
    int64_t d = b.Next().count();
    CHECK(d >= 0);
    CHECK(d <= 5000);
    if (i < 3) CHECK(d <= (100 << i));
    if (prev >= 0 && d != prev) varied = true;
    prev = d;
    max_seen = std::max(max_seen, d);
  }
  CHECK(varied);
  CHECK(max_seen > 2500);  // the cap is reached, not just the base
  // Jitter above a Retry-After: senders told the same time spread out.
  auto floored = b.Next(milliseconds(60000)).count();
  CHECK(floored >= 60000);
  CHECK(floored <= 65000);
  // Above, not at: senders told the same Retry-After do not come back together.
  bool above = false;
  for (int i = 0; i < 20; ++i) above |= b.Next(milliseconds(60000)).count() > 60000;
  CHECK(above);
  b.Reset();
  CHECK(b.Next().count() <= 100);
}

TEST_CASE("a backoff continues another sender's count") {
  using std::chrono::milliseconds;
  common::Backoff b(milliseconds(100), milliseconds(100000), 7);
  b.set_attempt(5);  // the sixth delay: drawn from [0, 100 ms * 2^5]
  bool high = false;
  for (int i = 0; i < 50; ++i) {
    b.set_attempt(5);
    int64_t d = b.Next().count();
    CHECK(d <= 3200);
    high |= d > 200;
    CHECK(b.attempt() == 6);
  }
  CHECK(high);
  b.set_attempt(-3);
  CHECK(b.attempt() == 0);
  CHECK(b.Next(milliseconds(1000)).count() <= 1100);
}

TEST_CASE("Retry-After values") {
  CHECK(common::ParseRetryAfter("30") == 30);
  CHECK(common::ParseRetryAfter("") == 0);
  CHECK(common::ParseRetryAfter("-5") == 0);
  CHECK(common::ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT") == 0);
  CHECK(common::ParseRetryAfter("999999999") == 86400);
}
