// Logging to stderr (and optionally a file), one line per event: "2026-11-22T16:00:00Z INFO beacon: msg".
// When stderr is the journal (see UseJournalIfConnected), stderr's lines are
// "<4>WARN beacon: msg" instead: sd-daemon(3)'s priority prefix and no time
// (the journal keeps its own). The log file always has the first form.
//
// Thread-safe. Callers must not pass unvalidated request data (header values,
// paths) in messages: anything from the network is validated first.
#pragma once

#include <cstdint>
#include <string>

namespace common {

enum class LogLevel { kDebug = 0, kInfo, kWarn, kError };

void SetLogLevel(LogLevel level);
// Parses "debug", "info", "warn", "error"; false if unknown.
bool ParseLogLevel(const std::string& s, LogLevel* out);
// Names the process in every line ("beacon", "client").
void SetLogTag(const std::string& tag);
// Also appends every line to `path` (created 0600), opened anew for each
// line so that the file can be renamed away (log upload) at any time. When it
// grows past max_bytes it is renamed to `path`.1, replacing the older one.
// An empty path stops file logging. Write errors are ignored: logging never
// fails the caller.
void SetLogFile(const std::string& path, uint64_t max_bytes);
void Log(LogLevel level, const std::string& message);
// Chooses stderr's line format: the journal's when $JOURNAL_STREAM names
// stderr's device and inode ("DEV:INO", as systemd.exec(5) sets it for a
// service whose stderr goes to the journal), the plain one otherwise. Called
// once by each main() before the first line; call it again after stderr is
// replaced. Returns whether the journal format is now in use.
bool UseJournalIfConnected();

inline void LogDebug(const std::string& m) { Log(LogLevel::kDebug, m); }
inline void LogInfo(const std::string& m) { Log(LogLevel::kInfo, m); }
inline void LogWarn(const std::string& m) { Log(LogLevel::kWarn, m); }
inline void LogError(const std::string& m) { Log(LogLevel::kError, m); }

// Current time as RFC 3339 UTC ("2026-11-22T16:00:00Z").
std::string NowRfc3339();

}  // namespace common
