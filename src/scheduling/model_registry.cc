#include "scheduling/model_registry.h"

#include "repository/hf_layout.h"
#include "repository/model_folders.h"
#include "runtime/model_loader.h"

namespace sightline::scheduling {

namespace {

// One model (or one variant of it) loaded, warmed and behind its own batcher. Variants other
// than the configured one report metrics as "name:variant".
Result<std::unique_ptr<ServedModel>> LoadOne(runtime::BackendFactory& factory,
                                             const std::filesystem::path& repository,
                                             const runtime::ModelEntry& entry, const std::string& variant,
                                             const std::set<std::string>& task_blocks,
                                             observability::ServerMetrics& metrics,
                                             observability::Logger& log) {
  ASSIGN_OR_RETURN(auto loaded, runtime::LoadModel(factory, repository, entry, variant, task_blocks));
  const std::string& name = entry.name;
  const std::string label = variant.empty() ? name : name + ":" + variant;
  auto mm = metrics.ForModel(label);
  mm.load_seconds->Set(loaded.load_seconds);
  double warm = 0;
  if (loaded.config.warmup) {
    ASSIGN_OR_RETURN(warm, runtime::WarmUp(loaded));
  }
  mm.warmup_seconds->Set(warm);
  if (loaded.clamped_from > 0)
    log.Warn("max_batch_size_lowered",
             observability::LogFields()
                 .Add("model", label)
                 .Add("configured", static_cast<int64_t>(loaded.clamped_from))
                 .Add("memory_safe", static_cast<int64_t>(loaded.memory_batch_limit))
                 .Add("per_item_bytes", loaded.per_item_bytes));
  log.Info("model_loaded", observability::LogFields()
                               .Add("model", label)
                               .Add("file", loaded.file.string())
                               .Add("instances", static_cast<int64_t>(loaded.instances.size()))
                               .Add("max_batch_size", loaded.config.max_batch_size)
                               .Add("memory_safe_batch", static_cast<int64_t>(loaded.memory_batch_limit))
                               .Add("per_item_bytes", loaded.per_item_bytes)
                               .Add("load_seconds", loaded.load_seconds)
                               .Add("graph", runtime::GraphSourceName(loaded.graph_source))
                               .Add("warmup_seconds", warm));
  const auto& c = loaded.config;
  BatcherOptions opts;
  opts.model_name = label;
  opts.max_batch_size = c.max_batch_size;
  opts.dynamic_batching = c.dynamic_batching;
  opts.max_queue_delay = std::chrono::microseconds(c.max_queue_delay_us);
  opts.preferred_batch_sizes = c.preferred_batch_sizes;
  opts.priority_levels = c.priority_levels;
  opts.default_priority_level = c.default_priority_level;
  opts.max_queue_size = static_cast<size_t>(c.queue.max_queue_size);
  opts.default_timeout = std::chrono::microseconds(c.queue.default_timeout_us);
  opts.allow_timeout_override = c.queue.allow_timeout_override;
  opts.max_queue_wait = std::chrono::microseconds(c.queue.max_queue_wait_us);
  opts.initial_seconds_per_row = loaded.warm_seconds_per_row;
  auto served = std::make_unique<ServedModel>();
  served->config = loaded.config;
  served->signature = loaded.signature;
  served->platform = loaded.platform;
  served->load_seconds = loaded.load_seconds;
  served->warmup_seconds = warm;
  ASSIGN_OR_RETURN(served->batcher, Batcher::Create(std::move(opts), std::move(loaded.instances), mm));
  served->ready = true;
  mm.ready->Set(1);
  return served;
}

// A generative decoder (an encoder-decoder's, or a vision-language model's): its graph(s) behind a
// GenerationScheduler, no batcher and no batch warm-up (a decoder step needs a KV cache, not zero tensors).
Result<std::unique_ptr<ServedModel>> LoadGenerator(runtime::BackendFactory& factory,
                                                   const std::filesystem::path& repository,
                                                   const runtime::ModelEntry& entry,
                                                   const std::set<std::string>& task_blocks,
                                                   observability::ServerMetrics& metrics,
                                                   observability::Logger& log) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::filesystem::path dir = repository / entry.folder;
  auto served = std::make_unique<ServedModel>();
  ASSIGN_OR_RETURN(served->config, runtime::LoadModelConfig(dir, entry.name, task_blocks));
  served->config.family = entry.family;
  served->config.role = entry.role;
  served->config.task.clear();
  served->config.image_input.reset();
  ASSIGN_OR_RETURN(auto files, repository::FindDecoderFiles(repository, entry, served->config.variant));
  runtime::BackendOptions o;
  o.intra_op_threads = served->config.intra_op_threads;
  o.inter_op_threads = served->config.inter_op_threads;
  // A decoder's steps run back to back while it has sequences: its pool threads spin unless the
  // model's config says otherwise. A Qwen2-0.5B-sized step of one sequence took 49 ms spinning
  // against 58 ms sleeping between operators; at 8 or 16 rows no difference (bench/vlm_step_costs.py).
  o.spinning = served->config.spinning_set ? served->config.spinning : runtime::Spinning::kAlways;
  o.memory_pattern = false;  // shapes change every step: one planned block per shape would pile up
  generation::DecoderGraphs graphs;
  auto load = [&](const std::filesystem::path& file) -> Result<std::unique_ptr<runtime::Backend>> {
    if (served->config.save_optimized_graph)
      o.optimized_graph_dir = file.parent_path() / runtime::kOptimizedGraphFolder;
    return factory.Load(file, o);
  };
  // Generating reads the logits of the last position only; the LM head need not run on the others.
  if (served->config.generation_last_position_logits) o.last_position_outputs = {"logits"};
  if (!files.merged.empty()) {
    ASSIGN_OR_RETURN(graphs.merged, load(files.merged));
    served->signature = graphs.merged->signature();
  } else {
    ASSIGN_OR_RETURN(graphs.first, load(files.first));
    ASSIGN_OR_RETURN(graphs.with_past, load(files.with_past));
    served->signature = graphs.with_past->signature();
  }
  const auto* decoder = (files.merged.empty() ? graphs.first : graphs.merged).get();
  const bool last_position_logits = !decoder->last_position_outputs().empty();
  o.last_position_outputs.clear();
  // embed_tokens is one Gather of a few rows per step: run on the calling thread, with no pool
  // whose threads would spin beside the decoder's.
  o.intra_op_threads = 1;
  o.spinning = runtime::Spinning::kOff;
  if (!files.embed_tokens.empty()) {
    ASSIGN_OR_RETURN(graphs.embed_tokens, load(files.embed_tokens));
    ASSIGN_OR_RETURN(graphs.image_token_id, repository::ReadImageTokenId(dir));
  }
  served->platform = factory.platform();
  GenerationOptions go;
  go.model = entry.name;
  go.max_rows = static_cast<size_t>(served->config.generation_max_rows);
  go.kv_budget_bytes = static_cast<size_t>(served->config.generation_kv_cache_mb) << 20;
  go.admission_window = std::chrono::microseconds(served->config.generation_admission_window_us);
  ASSIGN_OR_RETURN(served->generation,
                   GenerationScheduler::Create(go, std::move(graphs), metrics.ForGeneration(entry.name)));
  served->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto mm = metrics.ForModel(entry.name);
  mm.load_seconds->Set(served->load_seconds);
  log.Info("model_loaded", observability::LogFields()
                               .Add("model", entry.name)
                               .Add("file", (files.merged.empty() ? files.first : files.merged).string())
                               .Add("scheduler", "generation")
                               .Add("kv_cache_budget_bytes", static_cast<int64_t>(go.kv_budget_bytes))
                               .Add("logits_last_position_only", last_position_logits)
                               .Add("load_seconds", served->load_seconds));
  served->ready = true;
  mm.ready->Set(1);
  return served;
}

}  // namespace

