// The client's own health (docs/health.md, "Client messages"): each condition
// is raised where it is found and cleared when it no longer holds, in a
// HealthBook kept at STATE_DIR/health.xml; the book is put in the outbox as a
// "health" upload when it changed, and at least once a day.
//
// The checks take what they judge as arguments (a failover outcome, a
// refusal, sizes, a Date header, a certificate's expiry) so that they are
// tested without a network or a clock. Used from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "beacons.h"
#include "uploads.h"
#include "common/status.h"
#include "inventory/health.h"

namespace client {

// The stable message ids (docs/health.md).
inline constexpr char kBeaconUnreachable[] = "client.beacon-unreachable";
inline constexpr char kManifestRefused[] = "client.manifest-refused";
inline constexpr char kOutboxNearCap[] = "client.outbox-near-cap";
inline constexpr char kDiskShort[] = "client.disk-short";
inline constexpr char kClockSkew[] = "client.clock-skew";
inline constexpr char kCertificateExpiring[] = "client.certificate-expiring";

class HealthChecks {
 public:
  static constexpr int64_t kHeartbeat = 86400;      // a report at least once a day
  static constexpr int64_t kMaxSkew = 300;          // seconds
  static constexpr int64_t kCertWarnBefore = 14 * 86400;
  static constexpr int64_t kCertErrorBefore = 2 * 86400;
  static constexpr uint64_t kMinFree = uint64_t{100} << 20;

  // Opens (or starts) STATE_DIR/health.xml for `device`. A damaged book is
  // set aside as health.xml.damaged and a new one started: health reports
  // must not stop the client.
  static common::StatusOr<std::unique_ptr<HealthChecks>> Open(const std::string& state_dir,
                                                              const std::string& device, common::Env* env);

  // Every beacon failed with a retryable error (common::Classify): raised,
  // with each beacon and how it failed. A beacon that answered at all
  // (success or a refusal about the request): cleared. Also judges the
  // clock from the outcome's Date header.
  void Failover(const FailoverOutcome& outcome, int64_t now);
  // The last manifest fetched was refused (`refusal` says why: signature,
  // another device, an older revision), or "" when a manifest was accepted
  // or the applied one is current.
  void Manifest(const std::string& refusal, int64_t now);
  // The outbox's bytes against outbox_max_size (over 80%: raised).
  void Outbox(uint64_t bytes, uint64_t max_bytes, int64_t now);
  // Free bytes on the state folder's file system: under 2 x outbox_max_size
  // or under 100 MiB is short.
  void Disk(uint64_t free_bytes, uint64_t outbox_max_size, int64_t now);
  // The beacon's clock (`date`, an HTTP date) against the local one at
  // `received_at`: more than 300 s apart is raised. A date that does not
  // parse changes nothing.
  void Clock(const std::string& date, int64_t received_at);
  // The certificate's notAfter; nullopt before enrollment (cleared).
  void Certificate(std::optional<int64_t> not_after, int64_t now);

  // If a report is due (HealthBook::ReportDue with the daily heartbeat),
  // queues it as a "health" upload (XML, not compressed) and marks it
  // reported once the outbox holds it; always saves the book.
  common::Status ReportIfDue(const QueueUpload& queue, int64_t now);

  common::Status Save() const { return book_->Save(); }
  // For `status`: "health:" and each open message on a line of its own.
  std::string StatusLines() const;
  const inventory::HealthBook& book() const { return *book_; }

 private:
  explicit HealthChecks(std::unique_ptr<inventory::HealthBook> book) : book_(std::move(book)) {}
  std::unique_ptr<inventory::HealthBook> book_;
};

}  // namespace client
