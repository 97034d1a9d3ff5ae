// Health messages: what a client or a beacon finds wrong with itself, raised
// while the condition lasts and cleared when it ends (docs/health.md, which
// lists every message id).
//
// The sender keeps its messages in a HealthBook (its state folder, as this
// same document) and uploads the book as a health document when the set of
// open messages changes, and at least once a day. A document is a snapshot:
// every open message, plus the messages cleared since the last report, each
// with its own times and count. The central applies a sender's documents in
// the order of their `sequence` (the sender's counter, never its clock): a
// message open at the central that a newer document neither lists open nor
// cleared is cleared too, so a lost clearing cannot leave a message open.
//
// A beacon's document also carries its status (HealthBeacon): what
// `beaconctl beacons` shows.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/status.h"

namespace inventory {

enum class HealthType { kError, kWarning };
const char* HealthTypeName(HealthType type);  // "error", "warning"

struct HealthMessage {
  // Stable id "<component>.<name>", lower-case [a-z0-9.-], 3..64 characters,
  // e.g. "client.beacon-unreachable" (docs/health.md).
  std::string id;
  std::string component;  // a token: "transport", "policy", "outbox", "spool", ...
  HealthType type = HealthType::kWarning;
  int priority = 2;          // 1 (urgent) .. 3 (low)
  std::string text;          // one line for the administrator, at most 1,000 bytes of UTF-8
  int64_t first_seen = 0;    // unix seconds, the sender's clock
  int64_t last_seen = 0;
  int64_t count = 0;         // times the condition was found (>= 1)
  int64_t cleared_at = 0;    // 0 = open
  bool operator==(const HealthMessage&) const = default;
};

// What a beacon reports about itself (source == kBeacon only).
struct HealthBeacon {
  std::string version;         // the beacon's version, a token
  int64_t interval = 0;        // seconds between its reports (offline after 3 missed)
  bool central = false;        // it imports into the store (no upstream)
  uint64_t spool_files = 0;    // uploads waiting in ready/
  uint64_t spool_bytes = 0;
  int64_t spool_oldest = 0;    // received_at of the oldest waiting upload; 0 if none
  uint64_t rejected_files = 0; // uploads in rejected/
  uint64_t disk_free = 0;      // bytes free on the spool's file system
  // The upstream: reachable at the last attempt (always true for a central),
  // and since when it has been in that state (unix seconds, 0 unknown).
  bool upstream_ok = true;
  int64_t upstream_since = 0;
  int64_t cert_not_after = 0;  // its own certificate's expiry
  bool operator==(const HealthBeacon&) const = default;
};

enum class HealthSource { kDevice, kBeacon };

struct Health {
  HealthSource source = HealthSource::kDevice;
  // A device id (lower-case UUID) or a beacon name (a token of 1..64 of
  // [A-Za-z0-9._-]).
  std::string id;
  int64_t sequence = 0;  // the sender's report counter, 1, 2, ...
  int64_t sent_at = 0;   // the sender's clock, for display only
  std::optional<HealthBeacon> beacon;  // required for kBeacon, refused for kDevice
  std::vector<HealthMessage> messages;  // sorted by id, ids unique
  bool operator==(const Health&) const = default;
};

std::string ToXml(const Health& health);
// Strict (common/xml.h): "source:line:column: message" for anything
// malformed, unknown attributes or elements, duplicate ids, bad times or
// counts, cleared_at before first_seen, more than 200 messages.
common::StatusOr<Health> ParseHealthXml(const std::string& xml, const std::string& source);

// A sender's own messages, kept in a file (its state folder). Not
// thread-safe; each sender uses one from one thread (or under its lock).
class HealthBook {
 public:
  // Reads `path` (a health document); a missing file is an empty book.
  // A file that cannot be parsed is an error. `env` null: Env::Default().
  static common::StatusOr<std::unique_ptr<HealthBook>> Open(const std::string& path, HealthSource source,
                                                            const std::string& id, common::Env* env = nullptr);

  // The condition `id` holds now. Opens the message (first_seen = now,
  // count 1) or, if open, adds one to its count and updates last_seen, the
  // text, type and priority. A cleared message raised again opens anew.
  void Raise(const std::string& id, const std::string& component, HealthType type, int priority,
             const std::string& text, int64_t now);
  // The condition `id` no longer holds: an open message is cleared at
  // `now`; otherwise nothing happens.
  void Clear(const std::string& id, int64_t now);
  bool IsOpen(const std::string& id) const;
  std::vector<HealthMessage> Open() const;  // open messages, sorted by id

  // True when a report is due: a message opened (first_seen at or after the
  // last report) or cleared since the last MarkReported, or `heartbeat`
  // seconds passed since it. Derived from what Save() keeps, so a restart
  // between a Raise and its report still reports it.
  bool ReportDue(int64_t now, int64_t heartbeat) const;
  // The document to send: the next sequence number, every open message and
  // the cleared ones not yet reported. `beacon` for a beacon's status.
  Health Report(int64_t now, std::optional<HealthBeacon> beacon = std::nullopt) const;
  // The report was handed on durably (the outbox or spool took it): its
  // sequence is used, and the cleared messages it carried are forgotten.
  void MarkReported(const Health& report);

  // Writes the book durably (temporary file, fsync, rename).
  common::Status Save() const;

 private:
  HealthBook() = default;
  std::string path_;
  common::Env* env_ = nullptr;
  // Open and cleared-not-yet-reported messages; sequence and sent_at are
  // those of the last report (0 before the first).
  Health book_;
};

}  // namespace inventory