Result<std::unique_ptr<ModelRegistry>> ModelRegistry::LoadAll(runtime::BackendFactory& factory,
                                                              const std::filesystem::path& repository,
                                                              observability::ServerMetrics& metrics,
                                                              observability::Logger& log,
                                                              const std::set<std::string>& task_blocks,
                                                              const FallbackPlanner& fallback_planner) {
  ASSIGN_OR_RETURN(auto entries, ::sightline::repository::ListModels(repository));
  if (entries.empty())
    return FailedPrecondition("model repository '" + repository.string() + "' holds no model folders");
  std::unique_ptr<ModelRegistry> reg(new ModelRegistry());
  reg->repository_ = repository;
  for (const auto& entry : entries) {
    const std::string& name = entry.name;
    if ((entry.layout == repository::Layout::kHfEncoderDecoder ||
         entry.layout == repository::Layout::kHfVisionLanguage) &&
        entry.role == "decoder") {
      ASSIGN_OR_RETURN(auto served, LoadGenerator(factory, repository, entry, task_blocks, metrics, log));
      reg->models_.emplace(name, std::move(served));
      continue;
    }
    ASSIGN_OR_RETURN(auto served, LoadOne(factory, repository, entry, "", task_blocks, metrics, log));
    if (fallback_planner) {
      ASSIGN_OR_RETURN(served->fallback_plan, fallback_planner(served->config));
    }
    if (const auto& plan = served->fallback_plan) {
      ASSIGN_OR_RETURN(served->fallback,
                       LoadOne(factory, repository, entry, plan->variant, task_blocks, metrics, log));
      served->degraded_gauge = &metrics.degraded.WithLabels({name});
    }
    reg->models_.emplace(name, std::move(served));
  }
  return reg;
}

