// Fuzzes the per-model config parser (sightline.json is operator input, but still untrusted bytes).
#include <cstdint>
#include <string>

#include "runtime/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto c = sightline::runtime::ParseModelConfig(text, "fuzz.json", "m");
  (void)c;
  return 0;
}
