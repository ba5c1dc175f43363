#include "repository/model_folders.h"

#include <boost/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

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

// config.json's model_type, or "" when it has none or cannot be read (then the folder is not
// an encoder-decoder; a CLIP folder is told by its towers).
std::string ModelType(const fs::path& config) {
  std::ifstream in(config, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  const auto v = boost::json::parse(ss.str(), ec);
  if (ec || !v.is_object()) return "";
  const auto* t = v.get_object().if_contains("model_type");
  return t && t->is_string() ? std::string(t->get_string()) : "";
}

std::string Suffix(const std::string& variant) {
  return variant.empty() || variant == "fp32" ? "" : "_" + variant;
}

}  // namespace

std::string VariantFileName(const std::string& variant) {
  if (variant.empty() || variant == "fp32") return "model.onnx";
  return "model_" + variant + ".onnx";
}

fs::path ModelFile(const fs::path& repository, const ModelEntry& entry, const std::string& variant) {
  const fs::path dir = repository / entry.folder;
  if (entry.layout == Layout::kPlainOnnx) return dir / VariantFileName(variant);
  if (entry.layout == Layout::kHfVisionLanguage && entry.role == "encoder")
    return dir / "onnx" / ("vision_encoder" + Suffix(variant) + ".onnx");
  if ((entry.layout == Layout::kHfEncoderDecoder || entry.layout == Layout::kHfVisionLanguage) &&
      entry.role == "decoder") {
    auto files = FindDecoderFiles(repository, entry, variant);
    if (files.ok()) return files->merged.empty() ? files->first : files->merged;
    return dir / "onnx" / ("decoder_model_merged" + Suffix(variant) + ".onnx");
  }
  // transformers.js naming: onnx/vision_model.onnx, onnx/vision_model_quantized.onnx,
  // onnx/encoder_model_quantized.onnx, ...
  return dir / "onnx" / (entry.role + "_model" + Suffix(variant) + ".onnx");
}

Result<DecoderFiles> FindDecoderFiles(const fs::path& repository, const ModelEntry& entry,
                                      const std::string& variant) {
  const fs::path onnx = repository / entry.folder / "onnx";
  std::error_code ec;
  DecoderFiles f;
  if (const fs::path merged = onnx / ("decoder_model_merged" + Suffix(variant) + ".onnx");
      fs::exists(merged, ec)) {
    f.merged = merged;
    if (entry.layout == Layout::kHfVisionLanguage) {
      f.embed_tokens = onnx / ("embed_tokens" + Suffix(variant) + ".onnx");
      if (!fs::exists(f.embed_tokens, ec))
        return FailedPrecondition(onnx.string() + ": no embed_tokens" + Suffix(variant) + ".onnx beside " +
                                  merged.filename().string());
    }
    return f;
  }
  if (entry.layout == Layout::kHfVisionLanguage)
    return FailedPrecondition(onnx.string() + ": no decoder_model_merged" + Suffix(variant) + ".onnx");
  f.first = onnx / ("decoder_model" + Suffix(variant) + ".onnx");
  f.with_past = onnx / ("decoder_with_past_model" + Suffix(variant) + ".onnx");
  if (fs::exists(f.first, ec) && fs::exists(f.with_past, ec)) return f;
  return FailedPrecondition(onnx.string() + ": no decoder_model_merged" + Suffix(variant) +
                            ".onnx, nor decoder_model" + Suffix(variant) +
                            ".onnx with decoder_with_past_model" + Suffix(variant) + ".onnx");
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
      if (ModelType(entry.path() / "config.json") == "vision-encoder-decoder" &&
          HasTower(onnx, "encoder_model") && HasTower(onnx, "decoder_model")) {
        out.push_back({folder + ".decoder", folder, folder, "decoder", Layout::kHfEncoderDecoder});
        out.push_back({folder + ".encoder", folder, folder, "encoder", Layout::kHfEncoderDecoder});
        continue;
      }
      if (HasTower(onnx, "vision_encoder") && HasTower(onnx, "embed_tokens") &&
          HasTower(onnx, "decoder_model_merged")) {
        out.push_back({folder + ".decoder", folder, folder, "decoder", Layout::kHfVisionLanguage});
        out.push_back({folder + ".encoder", folder, folder, "encoder", Layout::kHfVisionLanguage});
        continue;
      }
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
