#!/usr/bin/env python3
"""Generates the tiny ONNX fixture models used by tests and benchmarks.

Each model is a folder `<out>/<name>/model.onnx` (+ optional sightline.json), exactly the model
repository layout the server reads. Weights are seeded, so every run writes identical files.

  simple        INPUT0, INPUT1 FP32 [-1,16] -> OUTPUT0 = a+b, OUTPUT1 = a-b (dynamic batch)
  simple_fixed  the same with the batch dim fixed at 1 (served through instances)
  dtypes        one input per datatype (UINT8, INT32, INT64, FP16, FP64, BOOL) with simple math
  strings       BYTES in, BYTES out (identity)
  convnet       [-1,3,64,64] -> two conv+relu, global pool, dense -> logits [-1,10]; also takes
                encoded images (image_input: stretch to 64x64, (x/255 - 0.5) / 0.25)
  slow          [-1,4] -> OUTPUT0 = 2x, with ~tens of ms of matmul work per call and a short queue
  matte         ISNet's layout at 64x64 (input [1,3,64,64] -> output [1,1,64,64]) with a fixed rule:
                foreground = red, background = blue; task background_removal
  matte_adaptive  the matte rule with ~100 ms of extra work (model.onnx) and without it
                (model_fast.onnx, the adaptive-quality fallback variant)
  cnn224        [-1,3,224,224] -> four strided 3x3 conv+relu, global pool, dense -> logits [-1,1000]:
                a small image classifier (~0.4 GFLOP per image) for the server-overhead benchmark
"""
import argparse
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]


