#include <charconv>

#include "http/api_routes.h"
#include "http/kserve_codec.h"
#include "observability/logger.h"
#include "tasks/image_input.h"
#include "tasks/tensor_inference.h"

namespace sightline::http {
namespace {

using observability::AppendJsonEscaped;

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse KError(const Status& s) {
  return ErrorResponse(s, ApiStyle::kKServe);
}

// Finds the model named in the path, checking the version when one is given.
Result<scheduling::ServedModel*> LookUp(const KServeRouteDeps& ctx, const PathParams& p) {
  const std::string& name = p.at("model");
  auto* m = ctx.models->Find(name);
  if (!m) return NotFound("unknown model '" + name + "'");
  if (auto v = p.find("version"); v != p.end() && v->second != m->config.version)
    return NotFound("model '" + name + "' has no version '" + v->second + "'");
  return m;
}

void AppendSpecs(std::string& out, const std::vector<runtime::TensorSpec>& specs) {
  out += '[';
  for (size_t i = 0; i < specs.size(); ++i) {
    if (i) out += ',';
    out += "{\"name\":\"";
    AppendJsonEscaped(out, specs[i].name);
    out += "\",\"datatype\":\"";
    out += DataTypeName(specs[i].dtype);
    out += "\",\"shape\":" + ShapeToString(specs[i].shape) + "}";
  }
  out += ']';
}

std::string ModelMetadata(const scheduling::ServedModel& m) {
  std::string out = "{\"name\":\"";
  AppendJsonEscaped(out, m.config.name);
  out += "\",\"versions\":[\"";
  AppendJsonEscaped(out, m.config.version);
  out += "\"],\"platform\":\"" + m.platform + "\",\"inputs\":";
  AppendSpecs(out, m.signature.inputs);
  out += ",\"outputs\":";
  AppendSpecs(out, m.signature.outputs);
  out += ",\"parameters\":{\"max_batch_size\":" + std::to_string(m.config.max_batch_size);
  if (m.config.image_input) {
    // The signature says FP32/FP16 pixels; this input also takes encoded images as BYTES.
    out += ",\"image_input\":{\"input\":\"";
    AppendJsonEscaped(out, m.config.image_input->input);
    out +=
        "\",\"accepts\":\"BYTES\",\"formats\":[\"jpeg\",\"png\",\"webp\",\"heif\",\"avif\",\"tiff\",\"gif\","
        "\"dng\",\"raw\"]}";
  }
  if (!m.config.task.empty()) {
    out += ",\"task\":\"";
    AppendJsonEscaped(out, m.config.task);
    out += '"';
  }
  out += "}}";
  return out;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

namespace {

// Queues a parsed request and answers it when the batcher does.
void Submit(scheduling::ServedModel& model, std::shared_ptr<KServeInferRequest> shared,
            const tasks::TensorInferOptions& opts, Responder respond,
            std::chrono::steady_clock::time_point received) {
  std::string name = model.config.name, version = model.config.version;
  auto inputs = std::move(shared->inputs);
  Status s = tasks::SubmitTensorInference(
      model, std::move(inputs), opts,
      [respond, shared, name, version, received](Result<scheduling::InferResult> result) {
        if (!result.ok()) return respond(KError(result.status()));
        const auto& r = result.value();
        auto enc = EncodeInferResponse(name, version, shared->id, r.outputs, shared->outputs,
                                       shared->binary_data_output);
        HttpResponse resp;
        resp.body = std::move(enc.body);
        if (enc.json_length) {
          resp.content_type = "application/octet-stream";
          resp.headers.emplace_back("Inference-Header-Content-Length", std::to_string(*enc.json_length));
        }
        const auto now = scheduling::Clock::now();
        auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
        resp.headers.emplace_back(
            "Server-Timing",
            ServerTimingHeader(ms(r.timing.started - r.timing.enqueued),
                               ms(r.timing.finished - r.timing.started), ms(now - received)));
        respond(std::move(resp));
      });
  if (!s.ok()) respond(KError(s));
}

void Infer(const KServeRouteDeps& ctx, const HttpRequest& req, const PathParams& p, Responder respond) {
  auto found = LookUp(ctx, p);
  if (!found.ok()) return respond(KError(found.status()));
  scheduling::ServedModel& model = *found.value();

  std::optional<size_t> header_length;
  if (auto h = req.Header("inference-header-content-length"); !h.empty()) {
    auto v = ParseInt(h);
    if (!v || *v < 0)
      return respond(KError(InvalidArgument("Inference-Header-Content-Length must be a number")));
    header_length = static_cast<size_t>(*v);
  }
  // A split body (the transport read the binary part into its own buffer) hands that buffer over.
  auto parsed = req.body_tail && header_length && *header_length == req.body.size()
                    ? ParseInferRequest(req.body, std::move(*req.body_tail))
                    : ParseInferRequest(req.body, header_length);
  if (!parsed.ok()) return respond(KError(parsed.status()));
  auto request = std::move(parsed).value();
  for (const auto& o : request.outputs)
    if (!model.signature.FindOutput(o.name))
      return respond(
          KError(InvalidArgument("model '" + model.config.name + "' has no output named '" + o.name + "'")));

  tasks::TensorInferOptions opts;
  opts.context = MakeRequestContext(req, request.priority);
  opts.timeout_us = request.timeout_us;
  for (const auto& o : request.outputs) opts.outputs.push_back(o.name);

  auto shared = std::make_shared<KServeInferRequest>(std::move(request));
  // Encoded images for a model with an image_input: decode on the pool, then submit from there.
  if (model.config.image_input) {
    const auto& ii = *model.config.image_input;
    for (auto& t : shared->inputs) {
      if (t.name != ii.input || t.dtype != DataType::kBytes) continue;
      const DataType dtype = model.signature.FindInput(ii.input)->dtype;
      ctx.decode_pool->Submit([ctx, &model, shared, opts, respond, received = req.received, dtype, &t] {
        if (opts.context->cancelled())
          return respond(KError(Status(StatusCode::kCancelled, "client went away")));
        auto decoded = tasks::DecodeImageBatch(t, *model.config.image_input, dtype, ctx.decode_limits);
        if (!decoded.ok()) return respond(KError(decoded.status()));
        t = std::move(decoded).value();
        Submit(model, shared, opts, respond, received);
      });
      return;
    }
  }
  Submit(model, shared, opts, std::move(respond), req.received);
}

}  // namespace

void AddKServeRoutes(RouteTable& routes, const KServeRouteDeps& ctx) {
  const auto k = ApiStyle::kKServe;
  routes.Add(
      "GET", "/v2",
      [ctx](const HttpRequest&, const PathParams&, Responder respond) {
        std::string body = "{\"name\":\"";
        AppendJsonEscaped(body, ctx.server_name);
        body += "\",\"version\":\"";
        AppendJsonEscaped(body, ctx.server_version);
        body += "\",\"extensions\":[\"binary_tensor_data\",\"schedule_policy\"]}";
        respond(Json(200, body));
      },
      false, k);
  routes.Add(
      "GET", "/v2/health/live",
      [](const HttpRequest&, const PathParams&, Responder respond) { respond(Json(200, "{\"live\":true}")); },
      true, k);
  routes.Add(
      "GET", "/v2/health/ready",
      [ctx](const HttpRequest&, const PathParams&, Responder respond) {
        const bool ready = ctx.models->AllReady();
        respond(Json(ready ? 200 : 400, ready ? "{\"ready\":true}" : "{\"ready\":false}"));
      },
      true, k);
  auto metadata = [ctx](const HttpRequest&, const PathParams& p, Responder respond) {
    auto m = LookUp(ctx, p);
    if (!m.ok()) return respond(KError(m.status()));
    respond(Json(200, ModelMetadata(*m.value())));
  };
  routes.Add("GET", "/v2/models/{model}", metadata, false, k);
  routes.Add("GET", "/v2/models/{model}/versions/{version}", metadata, false, k);
  auto ready = [ctx](const HttpRequest&, const PathParams& p, Responder respond) {
    auto m = LookUp(ctx, p);
    if (!m.ok()) return respond(KError(m.status()));
    const bool r = m.value()->ready;
    respond(Json(r ? 200 : 400, r ? "{\"ready\":true}" : "{\"ready\":false}"));
  };
  routes.Add("GET", "/v2/models/{model}/ready", ready, true, k);
  routes.Add("GET", "/v2/models/{model}/versions/{version}/ready", ready, true, k);
  auto infer = [ctx](const HttpRequest& req, const PathParams& p, Responder respond) {
    Infer(ctx, req, p, std::move(respond));
  };
  // Unknown models and full queues are answered from the headers alone.
  auto precheck = [ctx](const HttpRequest& head, const PathParams& p) -> Status {
    auto m = LookUp(ctx, p);
    if (!m.ok()) return m.status();
    return tasks::CheckAdmission(*m.value(), RetryAttempt(head));
  };
  // Binary tensors land in their own buffer, which becomes the input tensor without a copy.
  routes.Add("POST", "/v2/models/{model}/infer", infer, false, k, precheck).body_split_header =
      "inference-header-content-length";
  routes.Add("POST", "/v2/models/{model}/versions/{version}/infer", infer, false, k, precheck)
      .body_split_header = "inference-header-content-length";
}

}  // namespace sightline::http
