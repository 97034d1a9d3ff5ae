// A stop signal that background loops can sleep on. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
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
  // Ends every SleepFor() under way early (they return true); the flag stays
  // unstopped. For a loop that must look at something new now (a reload).
  void Wake() {
    std::lock_guard<std::mutex> lock(mu_);
    ++wakes_;
    cv_.notify_all();
  }
  // Sleeps up to `d` (less after a Wake()); false if stopped meanwhile.
  template <typename Duration>
  bool SleepFor(Duration d) {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t wakes = wakes_;
    cv_.wait_for(lock, d, [&] { return stopped_ || wakes_ != wakes; });
    return !stopped_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  uint64_t wakes_ = 0;
};

}  // namespace common
