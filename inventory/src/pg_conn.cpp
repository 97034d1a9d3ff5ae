#include "pg_conn.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/log.h"

namespace inventory::pg {

using common::Status;
using common::StatusOr;

namespace {

struct ClearResult {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ClearResult>;

// libpq ends its messages with a newline and breaks longer ones into
// several lines ("server closed the connection unexpectedly\n\tThis probably
// means ...", "ERROR: ...\nCONTEXT: ..."); ours are one line, as every log
// line is: each line break, with the blanks around it, becomes one space.
std::string Trimmed(const char* text) {
  std::string s;
  bool pending_space = false;
  for (const char* p = text != nullptr ? text : ""; *p != '\0'; ++p) {
    const char c = *p;
    if (c == '\n' || c == '\r' || ((c == ' ' || c == '\t') && (s.empty() || pending_space))) {
      pending_space = pending_space || c == '\n' || c == '\r';
      continue;
    }
    if (pending_space) {
      while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
      if (!s.empty()) s += ' ';
      pending_space = false;
    }
    s += c;
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

// What the server says outside a statement's result (a NOTICE or WARNING,
// or the FATAL a terminated session receives while idle) goes to the log,
// with the database's name, instead of libpq's own printing to stderr.
void LogNotice(void* name, const PGresult* res) {
  const char* severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
  const std::string s = severity != nullptr ? severity : "";
  const std::string line = *static_cast<const std::string*>(name) + ": server says: " +
                           Trimmed(PQresultErrorMessage(res));
  if (s == "NOTICE" || s == "INFO" || s == "LOG" || s == "DEBUG") {
    common::LogInfo(line);
  } else {
    common::LogWarn(line);
  }
}

bool Ok(const PGresult* res) {
  const ExecStatusType st = PQresultStatus(res);
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

// PostgreSQL's type for text, used for a parameter the SQL never mentions
// (an optional filter left out): the server cannot infer a type for it.
constexpr Oid kTextOid = 25;

class PgStmt final : public sql::StmtImpl {
 public:
  PgStmt(PgConn* conn, std::string statement, int params, std::string what)
      : conn_(conn), statement_(std::move(statement)), what_(std::move(what)),
        values_(static_cast<size_t>(params)), is_null_(static_cast<size_t>(params), true),
        formats_(static_cast<size_t>(params), 0) {}

  Status BindText(int index, std::string_view text) override {
    RETURN_IF_ERROR(CheckIndex(index));
    Set(index, std::string(text), 0);
    return Status::Ok();
  }
  Status BindInt(int index, int64_t value) override {
    RETURN_IF_ERROR(CheckIndex(index));
    Set(index, std::to_string(value), 0);
    return Status::Ok();
  }
  Status BindBlob(int index, std::string_view bytes) override {
    RETURN_IF_ERROR(CheckIndex(index));
    Set(index, std::string(bytes), 1);  // binary: bytea's wire form is the bytes
    return Status::Ok();
  }

  StatusOr<bool> Step() override {
    if (!executed_) {
      std::vector<const char*> values(values_.size());
      std::vector<int> lengths(values_.size());
      for (size_t i = 0; i < values_.size(); ++i) {
        values[i] = is_null_[i] ? nullptr : values_[i].data();
        lengths[i] = static_cast<int>(values_[i].size());
      }
      result_.reset(PQexecPrepared(conn_->raw(), statement_.c_str(), static_cast<int>(values.size()),
                                   values.data(), lengths.data(), formats_.data(), 0));
      executed_ = true;
      if (!Ok(result_.get())) return conn_->Fail(result_.get(), what_);
      const char* tuples = PQcmdTuples(result_.get());
      changes_ = (tuples != nullptr && *tuples != '\0') ? std::strtoll(tuples, nullptr, 10) : 0;
      row_ = -1;
    }
    if (PQresultStatus(result_.get()) != PGRES_TUPLES_OK) return false;
    ++row_;
    return row_ < PQntuples(result_.get());
  }

  Status Reset() override {
    result_.reset();
    executed_ = false;
    for (size_t i = 0; i < values_.size(); ++i) {
      values_[i].clear();
      is_null_[i] = true;
      formats_[i] = 0;
    }
    return Status::Ok();
  }

  // Integers come back as decimal text (SUM over bigint is numeric, still
  // integral); booleans as t/f.
  int64_t Int(int col) const override {
    if (PQgetisnull(result_.get(), row_, col)) return 0;
    const char* v = PQgetvalue(result_.get(), row_, col);
    if (v[0] == 't' && v[1] == '\0') return 1;
    if (v[0] == 'f' && v[1] == '\0') return 0;
    return std::strtoll(v, nullptr, 10);
  }
  std::string Text(int col) const override {
    if (PQgetisnull(result_.get(), row_, col)) return std::string();
    return std::string(PQgetvalue(result_.get(), row_, col),
                       static_cast<size_t>(PQgetlength(result_.get(), row_, col)));
  }
  std::string Blob(int col) const override {
    if (PQgetisnull(result_.get(), row_, col)) return std::string();
    size_t n = 0;
    unsigned char* bytes = PQunescapeBytea(
        reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row_, col)), &n);
    if (bytes == nullptr) return std::string();
    std::string out(reinterpret_cast<const char*>(bytes), n);
    PQfreemem(bytes);
    return out;
  }
  int64_t Changes() const override { return changes_; }

 private:
  Status CheckIndex(int index) const {
    if (index < 1 || static_cast<size_t>(index) > values_.size()) {
      return common::Internal(what_ + ": parameter " + std::to_string(index) +
                              " is not in the statement");
    }
    return Status::Ok();
  }
  void Set(int index, std::string value, int format) {
    const size_t i = static_cast<size_t>(index - 1);
    values_[i] = std::move(value);
    is_null_[i] = false;
    formats_[i] = format;
  }

  PgConn* conn_;
  const std::string statement_;
  const std::string what_;
  std::vector<std::string> values_;
  std::vector<bool> is_null_;  // unbound parameters are NULL, as in SQLite
  std::vector<int> formats_;
  ResultPtr result_;
  bool executed_ = false;
  int row_ = -1;
  int64_t changes_ = 0;
};

}  // namespace

Status PgStatus(const PGresult* res, PGconn* conn, const std::string& context) {
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string detail = res != nullptr ? Trimmed(PQresultErrorMessage(res)) : "";
  if (detail.empty() && conn != nullptr) detail = Trimmed(PQerrorMessage(conn));
  if (detail.empty()) detail = "no result from the server";
  const std::string message = context + ": " + detail;
  // No SQLSTATE: libpq itself failed, almost always a lost connection.
  if (state == nullptr || std::strlen(state) != 5) return common::Unavailable(message);
  const std::string s = state;
  const std::string cls = s.substr(0, 2);
  if (s == "40001" || s == "40P01" || cls == "08" || s == "57P01" || s == "57P02" ||
      s == "57P03" || s == "55P03") {
    return common::Unavailable(message);
  }
  if (s == "57014") return common::DeadlineExceeded(message);
  if (cls == "53") return common::ResourceExhausted(message);
  if (s == "XX001" || s == "XX002") return common::DataLoss(message);
  if (s == "42501" || s == "25006") return common::PermissionDenied(message);
  if (cls == "28") return common::Unauthenticated(message);
  if (cls == "22") return common::InvalidArgument(message);
  return common::Internal(message + " (SQLSTATE " + s + ")");
}

StatusOr<std::string> TranslatePlaceholders(const char* sql, std::vector<bool>* used) {
  std::string out;
  const size_t n = std::strlen(sql);
  out.reserve(n + 8);
  for (size_t i = 0; i < n; ++i) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {  // a literal or a quoted identifier, doubled quotes inside
      const size_t end = std::string_view(sql + i + 1, n - i - 1).find(c);
      if (end == std::string_view::npos) return common::Internal("unterminated quote in SQL");
      out.append(sql + i, end + 2);
      i += end + 1;
      continue;
    }
    if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      const char* nl = std::strchr(sql + i, '\n');
      const size_t end = nl != nullptr ? static_cast<size_t>(nl - sql) : n;
      out.append(sql + i, end - i);
      i = end - 1;
      continue;
    }
    if (c != '?') {
      out += c;
      continue;
    }
    size_t j = i + 1;
    int number = 0;
    while (j < n && sql[j] >= '0' && sql[j] <= '9' && number < 100000) {
      number = number * 10 + (sql[j] - '0');
      ++j;
    }
    if (j == i + 1 || number == 0) {
      return common::Internal("SQL uses a placeholder without a number (write ?1, ?2, ...)");
    }
    if (used->size() <= static_cast<size_t>(number)) used->resize(static_cast<size_t>(number) + 1);
    (*used)[static_cast<size_t>(number)] = true;
    out += '$';
    out.append(sql + i + 1, j - i - 1);
    i = j - 1;
  }
  return out;
}

std::string DescribeConninfo(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (opts == nullptr) {
    PQfreemem(err);
    return "postgresql database (unparsable connection string)";
  }
  std::string db, host, port, user;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string k = o->keyword;
    if (k == "dbname") db = o->val;
    if (k == "host") host = o->val;
    if (k == "port") port = o->val;
    if (k == "user") user = o->val;
  }
  PQconninfoFree(opts);
  std::string out = "postgresql database '" + db + "'";
  if (!host.empty() || !port.empty()) out += " on " + host + (port.empty() ? "" : ":" + port);
  if (!user.empty()) out += " as " + user;
  return out;
}

