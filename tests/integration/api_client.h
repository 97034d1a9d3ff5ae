// Requests to a central's admin API (/api/v1) for the integration tests:
// GETs through the project's client adapter (common::HttpClient: real TLS,
// verified against the estate CA), and anything else (POST, hostile bytes a
// well-behaved client would not send) as raw HTTP over TLS
// (tests/support/tls_raw.h).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/http_client.h"
#include "harness.h"

namespace harness {

struct ApiAnswer {
  int status = 0;
  nlohmann::json body;  // discarded (is_discarded()) when not JSON
  std::string raw;      // the body as sent
  std::string content_type;
  std::string cache_control;
  std::string nosniff;  // X-Content-Type-Options
  std::string allow;
  std::string www_authenticate;
};

class ApiClient {
 public:
  // The admin listener on 127.0.0.1:port, verified against `ca_file`.
  ApiClient(int port, const std::string& ca_file);
  ~ApiClient();
  // GET `target` (path and query, sent as given) with the token ("" none).
  ApiAnswer Get(const std::string& target, const std::string& token);
  // POST `target` with a JSON body, raw over TLS.
  ApiAnswer Post(const std::string& target, const std::string& token, const std::string& body,
                 const std::string& content_type = "application/json");
  // Any request, raw: `head` is the request line and headers without the
  // final empty line; Host and Connection: close are added.
  ApiAnswer Raw(const std::string& head, const std::string& body = "");
  int port() const { return port_; }

 private:
  int port_;
  std::unique_ptr<common::HttpClient> client_;
};

// An estate for the API tests: `seeded` devices written through the Store
// API before the central starts (hosts "api-NNN", device ids
// "bbbbbbbb-0000-4000-8000-000000000NNN"; 4 in 5 active, the rest
// disconnected; packages "openssl" 3.0.11-1~deb12u2 on even and
// 3.0.13-1~deb12u1 on odd ones, and "bash"), then a real central with its
// admin listener on a free port, one real client that enrolled and uploaded
// this machine's inventory straight to the central, and an admin and a read
// token made with beaconctl.
struct ApiEstate {
  explicit ApiEstate(int seeded = 40);
  // Another device, written through the store while the central runs.
  void AddDevice(const std::string& id, const std::string& host);

  Estate e;
  int admin_port = 0;
  std::string admin_token;
  std::string read_token;
  std::string client_device;
  std::vector<std::string> seeded;  // device ids
  std::unique_ptr<ApiClient> api;
};

std::string SeededId(int n);

// Asks beaconctl for a token (`token create --name NAME --role ROLE`).
std::string CreateToken(const std::vector<std::string>& ctl_args, const std::string& name,
                        const std::string& role);

}  // namespace harness
