#pragma once
// Time in the ledger: instants are microseconds since the Unix epoch (UTC); dates are
// civil dates whose deadline is the end of that day in Bogotá (UTC−5, no daylight saving).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace veeduria::events {

using Micros = int64_t;
constexpr Micros kMicrosPerDay = 86'400'000'000LL;
constexpr Micros kBogotaOffset = -5LL * 3'600'000'000LL;

// Days since 1970-01-01 of a civil date.
using Day = int64_t;

// Parses RFC 3339 with a mandatory offset ("2023-07-16T10:00:00-05:00", "…Z", fractions).
std::optional<Micros> ParseRfc3339(std::string_view s);
// Parses "YYYY-MM-DD" (a real calendar date).
std::optional<Day> ParseDate(std::string_view s);
// Parses either form: a date means the end of that day in Bogotá (used by --as-of).
std::optional<Micros> ParseInstant(std::string_view s);

std::string FormatRfc3339(Micros t);  // UTC, "Z", fractional seconds only when non-zero
std::string FormatDate(Day d);

// The Bogotá civil day an instant falls on.
Day BogotaDay(Micros t);
// The first instant after the end of day `d` in Bogotá.
Micros EndOfBogotaDay(Day d);
// Days late of an act at `t` against a deadline date: 0 when on time, else the number of
// Bogotá calendar days between the deadline and the act (the day after the deadline is 1).
int DaysLate(Micros t, Day deadline);

}  // namespace veeduria::events
