// The one drain loop of every spool consumer: the client's outbox, a relay's
// spool and the central's importer.
//
// A consumer supplies `deliver`, which tries one entry and reports an
// Attempt, or `deliver_batch`, which tries several at once (the importer:
// one store transaction for many uploads) and reports one Attempt per
// entry, in order. The loop turns its outcome (common/retry.h) into one action:
//   done    the entry is removed from the spool
//   reject  the entry goes to rejected/ with the reason (its own bytes are
//           proven bad)
//   retry   back off (full jitter above the peer's Retry-After), then try again
//   stop    as retry, but the backoff jumps to its cap: the peer or the
//           configuration refuses us, and the log says so at error level
// An Attempt's scope says what a retry or stop holds back: kPeer (the peer
// is down or refuses us) ends the pass and backs the whole queue off;
// kEntry (this entry could not be read here, or is too large for this peer)
// holds only that entry back, with its own backoff, and the pass goes on,
// so one bad entry never blocks the others. Nothing but delivery or proven
// bad bytes ever takes an entry out of the spool.
//
// Backing off ends early when the optional `probe` (a cheap request to the
// peer) succeeds after the peer could not be reached at all. Not
// thread-safe: one thread runs the loop (stopping it: the StopFlag, then
// Spool::Wake()).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/retry.h"
#include "common/spool.h"
#include "common/status.h"
#include "common/stop_flag.h"

namespace common {

struct Attempt {
  enum class Scope { kPeer, kEntry };
  Status status;                           // the answer, mapped (StatusFromHttp), or the error
  std::chrono::seconds retry_after{0};     // the peer's Retry-After, 0 if none
  Scope scope = Scope::kPeer;
  // The peer answered (an HTTP status). A backoff after an answer (503
  // with Retry-After, 403) is kept whole; only one after the peer could not
  // be reached is cut short by a successful probe.
  bool answered = false;
  int http_status = 0;  // the peer's HTTP status when it answered (200 and 201 both map to OK)
};

// What the loop did with one attempted entry (Options::settled), for
// counting: each attempt ends in exactly one of these.
enum class Settled {
  kDelivered,  // the peer took it (OK): removed from the spool
  kDuplicate,  // the peer had it already (AlreadyExists): removed
  kRejected,   // its own bytes are proven bad: moved to rejected/
  kHeld,       // held back alone (scope kEntry) with its own backoff
  kRetried,    // it stays, and the queue backs off (the peer is down or busy,
               // or the spool could not be changed; also every entry of a
               // batch settled after the queue began backing off)
  kStopped,    // as kRetried, but the peer or the configuration refuses us
  kLost,       // it vanished from ready/ behind the loop's back: forgotten
};
// "delivered", "duplicate", "rejected", "held", "retried", "stopped", "lost".
const char* SettledName(Settled s);

class Drain {
 public:
  using Clock = std::chrono::steady_clock;
  using Deliver = std::function<Attempt(const SpoolMeta&)>;
  using DeliverBatch = std::function<std::vector<Attempt>(const std::vector<SpoolMeta>&)>;

  struct Options {
    std::string name = "drain";  // prefix of log lines ("relay", "importer", "outbox")
    std::chrono::milliseconds backoff_base{1000};
    std::chrono::milliseconds backoff_cap{300000};
    // While backing off, how often `probe` is tried (0: never).
    std::chrono::milliseconds probe_interval{0};
    // The most entries, and the most body bytes (unless one entry alone is
    // larger), handed to one deliver_batch call.
    size_t batch = 1;
    uint64_t batch_bytes = 64u << 20;
    // The monotonic clock; tests step their own.
    std::function<Clock::time_point()> now = [] { return Clock::now(); };
    // Called on the loop's thread once per attempted entry, after the loop
    // acted on it, with what it did (metrics count here, so that outcomes
    // are decided in this one place). Must be cheap and must not call into
    // the Drain. Null: none.
    std::function<void(const SpoolMeta&, Settled)> settled;
  };

  Drain(Spool* spool, Deliver deliver, Options options, std::function<Status()> probe = nullptr);
  Drain(Spool* spool, DeliverBatch deliver_batch, Options options);

  struct Pass {
    size_t delivered = 0;
    size_t rejected = 0;
    size_t held = 0;  // entries skipped or newly held back
    // The first failure that held something back or rejected something
    // (OK when the pass met none).
    Status error;
    // Set when the queue backs off (peer failure, or the spool could not be
    // changed): the pass ended early and the next one is due after `wait`.
    bool backing_off = false;
    std::chrono::milliseconds wait{0};
  };

  // Tries every ready entry once, oldest first, unless the queue is backing
  // off (then nothing is tried and `wait` is what is left of the backoff).
  // Under Run(), a stop ends the pass after the entry in hand.
  Pass RunPass();

  // Passes until `stop`: right after progress, on new entries, when an
  // entry's hold ends, and after a backoff (or sooner, when the probe finds
  // the peer back).
  void Run(StopFlag& stop);

  // When the queue's backoff ends (the past when it is not backing off).
  Clock::time_point retry_at() const { return retry_at_; }

 private:
  struct Hold {
    Clock::time_point until;
    Backoff backoff;
  };
  void BackOff(const Attempt& attempt, Outcome outcome, Pass* pass);
  // Acts on one entry's attempt (remove, reject, hold back, or back the
  // queue off) and says what it did.
  Settled Settle(const SpoolMeta& meta, const Attempt& attempt, Pass* pass);
  std::chrono::milliseconds UntilNextHold(Clock::time_point now) const;

  Spool* spool_;
  DeliverBatch deliver_;
  Options options_;
  std::function<Status()> probe_;
  StopFlag* stop_ = nullptr;  // Run()'s
  Backoff backoff_;
  Clock::time_point retry_at_{};
  bool unreachable_ = false;  // the backoff is for a peer that did not answer
  std::map<std::string, Hold> holds_;  // by SpoolKey; only keys still in the spool
  bool woken_ = false;  // the probe found the peer back
};

}  // namespace common
