#include "support/tls_raw.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace testing_support {

RawExchange TlsExchange(int port, const std::string& request, int idle_ms) {
  return TlsExchange(port, std::vector<std::string>{request}, idle_ms);
}

RawExchange TlsExchange(int port, const std::vector<std::string>& pieces, int idle_ms) {
  RawExchange out;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return out;
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) == 1) {
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (i > 0) ::usleep(200000);
      SSL_write(ssl, pieces[i].data(), static_cast<int>(pieces[i].size()));
    }
    char buf[4096];
    for (;;) {
      if (SSL_pending(ssl) == 0) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, idle_ms) <= 0) break;  // idle: server keeps the connection open
      }
      int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) {
        out.closed = true;
        break;
      }
      out.data.append(buf, static_cast<size_t>(n));
    }
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  return out;
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
