#include "support/tcp_proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <list>
#include <mutex>
#include <string>
#include <thread>

namespace testing_support {

namespace {

using Clock = std::chrono::steady_clock;

// The most a connection buffers per direction: beyond it the proxy stops
// reading, so a slow or stalled side pushes back on its peer as TCP does.
constexpr size_t kBufferCap = 64 << 10;
// How often a connection's loop looks at cut requests and the end of a stall.
constexpr int kTickMs = 20;

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// close() with a zero linger time sends RST instead of FIN.
void ResetAndClose(int fd) {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

enum class FaultKind { kNone, kStall, kCut };

// How a connection is to end, kept in an atomic int: not yet, or as a Cut.
constexpr int kEndNot = 0, kEndClose = 1, kEndReset = 2;
int EndOf(TcpProxy::Cut how) { return how == TcpProxy::Cut::kReset ? kEndReset : kEndClose; }

}  // namespace

struct TcpProxy::Impl {
  struct Conn {
    int client = -1;
    int server = -1;
    std::atomic<int> cut{kEndNot};  // CutAll's request
    std::atomic<bool> done{false};
    std::thread thread;
  };

  int target_port = 0;
  int listen_fd = -1;
  int port = 0;
  std::atomic<bool> stopping{false};
  std::thread acceptor;

  mutable std::mutex mu;
  std::list<Conn> conns;  // guarded by mu; a std::list keeps addresses stable
  FaultKind armed = FaultKind::kNone;
  uint64_t fault_after = 0;
  std::chrono::milliseconds stall_for{0};
  Cut cut_how = Cut::kClose;

  std::atomic<int> accepted{0};
  std::atomic<int> taken{0};
  std::atomic<int> stalls_running{0};
  std::atomic<uint64_t> to_server{0};

  void Accept() {
    while (!stopping) {
      pollfd p{listen_fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(listen_fd, nullptr, nullptr);
      if (c < 0) continue;
      int s = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(target_port));
      if (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        // Nothing listens behind the proxy: the client sees its connection
        // refused, as it would without the proxy.
        ::close(s);
        ResetAndClose(c);
        continue;
      }
      int yes = 1;
      ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      SetNonBlocking(c);
      SetNonBlocking(s);
      ++accepted;
      std::lock_guard<std::mutex> lock(mu);
      for (auto it = conns.begin(); it != conns.end();) {
        if (it->done) {
          it->thread.join();
          it = conns.erase(it);
        } else {
          ++it;
        }
      }
      Conn& k = conns.emplace_back();
      k.client = c;
      k.server = s;
      k.thread = std::thread([this, &k] {
        Pump(k);
        k.done = true;
      });
    }
  }

  // How many more client bytes this connection may read before an armed
  // fault strikes (unlimited when none is armed or it is past the mark).
  size_t Allowance(uint64_t read_so_far) {
    std::lock_guard<std::mutex> lock(mu);
    if (armed == FaultKind::kNone || read_so_far >= fault_after) return kBufferCap;
    return static_cast<size_t>(std::min<uint64_t>(kBufferCap, fault_after - read_so_far));
  }

  // Takes the armed fault if this connection has just reached its mark.
  FaultKind Take(uint64_t read_so_far, std::chrono::milliseconds* stall, Cut* how) {
    std::lock_guard<std::mutex> lock(mu);
    if (armed == FaultKind::kNone || read_so_far != fault_after) return FaultKind::kNone;
    FaultKind k = armed;
    armed = FaultKind::kNone;
    *stall = stall_for;
    *how = cut_how;
    ++taken;
    return k;
  }

