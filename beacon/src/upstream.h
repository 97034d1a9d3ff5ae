// A beacon's view of its upstream: the headers a relaying beacon adds to
// what it forwards, and the relay loop that drains its spool upstream.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/drain.h"
#include "common/http_client.h"
#include "common/spool.h"
#include "common/stop_flag.h"

namespace beacon {

// The upstream as the relay last found it: accepting uploads (or answering
// its probe) or not, and since when (unix seconds).
struct UpstreamState {
  bool ok = true;
  int64_t since = 0;
};

// Headers describing the device a forwarded request is for.
common::HeaderList DeviceHeaders(const std::string& device, const std::string& client_version,
                                 int64_t policy_revision, const std::string& via);

// PUTs one spool entry upstream with its id, kind, digest and the device's
// headers (when and by which beacon it was first received).
common::Attempt SendUpload(common::Transport& upstream, const common::Spool& spool,
                           const common::SpoolMeta& meta);

// Makes a connection to the upstream (HttpClient::Create in production).
using Connect = std::function<common::StatusOr<std::unique_ptr<common::Transport>>()>;

// Forwards ready spool entries upstream, oldest first, through the one drain
// loop (common/drain.h): an entry leaves the spool only after the upstream's
// 200/201, or into rejected/ when its bytes are proven bad (the upstream's
// 422, or a spool file found truncated here). While backing off after the
// upstream could not be reached, it probes it with GET /v1/ping every
// options.probe_interval and drains as soon as it answers. The connection is kept between uploads and made anew
// after a failure.
class Relay {
 public:
  Relay(common::Spool* spool, Connect connect, common::Drain::Options options);
  // Drains until `stop`.
  void Run(common::StopFlag& stop) { drain_.Run(stop); }
  // One pass (tests).
  common::Drain::Pass RunPass() { return drain_.RunPass(); }
  // Thread-safe: the outcome of the last exchange with the upstream.
  UpstreamState upstream_state() const;

 private:
  common::StatusOr<common::Transport*> Upstream();
  common::Attempt Deliver(const common::SpoolMeta& meta);
  common::Status Probe();
  // Records whether the upstream answered (a retryable failure means not).
  void Note(const common::Status& st);

  common::Spool* spool_;
  Connect connect_;
  std::unique_ptr<common::Transport> upstream_;
  common::Drain drain_;
  mutable std::mutex state_mu_;
  UpstreamState state_;
};

}  // namespace beacon
