// The usage document: which programs ran on a device during a period, by
// sampling. Format in docs/inventory.md#usage.
//
// The client samples the running programs every sample interval (policy.xml
// <usage>), adds them to the period's counters (kept in its state folder as
// this same document) and uploads the period at the usage-upload event. The
// central stores each period once (exactly-once by upload id).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace inventory {

struct ProgramUsage {
  std::string program;     // executable path, or argv[0] when the link is unreadable
  uint64_t samples = 0;    // samples in which it was running (1..Usage::samples)
  int64_t first_seen = 0;  // unix seconds of the first and last such sample
  int64_t last_seen = 0;
  bool operator==(const ProgramUsage&) const = default;
};

struct Usage {
  std::string device_id;
  int64_t period_start = 0;    // unix seconds of the first sample
  int64_t period_end = 0;      // unix seconds of the last sample
  int64_t sample_seconds = 0;  // the sampling interval (1 .. 86400)
  uint64_t samples = 0;        // samples taken in the period
  std::vector<ProgramUsage> programs;  // sorted by program, unique
  bool operator==(const Usage&) const = default;

  // Adds one sample taken at `now` of the programs running (any order,
  // duplicates counted once). A `now` before the period's end (the clock was
  // stepped back) counts as the period's end.
  void AddSample(int64_t now, const std::vector<std::string>& running);
};

std::string ToXml(const Usage& usage);
// Strict, like ParseInventoryXml: "source:line:column: message" on any error,
// including program counts above the period's samples or times outside it.
common::StatusOr<Usage> ParseUsageXml(const std::string& xml, const std::string& source);

// The programs running now, from `proc_root` (/proc): each process's
// executable path (" (deleted)" removed), or argv[0] when the exe link cannot
// be read (another user's process, without root). Kernel threads (no
// command line), code run from memory (/memfd:...), processes in another
// root (a chroot: their `root` link is not "/") and names that are not
// clean UTF-8 are skipped. Sorted, unique.
std::vector<std::string> RunningPrograms(const std::string& proc_root = "/proc");

}  // namespace inventory
