// The service manager's end of sd_notify(3) for tests: a unix datagram
// socket (NOTIFY_SOCKET) that records every message a child process sends,
// in order. Each message is checked against `probe` as it arrives, so a test
// can assert what held at that moment (READY=1 only once the port accepts).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace testing_support {

class NotifySocket {
 public:
  struct Message {
    std::string text;   // "READY=1\nSTATUS=..." as sent
    bool probe = false;  // what `probe` returned when it arrived
  };
  // Binds a socket at `path` (removed first). `probe` runs on the reader
  // thread for each message; null: always false.
  NotifySocket(const std::string& path, std::function<bool()> probe = nullptr);
  ~NotifySocket();
  const std::string& path() const { return path_; }
  std::string env() const { return "NOTIFY_SOCKET=" + path_; }

  std::vector<Message> messages();
  // Waits until a message from index `from` on holds the line `assignment`
  // ("READY=1"); its index, or -1 when `timeout` passes first.
  int WaitFor(const std::string& assignment, size_t from, std::chrono::milliseconds timeout);
  // How many messages hold `assignment`.
  size_t Count(const std::string& assignment);

 private:
  std::string path_;
  int fd_ = -1;
  std::function<bool()> probe_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Message> messages_;
  bool closing_ = false;
  std::thread reader_;
};

// True if `message` holds the line `assignment` exactly.
bool HasAssignment(const std::string& message, const std::string& assignment);

}  // namespace testing_support
