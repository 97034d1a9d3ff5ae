#include "common/http_client.h"

#include "common/config.h"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>

namespace common {

Status ParseHttpsUrl(const std::string& url, std::string* host, int* port) {
  const std::string scheme = "https://";
  if (url.rfind(scheme, 0) != 0) return InvalidArgument("'" + url + "' is not an https:// URL");
  std::string rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.find('/') != std::string::npos || rest.find('@') != std::string::npos) {
    return InvalidArgument("'" + url + "' must be https://host[:port] with no path");
  }
  size_t colon = rest.rfind(':');
  *port = 443;
  if (rest[0] == '[') {
    // IPv6 literal: "[::1]" or "[::1]:8443"; the host is passed without brackets.
    size_t close = rest.find(']');
    if (close == std::string::npos || close == 1) return InvalidArgument("'" + url + "' has a bad IPv6 address");
    std::string after = rest.substr(close + 1);
    std::string p = after.empty() ? "443" : (after[0] == ':' ? after.substr(1) : "x");
    int64_t n = 0;
    if (!ParseDecimal(p, &n, 65535)) return InvalidArgument("'" + url + "' has a bad port");
    *port = static_cast<int>(n);
    rest = rest.substr(1, close - 1);
  } else if (colon != std::string::npos) {
    int64_t n = 0;
    if (!ParseDecimal(rest.substr(colon + 1), &n, 65535)) return InvalidArgument("'" + url + "' has a bad port");
    *port = static_cast<int>(n);
    rest = rest.substr(0, colon);
  }
  if (rest.empty() || *port <= 0 || *port > 65535) return InvalidArgument("'" + url + "' is not a valid URL");
  *host = rest;
  return Status::Ok();
}

Status ParseProxyUrl(const std::string& url, std::string* host, int* port) {
  // Same shape as a beacon URL, but plain http:// and an explicit port.
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0 || url.find(':', scheme.size()) == std::string::npos) {
    return InvalidArgument("proxy '" + url + "' must be http://host:port");
  }
  return ParseHttpsUrl("https://" + url.substr(scheme.size()), host, port)
      .WithContext("proxy");
}

namespace {

// Loads the client certificate chain and key into the context every
// connection of the client is made from. The chain variant (not
// SSLClient's cert/key constructor, which takes the leaf alone) lets a
// certificate from a new CA travel with its cross-certificate.
Status UseClientCertificate(SSL_CTX* ctx, const ClientOptions& o) {
  if (o.cert_file.empty() && o.key_file.empty()) return Status::Ok();
  if (o.cert_file.empty() || o.key_file.empty()) {
    return FailedPrecondition("a client certificate needs both cert_file and key_file");
  }
  for (const std::string* f : {&o.cert_file, &o.key_file}) {
    if (::access(f->c_str(), R_OK) != 0) return FailedPrecondition("cannot read the client certificate file " + *f);
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, o.cert_file.c_str()) != 1) {
    ERR_clear_error();
    return FailedPrecondition("cannot load the client certificate " + o.cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return FailedPrecondition("cannot load the client key " + o.key_file + " (or it does not match " + o.cert_file +
                              ")");
  }
  return Status::Ok();
}

}  // namespace

struct HttpClient::Impl {
  ClientOptions options;
  std::unique_ptr<httplib::SSLClient> cli;
  // The connection carried an answer and may be kept alive. 0.11.4 cannot
  // tell that a kept-alive TLS connection was closed by the peer
  // (cpp-httplib issue #1481), so a request on it fails without an answer.
  bool reused = false;

  // Runs `send` once, and once more on a new connection if it failed at
  // once (a closed socket fails in well under a second; a stall is a real
  // failure and is not repeated) without an answer on a kept-alive one.
  // `ours` tells a failure we caused (a body over its cap, a body source
  // that failed): those are not the connection's fault. (0.11.4 reports a
  // PUT whose body cannot be written as Canceled, like our own stops.)
  template <typename Send, typename Ours>
  auto WithFreshRetry(Send send, Ours ours) {
    bool was_reused = reused;
    auto start = std::chrono::steady_clock::now();
    auto res = send();
    if (!res && was_reused && !ours() && std::chrono::steady_clock::now() - start < std::chrono::seconds(1)) {
      cli->stop();
      res = send();
    }
    reused = static_cast<bool>(res);
    return res;
  }
};

HttpClient::HttpClient() : impl_(new Impl) {}
HttpClient::~HttpClient() = default;

const std::string& HttpClient::url() const { return impl_->options.url; }