  // One connection: both directions on one thread, non-blocking, so a stall
  // of one direction or a cut request is acted on within a tick.
  void Pump(Conn& k) {
    std::string up, down;  // read, not yet written: client->server, server->client
    bool client_eof = false, server_eof = false;
    bool server_shut = false, client_shut = false;
    uint64_t up_read = 0;
    bool stalled = false;
    Clock::time_point stall_end{};
    int pending_cut = kEndNot;  // a CutOnce taken: done once `up` is flushed
    auto finish = [&](int cut) {
      if (stalled) --stalls_running;
      if (cut == kEndReset) {
        ResetAndClose(k.client);
        ResetAndClose(k.server);
      } else {
        ::shutdown(k.client, SHUT_RDWR);
        ::shutdown(k.server, SHUT_RDWR);
        ::close(k.client);
        ::close(k.server);
      }
    };
    for (;;) {
      if (stopping) return finish(kEndClose);
      if (int cut = k.cut.load(); cut != kEndNot) return finish(cut);
      if (pending_cut != kEndNot && up.empty()) return finish(pending_cut);
      if (stalled && Clock::now() >= stall_end) {
        stalled = false;
        --stalls_running;
      }
      // Half-closes pass through once what came before them is delivered.
      if (client_eof && up.empty() && !server_shut) {
        ::shutdown(k.server, SHUT_WR);
        server_shut = true;
      }
      if (server_eof && down.empty() && !client_shut) {
        ::shutdown(k.client, SHUT_WR);
        client_shut = true;
      }
      if (server_shut && client_shut) return finish(kEndClose);

      size_t allowance = Allowance(up_read);
      bool read_client = !client_eof && !stalled && pending_cut == kEndNot &&
                         up.size() < kBufferCap && allowance > 0;
      bool read_server = !server_eof && down.size() < kBufferCap;
      pollfd p[2] = {{k.client, 0, 0}, {k.server, 0, 0}};
      if (read_client) p[0].events |= POLLIN;
      if (!down.empty()) p[0].events |= POLLOUT;
      if (read_server) p[1].events |= POLLIN;
      if (!up.empty()) p[1].events |= POLLOUT;
      if (::poll(p, 2, kTickMs) < 0 && errno != EINTR) return finish(kEndReset);
      // poll reports a hang-up even on a side this loop is not serving now
      // (a stalled client that gave up): wait a tick instead of spinning.
      bool served = false;

      char buf[kBufferCap];
      // A side that fails (reset, or written to after it closed) is passed
      // on as a reset of the other side.
      if (read_client && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
        size_t want = std::min(allowance, kBufferCap - up.size());
        ssize_t n = ::recv(k.client, buf, want, 0);
        served = true;
        if (n > 0) {
          up.append(buf, static_cast<size_t>(n));
          up_read += static_cast<uint64_t>(n);
          std::chrono::milliseconds stall{0};
          Cut how = Cut::kClose;
          switch (Take(up_read, &stall, &how)) {
            case FaultKind::kStall:
              stalled = true;
              ++stalls_running;
              stall_end = Clock::now() + stall;
              break;
            case FaultKind::kCut:
              pending_cut = EndOf(how);
              break;
            case FaultKind::kNone:
              break;
          }
        } else if (n == 0) {
          client_eof = true;
        } else if (errno != EAGAIN && errno != EINTR) {
          return finish(kEndReset);
        }
      }
      if (read_server && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = ::recv(k.server, buf, kBufferCap - down.size(), 0);
        served = true;
        if (n > 0) {
          down.append(buf, static_cast<size_t>(n));
        } else if (n == 0) {
          server_eof = true;
        } else if (errno != EAGAIN && errno != EINTR) {
          // Hand the client what the server said before it failed.
          (void)::send(k.client, down.data(), down.size(), MSG_NOSIGNAL);
          return finish(kEndReset);
        }
      }
      if (!up.empty() && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
        ssize_t n = ::send(k.server, up.data(), up.size(), MSG_NOSIGNAL);
        served = true;
        if (n > 0) {
          up.erase(0, static_cast<size_t>(n));
          to_server += static_cast<uint64_t>(n);
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          (void)::send(k.client, down.data(), down.size(), MSG_NOSIGNAL);
          return finish(kEndReset);
        }
      }
      if (!down.empty() && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
        ssize_t n = ::send(k.client, down.data(), down.size(), MSG_NOSIGNAL);
        served = true;
        if (n > 0) {
          down.erase(0, static_cast<size_t>(n));
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          return finish(kEndReset);
        }
      }
      if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(kTickMs));
    }
  }
};

TcpProxy::TcpProxy(int target_port) : impl_(new Impl) {
  Impl& im = *impl_;
  im.target_port = target_port;
  im.listen_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(im.listen_fd >= 0);
  int yes = 1;
  ::setsockopt(im.listen_fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(im.listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(im.listen_fd, 64) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(im.listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  im.port = ntohs(addr.sin_port);
  im.acceptor = std::thread([&im] { im.Accept(); });
}

TcpProxy::~TcpProxy() {
  Impl& im = *impl_;
  im.stopping = true;
  im.acceptor.join();
  ::close(im.listen_fd);
  // The connections' threads take `mu` themselves: join them outside it.
  std::list<Impl::Conn> conns;
  {
    std::lock_guard<std::mutex> lock(im.mu);
    conns.splice(conns.end(), im.conns);
  }
  for (auto& k : conns) k.thread.join();
}

int TcpProxy::port() const { return impl_->port; }

void TcpProxy::StallOnce(uint64_t after_bytes, std::chrono::milliseconds duration) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->armed = FaultKind::kStall;
  impl_->fault_after = after_bytes;
  impl_->stall_for = duration;
}

void TcpProxy::CutOnce(uint64_t after_bytes, Cut how) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->armed = FaultKind::kCut;
  impl_->fault_after = after_bytes;
  impl_->cut_how = how;
}

void TcpProxy::CutAll(Cut how) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (auto& k : impl_->conns) k.cut = EndOf(how);
}

int TcpProxy::connections() const { return impl_->accepted; }
int TcpProxy::faults_taken() const { return impl_->taken; }
bool TcpProxy::stalling() const { return impl_->stalls_running > 0; }
uint64_t TcpProxy::bytes_to_server() const { return impl_->to_server; }

}  // namespace testing_support
