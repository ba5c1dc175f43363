#include "app/pull_command.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "sources/hub_client.h"

namespace sightline::app {

int RunPull(const PullOptions& o) {
  namespace fs = std::filesystem;
  auto fail = [](const std::string& msg) {
    std::fprintf(stderr, "sightline pull: %s\n", msg.c_str());
    return 1;
  };
  sources::HubOptions ho;
  if (!o.endpoint.empty()) {
    ho.endpoint = o.endpoint;
  } else if (const char* e = std::getenv("HF_ENDPOINT"); e && *e) {
    ho.endpoint = e;
  }
  ho.token = o.token;
  if (ho.token.empty())
    if (const char* t = std::getenv("HF_TOKEN"); t && *t) ho.token = t;
  const std::string name = !o.name.empty() ? o.name : fs::path(o.repo).filename().string();
  if (name.empty() || name == "." || name == "..") return fail("cannot name a folder after '" + o.repo + "'");
  sources::HubClient hub(ho);
  std::string commit;
  auto files = hub.List(o.repo, o.revision, &commit);
  if (!files.ok()) return fail(files.status().message());
  const auto wanted = sources::SelectModelFiles(*files, o.variant);
  bool has_onnx = false;
  for (const auto& f : wanted) has_onnx |= fs::path(f.path).extension() == ".onnx";
  if (!has_onnx)
    return fail(o.repo + "@" + o.revision + " has no ONNX files for variant '" + o.variant + "'");
  const fs::path dest = fs::path(o.model_repository) / name;
  int64_t bytes = 0;
  for (const auto& f : wanted) {
    std::fprintf(stderr, "  %s%s\n", f.path.c_str(), f.sha256.empty() ? "" : " (sha256 checked)");
    Status s = hub.Download(o.repo, commit, f, dest / f.path);
    if (!s.ok()) return fail(s.message());
    std::error_code ec;
    bytes += static_cast<int64_t>(fs::file_size(dest / f.path, ec));
  }
  // Select the variant for serving (an existing sightline.json is the operator's: left alone).
  if (!fs::exists(dest / "sightline.json") && o.variant != "fp32")
    std::ofstream(dest / "sightline.json") << "{\"variant\": \"" << o.variant << "\"}\n";
  std::printf("%s: %zu files, %.1f MB from %s@%s (%s)\n", dest.string().c_str(), wanted.size(),
              static_cast<double>(bytes) / 1e6, o.repo.c_str(), o.revision.c_str(), commit.c_str());
  return 0;
}

}  // namespace sightline::app
