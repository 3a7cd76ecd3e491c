// Error reporting at API boundaries: functions that can fail on user input return
// Result<T> (a value or an Error with a message a person can act on) instead of throwing.
// Internal code may throw; the boundary catches and converts.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace cadcrafter {

enum class ErrorCode {
  kInvalidArgument,  // caller passed something out of range
  kParse,            // file content is not what the format says
  kIo,               // file missing, unreadable, unwritable
  kUnsupported,      // valid input that this representation cannot express
  kRejected,         // DeepCAD's encoder would reject this model (limits, asserts)
  kGeometry,         // the CAD kernel could not build or validate the shape
  kTimeout,
  kInternal,
};

const char* error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}      // NOLINT
  static Result fail(ErrorCode code, std::string msg) { return Result(Error{code, std::move(msg)}); }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  const Error& error() const { return std::get<Error>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void> equivalent.
class Status {
 public:
  Status() = default;
  Status(Error error) : err_(std::move(error)) {}  // NOLINT
  static Status fail(ErrorCode code, std::string msg) { return Status(Error{code, std::move(msg)}); }
  bool ok() const { return !err_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *err_; }

 private:
  std::optional<Error> err_;
};

}  // namespace cadcrafter
