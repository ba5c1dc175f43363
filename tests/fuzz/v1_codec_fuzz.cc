// Fuzzes the /v1 codec: the JSON bodies of /v1/embeddings and /v1/tokenize, the fields of
// /v1/embed and /v1/classify (through the image-request parser), and writes every answer shape
// from what parsed, so parsing and writing both see hostile input.
#include <cstdint>
#include <string>

#include "http/v1_codec.h"

namespace http = sightline::http;
namespace tasks = sightline::tasks;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 6) {
    case 0: {
      auto r = http::ParseEmbeddingsRequest(body);
      if (!r.ok()) break;
      auto split = http::SplitEmbeddingInputs(*r);
      if (!split.ok()) break;
      std::vector<std::vector<float>> vectors(r->input.size(), std::vector<float>{0.5f, -0.25f, 1e-30f});
      (void)http::EncodeEmbeddingsResponse(*r, r->model, std::move(vectors), 7);
      break;
    }
    case 1: {
      auto r = http::ParseTokenizeRequest(body);
      if (r.ok()) (void)http::EncodeTokenizeResponse(r->model, {{1, 2, 3}});
      break;
    }
    case 4: {
      auto r = http::ParseChatCompletionRequest(body);
      if (!r.ok()) break;
      tasks::CaptionedImage c;
      c.text = r->prompt;
      c.finish_reason = "stop";
      (void)http::EncodeChatCompletion("id", 1, r->model, std::vector<tasks::CaptionedImage>(r->n, c));
      (void)http::EncodeChatChunk("id", 1, r->model, 0, true, r->prompt, "length");
      break;
    }
    case 5: {
      http::HttpRequest req;
      req.headers.emplace_back("content-type", "application/json");
      req.body = body;
      auto parsed = http::ParseImageRequest(req);
      if (!parsed.ok()) break;
      auto f = http::ParseCaptionFields(*parsed);
      if (!f.ok()) break;
      tasks::CaptionImagesResult res;
      res.model = f->model;
      res.items.resize(parsed->images.size());
      for (auto& item : res.items) item.text = f->params.prompt;
      (void)http::EncodeCaptionResponse(res);
      break;
    }
    default: {
      http::HttpRequest req;
      req.headers.emplace_back("content-type", "application/json");
      req.body = body;
      auto parsed = http::ParseImageRequest(req);
      if (!parsed.ok()) break;
      if (data[0] % 6 == 2) {
        auto f = http::ParseEmbedFields(*parsed);
        if (!f.ok()) break;
        tasks::EmbedImagesResult res;
        res.model = f->model;
        res.items.resize(parsed->images.size());
        for (auto& item : res.items) item.embedding = {0.1f, 0.2f};
        (void)http::EncodeEmbedResponse(res);
      } else {
        auto f = http::ParseClassifyFields(*parsed);
        if (!f.ok()) break;
        tasks::ClassifyImagesResult res;
        res.model = f->model;
        res.items.resize(parsed->images.size());
        for (const auto& l : f->params.labels) res.items.front().labels.push_back({l, 0.5, 0.1});
        (void)http::EncodeClassifyList(res);
      }
    }
  }
  return 0;
}
