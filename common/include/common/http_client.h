// The HTTPS client adapter: the only client code that includes httplib.h.
//
// Always verifies the server's certificate chain against the estate CA
// bundle and its host name; there is no switch to turn that off. TLS 1.2 is
// the minimum. Library errors become Status:
//   certificate or host name not verified -> Unauthenticated
//   CA bundle missing or unreadable       -> FailedPrecondition
//   client certificate or key unusable    -> FailedPrecondition (at Create)
//   connection refused / reset / TLS fail -> Unavailable (also a connection
//                                            dropped while sending a body)
//   connect timeout                       -> DeadlineExceeded
//   read or write failure (reset, timeout) -> Unavailable
// HTTP statuses are returned as they are, including a server's 401 (no
// verified client certificate) and 403 (certificate refused, e.g. revoked);
// map them with StatusFromHttp (common/retry.h): both stop and keep the data.
// One HttpClient keeps one keep-alive connection and is not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace common {

struct ClientOptions {
  std::string url;      // "https://host:port" (no path)
  std::string ca_file;  // PEM bundle of the estate CA
  // The client certificate presented when the server asks (mutual TLS): a
  // PEM chain, leaf first (a cross-certificate may follow it), and its PEM
  // private key. Both or neither; empty = no certificate.
  std::string cert_file;
  std::string key_file;
  int connect_timeout_s = 5;
  int read_timeout_s = 30;
  int write_timeout_s = 30;
  // An HTTP proxy ("http://host:port"; empty = direct). HTTPS goes through it
  // with CONNECT, so the proxy sees only the host and port; the beacon's
  // certificate is still verified end to end. Basic credentials if set.
  std::string proxy_url;
  std::string proxy_username;
  std::string proxy_password;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpResult {
  int status = 0;
  std::string body;
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// Supplies `len` body bytes starting at `offset` (streamed uploads).
using BodySource = std::function<StatusOr<std::string>(uint64_t offset, uint64_t len)>;

// The Transport seam: the requests a client or a relay makes to the next
// hop. HttpClient is the production implementation; tests inject one that
// refuses, stalls, cuts a body midway or answers any status
// (tests/support/fault_transport.h). Transport errors are Status codes as
// listed above; HTTP statuses come back in HttpResult. Not thread-safe.
class Transport {
 public:
  virtual ~Transport() = default;
  // A response body over max_body is refused (ResourceExhausted).
  virtual StatusOr<HttpResult> Get(const std::string& path, const HeaderList& headers,
                                   uint64_t max_body = 16u << 20) = 0;
  // Streams `size` bytes from `source`. A connection reset or timeout while
  // sending is Unavailable/DeadlineExceeded (the peer may have refused
  // before reading the body): retry later with backoff.
  virtual StatusOr<HttpResult> Put(const std::string& path, const HeaderList& headers, uint64_t size,
                                   const BodySource& source, const std::string& content_type) = 0;
  virtual const std::string& url() const = 0;
};

class HttpClient : public Transport {
 public:
  // InvalidArgument for a URL that is not https://host[:port].
  static StatusOr<std::unique_ptr<HttpClient>> Create(const ClientOptions& options);
  ~HttpClient() override;

  // A request on a kept-alive connection that fails before any answer (the
  // peer closed it while idle) is sent once more on a new connection: every
  // request of this protocol is idempotent.
  StatusOr<HttpResult> Get(const std::string& path, const HeaderList& headers,
                           uint64_t max_body = 16u << 20) override;
  StatusOr<HttpResult> Put(const std::string& path, const HeaderList& headers, uint64_t size,
                           const BodySource& source, const std::string& content_type) override;

  const std::string& url() const override;

 private:
  HttpClient();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses "https://host:port" (port defaults to 443).
Status ParseHttpsUrl(const std::string& url, std::string* host, int* port);
// Parses a proxy "http://host:port" (the port is required).
Status ParseProxyUrl(const std::string& url, std::string* host, int* port);

}  // namespace common
