// The usage document: which programs ran on a device, per day, by sampling
// the running processes. Format in docs/inventory.md#usage.
//
// The client samples the processes every sample interval (policy.xml
// <usage>), adds them to the period's counters (kept in its state folder as
// this same document) and uploads the period at the usage-upload event. The
// central stores each period once (exactly-once by upload id).
//
// Run time comes from the processes' own start times, not from counting
// samples: a process is identified by (pid, start time), and each sample
// credits it the time since the later of its start and the previous sample.
// A process that starts and ends between two samples is not seen at all;
// the time between a process's last sample and its end is not credited.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace inventory {

// One program on one day (the UTC day of the samples that saw it).
struct ProgramUsage {
  // Executable path in the escaped form of common::EscapeBytes (a name that
  // is not UTF-8 is kept exactly), or argv[0] when the link is unreadable.
  std::string program;
  uint64_t samples = 0;    // samples of that day in which it was running (>= 1)
  int64_t first_seen = 0;  // unix seconds of the first and last such sample
  int64_t last_seen = 0;
  // "YYYY-MM-DD", UTC. Empty only in documents of older clients, whose
  // entries cover the whole period and have no launches or run time.
  std::string day{};
  uint64_t launches = 0;    // processes of it that started since the sample before
  int64_t run_seconds = 0;  // run time credited on this day, summed over its processes
  std::vector<std::string> users{};  // who ran it (user names, or uids), sorted, unique
  bool operator==(const ProgramUsage&) const = default;
};

// A process as one sample sees it.
struct RunningProcess {
  int64_t pid = 0;
  int64_t start = 0;     // unix seconds it started (boot time + its start ticks)
  std::string user;      // the name of its real uid, or the uid in decimal
  std::string program;   // as ProgramUsage::program
  bool operator==(const RunningProcess&) const = default;
};

// The processes seen at the last sample, so that the next sample (also after
// the client restarts: the client keeps this in its state folder) credits
// only the time since, and counts a launch once.
struct ProcessTable {
  int64_t sampled_at = 0;                  // unix seconds of the last sample; 0: none yet
  std::vector<RunningProcess> processes{};  // sorted by (pid, start)
  bool operator==(const ProcessTable&) const = default;
};
// One line per process ("pid start user program", tab-separated, the
// first line "sampled <unix seconds>"). Parse: InvalidArgument naming the
// line for anything else.
std::string SerializeProcessTable(const ProcessTable& table);
common::StatusOr<ProcessTable> ParseProcessTable(const std::string& text, const std::string& source);

struct Usage {
  std::string device_id;
  int64_t period_start = 0;    // unix seconds of the first sample
  int64_t period_end = 0;      // unix seconds of the last sample
  int64_t sample_seconds = 0;  // the sampling interval (1 .. 86400)
  uint64_t samples = 0;        // samples taken in the period
  std::vector<ProgramUsage> programs;  // sorted by (program, day), unique
  bool operator==(const Usage&) const = default;

  // Adds one sample taken at `now` of the processes running, against the
  // processes of the previous sample in `table`, which it then replaces.
  // A process not in the table is a launch if it started at or after the
  // previous sample (for the first sample ever: within one sample interval);
  // every process is credited the time from the later of its start and the
  // previous sample to `now`. A `now` before the period's end (the clock was
  // stepped back) counts as the period's end and credits nothing.
  void AddSample(int64_t now, const std::vector<RunningProcess>& running, ProcessTable* table);
};

std::string ToXml(const Usage& usage);
// Strict, like ParseInventoryXml: "source:line:column: message" on any error,
// including program counts above the period's samples or times outside it.
common::StatusOr<Usage> ParseUsageXml(const std::string& xml, const std::string& source);

// The processes running now, from `proc_root` (/proc): each process's
// executable path (" (deleted)" removed), or argv[0] when the exe link cannot
// be read (another user's process, without root), escaped; its start time
// from its stat file and the boot time in <proc_root>/stat; its real user.
// Kernel threads (no command line), code run from memory (/memfd:...) and
// processes in another root (a chroot: their `root` link is not "/") are
// skipped. Sorted by (pid, start).
std::vector<RunningProcess> RunningProcesses(const std::string& proc_root = "/proc");

}  // namespace inventory
