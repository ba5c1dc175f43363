"""Decoder-only vision-language models (issue 12; FastVLM's layout, scripts/gen_vlm_fixture.py):
discovered in the model repository, the vision encoder behind the dynamic batcher, embed_tokens and
the language model behind a generation scheduler, prompts built with the model's chat template."""
import base64
import io
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
import tritonclient.http as httpclient
from PIL import Image

from conftest import BIN, FIXTURES, SANITIZED, model_loaded_line, wait_until

VLM = os.path.join(FIXTURES, "vlm-tiny")


def noise_png(seed, w=90, h=70):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def data_uri(image):
    return "data:image/png;base64," + base64.b64encode(image).decode()


def reference(server, image, conversation, params, template=None):
    """The expected answer: the image's features as the server computes them (KServe on the vision
    encoder, the same preprocessing), the prompt as Hugging Face builds it (jinja2 on the chat
    template, `tokenizers`, the image token once per feature), scripts/reference_generate.py's loop,
    then the `tokenizers` package's decode. Returns (ids, text, prompt length)."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
    import jinja2
    import reference_generate
    from tokenizers import Tokenizer
    c = httpclient.InferenceServerClient(f"127.0.0.1:{server.port}")
    x = httpclient.InferInput("pixel_values", [1], "BYTES")
    x.set_data_from_numpy(np.array([image], dtype=object), binary_data=True)
    features = c.infer("vlm-tiny.encoder", [x]).as_numpy("image_features")
    refs = json.load(open(os.path.join(VLM, "refs.json")))
    template = template or json.load(open(os.path.join(VLM, "tokenizer_config.json")))["chat_template"]
    text = jinja2.Environment().from_string(template).render(messages=conversation, add_generation_prompt=True)
    tok = Tokenizer.from_file(os.path.join(VLM, "tokenizer.json"))
    prompt = []
    for t in tok.encode(text, add_special_tokens=False).ids:
        prompt += [t] * features.shape[1] if t == refs["image_token_id"] else [t]
    dec = reference_generate.VlmDecoder(VLM, refs["image_token_id"])
    run = reference_generate.beam_search if params.get("num_beams", 1) > 1 else reference_generate.generate
    ids = run(dec, features, prompt, dict(params), refs["eos_ids"])
    return ids, tok.decode(ids, skip_special_tokens=True), len(prompt)


def describe(server, images, **fields):
    files = [("file", (f"{i}.png", im, "image/png")) for i, im in enumerate(images)]
    return requests.post(server.url + "/v1/caption", files=files,
                         data={k: str(v) for k, v in dict(fields, model="vlm-tiny").items()}, timeout=120)


def test_the_vlm_folder_becomes_a_vision_encoder_and_a_generated_decoder(server):
    models = {m["id"]: m for m in requests.get(server.url + "/v1/models").json()["data"]}
    assert models["vlm-tiny.encoder"]["scheduler"] == "batcher"
    assert models["vlm-tiny.decoder"]["scheduler"] == "generation"
    meta = requests.get(server.url + "/v2/models/vlm-tiny.decoder").json()
    names = {i["name"] for i in meta["inputs"]}
    assert {"inputs_embeds", "attention_mask", "position_ids", "past_key_values.0.key"} <= names
    assert server.metrics()['sightline_generation_kv_cache_budget_bytes{model="vlm-tiny.decoder"}'] > 0


def test_descriptions_match_the_reference_loop_greedy_and_beam(server):
    images = [noise_png(k) for k in range(3)]
    r = describe(server, images, prompt="What is in this picture?", max_new_tokens=24)
    assert r.status_code == 200, r.text[:300]
    for im, item in zip(images, r.json()["data"]):
        conv = [{"role": "user", "content": "<image>\nWhat is in this picture?"}]
        ids, text, prompt_len = reference(server, im, conv, {"max_new_tokens": 24})
        assert item["text"] == text
        assert item["usage"]["completion_tokens"] == len(ids)
        assert item["usage"]["prompt_tokens"] == prompt_len
    # No prompt: the default request, "Describe this image."
    r = describe(server, images[:1], max_new_tokens=10, num_beams=3, length_penalty=1.0)
    conv = [{"role": "user", "content": "<image>\nDescribe this image."}]
    ids, text, _ = reference(server, images[0], conv, {"max_new_tokens": 10, "num_beams": 3, "length_penalty": 1.0,
                                                       "early_stopping": False})
    assert r.json()["data"][0]["text"] == text


def test_a_conversation_goes_through_the_chat_template_with_the_openai_client(server):
    import openai
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    image = noise_png(7)
    messages = [{"role": "system", "content": "Answer in one word."},
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_uri(image)}},
                                             {"type": "text", "text": "What is this?"}]},
                {"role": "assistant", "content": "A pattern."},
                {"role": "user", "content": "And its colour?"}]
    conv = [{"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": "<image>\nWhat is this?"},
            {"role": "assistant", "content": "A pattern."}, {"role": "user", "content": "And its colour?"}]
    ids, text, prompt_len = reference(server, image, conv, {"max_new_tokens": 16})
    r = client.chat.completions.create(model="vlm-tiny", messages=messages, max_tokens=16, temperature=0)
    assert r.choices[0].message.content == text
    assert r.usage.prompt_tokens == prompt_len
    assert r.usage.completion_tokens == len(ids)
    chunks = list(client.chat.completions.create(model="vlm-tiny", messages=messages, max_tokens=16, temperature=0,
                                                 stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    assert chunks[-1].usage.prompt_tokens == prompt_len
    # Sampled with a seed: reproducible, and as the reference draws.
    sampled = dict(max_new_tokens=12, do_sample=True, seed=5, temperature=0.8, top_p=0.9)
    ids, text, _ = reference(server, image, conv, sampled)
    r = client.chat.completions.create(model="vlm-tiny", messages=messages, max_tokens=12, seed=5, temperature=0.8,
                                       top_p=0.9)
    assert r.choices[0].message.content == text


def test_sequences_batched_together_answer_as_they_do_alone(server):
    images = [noise_png(20 + k) for k in range(6)]
    alone = [describe(server, [im], max_new_tokens=30).json()["data"][0]["text"] for im in images]
    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(lambda im: describe(server, [im], max_new_tokens=30), images))
    assert [r.json()["data"][0]["text"] for r in together] == alone
    # The gauges are published at the end of the step that finished the last sequence.
    wait_until(lambda: server.metrics()['sightline_generation_active_sequences{model="vlm-tiny.decoder"}'] == 0,
               what="no active sequences")
    m = server.metrics()
    assert m['sightline_generation_kv_cache_bytes{model="vlm-tiny.decoder"}'] == 0


def test_bad_conversations_are_4xx_naming_what_is_wrong(server):
    image = noise_png(3)
    r = describe(server, [image], prompt="look: <image> here")
    assert r.status_code == 400 and "<image>" in r.json()["error"]["message"]
    bad_role = [{"role": "tool", "content": [{"type": "image_url", "image_url": {"url": data_uri(image)}}]}]
    r = requests.post(server.url + "/v1/chat/completions", json={"model": "vlm-tiny", "messages": bad_role})
    assert r.status_code == 400 and "messages[0].role" in r.json()["error"]["message"]
    r = requests.post(server.url + "/v1/chat/completions",
                      json={"model": "vlm-tiny", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 400 and "image_url" in r.json()["error"]["message"]
    r = describe(server, [image], max_new_tokens=600)
    assert r.status_code == 400 and "max_new_tokens" in r.json()["error"]["message"]


def test_a_template_that_does_not_parse_is_refused_at_load(tmp_path):
    import shutil
    import subprocess
    repo = tmp_path / "repo"
    shutil.copytree(VLM, repo / "vlm-tiny")
    cfg = json.load(open(repo / "vlm-tiny" / "tokenizer_config.json"))
    cfg["chat_template"] = "{% for m in messages %}<|start_header_id|>{{ m['role'] }<|end_header_id|>{% endfor %}"
    json.dump(cfg, open(repo / "vlm-tiny" / "tokenizer_config.json", "w"))
    p = subprocess.run([BIN, "serve", "--model-repository", str(repo), "--host", "127.0.0.1", "--port", "0"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert "tokenizer_config.json" in out and "chat template" in out and "does not parse" in out, out[-2000:]


def test_stream_errors_known_before_generation_are_plain_4xx(server):
    """stream=true: an image that does not decode is a plain 4xx (the stream starts with the first
    text), not 200 and an error event; the developer role is OpenAI's system role."""
    bad = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,bm90IGFuIGltYWdl"}},
                                        {"type": "text", "text": "What?"}]}]
    r = requests.post(server.url + "/v1/chat/completions", timeout=120,
                      json={"model": "vlm-tiny", "messages": bad, "stream": True, "max_tokens": 4})
    assert r.status_code in (400, 415, 422), (r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("application/json") and "error" in r.json()
    image = noise_png(8)
    answers = []
    for role in ("system", "developer"):
        messages = [{"role": role, "content": "Answer in one word."},
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_uri(image)}},
                                                 {"type": "text", "text": "What is this?"}]}]
        r = requests.post(server.url + "/v1/chat/completions", timeout=120,
                          json={"model": "vlm-tiny", "messages": messages, "max_tokens": 8})
        assert r.status_code == 200, r.text[:300]
        answers.append((r.json()["choices"][0]["message"]["content"], r.json()["usage"]["prompt_tokens"]))
    assert answers[0] == answers[1]