ServedModel& SelectVariant(ServedModel& m) {
  if (!m.fallback || !m.fallback_plan) return m;
  const auto& aq = *m.fallback_plan;
  const double primary_ms = m.batcher->EstimatedWaitSeconds() * 1000.0;
  bool degraded = m.degraded.load(std::memory_order_relaxed);
  if (!degraded && primary_ms > static_cast<double>(aq.switch_wait_ms)) {
    degraded = true;
  } else if (degraded && primary_ms < static_cast<double>(aq.restore_wait_ms) &&
             m.fallback->batcher->EstimatedWaitSeconds() * 1000.0 < static_cast<double>(aq.restore_wait_ms)) {
    degraded = false;
  }
  if (m.degraded.exchange(degraded) != degraded && m.degraded_gauge) m.degraded_gauge->Set(degraded ? 1 : 0);
  return degraded ? *m.fallback : m;
}

void DrainAll(const std::vector<Scheduler*>& schedulers, Scheduler::Clock::time_point deadline) {
  for (auto* s : schedulers) s->BeginDrain();
  for (auto* s : schedulers) s->Drain(deadline);
}

ModelRegistry::~ModelRegistry() {
  Drain(std::chrono::milliseconds(0));
}

ServedModel* ModelRegistry::Find(const std::string& name) const {
  auto it = models_.find(name);
  return it == models_.end() ? nullptr : it->second.get();
}

std::vector<const ServedModel*> ModelRegistry::All() const {
  std::vector<const ServedModel*> out;
  for (const auto& [_, m] : models_) out.push_back(m.get());
  return out;
}

bool ModelRegistry::AllReady() const {
  for (const auto& [_, m] : models_)
    if (!m->ready) return false;
  return !models_.empty();
}

void ModelRegistry::Drain(std::chrono::milliseconds timeout) {
  // One deadline for the whole registry: every batcher stops taking work at once, and each then
  // waits only until the shared deadline, so N models drain in one timeout, not N.
  const auto deadline = Clock::now() + timeout;
  std::vector<Scheduler*> schedulers;
  for (auto& [_, m] : models_) {
    m->ready = false;
    if (m->batcher) schedulers.push_back(m->batcher.get());
    if (m->generation) schedulers.push_back(m->generation.get());
    if (m->fallback && m->fallback->batcher) schedulers.push_back(m->fallback->batcher.get());
  }
  DrainAll(schedulers, deadline);
}

}  // namespace sightline::scheduling
