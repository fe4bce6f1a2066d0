#include "veeduria/events/time.h"

#include <gtest/gtest.h>

namespace veeduria::events {
namespace {

TEST(TimeTest, ParsesRfc3339WithOffsets) {
  auto a = ParseRfc3339("2023-07-15T23:30:00-05:00");
  auto b = ParseRfc3339("2023-07-16T04:30:00Z");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(FormatRfc3339(*a), "2023-07-16T04:30:00Z");
  EXPECT_EQ(FormatRfc3339(*ParseRfc3339("2023-07-16T04:30:00.25+00:00")), "2023-07-16T04:30:00.250000Z");
}

TEST(TimeTest, RejectsMalformedTimes) {
  for (const char* bad : {"2023-07-15", "2023-07-15T23:30:00", "2023-02-30T00:00:00Z", "2023-07-15 23:30:00Z",
                          "2023-07-15T24:00:00Z", "2023-07-15T23:30:00+5", "", "yesterday"})
    EXPECT_FALSE(ParseRfc3339(bad)) << bad;
}

TEST(TimeTest, ParsesRealCalendarDatesOnly) {
  EXPECT_TRUE(ParseDate("2024-02-29"));
  EXPECT_FALSE(ParseDate("2023-02-29"));
  EXPECT_FALSE(ParseDate("2023-13-01"));
  EXPECT_FALSE(ParseDate("2023-1-01"));
  EXPECT_EQ(FormatDate(*ParseDate("2023-07-15")), "2023-07-15");
}

// A deadline is the end of that day in Bogotá (UTC−5): 23:30 Bogotá on the day is on time,
// 00:30 the next day is one day late, whatever the UTC date says.
TEST(TimeTest, DaysLateCountBogotaCalendarDays) {
  const Day deadline = *ParseDate("2023-07-15");
  EXPECT_EQ(DaysLate(*ParseRfc3339("2023-07-15T23:30:00-05:00"), deadline), 0);
  EXPECT_EQ(DaysLate(*ParseRfc3339("2023-07-16T04:59:59Z"), deadline), 0);
  EXPECT_EQ(DaysLate(*ParseRfc3339("2023-07-16T00:30:00-05:00"), deadline), 1);
  EXPECT_EQ(DaysLate(*ParseRfc3339("2023-07-25T12:00:00-05:00"), deadline), 10);
  EXPECT_EQ(DaysLate(*ParseRfc3339("2023-07-01T12:00:00-05:00"), deadline), 0);
}

TEST(TimeTest, InstantOfADateIsTheLastMicrosecondOfThatBogotaDay) {
  const Micros t = *ParseInstant("2023-07-15");
  EXPECT_EQ(BogotaDay(t), *ParseDate("2023-07-15"));
  EXPECT_EQ(BogotaDay(t + 1), *ParseDate("2023-07-16"));
}

}  // namespace
}  // namespace veeduria::events
