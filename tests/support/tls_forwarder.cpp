#include "support/tls_forwarder.h"

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <list>
#include <mutex>
#include <thread>
#include <tuple>

namespace testing_support {

namespace {

int Listen(int* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 64) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

// Blocking calls give up after a while, so a silent peer cannot hold a
// thread past the destructor (a timed-out read is a WANT_READ to OpenSSL).
void SetTimeouts(int fd) {
  timeval read{1, 0}, write{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &read, sizeof read);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &write, sizeof write);
}

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  SetTimeouts(fd);
  return fd;
}

}  // namespace

struct TlsForwarder::Impl {
  Options options;
  SSL_CTX* server_ctx = nullptr;
  SSL_CTX* client_ctx = nullptr;
  int listen_fd = -1;
  int port = 0;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> verified{0}, refused{0};
  std::thread acceptor;
  std::mutex mu;
  std::list<std::thread> connections;

  void Accept() {
    while (!stop) {
      pollfd p{listen_fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int fd = ::accept(listen_fd, nullptr, nullptr);
      if (fd < 0) continue;
      SetTimeouts(fd);
      std::lock_guard<std::mutex> lock(mu);
      connections.emplace_back([this, fd] { Serve(fd); });
    }
  }

  // One connection: TLS from the client, TLS to the upstream (verified),
  // then records in both directions until either side closes.
  void Serve(int client_fd) {
    SSL* client = SSL_new(server_ctx);
    SSL* upstream = nullptr;
    int upstream_fd = -1;
    SSL_set_fd(client, client_fd);
    if (SSL_accept(client) == 1 && (upstream_fd = Connect(options.upstream_port)) >= 0) {
      upstream = SSL_new(client_ctx);
      SSL_set_fd(upstream, upstream_fd);
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(upstream), "127.0.0.1");
      if (SSL_connect(upstream) == 1 && SSL_get_verify_result(upstream) == X509_V_OK) {
        ++verified;
        Pump(client, client_fd, upstream, upstream_fd);
      } else {
        ++refused;
      }
    }
    if (upstream != nullptr) SSL_free(upstream);
    if (upstream_fd >= 0) ::close(upstream_fd);
    SSL_free(client);
    ::close(client_fd);
  }

  void Pump(SSL* a, int a_fd, SSL* b, int b_fd) {
    // Without auto-retry a read that meets only a handshake record (a TLS
    // 1.3 session ticket) returns, so the loop never blocks on one side
    // while the other has something to say.
    SSL_clear_mode(a, SSL_MODE_AUTO_RETRY);
    SSL_clear_mode(b, SSL_MODE_AUTO_RETRY);
    char buf[16384];
    while (!stop) {
      bool a_ready = SSL_pending(a) > 0, b_ready = SSL_pending(b) > 0;
      if (!a_ready && !b_ready) {
        pollfd p[2] = {{a_fd, POLLIN, 0}, {b_fd, POLLIN, 0}};
        if (::poll(p, 2, 100) <= 0) continue;
        a_ready = p[0].revents != 0;
        b_ready = p[1].revents != 0;
      }
      for (auto [from, to, ready] : {std::tuple{a, b, a_ready}, std::tuple{b, a, b_ready}}) {
        if (!ready) continue;
        int n = SSL_read(from, buf, sizeof buf);
        if (n <= 0) {
          int err = SSL_get_error(from, n);
          if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) continue;
          return;  // closed or failed: both connections end
        }
        if (SSL_write(to, buf, n) != n) return;
      }
    }
  }
};

TlsForwarder::TlsForwarder(const Options& options) : impl_(std::make_unique<Impl>()) {
  Impl& im = *impl_;
  im.options = options;
  im.server_ctx = SSL_CTX_new(TLS_server_method());
  REQUIRE(im.server_ctx != nullptr);
  REQUIRE(SSL_CTX_use_certificate_chain_file(im.server_ctx, options.cert_file.c_str()) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey_file(im.server_ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) == 1);
  im.client_ctx = SSL_CTX_new(TLS_client_method());
  REQUIRE(im.client_ctx != nullptr);
  REQUIRE(SSL_CTX_load_verify_locations(im.client_ctx, options.upstream_ca_file.c_str(), nullptr) == 1);
  SSL_CTX_set_verify(im.client_ctx, SSL_VERIFY_PEER, nullptr);
  im.listen_fd = Listen(&im.port);
  im.acceptor = std::thread([&im] { im.Accept(); });
}

TlsForwarder::~TlsForwarder() {
  Impl& im = *impl_;
  im.stop = true;
  im.acceptor.join();
  for (auto& t : im.connections) t.join();
  ::close(im.listen_fd);
  SSL_CTX_free(im.server_ctx);
  SSL_CTX_free(im.client_ctx);
}

int TlsForwarder::port() const { return impl_->port; }
uint64_t TlsForwarder::verified() const { return impl_->verified; }
uint64_t TlsForwarder::refused() const { return impl_->refused; }

}  // namespace testing_support
