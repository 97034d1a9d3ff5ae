#include "common/config.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "common/fs.h"

namespace common {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// A decimal integer, optionally negative: ParseDecimal with a sign.
StatusOr<int64_t> ParseInt(const std::string& s) {
  bool negative = !s.empty() && s[0] == '-';
  int64_t v = 0;
  if (!ParseDecimal(std::string_view(s).substr(negative ? 1 : 0), &v)) {
    return InvalidArgument("'" + s + "' is not an integer");
  }
  return negative ? -v : v;
}

StatusOr<bool> ParseBool(const std::string& s) {
  if (s == "true" || s == "yes" || s == "on" || s == "1") return true;
  if (s == "false" || s == "no" || s == "off" || s == "0") return false;
  return InvalidArgument("'" + s + "' is not a boolean (true/false)");
}

Status Validate(KeyType type, const std::string& v) {
  switch (type) {
    case KeyType::kString: return Status::Ok();
    case KeyType::kInt: return ParseInt(v).status();
    case KeyType::kBool: return ParseBool(v).status();
    case KeyType::kBytes: return ParseBytes(v).status();
    case KeyType::kDuration: return ParseDuration(v).status();
  }
  return Internal("bad key type");
}

const char* TypeName(KeyType t) {
  switch (t) {
    case KeyType::kString: return "string";
    case KeyType::kInt: return "integer";
    case KeyType::kBool: return "boolean";
    case KeyType::kBytes: return "bytes";
    case KeyType::kDuration: return "duration";
  }
  return "?";
}

}  // namespace

bool ParseDecimal(std::string_view s, int64_t* out, int64_t max) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

StatusOr<uint64_t> ParseBytes(const std::string& s) {
  if (s.empty()) return InvalidArgument("empty size");
  uint64_t mult = 1;
  std::string num = s;
  switch (s.back()) {
    case 'K': case 'k': mult = 1ull << 10; num.pop_back(); break;
    case 'M': case 'm': mult = 1ull << 20; num.pop_back(); break;
    case 'G': case 'g': mult = 1ull << 30; num.pop_back(); break;
    default: break;
  }
  auto n = ParseInt(num);
  if (!n.ok() || *n < 0) return InvalidArgument("'" + s + "' is not a size (like 512K, 64M, 2G)");
  if (static_cast<uint64_t>(*n) > (uint64_t{1} << 62) / mult) return InvalidArgument("'" + s + "' is too large");
  return static_cast<uint64_t>(*n) * mult;
}

StatusOr<int64_t> ParseDuration(const std::string& s) {
  if (s.empty()) return InvalidArgument("empty duration");
  int64_t mult = 1;
  std::string num = s;
  switch (s.back()) {
    case 's': num.pop_back(); break;
    case 'm': mult = 60; num.pop_back(); break;
    case 'h': mult = 3600; num.pop_back(); break;
    case 'd': mult = 86400; num.pop_back(); break;
    default: break;
  }
  auto n = ParseInt(num);
  if (!n.ok() || *n < 0) return InvalidArgument("'" + s + "' is not a duration (like 30s, 5m, 1h)");
  if (*n > (int64_t{1} << 40) / mult) return InvalidArgument("'" + s + "' is too long");
  return *n * mult;
}

const ConfigKey* Config::Find(const std::string& name) const {
  if (keys_ == nullptr) return nullptr;
  for (const auto& k : *keys_) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

const std::string& Config::Raw(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  const ConfigKey* k = Find(name);
  if (k == nullptr) {
    std::fprintf(stderr, "bug: configuration key '%s' is not declared\n", name.c_str());
    std::abort();
  }
  return k->default_value;
}

std::string Config::GetString(const std::string& name) const { return Raw(name); }

std::vector<std::string> ChangedKeys(const Config& a, const Config& b, const std::vector<ConfigKey>& keys) {
  std::vector<std::string> changed;
  for (const ConfigKey& k : keys) {
    bool same = false;
    switch (k.type) {
      case KeyType::kString: same = a.GetString(k.name) == b.GetString(k.name); break;
      case KeyType::kInt: same = a.GetInt(k.name) == b.GetInt(k.name); break;
      case KeyType::kBool: same = a.GetBool(k.name) == b.GetBool(k.name); break;
      case KeyType::kBytes: same = a.GetBytes(k.name) == b.GetBytes(k.name); break;
      case KeyType::kDuration: same = a.GetSeconds(k.name) == b.GetSeconds(k.name); break;
    }
    if (!same) changed.push_back(k.name);
  }
  return changed;
}
int64_t Config::GetInt(const std::string& name) const {
  auto v = ParseInt(Raw(name));
  return v.ok() ? *v : 0;
}
bool Config::GetBool(const std::string& name) const {
  auto v = ParseBool(Raw(name));
  return v.ok() && *v;
}
uint64_t Config::GetBytes(const std::string& name) const {
  auto v = ParseBytes(Raw(name));
  return v.ok() ? *v : 0;
}
int64_t Config::GetSeconds(const std::string& name) const {
  auto v = ParseDuration(Raw(name));
  return v.ok() ? *v : 0;
}

Status Config::Set(const std::string& name, const std::string& value, const std::string& where) {
  const ConfigKey* k = Find(name);
  if (k == nullptr) return InvalidArgument(where + ": unknown key '" + name + "'");
  Status st = Validate(k->type, value);
  if (!st.ok()) {
    return InvalidArgument(where + ": " + name + ": " + st.message() + " (expected " +
                           TypeName(k->type) + ")");
  }
  if (k->type == KeyType::kInt || k->type == KeyType::kDuration) {
    int64_t v = k->type == KeyType::kInt ? *ParseInt(value) : *ParseDuration(value);
    if (v < k->min || v > k->max) {
      return InvalidArgument(where + ": " + name + ": '" + value + "' is out of range (" +
                             std::to_string(k->min) + " to " + std::to_string(k->max) +
                             (k->type == KeyType::kDuration ? " seconds)" : ")"));
    }
  }
  values_[name] = value;
  return Status::Ok();
}

StatusOr<Config> ParseConfig(const std::string& text, const std::string& source,
                             const std::vector<ConfigKey>* keys) {
  Config cfg(keys);
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  std::map<std::string, int> seen;
  while (std::getline(in, line)) {
    ++lineno;
    std::string where = source + ":" + std::to_string(lineno);
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    size_t eq = t.find('=');
    if (eq == std::string::npos) return InvalidArgument(where + ": expected 'key = value'");
    std::string key = Trim(t.substr(0, eq));
    std::string value = Trim(t.substr(eq + 1));
    if (auto it = seen.find(key); it != seen.end()) {
      return InvalidArgument(where + ": '" + key + "' is already set on line " +
                             std::to_string(it->second));
    }
    seen[key] = lineno;
    RETURN_IF_ERROR(cfg.Set(key, value, where));
  }
  return cfg;
}

StatusOr<Config> LoadConfig(const std::string& path, const std::vector<ConfigKey>* keys) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, 1 << 20));
  return ParseConfig(text, path, keys);
}

Config DefaultConfig(const std::vector<ConfigKey>* keys) { return Config(keys); }

std::string ConfigHelp(const std::vector<ConfigKey>& keys) {
  std::ostringstream out;
  for (const auto& k : keys) {
    out << "  " << k.name << " (" << TypeName(k.type) << ", default "
        << (k.default_value.empty() ? "unset" : "'" + k.default_value + "'") << ")\n      "
        << k.help << "\n";
  }
  return out.str();
}

}  // namespace common
