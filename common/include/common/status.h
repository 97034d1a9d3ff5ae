// Status and StatusOr<T>: the one error type of the project.
//
// Every fallible function across a module boundary returns Status or
// StatusOr<T>; exceptions never cross module APIs. Codes follow abseil's
// meaning so that retry decisions can be made from the code alone (see
// common/retry.h):
//   InvalidArgument     the input is malformed; retrying the same input fails again
//   NotFound            the named thing does not exist
//   AlreadyExists       the thing exists already (e.g. a duplicate upload id)
//   PermissionDenied    authenticated but not allowed
//   Unauthenticated     identity could not be established (bad certificate)
//   ResourceExhausted   a limit was hit (size cap, spool full); may clear later
//   FailedPrecondition  the system is not in a state to do this
//   Unavailable         transient: peer down, overloaded; retry with backoff
//   DeadlineExceeded    a timeout; retry with backoff
//   DataLoss            stored data is corrupt; quarantine it
//   Internal            a bug or an unexpected OS failure
// Messages carry context ("conf/beacon.conf:12: unknown key 'lisen'").
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace common {

enum class Code {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kUnauthenticated,
  kResourceExhausted,
  kFailedPrecondition,
  kUnavailable,
  kDeadlineExceeded,
  kDataLoss,
  kInternal,
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NotFound: message", or "OK".
  std::string ToString() const;
  // Returns a copy whose message is "context: message".
  Status WithContext(const std::string& context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {Code::kResourceExhausted, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {Code::kFailedPrecondition, std::move(m)}; }
inline Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) { return {Code::kDeadlineExceeded, std::move(m)}; }
inline Status DataLoss(std::string m) { return {Code::kDataLoss, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

// Either a value or a non-OK Status. Accessing value() of an error is a bug.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT
  StatusOr(T value) : value_(std::move(value)) {}                                   // NOLINT

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace common

#define STATUS_CONCAT_INNER(a, b) a##b
#define STATUS_CONCAT(a, b) STATUS_CONCAT_INNER(a, b)

// Propagates a non-OK Status to the caller. (A unique variable name per use,
// so that uses nested in lambdas do not shadow each other.)
#define RETURN_IF_ERROR(expr) RETURN_IF_ERROR_IMPL(STATUS_CONCAT(_status_, __COUNTER__), expr)
#define RETURN_IF_ERROR_IMPL(var, expr) \
  do {                                  \
    ::common::Status var = (expr);      \
    if (!var.ok()) return var;          \
  } while (0)

// ASSIGN_OR_RETURN(auto x, Foo()); declares x from a StatusOr or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(STATUS_CONCAT(_status_or_, __COUNTER__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
