#include "veeduria/events/time.h"

#include <cctype>
#include <cstdio>

namespace veeduria::events {
namespace {

// Howard Hinnant's days_from_civil / civil_from_days.
Day DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(Day z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

int DaysInMonth(int64_t y, unsigned m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

std::optional<Day> ParseDatePrefix(std::string_view s) {
  int y, m, d;
  if (s.size() < 10 || !Digits(s, 0, 4, &y) || s[4] != '-' || !Digits(s, 5, 2, &m) || s[7] != '-' ||
      !Digits(s, 8, 2, &d))
    return std::nullopt;
  if (m < 1 || m > 12 || d < 1 || d > DaysInMonth(y, m)) return std::nullopt;
  return DaysFromCivil(y, m, d);
}

}  // namespace

std::optional<Day> ParseDate(std::string_view s) {
  if (s.size() != 10) return std::nullopt;
  return ParseDatePrefix(s);
}

std::optional<Micros> ParseRfc3339(std::string_view s) {
  auto day = ParseDatePrefix(s);
  if (!day || s.size() < 20 || (s[10] != 'T' && s[10] != 't')) return std::nullopt;
  int hh, mm, ss;
  if (!Digits(s, 11, 2, &hh) || s[13] != ':' || !Digits(s, 14, 2, &mm) || s[16] != ':' ||
      !Digits(s, 17, 2, &ss) || hh > 23 || mm > 59 || ss > 59)
    return std::nullopt;
  size_t pos = 19;
  Micros frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int ndig = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (ndig < 6) frac = frac * 10 + (s[pos] - '0');
      ++ndig;
      ++pos;
    }
    if (ndig == 0) return std::nullopt;
    for (int i = ndig; i < 6; ++i) frac *= 10;
  }
  Micros offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om) || oh > 23 || om > 59)
      return std::nullopt;
    offset = (oh * 3600LL + om * 60LL) * 1'000'000LL * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;  // an offset is mandatory
  }
  if (pos != s.size()) return std::nullopt;
  return *day * kMicrosPerDay + (hh * 3600LL + mm * 60LL + ss) * 1'000'000LL + frac - offset;
}

std::optional<Micros> ParseInstant(std::string_view s) {
  if (auto d = ParseDate(s)) return EndOfBogotaDay(*d) - 1;
  return ParseRfc3339(s);
}

std::string FormatDate(Day d) {
  int64_t y;
  unsigned m, dd;
  CivilFromDays(d, &y, &m, &dd);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(y), m, dd);
  return buf;
}

std::string FormatRfc3339(Micros t) {
  Day d = t >= 0 ? t / kMicrosPerDay : (t - kMicrosPerDay + 1) / kMicrosPerDay;
  Micros rem = t - d * kMicrosPerDay;
  const long long secs = rem / 1'000'000, us = rem % 1'000'000;
  char buf[64];
  if (us == 0) {
    std::snprintf(buf, sizeof buf, "%sT%02lld:%02lld:%02lldZ", FormatDate(d).c_str(), secs / 3600,
                  secs / 60 % 60, secs % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%sT%02lld:%02lld:%02lld.%06lldZ", FormatDate(d).c_str(), secs / 3600,
                  secs / 60 % 60, secs % 60, us);
  }
  return buf;
}

Day BogotaDay(Micros t) {
  const Micros local = t + kBogotaOffset;
  return local >= 0 ? local / kMicrosPerDay : (local - kMicrosPerDay + 1) / kMicrosPerDay;
}

Micros EndOfBogotaDay(Day d) { return (d + 1) * kMicrosPerDay - kBogotaOffset; }

int DaysLate(Micros t, Day deadline) {
  const Day day = BogotaDay(t);
  return day > deadline ? static_cast<int>(day - deadline) : 0;
}

}  // namespace veeduria::events
