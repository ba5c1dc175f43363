// `sightline remove-bg IN -o OUT`: one-shot background removal without a server. Loads the
// model repository, runs the same task the HTTP route runs, and writes the result file(s).
#pragma once

#include <map>
#include <string>

namespace sightline::app {

struct RemoveBgOptions {
  std::string input;
  std::string output_path;
  std::string model_repository = "models";
  std::string model;
  std::map<std::string, std::string> params{{"output", "cutout"}};  // as the HTTP route names them
  bool post_process = false;
};

int RunRemoveBg(const RemoveBgOptions& options);

}  // namespace sightline::app
