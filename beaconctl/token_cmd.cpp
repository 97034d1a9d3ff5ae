#include "token_cmd.h"

#include <CLI/CLI.hpp>
#include <ostream>

#include "common/sha256.h"
#include "common/text.h"
#include "common/uuid.h"
#include "table.h"

namespace beaconctl {

using common::Status;

TokenCommand::TokenCommand(CLI::App& app) {
  token_ = app.add_subcommand("token", "API tokens for the REST API and the dashboard");
  token_->require_subcommand(1);
  create_ = token_->add_subcommand("create", "a new token (printed once; stored hashed)");
  create_->add_option("--name", name_, "a label, unique among live tokens ([A-Za-z0-9._-], 1 to 64)")->required();
  create_->add_option("--role", role_, "read (every GET) or admin (also creates and cancels actions)")
      ->check(CLI::IsMember({"read", "admin"}))
      ->capture_default_str();
  list_ = token_->add_subcommand("list", "list tokens (never the tokens themselves)");
  list_format_.AddTo(*list_);
  revoke_ = token_->add_subcommand("revoke", "revoke a token: the central refuses it from its next request");
  revoke_->add_option("ID|NAME", name_, "the token's id or name")->required();
}

bool TokenCommand::Chosen() const { return token_->parsed(); }

Status TokenCommand::Run(const inventory::StoreLocation& store_path, int64_t now, std::ostream& out) const {
  ASSIGN_OR_RETURN(auto store, inventory::OpenStore(store_path, list_->parsed()));
  if (create_->parsed()) {
    inventory::ApiToken t;
    t.id = common::RandomHex(6);
    t.name = name_;
    t.role = role_;
    t.created_at = now;
    const std::string token = "bkt_" + common::RandomHex(32);
    RETURN_IF_ERROR(store->AddApiToken(t, common::Sha256Hex(token)));
    out << token << "\n";
    return Status::Ok();
  }
  if (list_->parsed()) {
    ASSIGN_OR_RETURN(auto tokens, store->ListApiTokens());
    Listing l;
    l.columns = {{.field = "id", .header = "ID"},
                 {.field = "name", .header = "NAME"},
                 {.field = "role", .header = "ROLE"},
                 {.field = "created", .header = "CREATED", .time = true},
                 {.field = "revoked", .header = "REVOKED", .time = true}};
    for (const auto& t : tokens) {
      l.rows.push_back({Value::Text(t.id), Value::Untrusted(t.name), Value::Text(t.role), Value::Time(t.created_at),
                        Value::Time(t.revoked_at).Shown(t.revoked_at ? "revoked " + FormatTime(t.revoked_at) : "-")});
    }
    Print(out, list_format_.Get(), l);
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(inventory::ApiToken t, store->RevokeApiToken(name_, now));
  out << "token " << t.id << " (" << common::Printable(t.name) << ") revoked\n";
  return Status::Ok();
}

}  // namespace beaconctl