def with_template(tmp_path, template):
    import shutil
    repo = tmp_path / "repo"
    shutil.copytree(VLM, repo / "vlm-tiny")
    cfg = json.load(open(repo / "vlm-tiny" / "tokenizer_config.json"))
    cfg["chat_template"] = template
    json.dump(cfg, open(repo / "vlm-tiny" / "tokenizer_config.json", "w"))
    return repo


def test_a_template_that_writes_the_image_token_twice_is_refused_at_load(tmp_path):
    import subprocess
    repo = with_template(tmp_path, "{% for m in messages %}<image>{{ m['content'] }}{% endfor %}")
    p = subprocess.run([BIN, "serve", "--model-repository", str(repo), "--host", "127.0.0.1", "--port", "0"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert "default prompt" in out and "2 times" in out, out[-2000:]


def test_a_template_recursing_per_message_fails_the_request_not_the_server(make_server, tmp_path):
    """A macro that recurses once per message loads (the probe has one message); 5000 messages
    once overflowed the stack and killed the server. Now: a 400 naming the recursion, and over
    1024 messages a 413 before any rendering."""
    s = make_server(repo=str(with_template(tmp_path,
        "{% macro f(ms) %}{% if ms %}<|im_start|>{{ ms[0]['role'] }}\n{{ ms[0]['content'] }}<|im_end|>\n"
        "{{ f(ms[1:]) }}{% endif %}{% endmacro %}{{ f(messages) }}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")))
    image = [{"type": "image_url", "image_url": {"url": data_uri(noise_png(9))}}, {"type": "text", "text": "?"}]
    many = [{"role": "user", "content": image}] + [{"role": "assistant", "content": "x"}] * 1000
    r = requests.post(s.url + "/v1/chat/completions", timeout=120,
                      json={"model": "vlm-tiny", "messages": many, "max_tokens": 4})
    assert r.status_code == 400, r.text[:300]
    assert "recursion" in r.json()["error"]["message"]
    r = requests.post(s.url + "/v1/chat/completions", timeout=120,
                      json={"model": "vlm-tiny", "messages": many * 2, "max_tokens": 4})
    assert r.status_code == 413 and "at most 1024" in r.json()["error"]["message"], r.text[:300]
    r = requests.post(s.url + "/v1/chat/completions", timeout=120,
                      json={"model": "vlm-tiny", "messages": [{"role": "user", "content": image}], "max_tokens": 4})
    assert r.status_code == 200, r.text[:300]


# SmolVLM-Instruct's template (HuggingFaceTB/SmolVLM-Instruct tokenizer_config.json): it walks typed
# content parts and writes '<image>' for the image part itself.
SMOLVLM_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content'][0]['type'] "
    "== 'image' %}{{':'}}{% else %}{{': '}}{% endif %}{% for line in message['content'] %}{% if line['type'] == "
    "'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)


def test_another_familys_template_with_typed_content_renders_as_jinja2_does(make_server, tmp_path):
    """The same model with SmolVLM's template: rendered by the Jinja engine (not a native ChatML
    writer), the image given as a typed part; the answer matches the reference built with jinja2."""
    import shutil
    repo = tmp_path / "repo"
    shutil.copytree(VLM, repo / "vlm-tiny")
    cfg = json.load(open(repo / "vlm-tiny" / "tokenizer_config.json"))
    cfg["chat_template"] = SMOLVLM_TEMPLATE
    json.dump(cfg, open(repo / "vlm-tiny" / "tokenizer_config.json", "w"))
    s = make_server(repo=str(repo))
    image = noise_png(21)
    conv = [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is this?"}]}]
    ids, text, prompt_len = reference(s, image, conv, {"max_new_tokens": 12}, template=SMOLVLM_TEMPLATE)
    r = requests.post(s.url + "/v1/chat/completions", timeout=120, json={
        "model": "vlm-tiny", "max_tokens": 12,
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_uri(image)}},
                                                  {"type": "text", "text": "What is this?"}]}]})
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["choices"][0]["message"]["content"] == text
    assert body["usage"]["prompt_tokens"] == prompt_len
    assert body["usage"]["completion_tokens"] == len(ids)


