// The simulated devices: what each one would keep in its state folder, and
// no more, so that 100,000 of them take under 18 MB.
//
// A Device is touched by one worker at a time: the engine (engine.h) hands
// each device to at most one worker, so Device needs no lock.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace swarm {

inline constexpr uint16_t kNoPolicy = 0xffff;

struct Device {
  std::array<char, 36> id{};      // lower-case UUID (common::NewUuid)
  std::array<char, 34> etag{};    // the applied manifest's ETag, quotes included; "" before any
  std::array<char, 36> upload{};  // the queued inventory's upload id; "" when the outbox is empty
  int64_t revision = 0;           // applied policy revision
  int64_t collected_at = 0;       // unix seconds: when the queued inventory was collected
  // Schedule, in simulated unix seconds: when each event last ran (0: never)
  // and is next due (0: not scheduled).
  int64_t last_check = 0, next_check = 0;
  int64_t last_inventory = 0, next_inventory = 0;
  int64_t retry_at_ms = 0;      // real ms since the run began: the queued upload waits until then
  uint32_t sequence = 0;        // the device's own inventory counter (the store keeps the highest)
  uint16_t policy = kNoPolicy;  // applied policy in the PolicyTable (policy_table.h)
  uint8_t attempts = 0;         // failed sends of the queued upload (the backoff's count)
  uint8_t flags = 0;            // scenario bits (kChecked, kServed)

  static constexpr uint8_t kChecked = 1;  // storm: its check-in was answered
  static constexpr uint8_t kServed = 2;   // storm: and its upload acknowledged

  std::string Id() const { return std::string(id.data(), id.size()); }
  std::string Etag() const;
  void SetEtag(const std::string& etag);
  bool HasUpload() const { return upload[0] != 0; }
  std::string Upload() const {
    return HasUpload() ? std::string(upload.data(), upload.size()) : "";
  }
  void SetUpload(const std::string& id);  // "" empties the outbox
  // Reported as a server (host name srv-*, Debian) in `percent` of devices,
  // chosen by the device id, so the same devices are servers in every run.
  bool IsServer(int percent) const;
  std::string Hostname(int servers_percent) const;
};

// The point of this struct: 100,000 devices in under 18 MB.
static_assert(sizeof(Device) <= 176, "keep Device compact");

// `n` new devices, each with its own id.
std::vector<Device> NewDevices(uint32_t n);

// State file: one line per device, "id<TAB>etag<TAB>revision<TAB>sequence
// <TAB>queued upload id<TAB>collected_at" (the last two empty and 0 when the
// outbox is empty), so a later run (the outage after the day) starts where
// this one ended, queued inventory included: its body is made again from
// these fields. Load: InvalidArgument "path:line: ..." for a malformed line.
common::Status SaveDevices(const std::vector<Device>& devices, const std::string& path);
common::StatusOr<std::vector<Device>> LoadDevices(const std::string& path);

}  // namespace swarm
