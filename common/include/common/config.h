// Configuration files: "key = value" lines, '#' comments, declared keys only.
//
// Each component declares the keys it accepts once, in a table of ConfigKey
// (name, type, default, help). That table parses the file (unknown keys and
// bad values are errors naming file:line), supplies defaults, and prints
// --help. A test checks the samples in conf/ against each table.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace common {

enum class KeyType {
  kString,
  kInt,       // decimal integer
  kBool,      // true/false/yes/no/on/off
  kBytes,     // integer with optional K, M, G suffix (powers of 1024)
  kDuration,  // integer with s, m, h or d suffix; no suffix means seconds
};

struct ConfigKey {
  std::string name;
  KeyType type;
  std::string default_value;  // in the file's own syntax; "" = empty / unset
  std::string help;
  // The range a kInt or a kDuration (in seconds) must fall in; a value
  // outside is refused with file:line. The default range fits an `int`.
  int64_t min = 0;
  int64_t max = 2147483647;
};

class Config {
 public:
  Config() = default;
  explicit Config(const std::vector<ConfigKey>* keys) : keys_(keys) {}

  // Typed accessors, for filling a component's typed settings once at
  // start-up. The key must be declared in the table: an undeclared name is a
  // bug and aborts the process with its name. The value was validated
  // (type and range) when parsed, so these cannot fail.
  std::string GetString(const std::string& name) const;
  int64_t GetInt(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  uint64_t GetBytes(const std::string& name) const;
  int64_t GetSeconds(const std::string& name) const;
  // True if the file set the key (defaults do not count).
  bool IsSet(const std::string& name) const { return values_.count(name) > 0; }

  // Sets a value as if it came from a file; validates it.
  Status Set(const std::string& name, const std::string& value, const std::string& where);

 private:
  const ConfigKey* Find(const std::string& name) const;
  const std::string& Raw(const std::string& name) const;

  const std::vector<ConfigKey>* keys_ = nullptr;
  std::map<std::string, std::string> values_;
};

// Parses `text` against `keys`. `source` names the file in errors:
// "conf/beacon.conf:7: unknown key 'lisen'".
StatusOr<Config> ParseConfig(const std::string& text, const std::string& source,
                             const std::vector<ConfigKey>* keys);
// Reads and parses a file; a missing file is NotFound.
StatusOr<Config> LoadConfig(const std::string& path, const std::vector<ConfigKey>* keys);
// A config of defaults only.
Config DefaultConfig(const std::vector<ConfigKey>* keys);

// The keys of `keys` whose values differ between `a` and `b`, compared as
// their types read them ("60m" is "1h"), in the table's order. A reload uses
// it to say which changes need a restart.
std::vector<std::string> ChangedKeys(const Config& a, const Config& b, const std::vector<ConfigKey>& keys);

// Human-readable table of keys for --help.
std::string ConfigHelp(const std::vector<ConfigKey>& keys);

// A plain decimal number: 1 to 18 digits, no sign, no spaces, at most `max`.
// The one parser for every count, size, time and revision that arrives as
// text (headers, spool headers, check-in batches, state files).
bool ParseDecimal(std::string_view s, int64_t* out, int64_t max = (int64_t{1} << 62));

// Value parsers shared with the command line; InvalidArgument on bad input.
StatusOr<uint64_t> ParseBytes(const std::string& s);
StatusOr<int64_t> ParseDuration(const std::string& s);

}  // namespace common
