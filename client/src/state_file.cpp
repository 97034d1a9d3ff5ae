#include "state_file.h"

#include <algorithm>
#include <sstream>

#include "common/config.h"
#include "common/fs.h"

namespace client {

common::StatusOr<std::unique_ptr<StateFile>> StateFile::Open(const std::string& path, common::Env* env) {
  std::unique_ptr<StateFile> state(new StateFile(path, env));
  auto text = common::ReadFile(path, 1 << 16, env);
  if (!text.ok()) {
    if (text.status().code() == common::Code::kNotFound) return state;  // a new device
    return text.status().WithContext("read the client's state");
  }
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) state->values_[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return state;
}

std::string StateFile::Get(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? "" : it->second;
}

int64_t StateFile::GetInt(const std::string& key) const {
  int64_t v = 0;
  return common::ParseDecimal(Get(key), &v) ? v : 0;
}

void StateFile::Set(const std::string& key, const std::string& value) {
  std::string clean = value;
  std::replace(clean.begin(), clean.end(), '\n', ' ');
  values_[key] = clean;
}

common::Status StateFile::Save() const {
  std::string out;
  for (const auto& [k, v] : values_) out += k + "=" + v + "\n";
  return common::WriteFileAtomic(path_, out, 0600, env_);
}

}  // namespace client
