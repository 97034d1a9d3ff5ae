#include "output.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <ostream>
#include <utility>

#include "common/text.h"
#include "common/time.h"
#include "table.h"

namespace beaconctl {

using Json = nlohmann::ordered_json;

void FormatFlags::AddTo(CLI::App& command) {
  CLI::Option* json = command.add_flag("--json", json_, "print JSON: an array of objects (docs/beaconctl.md)");
  CLI::Option* csv = command.add_flag("--csv", csv_, "print CSV (RFC 4180) with a header line (docs/beaconctl.md)");
  json->excludes(csv);
}

Format FormatFlags::Get() const {
  if (json_) return Format::kJson;
  if (csv_) return Format::kCsv;
  return Format::kTable;
}

Value Value::Text(std::string text) {
  Value v;
  v.kind_ = Kind::kText;
  v.text_ = std::move(text);
  return v;
}

Value Value::Untrusted(std::string text) {
  Value v;
  v.kind_ = Kind::kUntrusted;
  v.text_ = common::Printable(text);
  return v;
}

Value Value::Int(int64_t n) {
  Value v;
  v.kind_ = Kind::kInt;
  v.number_ = n;
  return v;
}

Value Value::Bool(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.number_ = b ? 1 : 0;
  return v;
}

Value Value::Time(int64_t unix_seconds, std::string zero) {
  Value v;
  v.kind_ = Kind::kTime;
  v.number_ = unix_seconds;
  v.text_ = std::move(zero);
  return v;
}

Value Value::List(std::vector<std::string> names) {
  Value v;
  v.kind_ = Kind::kList;
  for (auto& n : names) v.list_.push_back(common::Printable(n));
  return v;
}

Value&& Value::Shown(std::string table_text) && {
  shown_ = std::move(table_text);
  has_shown_ = true;
  return std::move(*this);
}

namespace {

std::string Join(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& s : list) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

std::string Value::TableText() const {
  if (has_shown_) return shown_;
  switch (kind_) {
    case Kind::kText: return text_.empty() ? "-" : text_;
    case Kind::kUntrusted: return text_.empty() ? "-" : text_;
    case Kind::kInt: return std::to_string(number_);
    case Kind::kBool: return number_ != 0 ? "yes" : "no";
    case Kind::kTime: return number_ > 0 ? FormatTime(number_) : text_;
    case Kind::kList: return list_.empty() ? "-" : Join(list_);
  }
  return "";
}

void Value::ToJson(Json* out) const {
  switch (kind_) {
    case Kind::kText:
    case Kind::kUntrusted: *out = text_; return;
    case Kind::kInt: *out = number_; return;
    case Kind::kBool: *out = number_ != 0; return;
    case Kind::kTime: *out = number_ > 0 ? Json(common::FormatRfc3339(number_)) : Json(nullptr); return;
    case Kind::kList: *out = list_; return;
  }
}

std::string Value::CsvText() const {
  switch (kind_) {
    case Kind::kText:
    case Kind::kUntrusted: return text_;
    case Kind::kInt: return std::to_string(number_);
    case Kind::kBool: return number_ != 0 ? "true" : "false";
    case Kind::kTime: return number_ > 0 ? common::FormatRfc3339(number_) : "";
    case Kind::kList: return Join(list_);
  }
  return "";
}

std::string CsvCell(const std::string& text, bool guard) {
  std::string cell = text;
  if (guard && !cell.empty() &&
      (cell[0] == '=' || cell[0] == '+' || cell[0] == '-' || cell[0] == '@' || cell[0] == '\t' || cell[0] == '\r')) {
    cell.insert(0, 1, '\'');
  }
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (char c : cell) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + '"';
}

Json JsonObject(const std::vector<Column>& columns, const std::vector<Value>& row) {
  Json obj = Json::object();
  for (size_t c = 0; c < columns.size() && c < row.size(); ++c) {
    if (columns[c].table_only) continue;
    row[c].ToJson(&obj[columns[c].field]);
    if (columns[c].time) {
      obj[columns[c].field + "_unix"] = row[c].number() > 0 ? Json(row[c].number()) : Json(nullptr);
    }
  }
  return obj;
}

Json JsonArray(const Listing& listing) {
  Json array = Json::array();
  for (const auto& row : listing.rows) array.push_back(JsonObject(listing.columns, row));
  return array;
}

void PrintFields(std::ostream& out, const std::vector<Column>& columns, const std::vector<Value>& row) {
  std::vector<std::vector<std::string>> lines;
  for (size_t c = 0; c < columns.size() && c < row.size(); ++c) {
    if (!columns[c].header.empty()) lines.push_back({columns[c].header, row[c].TableText()});
  }
  // A table without a heading line: the first "row" is printed as the header.
  if (lines.empty()) return;
  std::vector<std::string> first = lines.front();
  lines.erase(lines.begin());
  PrintTable(out, first, lines);
}

void PrintJson(std::ostream& out, const Json& doc) {
  out << doc.dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
}

namespace {

void PrintCsv(std::ostream& out, const Listing& listing) {
  std::string line;
  for (size_t c = 0; c < listing.columns.size(); ++c) {
    const Column& col = listing.columns[c];
    if (col.table_only) continue;
    line += (line.empty() ? "" : ",") + col.field;
    if (col.time) line += "," + col.field + "_unix";
  }
  out << line << "\r\n";
  for (const auto& row : listing.rows) {
    line.clear();
    bool first = true;
    for (size_t c = 0; c < listing.columns.size(); ++c) {
      if (listing.columns[c].table_only) continue;
      const Value& v = row.at(c);
      const bool text = v.kind() == Value::Kind::kText || v.kind() == Value::Kind::kUntrusted ||
                        v.kind() == Value::Kind::kList;
      if (!first) line += ',';
      first = false;
      line += CsvCell(v.CsvText(), text);
      if (listing.columns[c].time) line += "," + (v.number() > 0 ? std::to_string(v.number()) : std::string());
    }
    out << line << "\r\n";
  }
}

}  // namespace

void Print(std::ostream& out, Format format, const Listing& listing, const std::string& empty_note) {
  if (format == Format::kJson) {
    PrintJson(out, JsonArray(listing));
    return;
  }
  if (format == Format::kCsv) {
    PrintCsv(out, listing);
    return;
  }
  std::vector<std::string> header;
  std::vector<bool> right;
  for (const auto& col : listing.columns) {
    if (col.header.empty()) continue;
    header.push_back(col.header);
    right.push_back(col.right);
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(listing.rows.size());
  for (const auto& row : listing.rows) {
    std::vector<std::string>& cells = rows.emplace_back();
    for (size_t c = 0; c < listing.columns.size(); ++c) {
      if (!listing.columns[c].header.empty()) cells.push_back(row.at(c).TableText());
    }
  }
  PrintTable(out, header, rows, right);
  if (rows.empty() && !empty_note.empty()) out << empty_note << '\n';
}

}  // namespace beaconctl
