#include "run/provenance.hpp"

#include <unistd.h>

#include <ctime>

#include "build_info.hpp"
#include "model/config_json.hpp"
#include "muonlab_version.hpp"

extern "C" char* openblas_get_config(void);

namespace muonlab {
namespace {

std::string iso_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

}  // namespace

std::string build_description() {
  const std::string commit = MUONLAB_GIT_COMMIT;
  std::string text = "commit " + commit.substr(0, 12);
  if (MUONLAB_GIT_DIRTY == 1) text += " (uncommitted changes)";
  return text + ", " + MUONLAB_COMPILER + ", " + MUONLAB_BUILD_TYPE_NAME;
}

RunInfo make_run_info(const Grid& grid) {
  RunInfo info;
  info.muonlab_version = MUONLAB_VERSION;
  info.created = iso_now();
  info.grid_yaml = grid.yaml_text;
  info.grid_name = grid.name;
  for (const std::string& o : grid.overrides) info.overrides += o + "\n";
  info.git_commit = MUONLAB_GIT_COMMIT;
  info.git_dirty = MUONLAB_GIT_DIRTY;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  info.host = host;
  info.blas = std::string("OpenBLAS ") + openblas_get_config();
  info.compiler = MUONLAB_COMPILER;
  info.build_type = MUONLAB_BUILD_TYPE_NAME;
  info.stop_json = stop_rule_json(grid.stop);
  info.record_json = record_rule_json(grid.record);
  return info;
}

}  // namespace muonlab
