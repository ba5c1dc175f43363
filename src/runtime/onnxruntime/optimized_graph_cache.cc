#include "runtime/onnxruntime/optimized_graph_cache.h"

#include <fcntl.h>
#include <unistd.h>
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

// XXH3-64 of a file's bytes, then of `extra`.
Result<uint64_t> HashFile(const std::filesystem::path& file, std::string_view extra = {}) {
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(), XXH3_freeState);
  if (!state || XXH3_64bits_reset(state.get()) == XXH_ERROR) return Internal("xxhash state");
  std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(file.c_str(), "rb"), std::fclose);
  if (!f) return FailedPrecondition(file.string() + ": cannot read it to hash it");
  std::string buf(1 << 20, '\0');
  while (size_t n = std::fread(buf.data(), 1, buf.size(), f.get()))
    XXH3_64bits_update(state.get(), buf.data(), n);
  if (std::ferror(f.get())) return FailedPrecondition(file.string() + ": read error while hashing it");
  XXH3_64bits_update(state.get(), extra.data(), extra.size());
  return static_cast<uint64_t>(XXH3_64bits_digest(state.get()));
}

std::string Hex(uint64_t v) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(v));
  return hex;
}

std::filesystem::path SealPath(const std::filesystem::path& graph) {
  return graph.string() + ".xxh3";
}

}  // namespace

Status SyncFile(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FailedPrecondition(file.string() + ": cannot open it to sync it");
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status() : FailedPrecondition(file.string() + ": fsync failed");
}

Status SealOptimizedGraph(const std::filesystem::path& graph) {
  ASSIGN_OR_RETURN(uint64_t h, HashFile(graph));
  const std::filesystem::path seal = SealPath(graph), temp = seal.string() + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << Hex(h) << "\n";
    if (!out.flush()) return FailedPrecondition(temp.string() + ": cannot write it");
  }
  RETURN_IF_ERROR(SyncFile(temp));
  std::error_code ec;
  std::filesystem::rename(temp, seal, ec);
  if (ec) return FailedPrecondition(seal.string() + ": " + ec.message());
  return Status();
}

bool VerifyOptimizedGraph(const std::filesystem::path& graph) {
  std::ifstream in(SealPath(graph));
  std::string want;
  if (!(in >> want)) return false;
  auto h = HashFile(graph);
  return h.ok() && Hex(h.value()) == want;
}

void RemoveOptimizedGraph(const std::filesystem::path& graph) {
  std::error_code ec;
  std::filesystem::remove(graph, ec);
  std::filesystem::remove(SealPath(graph), ec);
}

Result<std::filesystem::path> OptimizedGraphPath(const std::filesystem::path& dir,
                                                 const std::filesystem::path& model_file,
                                                 const std::string& engine_version) {
  ASSIGN_OR_RETURN(uint64_t h, HashFile(model_file, "onnxruntime " + engine_version + "\n" + CpuIdentity()));
  return dir / (model_file.stem().string() + "." + Hex(h) + ".onnx");
}

}  // namespace sightline::runtime
