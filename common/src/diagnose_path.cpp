// The shared steps of the diagnostics (common/diagnose.h): configuration
// file checks, then dns, tcp, proxy, tls, http and identity against the
// next hop. The raw socket steps exist because the adapter hides which
// stage failed; the http step and later go through the adapter, as every
// real request does.
#include <netdb.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>

#include "common/diagnose.h"
#include "common/fs.h"
#include "common/pki.h"
#include "common/protocol.h"
#include "common/time.h"
#include "diagnose_tls.h"

namespace common {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string HostPort(const std::string& host, int port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string AddressText(const sockaddr* a) {
  char host[NI_MAXHOST] = {};
  if (getnameinfo(a, a->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in), host, sizeof host,
                  nullptr, 0, NI_NUMERICHOST) != 0) {
    return "?";
  }
  return host;
}

// Connects `fd` to `a` within `timeout_s`; 0 or the errno.
int ConnectWithin(int fd, const addrinfo* a, int timeout_s) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int err = 0;
  if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int n = ::poll(&p, 1, timeout_s * 1000);
      if (n == 0) {
        err = ETIMEDOUT;
      } else {
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
    }
  }
  ::fcntl(fd, F_SETFL, flags);
  return err;
}

// Reads a response head (through the blank line) within `timeout_s`.
std::string ReadHead(int fd, int timeout_s) {
  std::string head;
  char buf[1024];
  while (head.size() < 16384 && head.find("\r\n\r\n") == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_s * 1000) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    head.append(buf, static_cast<size_t>(n));
  }
  return head;
}

std::string Base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// The proxy step: CONNECT host:port on the connection to the proxy.
bool ProxyConnect(int fd, const DiagnoseTarget& t, const std::string& host, int port, DiagnoseReport* r) {
  const std::string manual = "curl -v -x " + t.proxy_url + (t.proxy_username.empty() ? "" : " -U " + t.proxy_username) +
                             " --cacert " + t.ca_file + " https://" + HostPort(host, port) + protocol::kPingPath;
  std::string req = "CONNECT " + HostPort(host, port) + " HTTP/1.1\r\nHost: " + HostPort(host, port) + "\r\n";
  if (!t.proxy_username.empty()) {
    req += "Proxy-Authorization: Basic " + Base64(t.proxy_username + ":" + t.proxy_password) + "\r\n";
  }
  req += "\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    r->Fail("proxy", "D402", "cannot send CONNECT to the proxy: " + std::string(std::strerror(errno)), manual);
    return false;
  }
  const std::string head = ReadHead(fd, t.connect_timeout_s);
  const std::string line = head.substr(0, head.find("\r\n"));
  int status = 0;
  if (line.rfind("HTTP/1.", 0) == 0 && line.size() >= 12) status = std::atoi(line.substr(9, 3).c_str());
  if (status == 0 || head.find("\r\n\r\n") == std::string::npos) {
    r->Fail("proxy", "D402", head.empty() ? "the proxy sent no answer to CONNECT" : "not an HTTP answer to CONNECT",
            manual);
    return false;
  }
  const std::string shown = "CONNECT " + HostPort(host, port) + " through " + t.proxy_url +
                            (t.proxy_username.empty() ? "" : " as " + t.proxy_username) + ": " + line;
  if (status == 407) {
    r->Fail("proxy", "D400", shown, manual);
    return false;
  }
  if (status / 100 != 2) {
    r->Fail("proxy", "D401", shown, manual);
    return false;
  }
  r->Pass("proxy", shown, manual);
  return true;
}

}  // namespace

DiagnoseFinding CheckCaBundle(const std::string& path) {
  auto pem = ReadFile(path, pki::kMaxTrustBytes);
  if (!pem.ok()) return {"D101", pem.status().message()};
  auto bundle = pki::ParseTrustBundle(*pem);
  if (!bundle.ok()) return {"D101", path + ": " + bundle.status().message()};
  if (bundle->ca_pems.empty()) return {"D101", path + ": holds no CA certificate"};
  return {"", path + ": " + std::to_string(bundle->ca_pems.size()) + " CA certificate(s), " +
                  std::to_string(bundle->crls.size()) + " revocation list(s)"};
}

