// The /v1 wire format: requests of the CLIP and image routes parsed into task parameters, and
// task results written as JSON (Boost.JSON for both directions, never string concatenation).
// Pure functions over bytes and values: no I/O, no models; the v1_codec fuzz target drives the
// parsers directly, and routes stay thin (parse, call the task, write).
//
// Shapes (OpenAI's for /v1/embeddings; Sightline's own elsewhere):
//   embeddings  {"object":"list","data":[{"object":"embedding","index","embedding"}],"model","usage"}
//   tokenize    {"model","tokens":[[ids..]..]}
//   embed       {"object":"list","model","data":[{"index","embedding","metadata"?,"caption":null} |
//                {"index","error":{..}}],"succeeded","failed","cache_hits","timing":{..},"images_per_s"}
//   classify    one image: {"model","labels":[{"label","probability","similarity"?}],"metadata"?,
//                "timing"}; an ensemble adds "clip_used","vlm_used" (older name),"reason",
//                "classifier","clip"?; many images: {"object":"list","model","data":[per image
//                as above, with "index" | {"index","error"}],"succeeded","failed","timing",..}
//   metadata    {"object":"list","data":[{"index","metadata"} | {"index","error"}]}
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "http/image_request.h"
#include "media/image_metadata.h"
#include "tasks/caption.h"
#include "tasks/classify_images.h"
#include "tasks/embed_images.h"
#include "tasks/image_metadata.h"
#include "tasks/remove_backgrounds.h"

namespace sightline::http {

// At most this many inputs in one /v1/embeddings or /v1/tokenize request (refused up front, 413).
inline constexpr size_t kMaxTextInputs = 2048;
// At most this many bytes in one text (refused up front, 413): far past every model's context.
inline constexpr size_t kMaxTextBytes = 1 << 20;
// At most this many messages in one chat completion (refused up front, 413).
inline constexpr size_t kMaxChatMessages = 1024;

struct EmbeddingsRequest {
  std::string model;
  std::vector<std::string> input;
  std::string modality;                   // "", "text" or "image"
  std::string encoding_format = "float";  // | "base64"
  size_t dimensions = 0;                  // 0: all
};
Result<EmbeddingsRequest> ParseEmbeddingsRequest(std::string_view body);

struct TokenizeRequest {
  std::string model;
  std::vector<std::string> input;
};
Result<TokenizeRequest> ParseTokenizeRequest(std::string_view body);

// The /v1/embeddings inputs that are images: data: URIs (decoded) and http(s) URLs, labelled
// "input[i]"; the rest are texts. Without `modality`, data:image URIs are images and everything
// else is text.
struct SplitInputs {
  std::vector<size_t> text_index;
  std::vector<std::string> texts;
  std::vector<size_t> image_index;
  std::vector<sources::ImageSource> images;
};
Result<SplitInputs> SplitEmbeddingInputs(EmbeddingsRequest& request);

// OpenAI's answer. `vectors` in input order; truncated to `dimensions` and re-normalised here.
std::string EncodeEmbeddingsResponse(const EmbeddingsRequest& request, const std::string& model,
                                     std::vector<std::vector<float>> vectors, int64_t prompt_tokens);
std::string EncodeTokenizeResponse(const std::string& model, const std::vector<std::vector<int64_t>>& ids);

struct EmbedRequestFields {
  std::string model;
  tasks::EmbedImagesParams params;
  bool captions = false;
  bool stream = false;  // Server-Sent Events: one event per item, then the summary
};
Result<EmbedRequestFields> ParseEmbedFields(const ImageRequest& request);
std::string EncodeEmbedItem(size_t index, const tasks::EmbeddedImage& item);
std::string EncodeEmbedResponse(const tasks::EmbedImagesResult& result);

struct ClassifyRequestFields {
  std::string model;
  tasks::ClassifyParams params;
  bool stream = false;
};
Result<ClassifyRequestFields> ParseClassifyFields(const ImageRequest& request);
// One image, the answer shape /v1/classify has always had for a single image.
std::string EncodeClassifySingle(const std::string& model, const tasks::ClassifiedImage& item);
std::string EncodeClassifyItem(size_t index, const tasks::ClassifiedImage& item);
std::string EncodeClassifyList(const tasks::ClassifyImagesResult& result);

std::string EncodeMetadataResponse(const tasks::ImageMetadataResult& result);

struct CaptionRequestFields {
  std::string model;
  tasks::CaptionParams params;
};
// /v1/caption's parameters: model, prompt, and generation settings (max_new_tokens or its OpenAI
// name max_tokens, min_new_tokens, do_sample, temperature, top_k, top_p, seed, repetition_penalty,
// no_repeat_ngram_size, num_beams, length_penalty, stop). Errors name the field.
Result<CaptionRequestFields> ParseCaptionFields(const ImageRequest& request);
std::string EncodeCaptionResponse(const tasks::CaptionImagesResult& result);
// /predict_image's answer for its one image: {"description", "model", "finish_reason", "usage",
// "timing": {download_ms, decode_ms, queue_ms, inference_ms, first_token_ms, total_ms}}.
// POST /v1/chat/completions, OpenAI's vision form as a captioner serves it: `messages` whose
// content is a string or parts ({"type": "text", "text"} / {"type": "image_url", "image_url":
// {"url": data: URI or http(s) URL}}), exactly one image in all; the user messages' text is the
// prompt the caption continues. max_tokens / max_completion_tokens, temperature (0: greedy),
// top_p, seed, stop (a string or up to 4), n (1-8), stream, stream_options.include_usage; other
// OpenAI fields are accepted and ignored. Errors name the field.
struct ChatCompletionRequest {
  std::string model;
  sources::ImageSource image;
  std::string prompt;                     // the user turns' text (captioners)
  std::vector<tasks::ChatTurn> messages;  // every turn (vision-language models)
  tasks::GenerationOverrides generation;
  int n = 1;
  bool stream = false;
  bool include_usage = false;
};
Result<ChatCompletionRequest> ParseChatCompletionRequest(std::string_view body);
std::string EncodeChatCompletion(const std::string& id, int64_t created, const std::string& model,
                                 const std::vector<tasks::CaptionedImage>& choices);
// One streamed chunk for choice `index`: a delta with `role` (the first) and/or `content`, and the
// finish_reason on the last; with usage, the final usage-only chunk (choices empty).
std::string EncodeChatChunk(const std::string& id, int64_t created, const std::string& model, size_t index,
                            bool role, const std::string& content, const std::string& finish_reason);
std::string EncodeChatUsageChunk(const std::string& id, int64_t created, const std::string& model,
                                 size_t prompt_tokens, size_t completion_tokens);

std::string EncodePredictImageResponse(const std::string& model, const tasks::CaptionedImage& item,
                                       double total_ms);

// One image's background removal as JSON (several outputs, or metadata asked): {"model",
// "width","height","outputs":{name:{"content_type","data" (base64)}},"timing":{..},"cache_hit",
// "quality","metadata"?}.
std::string EncodeRemoveBackground(const tasks::RemoveBackgroundResult& result);
// Many images: {"object":"list","model","data":[{"index", as above but model} | {"index","error"}],
// "succeeded","failed","cache_hits","timing","images_per_s"}.
std::string EncodeRemoveBackgrounds(const tasks::RemoveBackgroundsResult& result);
// The metadata object of one image (also inside remove-background answers).
std::string EncodeMetadata(const media::ImageMetadata& metadata);

// "true"/"1" -> true, "false"/"0"/"" -> false; anything else is an error naming the field.
Result<bool> ParseFlag(const std::string& field, const std::string& value);

}  // namespace sightline::http