StatusOr<std::unique_ptr<HttpClient>> HttpClient::Create(const ClientOptions& options) {
  std::string host;
  int port = 0;
  RETURN_IF_ERROR(ParseHttpsUrl(options.url, &host, &port));
  // A missing CA bundle is a configuration problem, not a property of any
  // upload: FailedPrecondition makes callers keep their data and report.
  if (options.ca_file.empty()) return FailedPrecondition("no CA bundle configured (ca_file)");
  if (::access(options.ca_file.c_str(), R_OK) != 0) {
    return FailedPrecondition("cannot read the CA bundle " + options.ca_file);
  }
  std::unique_ptr<HttpClient> c(new HttpClient);
  c->impl_->options = options;
  c->impl_->cli = std::make_unique<httplib::SSLClient>(host, port);
  httplib::SSLClient& cli = *c->impl_->cli;
  cli.set_ca_cert_path(options.ca_file.c_str());
  cli.enable_server_certificate_verification(true);
  SSL_CTX_set_min_proto_version(cli.ssl_context(), TLS1_2_VERSION);
  RETURN_IF_ERROR(UseClientCertificate(cli.ssl_context(), options));
  cli.set_connection_timeout(options.connect_timeout_s, 0);
  cli.set_read_timeout(options.read_timeout_s, 0);
  cli.set_write_timeout(options.write_timeout_s, 0);
  cli.set_keep_alive(true);
  cli.set_tcp_nodelay(true);
  cli.set_follow_location(false);
  cli.set_decompress(false);
  if (!options.proxy_url.empty()) {
    std::string proxy_host;
    int proxy_port = 0;
    RETURN_IF_ERROR(ParseProxyUrl(options.proxy_url, &proxy_host, &proxy_port));
    cli.set_proxy(proxy_host, proxy_port);
    if (!options.proxy_username.empty()) {
      cli.set_proxy_basic_auth(options.proxy_username, options.proxy_password);
    }
  }
  return c;
}

namespace {

Status FromError(httplib::Error e, const std::string& what) {
  std::string m = what + ": " + httplib::to_string(e);
  switch (e) {
    case httplib::Error::SSLServerVerification:
      return Unauthenticated(what + ": server certificate or host name not verified by the estate CA");
    case httplib::Error::SSLLoadingCerts: return FailedPrecondition(what + ": cannot load the CA bundle");
    case httplib::Error::ConnectionTimeout: return DeadlineExceeded(m);
    default: return Unavailable(m);
  }
}

HttpResult ToResult(const httplib::Response& res, std::string body) {
  HttpResult r;
  r.status = res.status;
  r.body = std::move(body);
  for (const auto& [k, v] : res.headers) {
    std::string lk = k;
    std::transform(lk.begin(), lk.end(), lk.begin(), ::tolower);
    r.headers.emplace(lk, v);
  }
  return r;
}

httplib::Headers ToHeaders(const HeaderList& list) {
  httplib::Headers h;
  for (const auto& [k, v] : list) h.emplace(k, v);
  return h;
}

}  // namespace

StatusOr<HttpResult> HttpClient::Get(const std::string& path, const HeaderList& headers,
                                     uint64_t max_body) {
  std::string body;
  bool too_large = false;
  auto res = impl_->WithFreshRetry([&] {
    body.clear();
    return impl_->cli->Get(path, ToHeaders(headers), [&](const char* data, size_t len) {
      if (body.size() + len > max_body) {
        too_large = true;
        return false;
      }
      body.append(data, len);
      return true;
    });
  }, [&] { return too_large; });
  if (!res) {
    if (too_large) return ResourceExhausted("GET " + impl_->options.url + path + ": response larger than " + std::to_string(max_body) + " bytes");
    return FromError(res.error(), "GET " + impl_->options.url + path);
  }
  return ToResult(res.value(), std::move(body));
}

StatusOr<HttpResult> HttpClient::Put(const std::string& path, const HeaderList& headers,
                                     uint64_t size, const BodySource& source,
                                     const std::string& content_type) {
  Status source_error;
  auto provider = [&](size_t offset, size_t length, httplib::DataSink& sink) {
    uint64_t chunk = std::min<uint64_t>(length, 256u << 10);
    auto data = source(offset, chunk);
    if (!data.ok()) {
      source_error = data.status();
      return false;
    }
    return sink.write(data->data(), data->size());
  };
  auto res = impl_->WithFreshRetry(
      [&] { return impl_->cli->Put(path, ToHeaders(headers), static_cast<size_t>(size), provider, content_type); },
      [&] { return !source_error.ok(); });
  if (!source_error.ok()) {
    impl_->cli->stop();  // part of a body may be on the wire
    impl_->reused = false;
    return source_error;
  }
  if (!res) return FromError(res.error(), "PUT " + impl_->options.url + path);
  return ToResult(res.value(), res->body);
}

}  // namespace common
