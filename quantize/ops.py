"""Which ops each quantization mode touches, and which ops each deployment target can run.

Targets: ``cpu`` and ``rpi`` run native ONNX Runtime's CPU kernels (x86-64 / aarch64 MLAS), so a
model that loads here loads there. ``wasm`` runs onnxruntime-web's CPU kernels compiled to
WebAssembly, which lacks a few kernels native builds have; a model holding one of them fails at
session creation in the browser, so it must never reach the bundle.
"""

from __future__ import annotations

from collections import Counter

# quantize_dynamic: weights int8 ahead of time, activations quantized on the fly. LSTM becomes
# DynamicQuantizeLSTM; GRU has no dynamically quantized kernel in ONNX Runtime, so it stays fp32.
DYNAMIC_OPS = ("MatMul", "Gemm", "LSTM", "Attention", "Gather")
# quantize_static (QDQ): calibrated activation ranges; the form for convolutions, because the
# dynamic path would emit ConvInteger (see WASM_UNSUPPORTED).
STATIC_OPS = ("Conv", "MatMul", "Gemm", "Gather")
CONV_OPS = ("Conv", "ConvTranspose")

# op -> why the target cannot run it. Sources: onnxruntime issues #12558 / #15888 (native CPU has
# only a uint8 x uint8 ConvInteger; the int8-weight form quantize_dynamic writes has no kernel)
# and the onnxruntime-web operator list (2024-2026: no ConvInteger in the wasm build).
WASM_UNSUPPORTED = {
    "ConvInteger": "onnxruntime-web has no ConvInteger kernel; quantize convolutions statically (QDQ)",
}
NATIVE_UNSUPPORTED = {
    "ConvInteger": "ONNX Runtime CPU implements ConvInteger for uint8 weights only; use static QDQ",
}
TARGET_UNSUPPORTED = {"cpu": NATIVE_UNSUPPORTED, "rpi": NATIVE_UNSUPPORTED, "wasm": WASM_UNSUPPORTED}
TARGETS = tuple(TARGET_UNSUPPORTED)


def op_counts(model) -> Counter:
    return Counter(node.op_type for node in model.graph.node)


def unsupported_ops(model, target: str) -> dict[str, str]:
    """{op: reason} for ops in ``model`` that ``target`` cannot run."""
    table = TARGET_UNSUPPORTED[target]
    return {op: table[op] for op in sorted(op_counts(model)) if op in table}


def choose_mode(model) -> str:
    """'static' when the graph convolves (QDQ runs everywhere), else 'dynamic'.

    Dynamic needs no calibration data and measured better or equal here for the recurrent and
    Transformer samples; convolutions have no dynamic form that every target can run.
    """
    ops = op_counts(model)
    return "static" if any(ops[op] for op in CONV_OPS) else "dynamic"
