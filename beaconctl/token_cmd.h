// beaconctl token create|list|revoke: the administrators' API tokens
// (docs/api.md "Tokens"). A token is printed once, when created; the store
// keeps only its SHA-256, so a lost token is revoked and replaced, never
// shown again. Revocation takes effect at the central's next API request.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "common/status.h"
#include "inventory/store.h"
#include "output.h"

namespace CLI {
class App;
}

namespace beaconctl {

class TokenCommand {
 public:
  // Declares the commands on `app`; parsing fills this object.
  explicit TokenCommand(CLI::App& app);
  bool Chosen() const;
  common::Status Run(const inventory::StoreLocation& store_path, int64_t now, std::ostream& out) const;

 private:
  CLI::App *token_ = nullptr, *create_ = nullptr, *list_ = nullptr, *revoke_ = nullptr;
  std::string name_;           // create --name; revoke ID|NAME
  std::string role_ = "read";  // create --role
  FormatFlags list_format_;
};

}  // namespace beaconctl