def test_a_stop_string_ends_generation_early_not_just_the_text(server):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(VLM, "tokenizer.json"))
    conv = [{"role": "user", "content": "<image>\nDescribe this image."}]
    for seed in range(40, 60):  # an image whose answer runs all 40 tokens
        image = noise_png(seed)
        ids, full, _ = reference(server, image, conv, {"max_new_tokens": 40})
        if len(ids) == 40 and len(tok.decode(ids[:3], skip_special_tokens=True)) >= 2:
            break
    else:
        raise AssertionError("no 40-token answer among the seeds")
    head = tok.decode(ids[:3], skip_special_tokens=True)
    stop = head[-2:]
    before = server.metrics().get('sightline_generation_sequences_total{model="vlm-tiny.decoder",reason="stop"}', 0)
    r = describe(server, [image], max_new_tokens=40, stop=stop)
    assert r.status_code == 200, r.text
    item = r.json()["data"][0]
    assert item["text"] == full[:full.find(stop)]
    assert item["finish_reason"] == "stop"
    # The stop string is in the first 3 ids; usage counts the ids up to the one that completed it,
    # and the scheduler waits for the watcher, so this holds on a loaded machine too.
    assert item["usage"]["completion_tokens"] <= 3, "generation went on after the stop string"
    # Beams are cut at the end, not watched; usage still counts only the ids up to the stop.
    beam = describe(server, [image], max_new_tokens=40, stop=stop, num_beams=2).json()["data"][0]
    if stop in tok.decode(reference(server, image, conv, {"max_new_tokens": 40, "num_beams": 2,
                                                          "early_stopping": False})[0], skip_special_tokens=True):
        assert beam["finish_reason"] == "stop" and beam["usage"]["completion_tokens"] < 40, beam
    wait_until(lambda: server.metrics().get(
        'sightline_generation_sequences_total{model="vlm-tiny.decoder",reason="stop"}', 0) == before + 1,
        what="a sequence ended by its stop string")


