// `sightline pull <repo-id>`: downloads a model folder from a Hugging Face-compatible hub into the
// model repository (HF_ENDPOINT and HF_TOKEN honoured), resumable and checksum-verified.
#pragma once

#include <string>

namespace sightline::app {

struct PullOptions {
  std::string repo;  // "Xenova/clip-vit-base-patch32"
  std::string revision = "main";
  std::string variant = "fp32";  // fp32 | quantized | fp16 | ...
  std::string model_repository = "models";
  std::string name;      // folder name; default: the repo id's last part
  std::string endpoint;  // default: $HF_ENDPOINT, else https://huggingface.co
  std::string token;     // default: $HF_TOKEN
};

int RunPull(const PullOptions& options);

}  // namespace sightline::app
