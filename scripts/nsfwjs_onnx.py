"""nsfwjs's models (npm `nsfwjs`, MIT; Keras models saved as TF.js layers models: a model.json and
uint8-quantized weight shards, each wrapped in a browserify module) to ONNX, without TensorFlow:
node unwraps the modules, the weights are dequantized as TF.js does (q * scale + min), and the
Keras functional graph is written with the onnx package's helpers, layer by layer (Conv2D,
DepthwiseConv2D, BatchNormalization, ReLU with max_value, ZeroPadding2D, Add, pooling, Flatten,
Dense, Dropout, Activation, Concatenate; 'same' padding = auto_pad SAME_UPPER, as TF pads).

Input `input_1` float [N, 224, 224, 3] (MobileNetV2; InceptionV3 is 299) = RGB / 255, NHWC as
Keras takes it; output `dense_3` [N, 5] softmax over (Drawing, Hentai, Neutral, Porn, Sexy).
scripts/gen_nsfwjs_reference.py runs nsfwjs's own model in TF.js on the same tensors
(tests/data/nsfwjs_reference.json).

  .venv/bin/python scripts/nsfwjs_onnx.py node_modules/nsfwjs/dist/models/mobilenet_v2 model.onnx
"""
import base64
import json
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LABELS = ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"]

# Unwraps the browserify modules: model.min.js exports {modelTopology, weightsManifest}; each
# shard module exports its bytes as base64.
UNWRAP_JS = r"""
const fs = require('fs'), path = require('path');
const dir = process.argv[1];
const model = require(path.resolve(dir, 'model.min.js'));
const shards = {};
for (const group of model.weightsManifest)
  for (const p of group.paths) shards[p] = require(path.resolve(dir, p + '.min.js'));
process.stdout.write(JSON.stringify({model, shards}));
"""


def unwrap(folder):
    out = subprocess.run(["node", "-e", UNWRAP_JS, folder], check=True, capture_output=True).stdout
    d = json.loads(out)
    return d["model"], {k: base64.b64decode(v) for k, v in d["shards"].items()}


def read_weights(manifest, shards):
    """TF.js weights: each group's shards concatenated, then each entry in order; quantized entries
    are dequantized as tfjs-core's io.decodeWeights does (uint8/uint16: q * scale + min)."""
    out = {}
    for group in manifest:
        data = b"".join(shards[p] for p in group["paths"])
        at = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            q = w.get("quantization")
            if q:
                qt = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}[q["dtype"]]
                raw = np.frombuffer(data, dtype=qt, count=n, offset=at)
                at += n * np.dtype(qt).itemsize
                if q["dtype"] == "float16":
                    v = raw.astype(np.float32)
                else:
                    v = (raw.astype(np.float32) * np.float32(q["scale"]) + np.float32(q["min"])).astype(np.float32)
            else:
                assert w["dtype"] == "float32", w
                v = np.frombuffer(data, dtype=np.float32, count=n, offset=at).copy()
                at += n * 4
            out[w["name"]] = v.reshape(w["shape"])
    return out