def reason_count(server, reason):
    return server.metrics().get(f'sightline_generation_sequences_total{{model="vlm-tiny.decoder",reason="{reason}"}}', 0)


@pytest.fixture(scope="module")
def long_server(tmp_path_factory):
    """vlm-tiny answering at least 430 tokens (min_new_tokens in its generation_config.json), so a
    sequence is surely still running when the client goes away or its deadline passes."""
    import shutil
    from conftest import Server
    repo = tmp_path_factory.mktemp("long") / "repo"
    shutil.copytree(VLM, repo / "vlm-tiny")
    cfg = json.load(open(repo / "vlm-tiny" / "generation_config.json"))
    cfg.update(min_new_tokens=430, max_new_tokens=430)
    json.dump(cfg, open(repo / "vlm-tiny" / "generation_config.json", "w"))
    s = Server(repo=str(repo))
    yield s
    s.stop()


def test_a_client_hanging_up_mid_stream_frees_its_sequence(long_server):
    import socket
    server = long_server
    before = reason_count(server, "cancelled")
    body = json.dumps({"model": "vlm-tiny", "stream": True, "messages": [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_uri(noise_png(11))}}]}]})
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall((f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n{body}").encode())
    seen = b""
    while seen.count(b"data:") < 3:  # the role chunk and some text: generation is under way
        chunk = sock.recv(65536)
        assert chunk, seen
        seen += chunk
    sock.close()
    wait_until(lambda: reason_count(server, "cancelled") == before + 1, what="the sequence cancelled")
    wait_until(lambda: server.metrics()['sightline_generation_active_sequences{model="vlm-tiny.decoder"}'] == 0,
               what="no active sequences")
    assert server.metrics()['sightline_generation_kv_cache_bytes{model="vlm-tiny.decoder"}'] == 0
    assert reason_count(server, "length") == 0, "it did not run to its end"


def test_a_deadline_ends_generation_at_the_next_step(long_server):
    server = long_server
    image = noise_png(12)
    url = server.url + "/v1/caption?model=vlm-tiny"
    t0 = time.time()
    full = requests.post(url, data=image, headers={"Content-Type": "image/png"})
    assert full.status_code == 200 and full.json()["data"][0]["usage"]["completion_tokens"] == 430
    # A third of what the whole answer takes: the deadline passes during generation.
    budget_ms = max(5, int((time.time() - t0) * 1000 / 3))
    before = reason_count(server, "deadline_exceeded")
    r = requests.post(url, data=image, headers={"Content-Type": "image/png", "X-Request-Timeout-Ms": str(budget_ms)})
    # A many-image route answers each item: this one's error is the deadline.
    assert r.status_code == 200 and r.json()["failed"] == 1, r.text[:300]
    assert r.json()["data"][0]["error"]["code"] == "deadline_exceeded"
    wait_until(lambda: reason_count(server, "deadline_exceeded") == before + 1, what="the sequence ended by its deadline")


def test_kv_budget_and_context_length_are_honest_4xx(make_server, tmp_path):
    import shutil
    repo = tmp_path / "repo"
    shutil.copytree(VLM, repo / "vlm-tiny")
    # 1 MiB of cache: 4096 positions at this model's 256 bytes a position.
    json.dump({"generation": {"kv_cache_mb": 1}}, open(repo / "vlm-tiny" / "sightline.json", "w"))
    s = make_server(repo=str(repo))
    image = noise_png(13)
    ok = describe(s, [image], max_new_tokens=20)
    assert ok.status_code == 200, ok.text[:300]
    never = describe(s, [image], max_new_tokens=400, num_beams=10)
    # A many-image route answers each item: this one's error names the field and the budget.
    assert never.status_code == 200 and never.json()["failed"] == 1, never.text[:300]
    err = never.json()["data"][0]["error"]
    assert err["code"] == "invalid_argument"
    assert "max_new_tokens" in err["message"] and "1.2 MiB of KV cache" in err["message"], err
    assert "budget of 1.0 MiB" in err["message"], err
    long_prompt = describe(s, [image], prompt="describe " * 200, max_new_tokens=20)
    assert long_prompt.status_code == 400
    assert "prompt" in long_prompt.json()["error"]["message"]
    assert "context of 512 positions" in long_prompt.json()["error"]["message"]


def test_the_lm_head_runs_on_the_last_position_only_with_weights_beside_the_graph_too(server, make_server, tmp_path):
    """The decoder is loaded rewritten so its LM head runs on the last position only
    (runtime/last_position_logits.h): the model_loaded line says so, and the answer is the one the
    reference loop gives on the export as it is (test_descriptions_match_the_reference_loop_greedy_and_beam
    checks the same on the shared server). Here the decoder keeps its weights in an external-data
    file, as Optimum writes models over 2 GB: the rewritten graph, loaded from memory, still finds
    them. `generation.last_position_logits: false` keeps the export's graph, with the same answer."""
    import shutil
    import onnx
    repo = tmp_path / "repo"
    shutil.copytree(VLM, repo / "vlm-tiny", ignore=shutil.ignore_patterns(".sightline-optimized"))
    graph = repo / "vlm-tiny" / "onnx" / "decoder_model_merged.onnx"
    onnx.save_model(onnx.load(str(graph)), str(graph), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="decoder_model_merged.onnx_data")  # tensors over 1 KB, as Optimum writes them
    assert (graph.parent / "decoder_model_merged.onnx_data").stat().st_size > graph.stat().st_size
    image = noise_png(31)
    expected = describe(server, [image], max_new_tokens=12)
    assert expected.status_code == 200, expected.text[:300]
    for rewrite in (True, False):
        if not rewrite:
            json.dump({"generation": {"last_position_logits": False}}, open(repo / "vlm-tiny" / "sightline.json", "w"))
        s = make_server(repo=str(repo))
        wait_until(lambda: model_loaded_line(s, "vlm-tiny.decoder") is not None, what="the model_loaded log line")
        assert model_loaded_line(s, "vlm-tiny.decoder")["logits_last_position_only"] is rewrite
        r = describe(s, [image], max_new_tokens=12)
        assert r.status_code == 200, r.text[:300]
        assert r.json()["data"][0]["text"] == expected.json()["data"][0]["text"]
        s.stop()


def _subgraph_reads_the_lm_head(model):
    """An If whose branches read the LM head's MatMul output from the graph around them."""
    import onnx
    from onnx import TensorProto, helper
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    head = producer["logits"]
    while head.op_type != "MatMul":
        head = producer[head.input[0]]
    branch = lambda name: helper.make_graph(  # noqa: E731
        [helper.make_node("Identity", [head.output[0]], [name])], name, [],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None)])
    g.initializer.append(onnx.numpy_helper.from_array(np.array(True), "always"))
    g.node.append(helper.make_node("If", ["always"], ["aux"], then_branch=branch("aux_then"),
                                   else_branch=branch("aux_else")))
    g.output.append(helper.make_tensor_value_info("aux", TensorProto.FLOAT, None))


