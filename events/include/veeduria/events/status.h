#pragma once
// Status and Result<T>: the error values of every fallible veeduria function
// (leveldb/abseil style; no exceptions on hot paths).

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace veeduria {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad input: fix the input, do not retry
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,  // stop until the state is fixed (e.g. a broken chain)
  kCorruption,          // stored bytes fail a check
  kUnavailable,         // transient: retry the call
  kAborted,             // conflict: retry the transaction
  kIOError,
  kInternal,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status that explains its absence.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT; REQUIRES: !status.ok()

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

// A storage engine's status (rocksdb::Status: ok(), IsCorruption(), IsBusy(), IsTryAgain(),
// IsTimedOut(), ToString()) as ours, prefixed with what was being done; a template so that this
// header does not include RocksDB's.
template <typename StorageStatus>
Status FromRocks(const StorageStatus& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return Status::Unavailable(what + ": " + s.ToString());
  return Status::IOError(what + ": " + s.ToString());
}

#define VEEDURIA_RETURN_IF_ERROR(expr) \
  do {                                 \
    ::veeduria::Status _st = (expr);   \
    if (!_st.ok()) return _st;         \
  } while (0)

}  // namespace veeduria
