#include "support/notify_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <sstream>
#include <stdexcept>

namespace testing_support {

bool HasAssignment(const std::string& message, const std::string& assignment) {
  std::istringstream in(message);
  std::string line;
  while (std::getline(in, line)) {
    if (line == assignment) return true;
  }
  return false;
}

NotifySocket::NotifySocket(const std::string& path, std::function<bool()> probe)
    : path_(path), probe_(std::move(probe)) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) throw std::runtime_error("socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ::unlink(path.c_str());
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    throw std::runtime_error("cannot bind " + path);
  }
  reader_ = std::thread([this] {
    char buf[4096];
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (closing_) return;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;  // 100 ms: how soon the destructor is noticed
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) continue;
      Message m{std::string(buf, static_cast<size_t>(n)), probe_ ? probe_() : false};
      std::lock_guard<std::mutex> lock(mu_);
      messages_.push_back(std::move(m));
      cv_.notify_all();
    }
  });
}

NotifySocket::~NotifySocket() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  reader_.join();
  ::close(fd_);
  ::unlink(path_.c_str());
}

std::vector<NotifySocket::Message> NotifySocket::messages() {
  std::lock_guard<std::mutex> lock(mu_);
  return messages_;
}

int NotifySocket::WaitFor(const std::string& assignment, size_t from, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  int found = -1;
  cv_.wait_for(lock, timeout, [&] {
    for (size_t i = from; i < messages_.size(); ++i) {
      if (HasAssignment(messages_[i].text, assignment)) {
        found = static_cast<int>(i);
        return true;
      }
    }
    return false;
  });
  return found;
}

size_t NotifySocket::Count(const std::string& assignment) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const Message& m : messages_) n += HasAssignment(m.text, assignment) ? 1 : 0;
  return n;
}

}  // namespace testing_support
