// Raw HTTP over TLS for tests that must send what no well-behaved client
// sends (chunked bodies, duplicate headers, pipelined smuggling attempts,
// heads and bodies that trickle in) and look at exactly what comes back.
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <vector>

namespace testing_support {

struct RawExchange {
  std::string data;     // every byte the server sent
  bool closed = false;  // the server closed the connection (vs. timed out)
};

// One TLS connection to 127.0.0.1:port (no verification: the server is under
// test, not the client). Not thread-safe.
class TlsConn {
 public:
  struct Options {
    int max_version = 0;      // e.g. TLS1_1_VERSION; 0 = the library's newest
    std::string ciphers;      // TLS 1.2 cipher list; "" = the library's default
    SSL_SESSION* session = nullptr;  // offered for resumption (not owned)
    // A client certificate (PEM chain: leaf first) and its key, presented
    // when the server asks; "" = none.
    std::string cert_file;
    std::string key_file;
  };
  // Connects and completes the handshake; ok() tells whether it did (a
  // certificate or key that cannot be loaded fails it too).
  explicit TlsConn(int port) : TlsConn(port, Options{}) {}
  TlsConn(int port, const Options& options);
  ~TlsConn();
  TlsConn(const TlsConn&) = delete;
  TlsConn& operator=(const TlsConn&) = delete;

  bool ok() const { return ssl_ != nullptr; }
  bool resumed() const;
  // The session to offer on the next connection (owned by the caller: free
  // it with SSL_SESSION_free). Reads pending data first, as TLS 1.3 tickets
  // arrive after the handshake.
  SSL_SESSION* TakeSession();
  // Writes `data` as one TLS record (or a few, when large); false on error.
  bool Send(const std::string& data);
  // Reads until the server closes or nothing arrives for `idle_ms`.
  RawExchange Read(int idle_ms = 1500);

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
};

// Connects, writes `request`, and reads as TlsConn::Read does.
RawExchange TlsExchange(int port, const std::string& request, int idle_ms = 1500);
// Sends each piece as its own TLS record, 200 ms apart, then reads as above.
RawExchange TlsExchange(int port, const std::vector<std::string>& pieces, int idle_ms = 1500);
// The same on a connection made with `options` (say, a client certificate).
RawExchange TlsExchange(int port, const TlsConn::Options& options, const std::string& request, int idle_ms = 1500);
RawExchange TlsExchange(int port, const TlsConn::Options& options, const std::vector<std::string>& pieces,
                        int idle_ms = 1500);

// The status code of the first response in `data`, or 0.
int FirstStatus(const std::string& data);
// How many HTTP/1.1 status lines `data` holds.
int CountResponses(const std::string& data);

}  // namespace testing_support
