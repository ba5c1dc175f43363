#include "http/route_table.h"

namespace sightline::http {
namespace {

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    parts.push_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

bool MatchPattern(const std::string& pattern, const std::string& path, PathParams& params) {
  auto p = Split(pattern);
  auto s = Split(path);
  if (p.size() != s.size()) return false;
  PathParams out;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i].size() > 2 && p[i].front() == '{' && p[i].back() == '}') {
      if (s[i].empty()) return false;
      out.emplace(std::string(p[i].substr(1, p[i].size() - 2)), std::string(s[i]));
    } else if (p[i] != s[i]) {
      return false;
    }
  }
  params = std::move(out);
  return true;
}

}  // namespace

Route& RouteTable::Add(std::string method, std::string pattern, Handler handler, bool public_route,
                       ApiStyle style, Precheck precheck) {
  return routes_.emplace_back(Route{std::move(method),
                                    std::move(pattern),
                                    std::move(handler),
                                    public_route,
                                    style,
                                    std::move(precheck),
                                    {}});
}

RouteMatch RouteTable::Match(const std::string& method, const std::string& path) const {
  RouteMatch m;
  for (const auto& r : routes_) {
    PathParams params;
    if (!MatchPattern(r.pattern, path, params)) continue;
    m.path_matched = true;
    if (r.method == method || (method == "HEAD" && r.method == "GET")) {
      m.route = &r;
      m.params = std::move(params);
      return m;
    }
  }
  return m;
}

ApiStyle StyleForPath(const std::string& path) {
  return path.rfind("/v2", 0) == 0 ? ApiStyle::kKServe : ApiStyle::kV1;
}

}  // namespace sightline::http
