// Actions (docs/health.md#actions): work an administrator queued for this
// device, delivered in its signed manifest, run at most once each and
// answered with an "action" upload (inventory/action.h).
//
// The ledger, STATE_DIR/actions, remembers every action seen, one line each:
//   started <id> <expires> <kind> <started-at>
//   done|failed <id> <expires> <kind> <started-at> <finished-at>
// (times in unix seconds). A line "started" is written durably before the
// action runs, so an action never runs twice, even across a crash; one found
// "started" when the ledger is opened was cut short and is reported failed
// ("interrupted"). Its result is in the outbox durably before its line says
// done or failed. Lines are dropped a week after the action's expiry (the
// central no longer lists it by then). Used from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/settings.h"
#include "common/env.h"
#include "common/status.h"
#include "policy/manifest.h"
#include "uploads.h"

namespace client {

class Actions {
 public:
  // What each kind does: OK with the result's text ("inventory 42 queued"),
  // or the failure, which becomes the text of a failed result.
  using Runner = std::function<common::StatusOr<std::string>()>;
  struct Runners {
    Runner inventory, logs, policy, diagnose;
  };

  struct Entry {
    std::string state;  // "started", "done", "failed"
    std::string id, kind;
    int64_t expires_at = 0, started_at = 0, finished_at = 0;
  };

  static constexpr int64_t kKeepAfterExpiry = 7 * 86400;

  // Reads STATE_DIR/actions (missing: empty). Lines that cannot be read are
  // logged and dropped (an action on such a line could run again: better
  // than a ledger that stops every action). `queue` must outlive the Actions.
  static common::StatusOr<std::unique_ptr<Actions>> Open(const std::string& state_dir, const std::string& device,
                                                         QueueUpload queue, common::Env* env = nullptr);

  // Runs every action of `actions` (the applied manifest's) that this device
  // has not started before and that has not expired by `now`, in id order,
  // and reports each; reports the actions a restart interrupted; drops old
  // lines. Returns the first failure to record or queue (an action's own
  // failure is its result, not an error here).
  common::Status Run(const std::vector<policy::ManifestAction>& actions, const Runners& runners, int64_t now);

  // The ledger, most recently started first, at most `n`.
  std::vector<Entry> Recent(size_t n) const;
  // For `status`: "actions:" and the `n` most recent on a line each.
  std::string StatusLines(size_t n) const;

 private:
  Actions(std::string path, std::string device, QueueUpload queue, common::Env* env)
      : path_(std::move(path)), device_(std::move(device)), queue_(std::move(queue)), env_(env) {}
  common::Status Save() const;
  // Queues the result of `e` and only then marks it finished.
  common::Status Finish(Entry& e, bool ok, const std::string& text, int64_t now);

  const std::string path_;
  const std::string device_;
  QueueUpload queue_;
  common::Env* env_;
  std::vector<Entry> ledger_;
  // Ids found "started" at Open: interrupted by a restart.
  std::vector<std::string> interrupted_;
};

// The diagnose action: client::Diagnose (diagnose.h) with its default
// options, the troubleshooting bundle written to a temporary file in
// `settings.state_dir` and queued as a "logs" upload. The text names the
// first failed step's code ("all passed" if none) and the bundle's upload id.
common::StatusOr<std::string> RunDiagnoseAction(const ClientSettings& settings, const QueueUpload& queue);

}  // namespace client
