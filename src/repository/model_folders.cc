#include "repository/model_folders.h"

#include <algorithm>

namespace sightline::repository {
namespace fs = std::filesystem;

namespace {

bool HasOnnx(const fs::path& dir) {
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir, ec))
    if (f.path().extension() == ".onnx") return true;
  return false;
}

bool HasTower(const fs::path& onnx_dir, const std::string& stem) {
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(onnx_dir, ec)) {
    const std::string n = f.path().filename().string();
    if (n.rfind(stem, 0) == 0 && f.path().extension() == ".onnx") return true;
  }
  return false;
}

}  // namespace

std::string VariantFileName(const std::string& variant) {
  if (variant.empty() || variant == "fp32") return "model.onnx";
  return "model_" + variant + ".onnx";
}

fs::path ModelFile(const fs::path& repository, const ModelEntry& entry, const std::string& variant) {
  const fs::path dir = repository / entry.folder;
  if (entry.layout == Layout::kPlainOnnx) return dir / VariantFileName(variant);
  // transformers.js naming: onnx/vision_model.onnx, onnx/vision_model_quantized.onnx, ...
  return dir / "onnx" /
         (entry.role + "_model" + (variant.empty() || variant == "fp32" ? "" : "_" + variant) + ".onnx");
}

Result<std::vector<ModelEntry>> ListModels(const fs::path& repository) {
  std::error_code ec;
  if (!fs::is_directory(repository, ec))
    return FailedPrecondition("model repository '" + repository.string() + "' is not a directory");
  std::vector<ModelEntry> out;
  for (const auto& entry : fs::directory_iterator(repository, ec)) {
    if (!entry.is_directory()) continue;
    const std::string folder = entry.path().filename().string();
    if (HasOnnx(entry.path())) {
      out.push_back({folder, folder, "", "", Layout::kPlainOnnx});
      continue;
    }
    const fs::path onnx = entry.path() / "onnx";
    if (fs::is_directory(onnx, ec) && fs::exists(entry.path() / "config.json", ec)) {
      if (HasTower(onnx, "vision_model"))
        out.push_back({folder + ".vision", folder, folder, "vision", Layout::kHfClip});
      if (HasTower(onnx, "text_model"))
        out.push_back({folder + ".text", folder, folder, "text", Layout::kHfClip});
    }
  }
  if (ec) return FailedPrecondition("cannot list '" + repository.string() + "': " + ec.message());
  std::sort(out.begin(), out.end(), [](const ModelEntry& a, const ModelEntry& b) { return a.name < b.name; });
  return out;
}

}  // namespace sightline::repository
