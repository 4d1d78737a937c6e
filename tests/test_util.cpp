// The util module: text helpers and JSON numbers.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "util/json.hpp"
#include "util/text.hpp"

using namespace muonlab;

TEST_CASE("util: format_number writes integers plainly, three digits otherwise, and names non-finite values",
          "[util]") {
  CHECK(format_number(1000) == "1000");
  CHECK(format_number(0.000123456) == "0.000123");
  CHECK(format_number(2.5e7) == "2.5e+07");
  CHECK(format_number(-std::numeric_limits<double>::quiet_NaN()) == "nan");
  CHECK(format_number(std::numeric_limits<double>::infinity()) == "inf");
  CHECK(format_number(-std::numeric_limits<double>::infinity()) == "-inf");
}

TEST_CASE("util: without_comment_lines drops full-line comments only", "[util]") {
  CHECK(without_comment_lines("# a\nname: x  # kept\n   # b\nseeds: 2") == "name: x  # kept\nseeds: 2");
  CHECK(without_comment_lines("") == "");
  CHECK(without_comment_lines("a\n\nb\n") == "a\n\nb\n");  // blank lines are kept
}

TEST_CASE("util: JSON numbers are the shortest text that reads back exactly", "[util]") {
  for (const double v : {0.2, 0.1 + 0.2, 1e-6, 1.0 / 3.0, 123456789.125, 5e-324, 1.7976931348623157e308, 100.0}) {
    std::string shortest, digits17;
    append_json_number(shortest, v);
    append_json_number_17g(digits17, v);
    CHECK(std::strtod(shortest.c_str(), nullptr) == v);
    CHECK(shortest.size() <= digits17.size());
  }
  std::string out;
  append_json_number(out, 0.2);
  CHECK(out == "0.2");
  out.clear();
  append_json_number(out, -0.0);
  CHECK(out == "0");
  out.clear();
  append_json_number_17g(out, 0.2);
  CHECK(out == "0.20000000000000001");  // what cell ids hash
}