PgConn::~PgConn() { PQfinish(conn_); }

Status PgConn::Fail(const PGresult* res, const std::string& context) {
  Status st = PgStatus(res, conn_, context);
  if (st.code() == common::Code::kUnavailable) retryable_failure_ = true;
  return st;
}

StatusOr<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& conninfo,
                                                  const std::string& name, bool read_only) {
  // Keywords are applied in order, so the defaults come before dbname (the
  // whole connection string, expanded) and the administrator's values win.
  const std::string timeout = std::to_string(kConnectTimeoutSeconds);
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), "beacon", conninfo.c_str(), nullptr};
  PGconn* raw = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (raw == nullptr) return common::ResourceExhausted(name + ": connect: out of memory");
  std::unique_ptr<PgConn> conn(new PgConn(raw, name, read_only));
  // Kept across PQreset; name_ lives as long as the connection.
  PQsetNoticeReceiver(raw, LogNotice, const_cast<std::string*>(&conn->name_));
  if (PQstatus(raw) != CONNECTION_OK) {
    const std::string detail = Trimmed(PQerrorMessage(raw));
    const std::string message = name + ": connect: " + detail;
    if (detail.find("does not exist") != std::string::npos) return common::NotFound(message);
    if (detail.find("authentication failed") != std::string::npos ||
        detail.find("password") != std::string::npos) {
      return common::Unauthenticated(message);
    }
    return common::Unavailable(message);
  }
  RETURN_IF_ERROR(conn->Setup());
  return conn;
}