DiagnoseFinding CheckKeyPair(const std::string& cert_file, const std::string& key_file, PeerKind kind,
                             const std::string& id, PeerIdentity* identity) {
  auto pem = ReadFile(cert_file, 1 << 20);
  if (!pem.ok()) return {"D103", pem.status().message()};
  auto cert = IdentityFromPem(*pem);
  if (!cert.ok()) return {"D103", cert_file + ": " + cert.status().message()};
  if (cert->kind != kind || (!id.empty() && cert->id != id)) {
    return {"D103", cert_file + ": names " + PeerKindName(cert->kind) + " " + cert->id + ", not " +
                        PeerKindName(kind) + " " + (id.empty() ? "" : id)};
  }
  auto key = ReadFile(key_file, 1 << 20);
  if (!key.ok()) return {"D104", key.status().message()};
  auto key_sha = pki::KeySha256(*key);
  if (!key_sha.ok()) return {"D104", key_file + ": not a usable private key"};
  if (*key_sha != cert->key_sha256) return {"D104", key_file + ": not the key of " + cert_file};
  if (identity != nullptr) *identity = *cert;
  return {"", cert_file + ": " + PeerKindName(kind) + " " + cert->id + ", serial " + cert->serial + ", expires " +
                  FormatRfc3339(cert->not_after) + "; " + key_file + " matches"};
}

std::string ManualCurl(const DiagnoseTarget& t, const std::string& path, bool with_certificate,
                       const std::string& extra) {
  std::string cmd = "curl -sS -v --cacert " + t.ca_file;
  if (!t.proxy_url.empty()) cmd += " -x " + t.proxy_url + (t.proxy_username.empty() ? "" : " -U " + t.proxy_username);
  if (with_certificate && !t.cert_file.empty()) cmd += " --cert " + t.cert_file + " --key " + t.key_file;
  if (!extra.empty()) cmd += " " + extra;
  return cmd + " " + t.url + path;
}

StatusOr<std::unique_ptr<HttpClient>> DiagnoseConnect(const DiagnoseTarget& t, bool with_certificate) {
  ClientOptions o;
  o.url = t.url;
  o.ca_file = t.ca_file;
  if (with_certificate) {
    o.cert_file = t.cert_file;
    o.key_file = t.key_file;
  }
  o.proxy_url = t.proxy_url;
  o.proxy_username = t.proxy_username;
  o.proxy_password = t.proxy_password;
  o.connect_timeout_s = t.connect_timeout_s;
  o.read_timeout_s = t.read_timeout_s;
  o.write_timeout_s = t.read_timeout_s;
  return HttpClient::Create(o);
}