def save(out, name, graph, config=None):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="sightline-fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(d, "model.onnx"))
    cfg_path = os.path.join(d, "sightline.json")
    if config is not None:
        with open(cfg_path, "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
    elif os.path.exists(cfg_path):
        os.remove(cfg_path)


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def simple(out, name, batch):
    g = helper.make_graph(
        [helper.make_node("Add", ["INPUT0", "INPUT1"], ["OUTPUT0"]),
         helper.make_node("Sub", ["INPUT0", "INPUT1"], ["OUTPUT1"])],
        name,
        [vi("INPUT0", TensorProto.FLOAT, [batch, 16]), vi("INPUT1", TensorProto.FLOAT, [batch, 16])],
        [vi("OUTPUT0", TensorProto.FLOAT, [batch, 16]), vi("OUTPUT1", TensorProto.FLOAT, [batch, 16])])
    return g


def dtypes(out):
    c = lambda n, arr: numpy_helper.from_array(np.array(arr), n)
    nodes = [
        helper.make_node("Cast", ["U8"], ["u8_i32"], to=TensorProto.INT32),
        helper.make_node("Mul", ["u8_i32", "two_i32"], ["U8_DOUBLED"]),
        helper.make_node("Add", ["I32", "one_i32"], ["I32_PLUS1"]),
        helper.make_node("Neg", ["I64"], ["I64_NEG"]),
        helper.make_node("Cast", ["F16"], ["f16_f32"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["f16_f32", "two_f32"], ["f16_x2"]),
        helper.make_node("Cast", ["f16_x2"], ["F16_TWICE"], to=TensorProto.FLOAT16),
        helper.make_node("Mul", ["F64", "F64"], ["F64_SQUARED"]),
        helper.make_node("Not", ["B"], ["B_NOT"]),
    ]
    inits = [c("two_i32", np.int32(2)), c("one_i32", np.int32(1)), c("two_f32", np.float32(2))]
    ins = [vi("U8", TensorProto.UINT8, [-1, 4]), vi("I32", TensorProto.INT32, [-1, 4]),
           vi("I64", TensorProto.INT64, [-1, 4]), vi("F16", TensorProto.FLOAT16, [-1, 4]),
           vi("F64", TensorProto.DOUBLE, [-1, 4]), vi("B", TensorProto.BOOL, [-1, 4])]
    outs = [vi("U8_DOUBLED", TensorProto.INT32, [-1, 4]), vi("I32_PLUS1", TensorProto.INT32, [-1, 4]),
            vi("I64_NEG", TensorProto.INT64, [-1, 4]), vi("F16_TWICE", TensorProto.FLOAT16, [-1, 4]),
            vi("F64_SQUARED", TensorProto.DOUBLE, [-1, 4]), vi("B_NOT", TensorProto.BOOL, [-1, 4])]
    # ONNX wants -1-free symbolic dims: name them.
    for v in ins + outs:
        v.type.tensor_type.shape.dim[0].dim_param = "batch"
    save(out, "dtypes", helper.make_graph(nodes, "dtypes", ins, outs, inits))


def strings(out):
    ins = [vi("TEXT", TensorProto.STRING, ["batch", 1])]
    outs = [vi("TEXT_OUT", TensorProto.STRING, ["batch", 1])]
    save(out, "strings", helper.make_graph([helper.make_node("Identity", ["TEXT"], ["TEXT_OUT"])],
                                           "strings", ins, outs))


def convnet(out):
    rng = np.random.default_rng(7)
    w1 = (rng.standard_normal((16, 3, 3, 3)) * 0.2).astype(np.float32)
    b1 = (rng.standard_normal(16) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((32, 16, 3, 3)) * 0.1).astype(np.float32)
    b2 = (rng.standard_normal(32) * 0.1).astype(np.float32)
    wd = (rng.standard_normal((32, 10)) * 0.3).astype(np.float32)
    bd = (rng.standard_normal(10) * 0.1).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["gp"]),
        helper.make_node("Flatten", ["gp"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "wd", "bd"], ["logits"]),
    ]
    inits = [numpy_helper.from_array(a, n) for n, a in
             [("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2), ("wd", wd), ("bd", bd)]]
    g = helper.make_graph(nodes, "convnet", [vi("input", TensorProto.FLOAT, ["batch", 3, 64, 64])],
                          [vi("logits", TensorProto.FLOAT, ["batch", 10])], inits)
    # image_input: clients may also send encoded images (KServe BYTES) for `input`.
    save(out, "convnet", g, {"max_batch_size": 16,
                             "dynamic_batching": {"max_queue_delay_microseconds": 1000,
                                                  "preferred_batch_size": [8, 16]},
                             "image_input": {"input": "input", "resize": "stretch", "scale": 1 / 255,
                                             "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}})


def cnn224(out):
    rng = np.random.default_rng(13)
    nodes, inits, prev, cin = [], [], "input", 3
    for i, cout in enumerate([32, 64, 128, 256]):
        w = (rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2.0 / (cin * 9))).astype(np.float32)
        b = np.zeros(cout, np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes += [helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], strides=[2, 2], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        prev, cin = f"r{i}", cout
    wd = (rng.standard_normal((256, 1000)) * 0.05).astype(np.float32)
    inits += [numpy_helper.from_array(wd, "wd"), numpy_helper.from_array(np.zeros(1000, np.float32), "bd")]
    nodes += [helper.make_node("GlobalAveragePool", [prev], ["gp"]),
              helper.make_node("Flatten", ["gp"], ["flat"], axis=1),
              helper.make_node("Gemm", ["flat", "wd", "bd"], ["logits"])]
    g = helper.make_graph(nodes, "cnn224", [vi("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
                          [vi("logits", TensorProto.FLOAT, ["batch", 1000])], inits)
    save(out, "cnn224", g, {"max_batch_size": 8,
                            "dynamic_batching": {"max_queue_delay_microseconds": 2000, "preferred_batch_size": [8]}})


def slow(out):
    # A [256,256] matrix built from the input (so ORT cannot fold it at load), multiplied by
    # itself N times with tanh in between; OUTPUT0 = 2x + 0 * mean(work) keeps the work live.
    rng = np.random.default_rng(11)
    base = (rng.standard_normal((256, 256)) * 0.05).astype(np.float32)
    nodes = [helper.make_node("ReduceMean", ["INPUT0"], ["m"], keepdims=0),
             helper.make_node("Add", ["base", "m"], ["w0"])]
    prev = "w0"
    for i in range(200):
        nodes.append(helper.make_node("MatMul", [prev, prev], [f"mm{i}"]))
        nodes.append(helper.make_node("Tanh", [f"mm{i}"], [f"t{i}"]))
        prev = f"t{i}"
    nodes += [helper.make_node("ReduceMean", [prev], ["work"], keepdims=0),
              helper.make_node("Mul", ["work", "zero"], ["nothing"]),
              helper.make_node("Mul", ["INPUT0", "two"], ["x2"]),
              helper.make_node("Add", ["x2", "nothing"], ["OUTPUT0"])]
    inits = [numpy_helper.from_array(base, "base"), numpy_helper.from_array(np.float32(0), "zero"),
             numpy_helper.from_array(np.float32(2), "two")]
    g = helper.make_graph(nodes, "slow", [vi("INPUT0", TensorProto.FLOAT, ["batch", 4])],
                          [vi("OUTPUT0", TensorProto.FLOAT, ["batch", 4])], inits)
    save(out, "slow", g, {"max_batch_size": 4,
                          "dynamic_batching": {"max_queue_delay_microseconds": 2000,
                                               "default_queue_policy": {"max_queue_size": 8}},
                          "optimization": {"intra_op_threads": 1}})


def matte(out):
    # A stand-in for ISNet with its tensor names and layout ([1,3,S,S] `input` -> [1,1,S,S]
    # `output`, batch fixed at 1, (x-128)/256 normalisation) at 64x64: foreground probability =
    # sigmoid(40 * (red - blue)), so reddish pixels are foreground and bluish ones background.
    # Tests draw scenes with a known red foreground and check the mask against it.
    nodes = [
        helper.make_node("Slice", ["input", "r0", "r1", "axis"], ["red"]),
        helper.make_node("Slice", ["input", "b0", "b1", "axis"], ["blue"]),
        helper.make_node("Sub", ["red", "blue"], ["diff"]),
        helper.make_node("Mul", ["diff", "gain"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["output"]),
    ]
    c = lambda n, a: numpy_helper.from_array(np.array(a, dtype=np.int64 if n != "gain" else np.float32), n)
    inits = [c("r0", [0]), c("r1", [1]), c("b0", [2]), c("b1", [3]), c("axis", [1]), c("gain", 40.0)]
    g = helper.make_graph(nodes, "matte", [vi("input", TensorProto.FLOAT, [1, 3, 64, 64])],
                          [vi("output", TensorProto.FLOAT, [1, 1, 64, 64])], inits)
    save(out, "matte", g, {"task": "background_removal", "max_batch_size": 0,
                           "image_input": {"input": "input", "resize": "stretch", "scale": 1.0,
                                           "mean": [128, 128, 128], "std": [256, 256, 256]}})


def matte_adaptive(out):
    # Adaptive quality: the configured variant (model.onnx) is the matte rule plus ~100 ms of
    # matmul work; the fallback (model_fast.onnx) is the bare rule. Under a queue, requests move
    # to the fast one and say so.
    def graph(slow_steps):
        nodes = [
            helper.make_node("Slice", ["input", "r0", "r1", "axis"], ["red"]),
            helper.make_node("Slice", ["input", "b0", "b1", "axis"], ["blue"]),
            helper.make_node("Sub", ["red", "blue"], ["diff"]),
            helper.make_node("Mul", ["diff", "gain"], ["logit0"]),
        ]
        c = lambda n, a, t=np.int64: numpy_helper.from_array(np.array(a, dtype=t), n)
        inits = [c("r0", [0]), c("r1", [1]), c("b0", [2]), c("b1", [3]), c("axis", [1]),
                 c("gain", 40.0, np.float32)]
        if slow_steps:
            rng = np.random.default_rng(5)
            inits += [numpy_helper.from_array((rng.standard_normal((256, 256)) * 0.05).astype(np.float32), "base"),
                      c("zero", 0.0, np.float32)]
            nodes += [helper.make_node("ReduceMean", ["input"], ["m"], keepdims=0),
                      helper.make_node("Add", ["base", "m"], ["w0"])]
            prev = "w0"
            for i in range(slow_steps):
                nodes += [helper.make_node("MatMul", [prev, prev], [f"mm{i}"]),
                          helper.make_node("Tanh", [f"mm{i}"], [f"t{i}"])]
                prev = f"t{i}"
            nodes += [helper.make_node("ReduceMean", [prev], ["work"], keepdims=0),
                      helper.make_node("Mul", ["work", "zero"], ["nothing"]),
                      helper.make_node("Add", ["logit0", "nothing"], ["logit"])]
        else:
            nodes.append(helper.make_node("Identity", ["logit0"], ["logit"]))
        nodes.append(helper.make_node("Sigmoid", ["logit"], ["output"]))
        return helper.make_graph(nodes, "matte_adaptive", [vi("input", TensorProto.FLOAT, [1, 3, 64, 64])],
                                 [vi("output", TensorProto.FLOAT, [1, 1, 64, 64])], inits)
    save(out, "matte_adaptive", graph(400), {
        "task": "background_removal", "max_batch_size": 0, "instance_group": {"count": 1},
        "optimization": {"intra_op_threads": 1},
        "adaptive_quality": {"fallback_variant": "fast", "switch_wait_ms": 20, "restore_wait_ms": 5},
        "image_input": {"input": "input", "resize": "stretch", "scale": 1.0,
                        "mean": [128, 128, 128], "std": [256, 256, 256]}})
    fast = helper.make_model(graph(0), opset_imports=OPSET, producer_name="sightline-fixtures")
    fast.ir_version = 8
    onnx.checker.check_model(fast)
    onnx.save(fast, os.path.join(out, "matte_adaptive", "model_fast.onnx"))


def lookup(out):
    # Two embedding lookups, for the poison-request tests (issue 11, field report 3):
    #   IDS [batch, 4] -> Cast -> Gather over an initializer table of 50 rows -> EMB [batch, 4, 3]:
    #     the server reads the table's size from the graph and refuses out-of-range ids per request;
    #   CODES [batch, 2] -> Gather over a Constant node's 10 rows -> CODE_EMB [batch, 2, 3]: not an
    #     initializer, so only ONNX Runtime finds a bad code, failing the whole batched run, which
    #     the batcher then re-runs in halves so only the culprit fails.
    # A batch forms only when full (6 requests; the window is 10 s, the most a config may set), so the tests batch six
    # requests together deterministically.
    table = numpy_helper.from_array(np.arange(150, dtype=np.float32).reshape(50, 3), "table")
    codes = helper.make_tensor("codes_value", TensorProto.FLOAT, [10, 3], (np.arange(30) * -1.0).tolist())
    nodes = [helper.make_node("Cast", ["IDS"], ["ids32"], to=TensorProto.INT32),
             helper.make_node("Gather", ["table", "ids32"], ["EMB"], axis=0),
             helper.make_node("Constant", [], ["code_table"], value=codes),
             helper.make_node("Gather", ["code_table", "CODES"], ["CODE_EMB"], axis=0)]
    g = helper.make_graph(nodes, "lookup",
                          [vi("IDS", TensorProto.INT64, ["batch", 4]), vi("CODES", TensorProto.INT64, ["batch", 2])],
                          [vi("EMB", TensorProto.FLOAT, ["batch", 4, 3]),
                           vi("CODE_EMB", TensorProto.FLOAT, ["batch", 2, 3])], [table])
    save(out, "lookup", g, {"max_batch_size": 6,
                            "dynamic_batching": {"max_queue_delay_microseconds": 10_000_000}})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="model repository folder to write")
    ap.add_argument("--bench", action="store_true", help="also write the benchmark-only models")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    g = simple(args.out, "simple", "batch")
    save(args.out, "simple", g, {"max_batch_size": 8,
                                 "dynamic_batching": {"max_queue_delay_microseconds": 5000}})
    save(args.out, "simple_fixed", simple(args.out, "simple_fixed", 1))
    dtypes(args.out)
    strings(args.out)
    convnet(args.out)
    slow(args.out)
    matte(args.out)
    matte_adaptive(args.out)
    lookup(args.out)
    if args.bench:
        cnn224(args.out)
    print(f"fixtures written to {args.out}")


if __name__ == "__main__":
    main()
