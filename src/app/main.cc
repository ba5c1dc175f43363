// sightline: the command-line entry point. Subcommands parse flags and call into app/.
#include <CLI/CLI.hpp>

#include "app/serve_command.h"

int main(int argc, char** argv) {
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
      ->capture_default_str();
  s->add_option("--max-body-mb", serve.max_body_mb, "Request body limit in MiB")->capture_default_str();
  s->add_option("--max-header-kb", serve.max_header_kb, "Request header limit in KiB")->capture_default_str();
  s->add_option("--read-timeout-ms", serve.read_timeout_ms,
                "Time allowed to read one request (and keep-alive idle)")
      ->capture_default_str();
  s->add_option("--api-key-file", serve.api_key_file, "File with one API key per line; enables key checks")
      ->check(CLI::ExistingFile);
  s->add_option("--allow-cidr", serve.allow_cidrs, "Client address ranges allowed (repeatable)");
  s->add_option("--log-level", serve.log_level, "debug|info|warn|error|off")->capture_default_str();
  s->add_option("--drain-timeout-ms", serve.drain_timeout_ms, "On SIGTERM, time to finish queued work")
      ->capture_default_str();
  s->add_option("--port-file", serve.port_file, "Write the bound port to this file once listening");
  s->add_option("--decode-threads", serve.decode_threads, "Threads decoding and preprocessing images")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  s->add_option("--max-image-pixels", serve.max_image_pixels, "Largest image (width x height) accepted")
      ->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  if (s->parsed()) return sightline::app::RunServe(serve);
  return 0;
}
