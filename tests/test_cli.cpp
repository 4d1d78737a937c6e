// End to end: the muonlab executable as a user runs it.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

namespace fs = std::filesystem;

namespace {

struct Result {
  int exit_code;
  std::string output;  // stdout and stderr together
};

Result shell(const std::string& command) {
  Result r{-1, ""};
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  while (std::fgets(buf, sizeof(buf), pipe)) r.output += buf;
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

Result muonlab(const std::string& args) { return shell(std::string("'") + MUONLAB_BINARY + "' " + args); }

fs::path scratch_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("muonlab-cli-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

fs::path write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const char* kGrid =
    "name: cli_test\n"
    "seeds: 2\n"
    "stop: {max_iters: 400, tol: 1.0e-6, metric: rel_error}\n"
    "record: {spectra: log}\n"
    "problem:\n"
    "  name: matrix_factorization\n"
    "  params: {n: 30, rank: 3, kappa: {values: [1, 100]}}\n"
    "optimizer:\n"
    "  - {name: gd, params: {lr: 0.5}}\n"
    "  - {name: muon, params: {lr: 0.15, decay: 0.9}}\n";

}  // namespace

TEST_CASE("muonlab --version and --help", "[cli]") {
  const Result version = muonlab("--version");
  CHECK(version.exit_code == 0);
  CHECK_THAT(version.output, Catch::StartsWith("muonlab "));
  const Result help = muonlab("--help");
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.output, Catch::Contains("run GRID.yaml") && Catch::Contains("describe NAME"));
  // Every command the dispatcher knows is listed.
  for (const char* command : {"validate GRID.yaml", "list [", "bench-orth [", "bench-step ["})
    CHECK_THAT(help.output, Catch::Contains(command));
  CHECK(muonlab("run --help").exit_code == 0);
  const Result unknown = muonlab("rnu x.yaml");
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.output, Catch::Contains("did you mean 'run'"));
}

TEST_CASE("muonlab list and describe", "[cli]") {
  const Result list = muonlab("list optimizers");
  CHECK(list.exit_code == 0);
  CHECK_THAT(list.output, Catch::Contains("muon") && Catch::Contains("muonlab-optimizer-muon.so"));
  const Result describe = muonlab("describe muon");
  CHECK(describe.exit_code == 0);
  CHECK_THAT(describe.output, Catch::Contains("decay") && Catch::Contains("orthogonalizer"));
  const Result typo = muonlab("describe muonn");
  CHECK(typo.exit_code == 2);
  CHECK_THAT(typo.output, Catch::Contains("did you mean 'muon'"));
}

TEST_CASE("muonlab run writes a file h5py can read, refuses to clobber it, and resumes", "[cli]") {
  const fs::path dir = scratch_dir("run");
  const fs::path grid = write_file(dir / "grid.yaml", kGrid);
  const fs::path out = dir / "out.h5";

  const Result run = muonlab("run '" + grid.string() + "' -o '" + out.string() + "' -j 2");
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.output, Catch::Contains("converged") && Catch::Contains("results: " + out.string()));
  REQUIRE(fs::exists(out));

  // Readable without muonlab.
  const Result h5py = shell("/usr/bin/python3 -c \"import h5py; f=h5py.File('" + out.string() +
                            "','r'); ix=f['index'][:]; print(len(ix)); c=f['cells'][ix[0]['cell_id'].decode()]; "
                            "print(sorted(c['trajectory'].keys())); print(c.attrs['status'])\"");
  INFO(h5py.output);
  if (h5py.exit_code == 0) {
    CHECK_THAT(h5py.output, Catch::StartsWith("8\n") && Catch::Contains("rel_error") && Catch::Contains("loss"));
  }

  // An existing result is never clobbered by accident.
  const std::string before = read_bytes(out);
  const Result again = muonlab("run '" + grid.string() + "' -o '" + out.string() + "'");
  CHECK(again.exit_code == 2);
  CHECK_THAT(again.output, Catch::Contains("--resume"));
  CHECK(read_bytes(out) == before);

  const Result resumed = muonlab("run '" + grid.string() + "' -o '" + out.string() + "' --resume");
  CHECK(resumed.exit_code == 0);
  CHECK_THAT(resumed.output, Catch::Contains("8 kept from the existing file"));

  // Other --set overrides would mix two configurations in one file: refused, file untouched.
  const std::string complete = read_bytes(out);
  const Result other =
      muonlab("run '" + grid.string() + "' -o '" + out.string() + "' --resume --set problem.params.n=40");
  CHECK(other.exit_code == 2);
  CHECK_THAT(other.output, Catch::Contains("other --set overrides") && Catch::Contains("none"));
  CHECK(read_bytes(out) == complete);
}

