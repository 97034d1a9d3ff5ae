#include "health_checks.h"

#include <algorithm>
#include <cstdlib>

#include "common/fs.h"
#include "common/log.h"
#include "common/retry.h"
#include "common/time.h"
#include "common/uuid.h"

namespace client {

using common::Status;
using common::StatusOr;
using inventory::HealthType;

namespace {

std::string MiB(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

StatusOr<std::unique_ptr<HealthChecks>> HealthChecks::Open(const std::string& state_dir, const std::string& device,
                                                           common::Env* env) {
  if (env == nullptr) env = common::Env::Default();
  const std::string path = state_dir + "/health.xml";
  auto book = inventory::HealthBook::Open(path, inventory::HealthSource::kDevice, device, env);
  if (!book.ok() && book.status().code() != common::Code::kInvalidArgument &&
      book.status().code() != common::Code::kFailedPrecondition) {
    return book.status();
  }
  if (!book.ok()) {
    // Damaged, or another device id's: kept for a person to look at. The
    // central clears what a newer report does not list, so starting anew
    // loses nothing but counts.
    common::LogError(book.status().ToString() + "; kept as health.xml.damaged, starting a new health book");
    RETURN_IF_ERROR(env->Rename(path, path + ".damaged").WithContext("set aside the health book"));
    book = inventory::HealthBook::Open(path, inventory::HealthSource::kDevice, device, env);
    if (!book.ok()) return book.status();
  }
  return std::unique_ptr<HealthChecks>(new HealthChecks(std::move(book).value()));
}

void HealthChecks::Failover(const FailoverOutcome& outcome, int64_t now) {
  if (!outcome.date.empty()) Clock(outcome.date, outcome.date_received_at);
  if (outcome.attempts.empty()) return;
  const bool reached = std::any_of(outcome.attempts.begin(), outcome.attempts.end(), [](const BeaconAttempt& a) {
    return common::Classify(a.status) != common::Outcome::kRetry;
  });
  if (reached) return book_->Clear(kBeaconUnreachable, now);
  std::string text = "no beacon could be reached:";
  for (size_t i = 0; i < outcome.attempts.size(); ++i) {
    text += (i == 0 ? " " : "; ") + outcome.attempts[i].url + " " + outcome.attempts[i].status.ToString();
  }
  book_->Raise(kBeaconUnreachable, "transport", HealthType::kError, 1, text, now);
}

void HealthChecks::Manifest(const std::string& refusal, int64_t now) {
  if (refusal.empty()) return book_->Clear(kManifestRefused, now);
  book_->Raise(kManifestRefused, "policy", HealthType::kError, 1, "manifest refused: " + refusal, now);
}

void HealthChecks::Outbox(uint64_t bytes, uint64_t max_bytes, int64_t now) {
  const long double share = max_bytes == 0 ? 0 : static_cast<long double>(bytes) / static_cast<long double>(max_bytes);
  if (share <= 0.8L) return book_->Clear(kOutboxNearCap, now);
  book_->Raise(kOutboxNearCap, "outbox", HealthType::kWarning, 2,
               "the outbox holds " + std::to_string(bytes) + " bytes, " +
                   std::to_string(static_cast<int>(share * 100)) + "% of outbox_max_size (" +
                   std::to_string(max_bytes) + " bytes); uploads are not leaving",
               now);
}

void HealthChecks::Disk(uint64_t free_bytes, uint64_t outbox_max_size, int64_t now) {
  const uint64_t want = std::max(kMinFree, outbox_max_size > UINT64_MAX / 2 ? UINT64_MAX : 2 * outbox_max_size);
  if (free_bytes >= want) return book_->Clear(kDiskShort, now);
  book_->Raise(kDiskShort, "disk", HealthType::kWarning, 2,
               MiB(free_bytes) + " free for the state folder, less than " + MiB(want) +
                   " (2 x outbox_max_size, at least 100 MiB)",
               now);
}

void HealthChecks::Clock(const std::string& date, int64_t received_at) {
  auto beacon = common::ParseHttpDate(date);
  if (!beacon.ok()) return common::LogDebug("health: the beacon's Date header: " + beacon.status().message());
  const int64_t skew = received_at - *beacon;
  if (std::llabs(skew) <= kMaxSkew) return book_->Clear(kClockSkew, received_at);
  book_->Raise(kClockSkew, "clock", HealthType::kWarning, 2,
               "the local clock is " + std::to_string(std::llabs(skew)) + " s " + (skew > 0 ? "ahead of" : "behind") +
                   " the beacon's (Date: " + date + ")",
               received_at);
}

void HealthChecks::Certificate(std::optional<int64_t> not_after, int64_t now) {
  if (!not_after || *not_after - now > kCertWarnBefore) return book_->Clear(kCertificateExpiring, now);
  const int64_t left = *not_after - now;
  const bool urgent = left < kCertErrorBefore;
  book_->Raise(kCertificateExpiring, "identity", urgent ? HealthType::kError : HealthType::kWarning, urgent ? 1 : 2,
               "the device certificate " + std::string(left < 0 ? "expired" : "expires") + " at " +
                   common::FormatRfc3339(*not_after) + (left < 0 ? "" : " (in " + std::to_string(left / 3600) + " h)") +
                   " and has not been renewed",
               now);
}

std::string HealthChecks::StatusLines() const {
  const std::vector<inventory::HealthMessage> open = book_->Open();
  std::string out = "health:           " + (open.empty() ? std::string("no open messages") : std::to_string(open.size()) + " open") + "\n";
  for (const inventory::HealthMessage& m : open) {
    out += "  " + m.id + " (" + inventory::HealthTypeName(m.type) + ", since " + common::FormatRfc3339(m.first_seen) +
           ", " + std::to_string(m.count) + "x): " + m.text + "\n";
  }
  return out;
}

Status HealthChecks::ReportIfDue(const QueueUpload& queue, int64_t now) {
  if (book_->ReportDue(now, kHeartbeat)) {
    inventory::Health report = book_->Report(now);
    const std::string id = common::NewUuid();
    // The outbox makes it durable; only then is its sequence used and are
    // the clearings it carries forgotten. A failed queue leaves it due.
    Status put = queue("health", id, inventory::ToXml(report));
    if (!put.ok()) {
      (void)book_->Save();
      return put.WithContext("queue the health report");
    }
    book_->MarkReported(report);
    common::LogInfo("health report #" + std::to_string(report.sequence) + " queued as " + id + " (" +
                    std::to_string(book_->Open().size()) + " open)");
  }
  return book_->Save();
}

}  // namespace client
