#include "state_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>
#include <sstream>

#include "common/config.h"
#include "common/fs.h"

namespace client {

common::StatusOr<std::unique_ptr<StateFile>> StateFile::Open(const std::string& path, common::Env* env) {
  std::unique_ptr<StateFile> state(new StateFile(path, env));
  RETURN_IF_ERROR(state->Reload());
  return state;
}

common::Status StateFile::Reload() {
  values_.clear();
  auto text = common::ReadFile(path_, 1 << 16, env_);
  if (!text.ok()) {
    if (text.status().code() == common::Code::kNotFound) return common::Status::Ok();  // a new device
    return text.status().WithContext("read the client's state");
  }
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) values_[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return common::Status::Ok();
}

common::StatusOr<std::unique_ptr<StateLock>> StateLock::Acquire(const std::string& dir, std::chrono::seconds wait) {
  const std::string path = dir + "/lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return common::ErrnoStatus("open " + path, errno);
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if ((errno != EWOULDBLOCK && errno != EINTR) || std::chrono::steady_clock::now() >= deadline) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return common::Unavailable("another beacon-client is working on " + dir + "; try again later");
      }
      return common::ErrnoStatus("lock " + path, err);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return std::unique_ptr<StateLock>(new StateLock(fd));
}

StateLock::~StateLock() { ::close(fd_); }

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
