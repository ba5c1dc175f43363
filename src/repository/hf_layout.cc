#include "repository/hf_layout.h"

#include <boost/json.hpp>

#include <fstream>
#include <sstream>

namespace sightline::repository {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// An int, or {"height": h, "width": w} / {"shortest_edge": s}.
void ReadSize(const json::value* v, int* w, int* h) {
  if (!v) return;
  if (v->is_int64()) {
    *w = *h = static_cast<int>(v->get_int64());
  } else if (v->is_object()) {
    const auto& o = v->get_object();
    if (const auto* s = o.if_contains("shortest_edge"); s && s->is_int64())
      *w = *h = static_cast<int>(s->get_int64());
    if (const auto* x = o.if_contains("width"); x && x->is_int64()) *w = static_cast<int>(x->get_int64());
    if (const auto* y = o.if_contains("height"); y && y->is_int64()) *h = static_cast<int>(y->get_int64());
  }
}

}  // namespace

Result<json::value> ReadJsonObjectFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return FailedPrecondition(file.string() + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  if (ec || !v.is_object()) return FailedPrecondition(file.string() + ": not a JSON object");
  return v;
}

Result<ImageInputConfig> ReadPreprocessorConfig(const fs::path& file, const std::string& input) {
  ASSIGN_OR_RETURN(json::value root, ReadJsonObjectFile(file));
  const auto& o = root.get_object();
  auto flag = [&](const char* k, bool d) {
    const auto* v = o.if_contains(k);
    return v && v->is_bool() ? v->get_bool() : d;
  };
  ImageInputConfig c;
  c.input = input;
  int sw = 224, sh = 224, cw = 0, ch = 0;
  ReadSize(o.if_contains("size"), &sw, &sh);
  ReadSize(o.if_contains("crop_size"), &cw, &ch);
  if (flag("do_center_crop", true) && cw > 0) {
    // Shortest edge to the crop size, then the centre crop (CLIP's size and crop are equal).
    c.resize = "shortest_edge_center_crop";
    c.width = cw;
    c.height = ch;
  } else {
    c.resize = "stretch";
    c.width = sw;
    c.height = sh;
  }
  c.scale = 1.0;
  if (flag("do_rescale", true)) {
    const auto* r = o.if_contains("rescale_factor");
    c.scale = r && r->is_number() ? r->to_number<double>() : 1.0 / 255.0;
  }
  c.mean = {0, 0, 0};
  c.std = {1, 1, 1};
  if (flag("do_normalize", true)) {
    for (const char* key : {"image_mean", "image_std"}) {
      const auto* v = o.if_contains(key);
      if (!v || !v->is_array() || v->get_array().size() != 3)
        return FailedPrecondition(file.string() + ": field '" + key + "' must be a list of 3 numbers");
      auto& dst = std::string(key) == "image_mean" ? c.mean : c.std;
      for (size_t k = 0; k < 3; ++k) dst[k] = v->get_array()[k].to_number<double>();
    }
  }
  return c;
}

Result<int64_t> ReadImageTokenId(const fs::path& folder) {
  const fs::path file = folder / "config.json";
  ASSIGN_OR_RETURN(boost::json::value v, ReadJsonObjectFile(file));
  const auto& c = v.get_object();
  for (const auto* o : {&c, c.if_contains("text_config") && c.at("text_config").is_object()
                                ? &c.at("text_config").get_object()
                                : nullptr}) {
    if (!o) continue;
    for (const char* key : {"image_token_index", "image_token_id"})
      if (const auto* id = o->if_contains(key); id && id->is_int64() && id->get_int64() >= 0)
        return id->get_int64();
  }
  return FailedPrecondition(file.string() +
                            ": no image_token_index (nor image_token_id) for the vision-language model");
}

}  // namespace sightline::repository
