// A stop signal that background loops can sleep on. Thread-safe.
#pragma once

#include <condition_variable>
#include <mutex>

namespace common {

class StopFlag {
 public:
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }
  bool stopped() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopped_;
  }
  // Sleeps up to `d`; false if stopped meanwhile.
  template <typename Duration>
  bool SleepFor(Duration d) {
    std::unique_lock<std::mutex> lock(mu_);
    return !cv_.wait_for(lock, d, [&] { return stopped_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
};

}  // namespace common