Status PgConn::Setup() {
  if (PQsetClientEncoding(conn_, "UTF8") != 0) {
    return PgStatus(nullptr, conn_, name_ + ": set client encoding");
  }
  const std::string timeout =
      "SET statement_timeout = " + std::to_string(kStatementTimeoutMs);
  RETURN_IF_ERROR(Exec(timeout.c_str(), name_ + ": set statement_timeout"));
  if (read_only_) {
    RETURN_IF_ERROR(
        Exec("SET default_transaction_read_only = on", name_ + ": make the connection read-only"));
  }
  return Status::Ok();
}

Status PgConn::EnsureConnected() {
  if (PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
  // Statements prepared on the lost session are gone with it.
  prepared_.clear();
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) return Fail(nullptr, name_ + ": reconnect");
  return Setup();
}

StatusOr<std::unique_ptr<sql::StmtImpl>> PgConn::Prepare(const char* sql, const std::string& what) {
  RETURN_IF_ERROR(EnsureConnected());
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::vector<bool> used;
    StatusOr<std::string> text = TranslatePlaceholders(sql, &used);
    if (!text.ok()) return text.status().WithContext(what);
    const int params = used.empty() ? 0 : static_cast<int>(used.size()) - 1;
    std::vector<Oid> types(static_cast<size_t>(params), 0);  // 0: inferred by the server
    for (int i = 1; i <= params; ++i) {
      if (!used[static_cast<size_t>(i)]) types[static_cast<size_t>(i - 1)] = kTextOid;
    }
    Prepared p{"s" + std::to_string(++next_statement_), params};
    ResultPtr res(PQprepare(conn_, p.name.c_str(), text->c_str(), params, types.data()));
    if (!Ok(res.get())) return Fail(res.get(), what);
    it = prepared_.emplace(sql, std::move(p)).first;
  }
  return std::unique_ptr<sql::StmtImpl>(
      std::make_unique<PgStmt>(this, it->second.name, it->second.params, what));
}

Status PgConn::Exec(const char* sql, const std::string& what) {
  RETURN_IF_ERROR(EnsureConnected());
  ResultPtr res(PQexec(conn_, sql));
  if (!Ok(res.get())) return Fail(res.get(), what);
  return Status::Ok();
}

Status PgConn::Begin(sql::TxnKind kind) {
  retryable_failure_ = false;
  // Writes are SERIALIZABLE: the store's rules read and then decide (a
  // secret's use count, an inventory's sequence, a health document's), and
  // were written for SQLite's one writer at a time. Serializable isolation
  // gives exactly that behaviour to several concurrent centrals; a
  // transaction that would break it fails with 40001 and is run again
  // (SqlStore::Write). Merges (check-in batches) decide nothing from what
  // they read: READ COMMITTED, so that a batch over thousands of devices
  // waits for the rows other centrals are importing instead of failing
  // whenever one of them committed a change to any of its rows since the
  // batch began (which, in a busy estate, is always). Snapshot reads never
  // fail that way: REPEATABLE READ.
  const char* begin = "BEGIN ISOLATION LEVEL SERIALIZABLE";
  if (kind == sql::TxnKind::kMerge) begin = "BEGIN ISOLATION LEVEL READ COMMITTED";
  if (kind == sql::TxnKind::kSnapshot) begin = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
  return Exec(begin, name_ + ": begin transaction");
}

Status PgConn::Commit() {
  ResultPtr res(PQexec(conn_, "COMMIT"));
  if (!Ok(res.get())) return Fail(res.get(), name_ + ": commit");
  // COMMIT of a transaction that already failed reports ROLLBACK, not an error.
  if (std::strcmp(PQcmdStatus(res.get()), "ROLLBACK") == 0) {
    return common::Internal(name_ + ": commit: the transaction had failed and was rolled back");
  }
  return Status::Ok();
}

void PgConn::Rollback() {
  if (PQstatus(conn_) != CONNECTION_OK) return;  // the server ended it with the session
  ResultPtr res(PQexec(conn_, "ROLLBACK"));
}

}  // namespace inventory::pg
