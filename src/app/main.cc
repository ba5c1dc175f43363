// sightline: the command-line entry point. Subcommands parse flags and call into app/.
#include <malloc.h>

#include <algorithm>
#include <thread>

#include <CLI/CLI.hpp>

#include "app/caption_command.h"
#include "app/pull_command.h"
#include "app/remove_bg_command.h"
#include "app/serve_command.h"
#include "app/summarize_video_command.h"

int main(int argc, char** argv) {
  // Large per-request buffers (decoded images, 1024x1024 tensors, model outputs) come and go with
  // every request. glibc raises its mmap threshold after each such free and then serves them from
  // heap arenas, which fragment and never shrink: RSS grew ~80 MB/min under 32 clients. A fixed
  // threshold keeps them mmapped, so a freed buffer goes back to the OS (docs/BENCHMARKS.md).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  // Setting the threshold also pins the trim threshold at 128 KB, so every freed sub-MB buffer
  // at the top of an arena went back to the OS and was faulted in again (zeroed) by the next
  // request: ~0.1 ms of page faults per 600 KB tensor. Keep a few MB per arena instead (at most
  // 8 MB x arenas of idle heap): +7% server throughput on cnn224 (docs/BENCHMARKS.md).
  mallopt(M_TRIM_THRESHOLD, 8 << 20);
  // glibc gives up to 8 arenas per core; with ~90 threads (I/O, pools, ONNX Runtime's) each one
  // keeps its own free lists and up to the trim threshold of idle heap, and RSS crept up under
  // mixed traffic long after the caches were full. Two per core bounds that (issue 11, report 12;
  // bench/run_soak.py).
  mallopt(M_ARENA_MAX, 2 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  CLI::App cli{"Sightline: an inference server for vision models"};
  cli.require_subcommand(1);
  sightline::app::ServeOptions serve;
  auto* s = cli.add_subcommand("serve", "Serve every model in a model repository over HTTP");
  s->add_option("--model-repository,-m", serve.model_repository, "Folder with one sub-folder per model")
      ->capture_default_str();
  s->add_option("--host", serve.host, "Address to listen on")->capture_default_str();
  s->add_option("--port,-p", serve.port, "Port to listen on (0 = any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  s->add_option("--http-threads", serve.http_threads, "I/O threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  s->add_option("--max-connections", serve.max_connections, "Open connections at most")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  s->add_option("--max-body-mb", serve.max_body_mb, "Request body limit in MiB")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  s->add_option("--max-header-kb", serve.max_header_kb, "Request header limit in KiB")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  s->add_option("--read-timeout-ms", serve.read_timeout_ms,
                "Time allowed to read one request (and keep-alive idle)")
      ->capture_default_str()
      ->check(CLI::Range(1, 24 * 3'600'000));
  s->add_option("--api-key-file", serve.api_key_file, "File with one API key per line; enables key checks")
      ->check(CLI::ExistingFile);
  s->add_option("--allow-cidr", serve.allow_cidrs, "Client address ranges allowed (repeatable)");
  s->add_option("--log-level", serve.log_level, "debug|info|warn|error|off")->capture_default_str();
  s->add_option("--drain-timeout-ms", serve.drain_timeout_ms, "On SIGTERM, time to finish queued work")
      ->capture_default_str()
      ->check(CLI::Range(0, 24 * 3'600'000));
  s->add_option("--port-file", serve.port_file, "Write the bound port to this file once listening");
  s->add_option("--decode-threads", serve.decode_threads, "Threads decoding and preprocessing images")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  s->add_option("--max-image-pixels", serve.max_image_pixels, "Largest image (width x height) accepted")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  s->add_option("--allow-path", serve.allow_paths,
                "Directory image_path inputs may read from (repeatable); image_path is off without one");
  s->add_option("--fetch-allow-cidr", serve.fetch_allow_cidrs,
                "Internal address range image_url may fetch from anyway (repeatable)");
  s->add_option("--fetch-timeout-ms", serve.fetch_timeout_ms, "Time limit of one image_url fetch")
      ->capture_default_str()
      ->check(CLI::Range(1, 24 * 3'600'000));
  s->add_option("--fetch-max-mb", serve.fetch_max_mb, "Largest image_url / image_path body in MiB")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  s->add_option("--fetch-threads", serve.fetch_threads, "Concurrent image_url fetches and file reads")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  s->add_option("--result-cache-mb", serve.result_cache_mb, "Result cache size in MiB (0 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  s->add_option("--text-embedding-cache-mb", serve.text_embedding_cache_mb,
                "CLIP text embedding cache (0 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  s->add_option("--captions", serve.captions,
                "on: /v1/embed captions=true captions each image; off: it answers caption: null "
                "(also DISABLE_CAPTIONS=1)")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  s->add_option("--image-embedding-cache-mb", serve.image_embedding_cache_mb,
                "CLIP image embedding cache (0 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  s->add_option("--video-workers", serve.video_workers, "Videos decoded at once (one thread each)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  s->add_option("--video-queue", serve.video_queue, "Videos waiting for a worker at most (more: 503)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  s->add_option("--video-decode-threads", serve.video_decode_threads, "Decoder threads per video")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  s->add_option("--video-max-duration-s", serve.video_max_duration_s, "Longest video accepted, in seconds")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 7 * 24 * 3600.0));
  s->add_option("--video-max-dimension", serve.video_max_dimension, "Largest video width or height accepted")
      ->capture_default_str()
      ->check(CLI::Range(16, 16384));
  s->add_option("--max-upload-mb", serve.max_upload_mb,
                "Largest video body in MiB (streamed to a temporary file, never held in memory)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  s->add_option("--upload-dir", serve.upload_dir, "Where video bodies are written while their request lasts")
      ->check(CLI::ExistingDirectory);
  s->add_option("--video-max-frames", serve.video_max_frames, "Most frames decoded from one video")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 32));
  s->add_option("--malloc-trim-interval-ms", serve.malloc_trim_interval_ms,
                "How often free heap pages go back to the OS (0 = never)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3'600'000));
  s->add_option("--malloc-trim-min-free-mb", serve.malloc_trim_min_free_mb,
                "Give free heap pages back only once this many MiB are free in malloc's arenas")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));

  sightline::app::RemoveBgOptions rb;
  auto* r = cli.add_subcommand("remove-bg", "Remove the background of one image file (no server)");
  r->add_option("input", rb.input, "Image file")->required()->check(CLI::ExistingFile);
  r->add_option("-o,--out", rb.output_path, "Output file; with several outputs, NAME_<output>.EXT")
      ->required();
  r->add_option("--model-repository,-m", rb.model_repository, "Model repository")->capture_default_str();
  r->add_option("--model", rb.model, "Background-removal model (default: the first in the repository)");
  r->add_option("--output", rb.params["output"], "cutout|mask|both")->capture_default_str();
  r->add_option("--format", rb.params["format"], "png|webp|jpeg (default: from the --out extension)");
  r->add_option("--effects", rb.params["effects"], "Comma list of bw, popart, dither, color");
  r->add_option("--bg-color", rb.params["bg_color"], "Flatten over this colour (#rrggbb or r,g,b)");
  r->add_option("--max-side", rb.params["max_side"], "Scale so the longer side is at most this");
  r->add_flag("--post-process", rb.post_process, "Clean the mask: opening, blur, threshold");
  sightline::app::CaptionOptions co;
  auto* c = cli.add_subcommand("caption", "Caption image files (no server); one JSON line per file");
  c->add_option("files", co.inputs, "Image files")->required()->check(CLI::ExistingFile);
  c->add_option("--model-repository,-m", co.model_repository, "Model repository")->capture_default_str();
  c->add_option("--model", co.model, "Captioning model folder (default: the first in the repository)");
  c->add_option("--prompt", co.prompt, "Text the caption continues");
  c->add_option("--max-new-tokens", co.generation.max_new_tokens, "Tokens to generate at most");
  c->add_option("--num-beams", co.generation.num_beams, "Beam search with this many beams");
  c->add_option("--seed", co.generation.seed, "Sample, reproducibly, with this seed")
      // CLI11 would wrap -5 into an unsigned seed.
      ->check(CLI::Validator(
          [](std::string& v) {
            return v.starts_with('-') ? std::string("must be a non-negative integer") : "";
          },
          "UINT"));
  c->add_option("--temperature", co.generation.temperature, "Sampling temperature");
  sightline::app::SummarizeVideoOptions sv;
  auto* v = cli.add_subcommand(
      "summarize-video", "Summarize a video file (no server): shots, keyframes, captions, summary as JSON");
  v->add_option("file", sv.input, "Video file")->required()->check(CLI::ExistingFile);
  v->add_option("--model-repository,-m", sv.model_repository, "Model repository (captioners)")
      ->capture_default_str();
  v->add_option("--detector", sv.detector, "adaptive | content | threshold | transnetv2")
      ->capture_default_str();
  v->add_option("--threshold", sv.params.detector.threshold, "The detector's threshold");
  v->add_option("--min-shot-len", sv.params.detector.min_shot_s, "Shortest shot, seconds")
      ->capture_default_str();
  v->add_option("--keyframes", sv.keyframes, "base64 (thumbnails in the answer) | none")
      ->capture_default_str();
  v->add_option("--thumbnail-size", sv.params.thumbnail_size, "Thumbnails' longer side")
      ->capture_default_str();
  v->add_flag("--no-captions", sv.no_captions, "Do not caption keyframes");
  v->add_flag("--no-safety", sv.no_safety, "Do not run the safety classifier");
  v->add_option("--safety-model", sv.params.safety_model,
                "Safety classifier to use (default: the one marked default, e.g. open_nsfw; or nsfwjs)");
  v->add_option("--dedupe-method", sv.params.dedupe_method, "auto | clip | perceptual_hash")
      ->capture_default_str();
  v->add_option("--dedupe-threshold", sv.params.dedupe_threshold, "Similarity that makes a duplicate (0-1)");
  v->add_option("--model", sv.params.caption_model, "Captioning model folder (default: the first)");
  v->add_option("--prompt", sv.params.caption.prompt, "Caption prompt");
  v->add_option("--max-new-tokens", sv.params.caption.generation.max_new_tokens, "Caption tokens at most");
  v->add_option("--summary-method", sv.params.summary_method, "auto | vlm | extractive")
      ->capture_default_str();
  v->add_option("--summary-model", sv.params.summary_model, "Vision-language model for the summary");
  v->add_option("--summary-max-tokens", sv.params.summary_max_tokens, "Summary tokens at most")
      ->capture_default_str();
  sightline::app::PullOptions po;
  auto* p = cli.add_subcommand("pull",
                               "Download a model from a Hugging Face-compatible hub (HF_ENDPOINT, HF_TOKEN)");
  p->add_option("repo", po.repo, "Repository id, e.g. Xenova/clip-vit-base-patch32")->required();
  p->add_option("--revision", po.revision, "Branch, tag or commit")->capture_default_str();
  p->add_option("--variant", po.variant, "fp32 | quantized | fp16 | ... (file suffix)")
      ->capture_default_str();
  p->add_option("--model-repository,-m", po.model_repository, "Where the model folder goes")
      ->capture_default_str();
  p->add_option("--name", po.name, "Folder name (default: the repository's name)");
  p->add_option("--endpoint", po.endpoint, "Hub URL (default: $HF_ENDPOINT or https://huggingface.co)");
  p->add_option("--token", po.token, "Access token (default: $HF_TOKEN)");
  CLI11_PARSE(cli, argc, argv);
  if (r->parsed()) return sightline::app::RunRemoveBg(rb);
  if (c->parsed()) return sightline::app::RunCaption(co);
  if (p->parsed()) return sightline::app::RunPull(po);
  if (v->parsed()) return sightline::app::RunSummarizeVideo(sv);
  if (s->parsed()) return sightline::app::RunServe(serve);
  return 0;
}
