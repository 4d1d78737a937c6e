// Error kinds of the core. InputError means the user's input is wrong (exit code 2);
// its message already names the file and place and says how to fix it.
#pragma once

#include <stdexcept>
#include <string>

namespace muonlab {

class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A plugin call failed; the message names the plugin and its library.
class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace muonlab
