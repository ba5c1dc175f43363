#!/usr/bin/env python3
"""Chat-template references for the C++ renderer (src/text/chat_template.h): each template rendered
by jinja2 exactly as transformers' apply_chat_template renders it (an ImmutableSandboxedEnvironment
with trim_blocks and lstrip_blocks, loop controls, `raise_exception`, a `tojson` that keeps
non-ASCII, `strftime_now`, tools=None and documents=None, the BOS/EOS tokens), over a few
conversations. tests/unit/text/chat_template_test.cc renders the same and must match byte for byte.

Templates: the real ones llama.cpp collects (third_party/minja/templates, from the llama-cpp-python
sdist that scripts/fetch_minja.sh fetches: Llama 3.x, Gemma 2, Phi-3.5, Mistral, Qwen 2.5/3,
Granite, DeepSeek R1, Command R...), plus SmolVLM-Instruct's, which walks typed content parts.

  .venv/bin/python scripts/gen_chat_template_refs.py --templates third_party/minja/templates \
      --out build/fixtures/tokenizers/chat_templates

Writes <out>/refs.json: {"now": unix seconds, "cases": [{"name", "template", "bos_token",
"eos_token", "typed_content", "renders": [{"messages", "add_generation_prompt", "text" | "error"}]}]}.
"""
import argparse
import datetime
import json
import os

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

# 2024-07-26 12:00 UTC: fixed, so templates that print today's date (Llama 3.2) render the same.
NOW = 1721995200

# HuggingFaceTB/SmolVLM-Instruct's chat_template (tokenizer_config.json): typed content parts,
# images written as '<image>'.
SMOLVLM = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content'][0]['type'] "
    "== 'image' %}{{':'}}{% else %}{{': '}}{% endif %}{% for line in message['content'] %}{% if line['type'] == "
    "'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

# (role, text, image) turns; the image's placeholder for string-content templates is IMAGE_TEXT.
IMAGE_TEXT = "<image>\n"
CONVERSATIONS = [
    ([("user", "Describe this image.", True)], True),
    ([("system", "You are terse.", False), ("user", "Hello", False)], True),
    ([("user", "Hi", False), ("assistant", "Hello! How can I help?", False), ("user", "Describe it", True)], True),
    ([("user", "Hi", False), ("assistant", "Hello! How can I help?", False)], False),
    ([("user", "Ünïcödé ☃ 日本語 \"quotes\" and\nnewlines", True)], True),
]

# Special tokens by family (what each model's tokenizer_config.json gives), for bos/eos_token.
TOKENS = {
    "meta-llama": ("<|begin_of_text|>", "<|eot_id|>"),
    "NousResearch": ("<|begin_of_text|>", "<|eot_id|>"),
    "fireworks": ("<|begin_of_text|>", "<|eot_id|>"),
    "deepseek": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "google-gemma": ("<bos>", "<eos>"),
    "mistralai": ("<s>", "</s>"),
    "unsloth-mistral": ("<s>", "</s>"),
    "Mistral": ("<s>", "</s>"),
    "microsoft": ("<s>", "<|endoftext|>"),
}


def environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.datetime.fromtimestamp(NOW).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def messages_for(turns, typed):
    out = []
    for role, text, image in turns:
        if typed:
            content = ([{"type": "image"}] if image else []) + [{"type": "text", "text": text}]
        else:
            content = (IMAGE_TEXT if image else "") + text
        out.append({"role": role, "content": content})
    return out


def render(template, messages, add_generation_prompt, bos, eos):
    return template.render(messages=messages, tools=None, documents=None, add_generation_prompt=add_generation_prompt,
                           bos_token=bos, eos_token=eos)


def try_render(template, messages, bos, eos):
    try:
        return render(template, messages, False, bos, eos)
    except Exception:
        return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--templates", required=True, help="folder of *.jinja (third_party/minja/templates)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    env = environment()
    sources = {"HuggingFaceTB-SmolVLM-Instruct": SMOLVLM}
    for f in sorted(os.listdir(a.templates)):
        if f.endswith(".jinja"):
            with open(os.path.join(a.templates, f), encoding="utf-8") as fh:
                sources[f[: -len(".jinja")]] = fh.read()
    cases = []
    for name, source in sources.items():
        bos, eos = next((v for k, v in TOKENS.items() if name.startswith(k)), ("<s>", "</s>"))
        template = env.from_string(source)
        # The same probe the C++ side makes: typed content when the text survives only as a part.
        needle = "<User Needle>"
        as_string = needle in try_render(template, [{"role": "user", "content": needle}], bos, eos)
        as_parts = needle in try_render(template, [{"role": "user", "content": [{"type": "text", "text": needle}]}],
                                        bos, eos)
        typed = not as_string and as_parts
        renders = []
        for turns, agp in CONVERSATIONS:
            messages = messages_for(turns, typed)
            r = {"turns": [{"role": t[0], "text": t[1], "image": t[2]} for t in turns], "add_generation_prompt": agp}
            try:
                r["text"] = render(template, messages, agp, bos, eos)
            except Exception as e:  # the template refuses the conversation (raise_exception)
                r["error"] = str(e)
            renders.append(r)
        cases.append({"name": name, "template": source, "bos_token": bos, "eos_token": eos, "typed_content": typed,
                      "renders": renders})
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "refs.json"), "w", encoding="utf-8") as f:
        json.dump({"now": NOW, "image_text": IMAGE_TEXT, "cases": cases}, f, ensure_ascii=False, indent=1)
    print(f"{len(cases)} templates, {sum(len(c['renders']) for c in cases)} renders -> {a.out}/refs.json")


if __name__ == "__main__":
    main()
