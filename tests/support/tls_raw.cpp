#include "support/tls_raw.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace testing_support {

TlsConn::TlsConn(int port, const Options& options) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (options.max_version != 0) {
    SSL_CTX_set_min_proto_version(ctx_, 0);
    SSL_CTX_set_max_proto_version(ctx_, options.max_version);
    SSL_CTX_set_security_level(ctx_, 0);  // let old versions be offered at all
  }
  if (!options.ciphers.empty()) SSL_CTX_set_cipher_list(ctx_, options.ciphers.c_str());
  if (!options.cert_file.empty() &&
      (SSL_CTX_use_certificate_chain_file(ctx_, options.cert_file.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx_, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1)) {
    ERR_clear_error();
    return;
  }
  SSL* ssl = SSL_new(ctx_);
  SSL_set_fd(ssl, fd_);
  if (options.session != nullptr) SSL_set_session(ssl, options.session);
  if (SSL_connect(ssl) == 1) {
    ssl_ = ssl;
  } else {
    SSL_free(ssl);
    ERR_clear_error();
  }
}

TlsConn::~TlsConn() {
  if (ssl_ != nullptr) {
    SSL_shutdown(ssl_);  // a session is resumable only after a clean close
    SSL_free(ssl_);
  }
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

bool TlsConn::resumed() const { return ssl_ != nullptr && SSL_session_reused(ssl_) == 1; }

SSL_SESSION* TlsConn::TakeSession() {
  if (ssl_ == nullptr) return nullptr;
  // A TLS 1.3 ticket comes after the handshake: read (briefly) to take it in.
  // The peek must not wait for application data that never comes.
  char buf[1];
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 200) > 0) {
    int flags = ::fcntl(fd_, F_GETFL);
    ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
    SSL_peek(ssl_, buf, 1);
    ::fcntl(fd_, F_SETFL, flags);
    ERR_clear_error();
  }
  return SSL_get1_session(ssl_);
}

bool TlsConn::Send(const std::string& data) {
  if (ssl_ == nullptr) return false;
  size_t done = 0;
  while (done < data.size()) {
    int n = SSL_write(ssl_, data.data() + done, static_cast<int>(std::min<size_t>(data.size() - done, 1 << 20)));
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

RawExchange TlsConn::Read(int idle_ms) {
  RawExchange out;
  if (ssl_ == nullptr) {
    out.closed = true;
    return out;
  }
  char buf[4096];
  for (;;) {
    if (SSL_pending(ssl_) == 0) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, idle_ms) <= 0) break;  // idle: the server keeps the connection open
    }
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n <= 0) {
      out.closed = true;
      break;
    }
    out.data.append(buf, static_cast<size_t>(n));
  }
  return out;
}

RawExchange TlsExchange(int port, const std::string& request, int idle_ms) {
  return TlsExchange(port, std::vector<std::string>{request}, idle_ms);
}

RawExchange TlsExchange(int port, const std::vector<std::string>& pieces, int idle_ms) {
  return TlsExchange(port, TlsConn::Options{}, pieces, idle_ms);
}

RawExchange TlsExchange(int port, const TlsConn::Options& options, const std::string& request, int idle_ms) {
  return TlsExchange(port, options, std::vector<std::string>{request}, idle_ms);
}

RawExchange TlsExchange(int port, const TlsConn::Options& options, const std::vector<std::string>& pieces,
                        int idle_ms) {
  TlsConn conn(port, options);
  if (!conn.ok()) return RawExchange{};
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (i > 0) ::usleep(200000);
    if (!conn.Send(pieces[i])) break;
  }
  return conn.Read(idle_ms);
}

int FirstStatus(const std::string& data) {
  if (data.rfind("HTTP/1.1 ", 0) != 0 || data.size() < 12) return 0;
  return std::stoi(data.substr(9, 3));
}

int CountResponses(const std::string& data) {
  int n = 0;
  for (size_t pos = data.find("HTTP/1.1 "); pos != std::string::npos; pos = data.find("HTTP/1.1 ", pos + 1)) {
    if (pos == 0 || data[pos - 1] == '\n') ++n;
  }
  return n;
}

}  // namespace testing_support