def convert(model, shards):
    topo = model["modelTopology"]
    cfg = topo["model_config"]["config"] if "model_config" in topo else topo["config"]
    weights = read_weights(model["weightsManifest"], shards)
    nodes, inits, inputs = [], [], []
    nchw = {}  # Keras tensor name -> ONNX name of the same tensor in NCHW (4-D) or as is (2-D)

    def init(name, array):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def weight(layer, key):
        return weights[f"{layer}/{key}"]

    def activation(x, kind, name):
        if kind in ("linear", None):
            return x
        op = {"relu": "Relu", "softmax": "Softmax", "sigmoid": "Sigmoid", "tanh": "Tanh"}[kind]
        attrs = {"axis": -1} if op == "Softmax" else {}
        nodes.append(helper.make_node(op, [x], [name + "_" + kind], **attrs))
        return name + "_" + kind

    def conv(layer, c, x, depthwise):
        name = layer["name"]
        if depthwise:
            k = weight(name, "depthwise_kernel")  # [kh, kw, in, multiplier]
            kh, kw, cin, mult = k.shape
            w = k.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
            group = cin
        else:
            k = weight(name, "kernel")  # [kh, kw, in, out]
            w = k.transpose(3, 2, 0, 1)
            group = 1
        args = [x, init(name + "/W", w)]
        if c.get("use_bias", True):
            args.append(init(name + "/B", weight(name, "bias")))
        pad = {"auto_pad": "SAME_UPPER"} if c["padding"] == "same" else {"pads": [0, 0, 0, 0]}
        nodes.append(helper.make_node("Conv", args, [name], strides=c["strides"], dilations=c["dilation_rate"],
                                      group=group, kernel_shape=list(w.shape[2:]), **pad))
        return activation(name, c.get("activation"), name)

    for layer in cfg["layers"]:
        kind, c, name = layer["class_name"], layer["config"], layer["name"]
        srcs = [nchw[i[0]] for node in layer["inbound_nodes"] for i in node]
        if kind == "InputLayer":
            shape = c["batch_input_shape"]
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N"] + shape[1:]))
            nodes.append(helper.make_node("Transpose", [name], [name + "_nchw"], perm=[0, 3, 1, 2]))
            nchw[name] = name + "_nchw"
            continue
        x = srcs[0] if srcs else None
        if kind == "ZeroPadding2D":
            (t, b), (l, r) = c["padding"]
            pads = numpy_helper.from_array(np.array([0, 0, t, l, 0, 0, b, r], dtype=np.int64), name + "/pads")
            inits.append(pads)
            nodes.append(helper.make_node("Pad", [x, name + "/pads"], [name]))
            out = name
        elif kind == "Conv2D":
            out = conv(layer, c, x, depthwise=False)
        elif kind == "DepthwiseConv2D":
            out = conv(layer, c, x, depthwise=True)
        elif kind == "BatchNormalization":
            ch = weight(name, "moving_mean").shape[0]
            gamma = weight(name, "gamma") if c.get("scale", True) else np.ones(ch, np.float32)
            beta = weight(name, "beta") if c.get("center", True) else np.zeros(ch, np.float32)
            nodes.append(helper.make_node(
                "BatchNormalization",
                [x, init(name + "/gamma", gamma), init(name + "/beta", beta),
                 init(name + "/mean", weight(name, "moving_mean")), init(name + "/var", weight(name, "moving_variance"))],
                [name], epsilon=float(c["epsilon"])))
            out = name
        elif kind == "ReLU":
            assert not c.get("negative_slope") and not c.get("threshold"), c
            if c.get("max_value") is not None:
                nodes.append(helper.make_node("Clip", [x, init(name + "/lo", np.array(0.0)),
                                                       init(name + "/hi", np.array(float(c["max_value"])))], [name]))
            else:
                nodes.append(helper.make_node("Relu", [x], [name]))
            out = name
        elif kind == "Activation":
            out = activation(x, c["activation"], name)
        elif kind == "Add":
            nodes.append(helper.make_node("Sum", srcs, [name]))
            out = name
        elif kind == "Concatenate":
            nodes.append(helper.make_node("Concat", srcs, [name], axis=1 if c["axis"] in (-1, 3) else c["axis"]))
            out = name
        elif kind in ("AveragePooling2D", "MaxPooling2D"):
            op = "AveragePool" if kind == "AveragePooling2D" else "MaxPool"
            pad = {"auto_pad": "SAME_UPPER"} if c["padding"] == "same" else {}
            attrs = {"count_include_pad": 0} if op == "AveragePool" else {}
            nodes.append(helper.make_node(op, [x], [name], kernel_shape=c["pool_size"], strides=c["strides"],
                                          **pad, **attrs))
            out = name
        elif kind == "GlobalAveragePooling2D":
            nodes.append(helper.make_node("GlobalAveragePool", [x], [name + "_4d"]))
            nodes.append(helper.make_node("Flatten", [name + "_4d"], [name], axis=1))
            out = name
        elif kind == "Flatten":
            # Keras flattens NHWC: back to channels-last first, so the order matches Dense's kernel.
            nodes.append(helper.make_node("Transpose", [x], [name + "_nhwc"], perm=[0, 2, 3, 1]))
            nodes.append(helper.make_node("Flatten", [name + "_nhwc"], [name], axis=1))
            out = name
        elif kind == "Dropout":
            out = x  # inference: identity
        elif kind == "Dense":
            nodes.append(helper.make_node("Gemm", [x, init(name + "/kernel", weight(name, "kernel")),
                                                   init(name + "/bias", weight(name, "bias"))], [name + "_linear"]))
            out = activation(name + "_linear", c.get("activation"), name + "_linear")
            if out == name + "_linear":
                nodes.append(helper.make_node("Identity", [out], [name]))
                out = name
        else:
            raise ValueError(f"layer {name}: {kind} is not supported by this converter")
        nchw[name] = out
    (output_layer, _, _), = cfg["output_layers"]
    final = nchw[output_layer]
    if final != output_layer:
        nodes.append(helper.make_node("Identity", [final], [output_layer]))
    graph = helper.make_graph(nodes, "nsfwjs", inputs,
                              [helper.make_tensor_value_info(output_layer, TensorProto.FLOAT, ["N", len(LABELS)])],
                              inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="sightline nsfwjs_onnx")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def main():
    folder, out = sys.argv[1], sys.argv[2]
    model, shards = unwrap(folder)
    onnx.save(convert(model, shards), out)
    print(f"nsfwjs: {folder} -> {out}")


if __name__ == "__main__":
    main()
