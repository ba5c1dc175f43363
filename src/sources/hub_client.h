// Downloads a model from a Hugging Face-compatible hub (HF_ENDPOINT; default
// https://huggingface.co): lists the repository at a revision, picks the files a Sightline model
// folder needs (configs, tokenizer, the ONNX files of one variant and their external data), and
// fetches each with resume (Range on a .part file) and a SHA-256 check against the hub's LFS
// metadata. Used by `sightline pull`; never on a request path.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace sightline::sources {

struct HubOptions {
  std::string endpoint = "https://huggingface.co";
  std::string token;  // Authorization: Bearer, when set
  int timeout_s = 600;
};

struct HubFile {
  std::string path;    // repository-relative, e.g. "onnx/vision_model_quantized.onnx"
  int64_t size = -1;   // -1 when the hub did not say
  std::string sha256;  // LFS files: the content hash the download must match
};

class HubClient {
 public:
  explicit HubClient(HubOptions options);

  // Files at `revision` (a branch, tag or commit) and the commit it resolved to.
  Result<std::vector<HubFile>> List(const std::string& repo, const std::string& revision,
                                    std::string* commit) const;
  // Downloads one file to `dest` (resuming `dest`.part), verifying size and SHA-256 when known.
  Status Download(const std::string& repo, const std::string& revision, const HubFile& file,
                  const std::filesystem::path& dest) const;

 private:
  HubOptions options_;
};

// Which of a repository's files make a Sightline model folder for `variant` ("fp32" = the
// unsuffixed files; else "<stem>_<variant>.onnx", as transformers.js names them).
std::vector<HubFile> SelectModelFiles(const std::vector<HubFile>& files, const std::string& variant);

// SHA-256 of a file as lower-case hex ("" if unreadable).
std::string Sha256File(const std::filesystem::path& file);

}  // namespace sightline::sources
