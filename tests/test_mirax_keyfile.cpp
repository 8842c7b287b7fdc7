// Slidedat.ini's numbers (vendor/mirax_keyfile): parsed as OpenSlide's glib parses them (the C
// locale's strtod), whatever the process's C++ global locale, and anything else an error naming
// the group and key. (The parse used an istream until an istream extraction died of SIGSEGV in a
// Python process where OpenSlide had read a slide before, on the lent GPU machine: issue 18.)
#include <gtest/gtest.h>

#include <cstdlib>
#include <locale>
#include <string>

#include "slidestream/error.hpp"
#include "vendor/mirax_keyfile.hpp"

namespace slidestream::vendor::mirax {
namespace {

KeyFile one_value(const std::string& value) {
  return KeyFile::parse("[GENERAL]\nMPP = " + value + "\n");
}

TEST(MiraxKeyFile, NumbersParseAsTheCLocalesStrtod) {
  for (const char* text : {"0.2428", "0.24279999999999999", "3.8848", "1", "-2.5", "+1.5", "1e-3",
                           "6.02E23", "  0.5  ", "0.5\r", ".25", "5."}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(one_value(text).require_double("GENERAL", "MPP"), std::strtod(text, nullptr));
  }
}

TEST(MiraxKeyFile, WhatIsNotAFiniteNumberIsAnErrorNamingGroupAndKey) {
  for (const char* text :
       {"", "abc", "0.5x", "0,5", "1e", "--1", "+-1", "inf", "nan", "1e999", "0x10"}) {
    SCOPED_TRACE(text);
    try {
      (void)one_value(text).require_double("GENERAL", "MPP");
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::format);
      EXPECT_NE(std::string(e.what()).find("[GENERAL] MPP"), std::string::npos) << e.what();
    }
  }
}

// A decimal comma in the global C++ locale (as a host program may set) changes nothing.
struct DecimalComma : std::numpunct<char> {
  char do_decimal_point() const override { return ','; }
};

TEST(MiraxKeyFile, TheGlobalLocaleDoesNotChangeANumber) {
  const std::locale before =
      std::locale::global(std::locale(std::locale::classic(), new DecimalComma));
  double got = 0;
  EXPECT_NO_THROW(got = one_value("0.2428").require_double("GENERAL", "MPP"));
  std::locale::global(before);
  EXPECT_EQ(got, 0.2428);
}

}  // namespace
}  // namespace slidestream::vendor::mirax
