// Fuzzes the per-model config parsers (sightline.json is operator input, but still untrusted
// bytes): the serving settings, then every block a task claims, parsed by its task; and the same
// bytes as a tokenizer_config.json's chat template (text/chat_template.h), rendered when it loads.
#include <cstdint>
#include <string>

#include "runtime/model_config.h"
#include "tasks/task_config_blocks.h"
#include "text/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  if (auto t = sightline::text::ChatTemplate::FromTokenizerConfig(text); t.ok())
    (void)t->Render({{"system", "s"}, {"user", "<image>\nhi"}, {"assistant", "a"}}, true);
  auto c = sightline::runtime::ParseModelConfig(text, "fuzz.json", "m", sightline::tasks::TaskConfigBlocks());
  if (!c.ok()) return 0;
  auto it = c->task_blocks.find(sightline::tasks::kZeroShotBlock);
  if (it != c->task_blocks.end()) (void)sightline::tasks::ParseZeroShotConfig(it->second, c->config_file);
  return 0;
}