def _fixed_positions(model):
    """`logits` declared [batch, 7, vocab]: a graph that promises seven positions."""
    out = next(o for o in model.graph.output if o.name == "logits")
    out.type.tensor_type.shape.dim[1].Clear()
    out.type.tensor_type.shape.dim[1].dim_value = 7


@pytest.mark.parametrize("change", [_subgraph_reads_the_lm_head, _fixed_positions])
def test_graphs_the_rewrite_would_change_otherwise_load_as_they_are(server, make_server, tmp_path, change):
    """Where slicing the LM head's input would change more than `logits` (an If body reads the head's
    output) or break what the graph declares (a fixed positions axis), the export loads unchanged."""
    import shutil
    import onnx
    repo = tmp_path / "repo"
    shutil.copytree(VLM, repo / "vlm-tiny", ignore=shutil.ignore_patterns(".sightline-optimized"))
    graph = repo / "vlm-tiny" / "onnx" / "decoder_model_merged.onnx"
    model = onnx.load(str(graph))
    change(model)
    onnx.save(model, str(graph))
    s = make_server(repo=str(repo))
    wait_until(lambda: model_loaded_line(s, "vlm-tiny.decoder") is not None, what="the model_loaded log line")
    assert model_loaded_line(s, "vlm-tiny.decoder")["logits_last_position_only"] is False
    image = noise_png(32)
    r = describe(s, [image], max_new_tokens=8)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["data"][0]["text"] == describe(server, [image], max_new_tokens=8).json()["data"][0]["text"]
