// Fuzzes the per-model config parsers (sightline.json is operator input, but still untrusted
// bytes): the serving settings, then every block a task claims, parsed by its task; and the same
// bytes as a tokenizer_config.json read for its chat template (text/chat_template.h). The template
// text itself is not fuzzed: it is a program the model ships, rendered by minja (a Jinja engine,
// third-party), and trusted as the model's ONNX graph is; a template that does not parse or
// render is refused at load, which chat_template_test.cc checks.
#include <cstdint>
#include <string>

#include "runtime/model_config.h"
#include "tasks/task_config_blocks.h"
#include "text/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)sightline::text::ChatTemplate::SourceFromTokenizerConfig(text);
  auto c = sightline::runtime::ParseModelConfig(text, "fuzz.json", "m", sightline::tasks::TaskConfigBlocks());
  if (!c.ok()) return 0;
  auto it = c->task_blocks.find(sightline::tasks::kZeroShotBlock);
  if (it != c->task_blocks.end()) (void)sightline::tasks::ParseZeroShotConfig(it->second, c->config_file);
  return 0;
}
