#include "common/drain.h"

#include <algorithm>
#include <set>

#include "common/log.h"

namespace common {

namespace {
std::string Seconds(std::chrono::milliseconds d) {
  return std::to_string((d.count() + 999) / 1000) + "s";
}
}  // namespace

const char* SettledName(Settled s) {
  switch (s) {
    case Settled::kDelivered: return "delivered";
    case Settled::kDuplicate: return "duplicate";
    case Settled::kRejected: return "rejected";
    case Settled::kHeld: return "held";
    case Settled::kRetried: return "retried";
    case Settled::kStopped: return "stopped";
    case Settled::kLost: return "lost";
  }
  return "unknown";
}

namespace {
// A one-entry deliver as a batch deliver (its batches have one entry unless
// Options::batch says otherwise).
Drain::DeliverBatch OneByOne(Drain::Deliver deliver) {
  return [deliver = std::move(deliver)](const std::vector<SpoolMeta>& metas) {
    std::vector<Attempt> out;
    out.reserve(metas.size());
    for (const SpoolMeta& meta : metas) out.push_back(deliver(meta));
    return out;
  };
}
}  // namespace

Drain::Drain(Spool* spool, Deliver deliver, Options options, std::function<Status()> probe)
    : Drain(spool, OneByOne(std::move(deliver)), std::move(options)) {
  probe_ = std::move(probe);
}

Drain::Drain(Spool* spool, DeliverBatch deliver_batch, Options options)
    : spool_(spool),
      deliver_(std::move(deliver_batch)),
      options_(std::move(options)),
      backoff_(options_.backoff_base, options_.backoff_cap) {}

void Drain::BackOff(const Attempt& attempt, Outcome outcome, Pass* pass) {
  if (outcome == Outcome::kStop) backoff_.Saturate();
  auto delay = backoff_.Next(attempt.retry_after);
  retry_at_ = options_.now() + delay;
  unreachable_ = !attempt.answered;
  pass->backing_off = true;
  pass->wait = delay;
  if (pass->error.ok()) pass->error = attempt.status;
  std::string line = options_.name + ": " + attempt.status.ToString() + "; next try in " + Seconds(delay);
  if (outcome == Outcome::kStop) {
    LogError(line);
  } else {
    LogWarn(line);
  }
}

Drain::Pass Drain::RunPass() {
  Pass pass;
  if (woken_) {
    woken_ = false;
    backoff_.Reset();
    retry_at_ = Clock::time_point{};
  }
  auto now = options_.now();
  if (now < retry_at_) {
    pass.backing_off = true;
    pass.wait = std::chrono::ceil<std::chrono::milliseconds>(retry_at_ - now);
    return pass;
  }
  std::vector<SpoolMeta> entries = spool_->List();
  {
    std::set<std::string> keys;
    for (const auto& m : entries) keys.insert(SpoolKey(m));
    for (auto it = holds_.begin(); it != holds_.end();) {
      it = keys.count(it->first) ? std::next(it) : holds_.erase(it);
    }
  }
  // Entries go to deliver_ in batches (Options::batch, batch_bytes), in
  // spool order; each attempt is then settled in the same order.
  std::vector<SpoolMeta> batch;
  uint64_t batch_bytes = 0;
  auto flush = [&] {
    if (batch.empty()) return;
    std::vector<Attempt> attempts = deliver_(batch);
    for (size_t i = 0; i < batch.size(); ++i) {
      Attempt attempt = i < attempts.size() ? std::move(attempts[i])
                                            : Attempt{Internal(options_.name + ": no attempt reported")};
      Settled settled = Settle(batch[i], attempt, &pass);
      if (options_.settled) options_.settled(batch[i], settled);
    }
    batch.clear();
    batch_bytes = 0;
  };
  auto stopped = [&] { return stop_ != nullptr && stop_->stopped(); };
  for (const SpoolMeta& meta : entries) {
    auto hold = holds_.find(SpoolKey(meta));
    if (hold != holds_.end() && options_.now() < hold->second.until) {
      ++pass.held;
      continue;
    }
    if (!batch.empty() && batch_bytes + meta.size > options_.batch_bytes) flush();
    // A shutdown does not wait for the backlog: the pass ends after the
    // entries in hand.
    if (pass.backing_off || stopped()) break;
    batch.push_back(meta);
    batch_bytes += meta.size;
    if (batch.size() >= options_.batch) flush();
  }
  if (!pass.backing_off && !stopped()) flush();
  return pass;
}

// After the queue backs off, the rest of a batch is still settled (what
// was delivered leaves the spool) but backs nothing off again.
Settled Drain::Settle(const SpoolMeta& meta, const Attempt& attempt, Pass* pass) {
  const std::string key = SpoolKey(meta);
  Outcome outcome = Classify(attempt.status);
  if (attempt.scope == Attempt::Scope::kEntry && attempt.status.code() == Code::kNotFound) {
    // The file vanished from ready/ behind our back: nothing is left to
    // send. Say so loudly and let the other entries go on.
    LogError(options_.name + ": " + meta.kind + " " + key + " vanished from the spool and is lost: " +
             attempt.status.message());
    Status forgotten = spool_->Remove(meta);
    if (!forgotten.ok()) LogError(options_.name + ": " + forgotten.ToString());
    if (pass->error.ok()) pass->error = attempt.status;
    return Settled::kLost;
  }
  switch (outcome) {
    case Outcome::kDone: {
      Status removed = spool_->Remove(meta);
      if (!removed.ok()) {
        // Delivered, but the spool cannot let go of it: pause instead of
        // sending everything again at once (the peer dedupes what is sent).
        // (answered: the peer is fine, our disk is not; no probe ends this.)
        if (!pass->backing_off) {
          BackOff(Attempt{removed.WithContext("delivered " + key + " but cannot remove it"), {}, {}, true},
                  Outcome::kRetry, pass);
        }
        return Settled::kRetried;
      }
      holds_.erase(key);
      backoff_.Reset();
      ++pass->delivered;
      LogInfo(options_.name + ": " + (attempt.status.ok() ? "delivered " : "already delivered ") + meta.kind +
              " " + key);
      return attempt.status.ok() ? Settled::kDelivered : Settled::kDuplicate;
    }
    case Outcome::kReject: {
      Status rejected = spool_->Reject(meta, attempt.status.ToString());
      if (!rejected.ok()) {
        if (!pass->backing_off) {
          BackOff(Attempt{rejected.WithContext("cannot quarantine " + key), {}, {}, true}, Outcome::kRetry, pass);
        }
        return Settled::kRetried;
      }
      holds_.erase(key);
      ++pass->rejected;
      if (pass->error.ok()) pass->error = attempt.status;
      return Settled::kRejected;
    }
    case Outcome::kRetry:
    case Outcome::kStop:
      break;
  }
  if (attempt.scope == Attempt::Scope::kPeer) {
    if (!pass->backing_off) BackOff(attempt, outcome, pass);
    return outcome == Outcome::kStop ? Settled::kStopped : Settled::kRetried;
  }
  auto it = holds_.try_emplace(key, Hold{{}, Backoff(options_.backoff_base, options_.backoff_cap)}).first;
  if (outcome == Outcome::kStop) it->second.backoff.Saturate();
  auto delay = it->second.backoff.Next(attempt.retry_after);
  it->second.until = options_.now() + delay;
  ++pass->held;
  if (pass->error.ok()) pass->error = attempt.status;
  LogWarn(options_.name + ": holding " + meta.kind + " " + key + " back for " + Seconds(delay) + ": " +
          attempt.status.ToString());
  return Settled::kHeld;
}

std::chrono::milliseconds Drain::UntilNextHold(Clock::time_point now) const {
  std::chrono::milliseconds next = std::chrono::seconds(30);
  for (const auto& [key, hold] : holds_) {
    next = std::min(next, std::chrono::ceil<std::chrono::milliseconds>(hold.until - now));
  }
  return std::max(next, std::chrono::milliseconds(1));
}

void Drain::Run(StopFlag& stop) {
  stop_ = &stop;
  while (!stop.stopped()) {
    // Read before the pass: a commit, Wake() or stop during it is not missed.
    uint64_t seen = spool_->Generation();
    Pass pass = RunPass();
    if (!pass.backing_off) {
      if (pass.delivered + pass.rejected > 0) continue;  // more may have come meanwhile
      spool_->WaitForWork(seen, UntilNextHold(options_.now()));
      continue;
    }
    auto last_probe = options_.now();
    for (;;) {
      seen = spool_->Generation();
      auto now = options_.now();
      if (stop.stopped() || woken_ || now >= retry_at_) break;
      auto step = std::chrono::ceil<std::chrono::milliseconds>(retry_at_ - now);
      const bool probing = probe_ && options_.probe_interval.count() > 0 && unreachable_;
      if (probing) {
        step = std::min(step, std::chrono::ceil<std::chrono::milliseconds>(last_probe + options_.probe_interval - now));
      }
      spool_->WaitForWork(seen, std::max(step, std::chrono::milliseconds(1)));
      if (probing && options_.now() - last_probe >= options_.probe_interval) {
        last_probe = options_.now();
        if (probe_().ok()) {
          LogInfo(options_.name + ": the peer answers again; retrying now");
          woken_ = true;
        }
      }
    }
  }
}

}  // namespace common
