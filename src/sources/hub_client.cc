#include "sources/hub_client.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <boost/json.hpp>

#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>

namespace sightline::sources {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t ToString(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t ToFile(char* data, size_t size, size_t n, void* user) {
  return std::fwrite(data, size, n, static_cast<std::FILE*>(user)) * size;
}

std::string Escape(const std::string& path) {
  // Keep '/' (repository paths); escape the rest as a URL path segment needs.
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

struct Easy {
  std::unique_ptr<CURL, void (*)(CURL*)> curl{curl_easy_init(), curl_easy_cleanup};
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers{nullptr, curl_slist_free_all};
};

void Prepare(Easy& e, const std::string& url, const HubOptions& o) {
  CURL* c = e.curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);  // the hub redirects file downloads to its CDN
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(o.timeout_s));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "sightline-pull");
  curl_slist* h = nullptr;
  if (!o.token.empty()) h = curl_slist_append(h, ("Authorization: Bearer " + o.token).c_str());
  e.headers.reset(h);
  if (h) curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  // The token must not follow a redirect to another host (the CDN URL is pre-signed).
  curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
}

Status HttpError(long code, const std::string& what) {
  if (code == 401 || code == 403)
    return Status(StatusCode::kUnauthorized,
                  what + ": HTTP " + std::to_string(code) +
                      " (a private or gated repository needs HF_TOKEN or --token)");
  if (code == 404) return NotFound(what + ": not found on the hub (HTTP 404)");
  return Status(StatusCode::kBadGateway, what + ": HTTP " + std::to_string(code));
}

}  // namespace

std::string Sha256File(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  std::string hex;
  char b[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(b, sizeof b, "%02x", md[i]);
    hex += b;
  }
  return hex;
}

HubClient::HubClient(HubOptions options) : options_(std::move(options)) {
  GlobalInit();
  while (!options_.endpoint.empty() && options_.endpoint.back() == '/') options_.endpoint.pop_back();
}

Result<std::vector<HubFile>> HubClient::List(const std::string& repo, const std::string& revision,
                                             std::string* commit) const {
  const std::string url =
      options_.endpoint + "/api/models/" + Escape(repo) + "/revision/" + Escape(revision) + "?blobs=true";
  Easy e;
  Prepare(e, url, options_);
  std::string body;
  curl_easy_setopt(e.curl.get(), CURLOPT_WRITEFUNCTION, ToString);
  curl_easy_setopt(e.curl.get(), CURLOPT_WRITEDATA, &body);
  const CURLcode rc = curl_easy_perform(e.curl.get());
  if (rc != CURLE_OK)
    return Status(StatusCode::kBadGateway, "hub " + options_.endpoint + ": " + curl_easy_strerror(rc));
  long code = 0;
  curl_easy_getinfo(e.curl.get(), CURLINFO_RESPONSE_CODE, &code);
  if (code != 200) return HttpError(code, "listing " + repo + "@" + revision);
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return Status(StatusCode::kBadGateway, "hub listing is not a JSON object");
  const auto& o = v.get_object();
  if (commit) {
    const auto* sha = o.if_contains("sha");
    *commit = sha && sha->is_string() ? std::string(sha->get_string()) : revision;
  }
  const auto* siblings = o.if_contains("siblings");
  if (!siblings || !siblings->is_array())
    return Status(StatusCode::kBadGateway, "hub listing has no 'siblings'");
  std::vector<HubFile> files;
  for (const auto& s : siblings->get_array()) {
    if (!s.is_object()) continue;
    const auto& so = s.get_object();
    const auto* name = so.if_contains("rfilename");
    if (!name || !name->is_string()) continue;
    HubFile f;
    f.path = std::string(name->get_string());
    if (const auto* size = so.if_contains("size"); size && size->is_number())
      f.size = size->to_number<int64_t>();
    if (const auto* lfs = so.if_contains("lfs"); lfs && lfs->is_object()) {
      if (const auto* sha = lfs->get_object().if_contains("sha256"); sha && sha->is_string())
        f.sha256 = std::string(sha->get_string());
      if (const auto* size = lfs->get_object().if_contains("size"); size && size->is_number())
        f.size = size->to_number<int64_t>();
    }
    files.push_back(std::move(f));
  }
  return files;
}