bool DiagnosePath(const DiagnoseTarget& t, bool ca_usable, DiagnoseReport* r) {
  std::string host, dial_host;
  int port = 0, dial_port = 0;
  if (!ParseHttpsUrl(t.url, &host, &port).ok()) {
    for (const char* s : {"dns", "tcp", "proxy", "tls", "http"}) r->Skip(s, "the server URL is not usable");
    return false;
  }
  const bool proxied = !t.proxy_url.empty() && ParseProxyUrl(t.proxy_url, &dial_host, &dial_port).ok();
  if (!proxied) {
    dial_host = host;
    dial_port = port;
  }
  const std::string whose = proxied ? " (the proxy; it resolves " + host + " itself)" : "";

  // dns
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const std::string port_text = std::to_string(dial_port);
  int rc = ::getaddrinfo(dial_host.c_str(), port_text.c_str(), &hints, &list);
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> addrs(list, ::freeaddrinfo);
  const std::string getent = "getent ahosts " + dial_host;
  if (rc != 0) {
    const std::string code = rc == EAI_NONAME || rc == EAI_NODATA ? "D200" : rc == EAI_AGAIN ? "D201" : "D202";
    r->Fail("dns", code, dial_host + whose + ": " + gai_strerror(rc), getent);
    for (const char* s : {"tcp", "proxy", "tls", "http"}) r->Skip(s, "dns failed");
    return false;
  }
  std::string found;
  for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
    const std::string text = AddressText(a->ai_addr);
    if (found.find(text) == std::string::npos) found += (found.empty() ? "" : " ") + text;
  }
  r->Pass("dns", dial_host + whose + " is " + found, getent);

  // tcp: each address in turn until one answers.
  Fd conn;
  std::string tried;
  int last_err = 0;
  for (const addrinfo* a = list; a != nullptr && conn.fd < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    last_err = ConnectWithin(fd, a, t.connect_timeout_s);
    const std::string addr = HostPort(AddressText(a->ai_addr), dial_port);
    if (last_err == 0) {
      conn.fd = fd;
      tried += (tried.empty() ? "" : "; ") + std::string("connected to ") + addr;
    } else {
      ::close(fd);
      tried += (tried.empty() ? "" : "; ") + addr + ": " + std::strerror(last_err);
    }
  }
  const std::string nc = "nc -vz " + dial_host + " " + std::to_string(dial_port);
  if (conn.fd < 0) {
    const std::string code = last_err == ECONNREFUSED ? "D300" : last_err == ETIMEDOUT ? "D301" : "D302";
    r->Fail("tcp", code, tried, nc);
    for (const char* s : {"proxy", "tls", "http"}) r->Skip(s, "tcp failed");
    return false;
  }
  r->Pass("tcp", tried, nc);

  // proxy
  if (!proxied) {
    r->Skip("proxy", "no proxy configured");
  } else if (!ProxyConnect(conn.fd, t, host, port, r)) {
    for (const char* s : {"tls", "http"}) r->Skip(s, "proxy failed");
    return false;
  }

  // tls
  const std::string s_client = "openssl s_client -connect " + HostPort(host, port) + " -servername " + host +
                               " -CAfile " + t.ca_file + " -verify_return_error" +
                               (proxied ? " -proxy " + HostPort(dial_host, dial_port) : "");
  if (!ca_usable) {
    r->Skip("tls", "no usable CA bundle (configuration)");
    r->Skip("http", "tls skipped");
    return false;
  }
  diagnose_tls::Verdict tls = diagnose_tls::Handshake(conn.fd, host, t.ca_file, t.connect_timeout_s);
  if (!tls.code.empty()) {
    r->Fail("tls", tls.code, tls.detail, s_client);
    r->Skip("http", "tls failed");
    return false;
  }
  r->Pass("tls", tls.detail, s_client);

  // http: without a certificate, so that a refused certificate shows in the
  // identity step rather than here (a revoked one is refused on every route).
  const std::string curl = ManualCurl(t, protocol::kPingPath, false);
  auto cli = DiagnoseConnect(t, false);
  if (!cli.ok()) {
    r->Fail("http", "D601", cli.status().ToString(), curl);
    return false;
  }
  auto res = (*cli)->Get(protocol::kPingPath, {}, 64 << 10);
  if (!res.ok()) {
    r->Fail("http", "D601", "GET " + std::string(protocol::kPingPath) + ": " + res.status().ToString(), curl);
    return false;
  }
  if (res->status != 200) {
    r->Fail("http", "D600", "GET " + std::string(protocol::kPingPath) + " answered " + std::to_string(res->status) +
                                ": " + res->body.substr(0, 200),
            curl);
    return false;
  }
  r->Pass("http", "GET " + std::string(protocol::kPingPath) + " answered 200", curl);
  return true;
}

bool DiagnoseIdentity(const DiagnoseTarget& t, const std::string& path, const HeaderList& headers,
                      DiagnoseReport* r) {
  if (t.cert_file.empty()) {
    r->Fail("identity", "D700", "no certificate in use", "");
    return false;
  }
  const std::string curl = ManualCurl(t, path, true);
  auto cli = DiagnoseConnect(t, true);
  if (!cli.ok()) {
    r->Fail("identity", "D705", cli.status().ToString(), curl);
    return false;
  }
  auto res = (*cli)->Get(path, headers, 1 << 20);
  if (!res.ok()) {
    r->Fail("identity", "D705", "GET " + path + ": " + res.status().ToString(), curl);
    return false;
  }
  std::string body = res->body.substr(0, 200);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  const std::string shown = "GET " + path + " answered " + std::to_string(res->status);
  auto has = [&](const char* s) { return body.find(s) != std::string::npos; };
  if (res->status == 200 || res->status == 304) {
    r->Pass("identity", shown + ": the certificate is accepted", curl);
    return true;
  }
  std::string code = "D705";
  if (res->status == 401) code = has("expired") || has("not yet valid") ? "D702" : "D701";
  if (res->status == 403) code = has("revoked") ? "D703" : "D704";
  r->Fail("identity", code, shown + ": " + body, curl);
  return false;
}

}  // namespace common
