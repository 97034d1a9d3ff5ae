// A scripted Transport for drain-loop tests (DESIGN.md, "Seams"): each
// request takes the next scripted behaviour, or answers 201 when the script
// is empty. Uploads read their body from the source as a real sender
// would, so a cut or a stall happens after part of the body was read.
// The failures are the Status codes the HttpClient adapter gives for the
// same events (common/http_client.h).
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "common/http_client.h"

namespace testing_support {

class FaultTransport : public common::Transport {
 public:
  struct Step {
    enum Kind {
      kAnswer,   // an HTTP answer: status, optional Retry-After
      kRefuse,   // connection refused
      kStall,    // the peer stops reading mid-body: a write timeout
      kCut,      // the connection is cut after `after` body bytes
      kReset,    // reset while sending (a peer that refused and closed)
    } kind = kAnswer;
    int status = 201;
    std::string retry_after;
    uint64_t after = 0;
  };

  std::deque<Step> script;
  std::vector<std::string> paths;     // every request's path, in order
  std::vector<std::string> received;  // complete bodies of answered PUTs

  static Step Answer(int status, std::string retry_after = "") {
    Step s;
    s.status = status;
    s.retry_after = std::move(retry_after);
    return s;
  }
  static Step Fail(Step::Kind kind, uint64_t after = 0) {
    Step s;
    s.kind = kind;
    s.after = after;
    return s;
  }

  common::StatusOr<common::HttpResult> Get(const std::string& path, const common::HeaderList&,
                                           uint64_t) override {
    paths.push_back(path);
    Step step = Next();
    if (step.kind != Step::kAnswer) return Failure(step.kind);
    return Result(step);
  }

  common::StatusOr<common::HttpResult> Put(const std::string& path, const common::HeaderList&, uint64_t size,
                                           const common::BodySource& source, const std::string&) override {
    paths.push_back(path);
    Step step = Next();
    if (step.kind == Step::kRefuse) return Failure(step.kind);
    uint64_t limit = step.kind == Step::kAnswer ? size : std::min(step.after, size);
    std::string body;
    while (body.size() < limit) {
      auto chunk = source(body.size(), std::min<uint64_t>(limit - body.size(), 4096));
      if (!chunk.ok()) return common::Unavailable("body source failed");
      body += *chunk;
    }
    if (step.kind != Step::kAnswer) return Failure(step.kind);
    if (step.status / 100 == 2) received.push_back(body);
    return Result(step);
  }

  const std::string& url() const override { return url_; }

 private:
  Step Next() {
    if (script.empty()) return Answer(201);
    Step s = script.front();
    script.pop_front();
    return s;
  }
  static common::Status Failure(Step::Kind kind) {
    switch (kind) {
      case Step::kRefuse: return common::Unavailable("PUT: Could not establish connection");
      case Step::kStall: return common::Unavailable("PUT: Failed to write connection (timeout)");
      case Step::kCut: return common::Unavailable("PUT: Failed to read connection");
      default: return common::Unavailable("PUT: Connection reset by peer");
    }
  }
  static common::HttpResult Result(const Step& step) {
    common::HttpResult r;
    r.status = step.status;
    if (!step.retry_after.empty()) r.headers.emplace("retry-after", step.retry_after);
    return r;
  }
  std::string url_ = "https://fault.invalid";
};

}  // namespace testing_support
