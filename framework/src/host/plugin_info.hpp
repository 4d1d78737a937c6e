// What the registry knows about one loaded plugin library.
#pragma once

#include <memory>
#include <string>

#include "model/vocabulary.hpp"
#include "muonlab/abi.hpp"

namespace boost {
namespace dll {
class shared_library;
}
}  // namespace boost

namespace muonlab {

struct PluginInfo {
  PluginKind kind = PluginKind::Problem;
  std::string name;
  std::string version;
  std::string summary;
  std::string build_tag;
  std::string library;  // absolute path of the shared library
  const PluginDescriptor* descriptor = nullptr;
  std::shared_ptr<boost::dll::shared_library> handle;
  DestroyFn* destroy_fn = nullptr;  // the library's destroy alias

  // Destroys an object this library's create() made.
  void destroy(void* object) const;
};

struct LoadFailure {
  std::string library;
  std::string reason;
};

// "optimizer 'muon' (/path/to/library.so)", for messages.
std::string describe(const PluginInfo& info);

}  // namespace muonlab