TEST_CASE("bad grids exit 2 naming the file, the line and a suggestion", "[cli]") {
  const fs::path dir = scratch_dir("bad");
  std::string misspelled = kGrid;
  misspelled.replace(misspelled.find("decay"), 5, "decy");
  const fs::path grid = write_file(dir / "typo.yaml", misspelled);
  const Result typo = muonlab("run '" + grid.string() + "' -o '" + (dir / "x.h5").string() + "'");
  CHECK(typo.exit_code == 2);
  CHECK_THAT(typo.output, Catch::Contains(grid.string() + ":10:") && Catch::Contains("did you mean 'decay'"));
  CHECK_FALSE(fs::exists(dir / "x.h5"));

  std::string unknown = kGrid;
  unknown.replace(unknown.find("name: gd"), 8, "name: sgd");
  const fs::path grid2 = write_file(dir / "unknown.yaml", unknown);
  const Result plugin = muonlab("validate '" + grid2.string() + "'");
  CHECK(plugin.exit_code == 2);
  CHECK_THAT(plugin.output,
             Catch::Contains("unknown optimizer 'sgd'") && Catch::Contains("adam") && Catch::Contains("muon"));

  CHECK(muonlab("run '" + (dir / "missing.yaml").string() + "'").exit_code == 2);
  CHECK(muonlab("run '" + grid.string() + "' -j 0").exit_code == 2);
  CHECK(muonlab("run '" + grid.string() + "' --shard 3/2").exit_code == 2);
  // An empty -o is a mistake, not a request for the default path.
  const Result empty_output = muonlab("run '" + grid.string() + "' -o ''");
  CHECK(empty_output.exit_code == 2);
  CHECK_THAT(empty_output.output, Catch::Contains("-o: the result file name is empty"));
  // A grid name is a file name: ../ would put the default output outside results/.
  std::string escaping = kGrid;
  escaping.replace(escaping.find("name: cli_test"), 14, "name: ../outside");
  const fs::path grid3 = write_file(dir / "escaping.yaml", escaping);
  const Result escape = muonlab("validate '" + grid3.string() + "'");
  CHECK(escape.exit_code == 2);
  CHECK_THAT(escape.output, Catch::Contains(grid3.string() + ":1:") && Catch::Contains("may hold only letters"));
  // A value that only a plugin can refuse (rank > n at a sweep's second value, an empty
  // lr_list) refuses the grid before anything runs: validate says so, and --overwrite leaves
  // an existing result file as it was.
  const fs::path existing = dir / "existing.h5";
  REQUIRE(muonlab("run '" + write_file(dir / "small.yaml", kGrid).string() + "' -q -o '" + existing.string() + "'")
              .exit_code == 0);
  const std::string before = read_file(existing);
  for (const std::string& bad : {std::string("rank: {values: [2, 40]}"), std::string("rank: 40")}) {
    std::string text = kGrid;
    text.replace(text.find("rank: 3"), 7, bad);
    const fs::path grid4 = write_file(dir / "refused.yaml", text);
    const Result refused = muonlab("validate '" + grid4.string() + "'");
    CHECK(refused.exit_code == 2);
    CHECK_THAT(refused.output, Catch::Contains("cannot be run") && Catch::Contains("'rank' = 40"));
    CHECK(muonlab("run '" + grid4.string() + "' --overwrite -o '" + existing.string() + "'").exit_code == 2);
    CHECK(read_file(existing) == before);
  }
  const Result good = muonlab("validate '" + write_file(dir / "ok.yaml", kGrid).string() + "'");
  CHECK(good.exit_code == 0);
  CHECK_THAT(good.output, Catch::Contains("8 cells"));
}

TEST_CASE("run applies --set overrides and --dry-run lists cells", "[cli]") {
  const fs::path dir = scratch_dir("set");
  const fs::path grid = write_file(dir / "grid.yaml", kGrid);
  const Result dry = muonlab("run '" + grid.string() + "' --dry-run --set seeds=1 --set 'problem.params.kappa=1'");
  CHECK(dry.exit_code == 0);
  CHECK_THAT(dry.output, Catch::Contains("2 cells would run"));
}