Status HubClient::Download(const std::string& repo, const std::string& revision, const HubFile& file,
                           const fs::path& dest) const {
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  // Already complete (an earlier pull): keep it when it checks out.
  if (fs::exists(dest, ec) && (file.size < 0 || static_cast<int64_t>(fs::file_size(dest, ec)) == file.size) &&
      (file.sha256.empty() || Sha256File(dest) == file.sha256))
    return Status::Ok();
  const fs::path part = dest.string() + ".part";
  int64_t have = fs::exists(part, ec) ? static_cast<int64_t>(fs::file_size(part, ec)) : 0;
  if (file.size >= 0 && have > file.size) {
    fs::remove(part, ec);
    have = 0;
  }
  const std::string url =
      options_.endpoint + "/" + Escape(repo) + "/resolve/" + Escape(revision) + "/" + Escape(file.path);
  std::FILE* out = std::fopen(part.c_str(), have > 0 ? "ab" : "wb");
  if (!out) return FailedPrecondition("cannot write " + part.string());
  Easy e;
  Prepare(e, url, options_);
  curl_easy_setopt(e.curl.get(), CURLOPT_WRITEFUNCTION, ToFile);
  curl_easy_setopt(e.curl.get(), CURLOPT_WRITEDATA, out);
  if (have > 0) curl_easy_setopt(e.curl.get(), CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(have));
  const CURLcode rc = curl_easy_perform(e.curl.get());
  long code = 0;
  curl_easy_getinfo(e.curl.get(), CURLINFO_RESPONSE_CODE, &code);
  std::fclose(out);
  if (rc == CURLE_RANGE_ERROR || code == 416) {  // the server will not resume: start over next time
    fs::remove(part, ec);
    return Status(StatusCode::kBadGateway, file.path + ": the hub refused to resume; run pull again");
  }
  if (rc != CURLE_OK)
    return Status(StatusCode::kBadGateway, file.path + ": " + curl_easy_strerror(rc) +
                                               " (partial data kept in " + part.filename().string() +
                                               "; pull again to resume)");
  if (code != 200 && code != 206) {
    fs::remove(part, ec);
    return HttpError(code, file.path);
  }
  if (have > 0 && code == 200) {
    // The server ignored the Range and sent everything; the appended copy is wrong.
    fs::remove(part, ec);
    return Status(StatusCode::kBadGateway,
                  file.path + ": the hub ignored the resume request; run pull again");
  }
  const int64_t got = static_cast<int64_t>(fs::file_size(part, ec));
  if (file.size >= 0 && got != file.size) {
    return Status(StatusCode::kBadGateway, file.path + ": got " + std::to_string(got) + " bytes, expected " +
                                               std::to_string(file.size) + " (pull again to resume)");
  }
  if (!file.sha256.empty()) {
    const std::string sha = Sha256File(part);
    if (sha != file.sha256) {
      fs::remove(part, ec);
      return Status(StatusCode::kBadGateway, file.path + ": SHA-256 " + sha + " does not match the hub's " +
                                                 file.sha256 + "; removed");
    }
  }
  fs::rename(part, dest, ec);
  if (ec)
    return FailedPrecondition("cannot move " + part.string() + " to " + dest.string() + ": " + ec.message());
  return Status::Ok();
}

std::vector<HubFile> SelectModelFiles(const std::vector<HubFile>& files, const std::string& variant) {
  const std::string suffix = variant.empty() || variant == "fp32" ? "" : "_" + variant;
  std::vector<HubFile> out;
  for (const auto& f : files) {
    const fs::path p(f.path);
    const std::string name = p.filename().string();
    const std::string ext = p.extension().string();
    const bool root = !p.has_parent_path() || p.parent_path().empty();
    const bool onnx_dir = p.parent_path() == "onnx";
    if (root && (ext == ".json" || ext == ".txt")) {
      out.push_back(f);  // configs, tokenizer, vocab
      continue;
    }
    if (!(root || onnx_dir)) continue;
    // model<suffix>.onnx, vision_model<suffix>.onnx, ... and their external data files.
    std::string stem = name;
    for (const char* e : {".onnx_data", ".onnx"}) {
      const std::string es = e;
      if (stem.size() > es.size() && stem.compare(stem.size() - es.size(), es.size(), es) == 0) {
        stem = stem.substr(0, stem.size() - es.size());
        break;
      }
    }
    if (stem == name) continue;  // not an ONNX file
    // Graphs Sightline serves: *model* (model, vision_model, encoder_model, decoder_model_merged,
    // ...) and a vision-language model's vision_encoder and embed_tokens.
    if (stem.find("model") == std::string::npos && !stem.starts_with("vision_encoder") &&
        !stem.starts_with("embed_tokens"))
      continue;
    auto ends_with = [&](const std::string& sfx) {
      return stem.size() > sfx.size() && stem.compare(stem.size() - sfx.size(), sfx.size(), sfx) == 0;
    };
    bool match = false;
    if (!suffix.empty()) {
      match = ends_with(suffix);
    } else {
      match = true;  // fp32: the files without a variant suffix
      for (const char* v : {"_quantized", "_fp16", "_int8", "_uint8", "_q4", "_q4f16", "_bnb4", "_quint8"})
        if (ends_with(v)) match = false;
    }
    if (match) out.push_back(f);
  }
  return out;
}

}  // namespace sightline::sources
