// A small JSON Schema checker for the subset OpenAPI 3.0 documents use in
// docs/openapi.json: $ref (to #/components/schemas/...), type (string,
// integer, number, boolean, array, object), nullable, properties, required,
// additionalProperties (false or a schema), items, enum, minimum, maximum.
// Other keywords (format, description, example) are ignored. Enough to tell
// whether an answer has the documented fields with the documented types.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace testing_support {

// Every way `value` breaks `schema`, as "path: what" lines ("" = the root);
// empty when it conforms. `document` resolves $ref.
std::vector<std::string> SchemaErrors(const nlohmann::json& value, const nlohmann::json& schema,
                                      const nlohmann::json& document, const std::string& path = "");

}  // namespace testing_support
