#include "runtime/onnxruntime/optimized_graph_cache.h"

#include <xxhash.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string_view>

namespace sightline::runtime {
namespace {

// The CPU's identity as far as ORT's kernels care: model name and feature flags of the first core.
std::string CpuIdentity() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, out;
  bool name = false, flags = false;
  while (std::getline(in, line) && !(name && flags)) {
    if (!name && line.rfind("model name", 0) == 0) {
      out += line + "\n";
      name = true;
    } else if (!flags && (line.rfind("flags", 0) == 0 || line.rfind("Features", 0) == 0)) {
      out += line + "\n";
      flags = true;
    }
  }
  return out;
}

}  // namespace

Result<std::filesystem::path> OptimizedGraphPath(const std::filesystem::path& dir,
                                                 const std::filesystem::path& model_file,
                                                 const std::string& engine_version) {
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(), XXH3_freeState);
  if (!state || XXH3_64bits_reset(state.get()) == XXH_ERROR) return Internal("xxhash state");
  std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(model_file.c_str(), "rb"), std::fclose);
  if (!f) return FailedPrecondition(model_file.string() + ": cannot read it to key its optimized graph");
  std::string buf(1 << 20, '\0');
  while (size_t n = std::fread(buf.data(), 1, buf.size(), f.get()))
    XXH3_64bits_update(state.get(), buf.data(), n);
  if (std::ferror(f.get())) return FailedPrecondition(model_file.string() + ": read error while hashing it");
  const std::string context = "onnxruntime " + engine_version + "\n" + CpuIdentity();
  XXH3_64bits_update(state.get(), context.data(), context.size());
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(XXH3_64bits_digest(state.get())));
  return dir / (model_file.stem().string() + "." + hex + ".onnx");
}

}  // namespace sightline::runtime
