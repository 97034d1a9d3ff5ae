// The one output layer of beaconctl's listings: records with stable field
// names, printed as a table (for people), JSON or CSV (for programs). The
// field names are a contract, documented per command in docs/beaconctl.md;
// a change to one is a change to that page.
//
//   table  the columns that have a header, two spaces apart (table.h)
//   JSON   an array of objects, one per record, fields in column order;
//          numbers and booleans as such; a time as two fields, NAME (RFC 3339,
//          UTC, or null for never) and NAME_unix (unix seconds, or null)
//   CSV    RFC 4180: a header line of field names (a time is two columns,
//          as in JSON), then one line per record, CRLF line ends, a cell
//          quoted when it holds a comma, a quote, CR or LF (quotes doubled).
//          A text cell starting with '=', '+', '-', '@', TAB or CR gets a
//          leading single quote, so a spreadsheet does not run a device's
//          host name as a formula (the OWASP "CSV injection" advice).
//
// Device-reported text (Value::Untrusted) is made terminal-safe in every
// format (common::Printable: control characters become '?'); a table shows
// "-" for it when it is empty. Not thread-safe; values are plain data.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace beaconctl {

enum class Format { kTable, kJson, kCsv };

// --json and --csv on a command (mutually exclusive); Get() is the choice.
class FormatFlags {
 public:
  void AddTo(CLI::App& command);
  Format Get() const;

 private:
  bool json_ = false;
  bool csv_ = false;
};

// One cell: text, device text, an integer, a boolean, a time or a list of
// names. Shown() replaces what the table prints (JSON and CSV keep the value).
class Value {
 public:
  enum class Kind { kText, kUntrusted, kInt, kBool, kTime, kList };
  static Value Text(std::string text);       // ours: states, kinds, ids we checked
  static Value Untrusted(std::string text);  // from a device or a beacon
  static Value Int(int64_t n);
  static Value Bool(bool b);                 // a table shows "yes" or "no"
  // Unix seconds; 0 is "never": null in JSON, empty in CSV, `zero` in a table.
  static Value Time(int64_t unix_seconds, std::string zero = "never");
  static Value List(std::vector<std::string> names);  // a table and CSV join with ','
  Value&& Shown(std::string table_text) &&;

  Kind kind() const { return kind_; }
  // What a table prints.
  std::string TableText() const;
  // The JSON value (for kTime, the RFC 3339 field; see TimeUnix).
  void ToJson(nlohmann::ordered_json* out) const;
  // The CSV cell, before quoting.
  std::string CsvText() const;
  int64_t number() const { return number_; }

 private:
  Kind kind_ = Kind::kText;
  std::string text_;
  int64_t number_ = 0;
  std::vector<std::string> list_;
  std::string shown_;
  bool has_shown_ = false;
};

// A field of a listing. An empty header keeps it out of the table; `table_only`
// keeps it out of JSON and CSV (a column made for reading, such as "SERIAL OR
// REASON", whose parts are fields of their own).
struct Column {
  std::string field = "";   // the stable name: lower case, [a-z_]
  std::string header = "";  // the table's heading, "" for none (initialized: fields may be left out)
  bool right = false;  // right-aligned in a table (numbers)
  bool table_only = false;
  // Its values are Value::Time: NAME and NAME_unix in JSON and CSV, so the
  // CSV header is the same with or without rows.
  bool time = false;
};

struct Listing {
  std::vector<Column> columns;
  std::vector<std::vector<Value>> rows;  // each as long as columns
};

// Prints the listing in `format`. A table with no rows prints its header and
// `empty_note` (if any) on a line of its own; JSON prints [] and CSV the header.
void Print(std::ostream& out, Format format, const Listing& listing, const std::string& empty_note = "");

// One record for people: "HEADER  value" lines, the values aligned; columns
// without a header are left out.
void PrintFields(std::ostream& out, const std::vector<Column>& columns, const std::vector<Value>& row);

// One record as a JSON object (the rules above), for commands that nest
// listings in one document (device show).
nlohmann::ordered_json JsonObject(const std::vector<Column>& columns, const std::vector<Value>& row);
nlohmann::ordered_json JsonArray(const Listing& listing);
// Writes `doc` indented, invalid UTF-8 replaced, and a newline.
void PrintJson(std::ostream& out, const nlohmann::ordered_json& doc);

// One CSV cell as RFC 4180 writes it, with the formula guard for text.
std::string CsvCell(const std::string& text, bool guard);

}  // namespace beaconctl
