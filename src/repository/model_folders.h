// Model folders -> the models they hold. A model repository is a folder of model folders; each
// is recognised by its layout:
//   plain ONNX          model.onnx or model_<variant>.onnx (+ optional sightline.json): one model
//   Hugging Face CLIP   the transformers.js layout (config.json, preprocessor_config.json,
//                       tokenizer.json, onnx/vision_model*.onnx, onnx/text_model*.onnx): two models,
//                       "<folder>.vision" and "<folder>.text", sharing `family`
//   Hugging Face        config.json model_type vision-encoder-decoder (vit-gpt2-image-captioning as
//   encoder-decoder     Optimum exports it): onnx/encoder_model*.onnx and either
//                       onnx/decoder_model_merged*.onnx or decoder_model*.onnx +
//                       decoder_with_past_model*.onnx: two models, "<folder>.encoder" (batched)
//                       and "<folder>.decoder" (generated step by step), sharing `family`
//   Hugging Face        decoder-only vision-language models (FastVLM as transformers.js exports
//   vision-language     it): onnx/vision_encoder*.onnx, onnx/embed_tokens*.onnx and
//                       onnx/decoder_model_merged*.onnx: two models, "<folder>.encoder" (the
//                       vision encoder, batched) and "<folder>.decoder" (embed_tokens + the
//                       language model, generated step by step), sharing `family`
// Knows nothing of serving.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"

namespace sightline::repository {

enum class Layout { kPlainOnnx, kHfClip, kHfEncoderDecoder, kHfVisionLanguage };

// One loadable model.
struct ModelEntry {
  std::string name;    // as served
  std::string folder;  // sub-folder of the repository
  std::string family;  // Hugging Face layout: the folder name; empty for plain models
  std::string role;    // "vision" | "text" (CLIP), "encoder" | "decoder" (encoder-decoder)
  Layout layout = Layout::kPlainOnnx;
};

// Every model in `repository`, sorted by name. Folders of no known layout are skipped.
Result<std::vector<ModelEntry>> ListModels(const std::filesystem::path& repository);

// The ONNX file of `entry` at `variant`: plain folders name variants model_<variant>.onnx
// (fp32: model.onnx); Hugging Face towers onnx/<role>_model_<variant>.onnx.
std::filesystem::path ModelFile(const std::filesystem::path& repository, const ModelEntry& entry,
                                const std::string& variant);
// Plain layout's file name for a variant: fp32 -> model.onnx, X -> model_X.onnx.
std::string VariantFileName(const std::string& variant);

// The decoder graphs of a decoder entry at `variant`: onnx/decoder_model_merged<_v>.onnx (set
// `merged`), else (encoder-decoder only) onnx/decoder_model<_v>.onnx and
// onnx/decoder_with_past_model<_v>.onnx (set `first` and `with_past`); a vision-language entry
// also onnx/embed_tokens<_v>.onnx. Errors: kFailedPrecondition naming the files looked for.
struct DecoderFiles {
  std::filesystem::path merged, first, with_past, embed_tokens;
};
Result<DecoderFiles> FindDecoderFiles(const std::filesystem::path& repository, const ModelEntry& entry,
                                      const std::string& variant);

}  // namespace sightline::repository
