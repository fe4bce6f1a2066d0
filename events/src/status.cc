#include "veeduria/events/status.h"

namespace veeduria {

std::string Status::ToString() const {
  static const char* const kNames[] = {
      "OK",         "InvalidArgument", "NotFound", "AlreadyExists", "FailedPrecondition",
      "Corruption", "Unavailable",     "Aborted",  "IOError",       "Internal"};
  std::string s = kNames[static_cast<int>(code_)];
  if (!message_.empty()) s += ": " + message_;
  return s;
}

}  // namespace veeduria
