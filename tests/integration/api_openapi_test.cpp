// docs/openapi.json against the server: every documented path is served,
// every served /api/v1 route is documented, and real answers (successes and
// errors) have the documented fields with the documented types
// (support/json_schema.h).
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "admin_api.h"
#include "api_client.h"
#include "harness.h"
#include "support/json_schema.h"

namespace {

using harness::ApiAnswer;
using nlohmann::json;

json OpenApi() {
  std::ifstream in(std::string(SOURCE_DIR) + "/docs/openapi.json");
  REQUIRE(in);
  std::stringstream s;
  s << in.rdbuf();
  json doc = json::parse(s.str(), nullptr, false);
  REQUIRE_FALSE(doc.is_discarded());
  return doc;
}

// The schema documented for `status` of `method path`, or null.
json ResponseSchema(const json& doc, const std::string& path, const std::string& method,
                    int status) {
  const json& op = doc["paths"][path][method];
  const std::string code = std::to_string(status);
  if (!op["responses"].contains(code)) return nullptr;
  json response = op["responses"][code];
  if (response.contains("$ref")) {
    const std::string ref = response["$ref"];
    response = doc["components"]["responses"][ref.substr(ref.rfind('/') + 1)];
  }
  return response["content"]["application/json"]["schema"];
}

void Conforms(const json& doc, const std::string& path, const std::string& method,
              const ApiAnswer& a) {
  INFO(method << " " << path << " -> " << a.status << " " << a.raw);
  json schema = ResponseSchema(doc, path, method, a.status);
  REQUIRE_FALSE(schema.is_null());  // the status is documented
  REQUIRE_FALSE(a.body.is_discarded());
  auto errors = testing_support::SchemaErrors(a.body, schema, doc);
  for (const auto& e : errors) FAIL_CHECK(e);
  CHECK(errors.empty());
}

}  // namespace

TEST_CASE("the schema checker finds missing fields, wrong types and undocumented ones") {
  json doc = {{"components",
               {{"schemas",
                 {{"T",
                   {{"type", "object"},
                    {"required", {"a", "b"}},
                    {"additionalProperties", false},
                    {"properties",
                     {{"a", {{"type", "integer"}}},
                      {"b", {{"type", "string"}, {"nullable", true}, {"enum", {"x", "y"}}}},
                      {"c", {{"type", "array"}, {"items", {{"type", "boolean"}}}}}}}}}}}}}};
  json ref = {{"$ref", "#/components/schemas/T"}};
  CHECK(testing_support::SchemaErrors(json{{"a", 1}, {"b", "x"}, {"c", {true}}}, ref, doc).empty());
  CHECK(testing_support::SchemaErrors(json{{"a", 1}, {"b", nullptr}}, ref, doc).empty());
  CHECK(testing_support::SchemaErrors(json{{"a", 1}}, ref, doc).size() == 1);  // b missing
  CHECK(testing_support::SchemaErrors(json{{"a", "1"}, {"b", "x"}}, ref, doc).size() ==
        1);  // a's type
  CHECK(testing_support::SchemaErrors(json{{"a", 1}, {"b", "z"}}, ref, doc).size() == 1);  // enum
  CHECK(testing_support::SchemaErrors(json{{"a", 1}, {"b", "x"}, {"d", 0}}, ref, doc).size() ==
        1);  // extra
  CHECK(testing_support::SchemaErrors(json{{"a", 1}, {"b", "x"}, {"c", {1}}}, ref, doc).size() ==
        1);
}

TEST_CASE("API: docs/openapi.json documents exactly the served routes, and the answers match it") {
  const json doc = OpenApi();
  CHECK(doc["openapi"].get<std::string>().rfind("3.0", 0) == 0);
  std::set<std::string> documented, served;
  for (auto p = doc["paths"].begin(); p != doc["paths"].end(); ++p) {
    for (auto m = p.value().begin(); m != p.value().end(); ++m) {
      if (m.key() == "parameters") continue;
      std::string method = m.key();
      for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert(method + " " + p.key());
    }
  }
  for (const auto& r : beacon::AdminApi::Routes()) served.insert(r.method + " " + r.pattern);
  CHECK(documented == served);

  harness::ApiEstate x(12);
  // Path parameters: the real client's device, and an action made first.
  ApiAnswer made = x.api->Post("/api/v1/actions", x.admin_token,
                               "{\"kind\":\"inventory\",\"device\":\"" + x.client_device + "\"}");
  REQUIRE(made.status == 201);
  Conforms(doc, "/api/v1/actions", "post", made);
  const std::string action = made.body["items"][0]["id"];

  for (auto p = doc["paths"].begin(); p != doc["paths"].end(); ++p) {
    if (!p.value().contains("get")) continue;
    const json& op = p.value()["get"];
    std::string target = p.key();
    const bool on_action = target.rfind("/api/v1/actions/", 0) == 0;
    if (auto at = target.find("{id}"); at != std::string::npos)
      target.replace(at, 4, on_action ? action : x.client_device);
    // Required query parameters, from the document's own examples.
    std::string query;
    for (const auto& param : op.value("parameters", json::array())) {
      if (param.value("in", "") == "query" && param.value("required", false)) {
        REQUIRE(param.contains("example"));
        query += (query.empty() ? "?" : "&") + param["name"].get<std::string>() + "=" +
                 param["example"].get<std::string>();
      }
    }
    ApiAnswer ok = x.api->Get(target + query, x.read_token);
    CHECK(ok.status == 200);
    Conforms(doc, p.key(), "get", ok);
    // Every GET documents its refusals too.
    Conforms(doc, p.key(), "get", x.api->Get(target + query, ""));
    Conforms(doc, p.key(), "get",
             x.api->Get(target + (query.empty() ? "?" : query + "&") + "bogus=1", x.read_token));
  }
  // Paged, filtered and not found.
  ApiAnswer page =
      x.api->Get("/api/v1/devices?limit=2&sort=-last_seen&status=active", x.read_token);
  Conforms(doc, "/api/v1/devices", "get", page);
  REQUIRE(page.body["next_cursor"].is_string());
  Conforms(doc, "/api/v1/devices", "get",
           x.api->Get("/api/v1/devices?limit=2&sort=-last_seen&status=active&cursor=" +
                          page.body["next_cursor"].get<std::string>(),
                      x.read_token));
  Conforms(doc, "/api/v1/devices/{id}", "get",
           x.api->Get("/api/v1/devices/" + harness::SeededId(999), x.read_token));
  Conforms(doc, "/api/v1/software", "get",
           x.api->Get("/api/v1/software?name=openssl&below=3.0.12", x.read_token));
  Conforms(doc, "/api/v1/actions", "post", x.api->Post("/api/v1/actions", x.read_token, "{}"));
  Conforms(doc, "/api/v1/actions", "post",
           x.api->Post("/api/v1/actions", x.admin_token, "{\"kind\":1}"));
  const std::string cancel = "/api/v1/actions/" + action + "/cancel";
  Conforms(doc, "/api/v1/actions/{id}/cancel", "post", x.api->Post(cancel, x.admin_token, "", ""));
  Conforms(doc, "/api/v1/actions/{id}/cancel", "post",
           x.api->Post(cancel, x.admin_token, "", ""));  // 409
}
