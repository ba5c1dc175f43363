// Fuzzes the ONNX graph reader and rewriter (runtime/onnx_graph.h, runtime/last_position_logits.h):
// protobuf wire-format walks over model bytes that come from model repositories and hub
// downloads. Seeds: the fixture models.
#include <cstdint>

#include "runtime/last_position_logits.h"
#include "runtime/onnx_graph.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto limits = sightline::runtime::ReadEmbeddingIndexLimits(data, size);
  (void)limits;
  auto rewritten = sightline::runtime::SliceOutputToLastPosition(data, size, "logits");
  // A rewrite is a well-formed ModelProto again.
  if (rewritten.ok() && *rewritten) {
    const auto& bytes = **rewritten;
    auto again = sightline::runtime::ReadEmbeddingIndexLimits(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                              bytes.size());
    if (!again.ok()) __builtin_trap();
  }
  return 0;
}
