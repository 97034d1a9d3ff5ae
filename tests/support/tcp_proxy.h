// A real TCP forwarding proxy on loopback for fault tests between real
// processes: a relay beacon talks to it as if it were its upstream, and the
// test makes the network misbehave in the middle of a transfer.
//
// Every accepted connection is forwarded to 127.0.0.1:target_port, byte for
// byte in both directions (TLS passes through untouched). A fault is armed
// once and taken by the first connection whose client->server bytes reach
// `after_bytes`; exactly that many bytes are forwarded before it strikes:
//   StallOnce  nothing more is read from the client or sent to the server for
//              `duration` (the other direction still flows), then forwarding
//              goes on as before
//   CutOnce    both sides are closed (kClose: FIN) or reset (kReset: RST)
// CutAll ends every open connection now. A side that closes or resets is
// passed on to the other side the same way (after what it sent before).
//
// All methods are thread-safe. The destructor ends every connection and
// joins its threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

namespace testing_support {

class TcpProxy {
 public:
  enum class Cut { kClose, kReset };

  // Listens on a free 127.0.0.1 port; fails the test if it cannot.
  explicit TcpProxy(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const;

  void StallOnce(uint64_t after_bytes, std::chrono::milliseconds duration);
  void CutOnce(uint64_t after_bytes, Cut how);
  void CutAll(Cut how);

  // What happened so far.
  int connections() const;   // accepted
  int faults_taken() const;  // stalls begun plus cuts done by CutOnce
  bool stalling() const;     // a stall is in progress
  uint64_t bytes_to_server() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace testing_support
