// Fuzzes the ONNX graph reader (runtime/onnx_graph.h): a protobuf wire-format walk over model
// bytes that come from model repositories and hub downloads. Seeds: the fixture models.
#include <cstdint>

#include "runtime/onnx_graph.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto limits = sightline::runtime::ReadEmbeddingIndexLimits(data, size);
  (void)limits;
  return 0;
}
