#include "support/json_schema.h"

namespace testing_support {

namespace {

using nlohmann::json;

const json& Resolve(const json& schema, const json& document, std::vector<std::string>* errors,
                    const std::string& path) {
  static const json kEmpty = json::object();
  if (!schema.contains("$ref")) return schema;
  const std::string ref = schema["$ref"];
  const std::string prefix = "#/components/schemas/";
  if (ref.rfind(prefix, 0) != 0 ||
      !document["components"]["schemas"].contains(ref.substr(prefix.size()))) {
    errors->push_back(path + ": unresolvable $ref " + ref);
    return kEmpty;
  }
  return document["components"]["schemas"][ref.substr(prefix.size())];
}

bool TypeIs(const json& v, const std::string& type) {
  if (type == "string") return v.is_string();
  if (type == "integer") return v.is_number_integer();
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_boolean();
  if (type == "array") return v.is_array();
  if (type == "object") return v.is_object();
  return false;
}

void Check(const json& value, const json& raw_schema, const json& document, const std::string& path,
           std::vector<std::string>* errors) {
  const json& schema = Resolve(raw_schema, document, errors, path);
  if (value.is_null()) {
    if (!schema.value("nullable", false) && schema.contains("type"))
      errors->push_back(path + ": null, not nullable");
    return;
  }
  if (schema.contains("type")) {
    const std::string type = schema["type"];
    if (!TypeIs(value, type)) {
      errors->push_back(path + ": " + value.type_name() + ", documented " + type);
      return;
    }
  }
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& e : schema["enum"]) found = found || e == value;
    if (!found) errors->push_back(path + ": " + value.dump() + " is not in the documented enum");
  }
  if (value.is_number()) {
    if (schema.contains("minimum") && value.get<double>() < schema["minimum"].get<double>()) {
      errors->push_back(path + ": below the documented minimum");
    }
    if (schema.contains("maximum") && value.get<double>() > schema["maximum"].get<double>()) {
      errors->push_back(path + ": above the documented maximum");
    }
  }
  if (value.is_array() && schema.contains("items")) {
    for (size_t i = 0; i < value.size(); ++i) {
      Check(value[i], schema["items"], document, path + "[" + std::to_string(i) + "]", errors);
    }
  }
  if (value.is_object()) {
    const json props = schema.value("properties", json::object());
    for (const auto& r : schema.value("required", json::array())) {
      if (!value.contains(r.get<std::string>()))
        errors->push_back(path + ": missing required " + r.get<std::string>());
    }
    for (auto it = value.begin(); it != value.end(); ++it) {
      const std::string sub = path + "/" + it.key();
      if (props.contains(it.key())) {
        Check(it.value(), props[it.key()], document, sub, errors);
      } else if (schema.contains("additionalProperties")) {
        const json& extra = schema["additionalProperties"];
        if (extra.is_boolean() && !extra.get<bool>()) {
          errors->push_back(sub + ": not documented");
        } else if (extra.is_object()) {
          Check(it.value(), extra, document, sub, errors);
        }
      }
    }
  }
}

}  // namespace

std::vector<std::string> SchemaErrors(const nlohmann::json& value, const nlohmann::json& schema,
                                      const nlohmann::json& document, const std::string& path) {
  std::vector<std::string> errors;
  Check(value, schema, document, path, &errors);
  return errors;
}

}  // namespace testing_support
