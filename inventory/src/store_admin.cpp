// SqlStore's administrators' records: API tokens (identity_store.h) and the
// estate's history (estate.h). Writes take the writer, reads the reader pool.
#include <set>
#include <string>
#include <vector>

#include "common/sha256.h"
#include "sql_store.h"
#include "store_identity_rows.h"

namespace inventory::sql {
namespace {

bool IsTokenId(const std::string& id) {
  return id.size() == 12 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

bool IsTokenName(const std::string& name) {
  return !name.empty() && name.size() <= 64 &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
             std::string::npos;
}

// Prepare() takes literal SQL: the three statements that read tokens.
#define TOKEN_SELECT "SELECT id, name, role, created_at, revoked_at FROM api_tokens "

ApiToken ReadToken(const Stmt& s) { return ApiToken{s.Text(0), s.Text(1), s.Text(2), s.Int(3), s.Int(4)}; }

}  // namespace

Status SqlStore::AddApiToken(const ApiToken& token, const std::string& token_sha256) {
  RETURN_IF_ERROR(WritableOrError());
  const std::string ctx = path_ + ": add API token " + token.id;
  if (!IsTokenId(token.id)) return common::InvalidArgument(ctx + ": the id is not 12 lower-case hex digits");
  if (!IsTokenName(token.name)) {
    return common::InvalidArgument(ctx + ": the name is not 1 to 64 of [A-Za-z0-9._-]");
  }
  if (token.role != "read" && token.role != "admin") {
    return common::InvalidArgument(ctx + ": the role is not 'read' or 'admin'");
  }
  if (!common::IsHexDigest(token_sha256)) {
    return common::InvalidArgument(ctx + ": digest is not 64 lower-case hex digits");
  }
  return Write([&](Conn* db) -> Status {
    {
      Stmt s(db, ctx + ": look up id and name");
      RETURN_IF_ERROR(s.Prepare("SELECT id FROM api_tokens WHERE id = ?1 OR (name = ?2 AND revoked_at = 0)"));
      RETURN_IF_ERROR(s.Bind(1, token.id));
      RETURN_IF_ERROR(s.Bind(2, token.name));
      ASSIGN_OR_RETURN(bool found, s.Step());
      if (found) {
        return common::AlreadyExists(ctx + (s.Text(0) == token.id ? ": the id is taken"
                                                                  : ": a live token is named '" + token.name + "'"));
      }
    }
    // A new token is live, whatever the struct says.
    Stmt s(db, ctx);
    RETURN_IF_ERROR(
        s.Prepare("INSERT INTO api_tokens (id, name, role, sha256, created_at) VALUES (?1, ?2, ?3, ?4, ?5)"));
    RETURN_IF_ERROR(s.Bind(1, token.id));
    RETURN_IF_ERROR(s.Bind(2, token.name));
    RETURN_IF_ERROR(s.Bind(3, token.role));
    RETURN_IF_ERROR(s.Bind(4, token_sha256));
    RETURN_IF_ERROR(s.Bind(5, token.created_at));
    return s.Run();
  });
}

StatusOr<std::vector<ApiToken>> SqlStore::ListApiTokens() {
  return Read([&](Conn* db) -> StatusOr<std::vector<ApiToken>> {
    Stmt s(db, path_ + ": list API tokens");
    RETURN_IF_ERROR(s.Prepare(TOKEN_SELECT "ORDER BY created_at, name, id"));
    return ReadAll<ApiToken>(s, ReadToken);
  });
}

StatusOr<ApiToken> SqlStore::FindApiToken(const std::string& token_sha256) {
  return Read([&](Conn* db) -> StatusOr<ApiToken> {
    Stmt s(db, path_ + ": find API token");
    RETURN_IF_ERROR(s.Prepare(TOKEN_SELECT "WHERE sha256 = ?1"));
    RETURN_IF_ERROR(s.Bind(1, token_sha256));
    ASSIGN_OR_RETURN(bool found, s.Step());
    if (!found) return common::NotFound("no such API token");
    return ReadToken(s);
  });
}

StatusOr<ApiToken> SqlStore::RevokeApiToken(const std::string& id_or_name, int64_t now) {
  RETURN_IF_ERROR(WritableOrError());
  const std::string ctx = path_ + ": revoke API token '" + id_or_name + "'";
  return Write([&](Conn* db) -> StatusOr<ApiToken> {
    ApiToken token;
    {
      Stmt s(db, ctx + ": look it up");
      RETURN_IF_ERROR(s.Prepare(TOKEN_SELECT "WHERE (id = ?1 OR name = ?1) AND revoked_at = 0"));
      RETURN_IF_ERROR(s.Bind(1, id_or_name));
      ASSIGN_OR_RETURN(bool found, s.Step());
      if (!found) return common::NotFound(ctx + ": no live token has this id or name");
      token = ReadToken(s);
    }
    Stmt s(db, ctx);
    RETURN_IF_ERROR(s.Prepare("UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1"));
    RETURN_IF_ERROR(s.Bind(1, token.id));
    RETURN_IF_ERROR(s.Bind(2, now));
    RETURN_IF_ERROR(s.Run());
    token.revoked_at = now;
    return token;
  });
}

Status SqlStore::RecordEstateSamples(const std::vector<EstateSample>& samples) {
  RETURN_IF_ERROR(WritableOrError());
  if (samples.empty()) return Status::Ok();
  const int64_t at = samples.front().at;
  const std::string ctx = path_ + ": record the estate at " + std::to_string(at);
  std::set<std::string> series;
  for (const auto& sample : samples) {
    if (sample.at != at) return common::InvalidArgument(ctx + ": the samples are of different times");
    if (sample.series.empty() || !series.insert(sample.series).second) {
      return common::InvalidArgument(ctx + ": series '" + sample.series + "' is empty or repeated");
    }
  }
  return Write([&](Conn* db) -> Status {
    {
      Stmt s(db, ctx + ": look for the point");
      RETURN_IF_ERROR(s.Prepare("SELECT series FROM estate_history WHERE at = ?1"));
      RETURN_IF_ERROR(s.Bind(1, at));
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        if (series.count(s.Text(0)) != 0) return common::AlreadyExists(ctx + ": " + s.Text(0) + " already recorded");
      }
    }
    Stmt s(db, ctx);
    RETURN_IF_ERROR(s.Prepare("INSERT INTO estate_history (at, series, value) VALUES (?1, ?2, ?3)"));
    for (const auto& sample : samples) {
      RETURN_IF_ERROR(s.Reset());
      RETURN_IF_ERROR(s.Bind(1, sample.at));
      RETURN_IF_ERROR(s.Bind(2, sample.series));
      RETURN_IF_ERROR(s.Bind(3, sample.value));
      RETURN_IF_ERROR(s.Run());
    }
    return Status::Ok();
  });
}

StatusOr<std::vector<EstateSample>> SqlStore::EstateHistory(int64_t since) {
  return Read([&](Conn* db) -> StatusOr<std::vector<EstateSample>> {
    Stmt s(db, path_ + ": read the estate's history");
    RETURN_IF_ERROR(s.Prepare("SELECT at, series, value FROM estate_history WHERE at >= ?1 ORDER BY at, series"));
    RETURN_IF_ERROR(s.Bind(1, since));
    return ReadAll<EstateSample>(s, [](const Stmt& r) { return EstateSample{r.Int(0), r.Text(1), r.Int(2)}; });
  });
}

StatusOr<int64_t> SqlStore::PurgeEstateHistory(int64_t before) {
  RETURN_IF_ERROR(WritableOrError());
  return Write([&](Conn* db) -> StatusOr<int64_t> {
    Stmt s(db, path_ + ": purge the estate's history");
    RETURN_IF_ERROR(s.Prepare("DELETE FROM estate_history WHERE at < ?1"));
    RETURN_IF_ERROR(s.Bind(1, before));
    RETURN_IF_ERROR(s.Run());
    return s.Changes();
  });
}

#undef TOKEN_SELECT

}  // namespace inventory::sql
