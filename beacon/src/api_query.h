// The admin API's input checks (docs/api.md, "Conventions" and "Errors"):
// its error type, the query string, and the device list's cursor.
//
// Every check here refuses with ApiError, an exception that carries the HTTP
// status and the JSON error's code, message and parameter. It is thrown only
// inside the admin API (api_*.cpp, admin_api.cpp) and caught by its
// dispatcher (AdminApi), which turns it into the JSON answer; it never
// crosses beacon/src/admin_api.h. Messages never repeat the value that was
// refused (it may be anything); they name the parameter and what is allowed.
// Pure; thread-compatible.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace beacon {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message, std::string parameter = "")
      : std::runtime_error(message),
        status_(status),
        code_(std::move(code)),
        parameter_(std::move(parameter)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }
  // "" when the error is about no one parameter (JSON null).
  const std::string& parameter() const { return parameter_; }

 private:
  int status_;
  std::string code_;
  std::string parameter_;
};

// 400 invalid_parameter about `parameter`.
[[noreturn]] void BadParameter(const std::string& parameter, const std::string& message);

inline constexpr size_t kMaxValueBytes = 256;    // any query value but the cursor
inline constexpr size_t kMaxCursorBytes = 1024;  // the cursor

// A query string, parsed strictly: "name=value" pairs joined by '&' (a pair
// without '=' has the value ""), names and values percent-decoded ('+' is a
// space). Refused (400): an empty pair or name, a name the endpoint does not
// take (unknown_parameter), a name given twice (repeated_parameter), a bad
// percent-encoding, a name or value that is not UTF-8 or holds a control
// character (C0, DEL, C1; NUL included), a value over kMaxValueBytes
// (kMaxCursorBytes for "cursor") (invalid_parameter).
class Query {
 public:
  // `allowed`: the parameters the endpoint takes.
  static Query Parse(std::string_view raw, std::initializer_list<std::string_view> allowed);

  // The value, or nullopt when absent.
  std::optional<std::string> Get(const std::string& name) const;
  // The value; 400 when absent or empty.
  std::string Required(const std::string& name) const;
  // A decimal integer in [min, max]; `fallback` when absent. 400 otherwise
  // (an empty value, a sign, a leading '+', spaces, too many digits).
  int64_t Int(const std::string& name, int64_t min, int64_t max, int64_t fallback) const;
  // "1"/"true" or "0"/"false"; `fallback` when absent.
  bool Bool(const std::string& name, bool fallback) const;
  // A time: unix seconds (digits), RFC 3339, or YYYY-MM-DD (midnight UTC).
  std::optional<int64_t> Time(const std::string& name) const;
  // A device id (a lower-case UUID), or nullopt when absent.
  std::optional<std::string> DeviceId(const std::string& name) const;

 private:
  std::map<std::string, std::string> values_;
};

// A path segment that must be a lower-case UUID (a device or action id);
// 400 invalid_parameter naming `parameter` otherwise.
void CheckUuidSegment(const std::string& segment, const std::string& parameter);

// The device list's position: where the previous page ended, for one sort
// and one set of filters (`scope`, any text that identifies them).
struct Cursor {
  std::string sort;   // "hostname", "-last_seen", ...
  std::string scope;  // the filters, as the list computes it (compared whole)
  std::string key;    // the sort key of the last device shown (numbers in decimal)
  std::string device_id;
};
// Opaque to clients: base64url (no padding) of a small JSON document, with
// a digest of the scope rather than the scope itself.
std::string EncodeCursor(const Cursor& c);
// The cursor's key and device id if `text` is one EncodeCursor made for
// this sort and scope; 400 invalid_cursor otherwise (not base64url, not
// its JSON, another sort, another scope).
Cursor DecodeCursor(const std::string& text, const std::string& sort, const std::string& scope);

}  // namespace beacon
