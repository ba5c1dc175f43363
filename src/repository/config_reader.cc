#include "repository/config_reader.h"

namespace sightline::repository {

Result<json::object> ParseConfigObject(const std::string& text, const std::string& file_label) {
  boost::system::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec) return FailedPrecondition(file_label + ": not valid JSON (" + ec.message() + ")");
  if (!root.is_object()) return FailedPrecondition(file_label + ": must hold a JSON object");
  return std::move(root.get_object());
}

}  // namespace sightline::repository
