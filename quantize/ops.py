"""Which ops each quantization mode touches, and which ops each deployment target can run.

Targets: ``cpu`` runs this machine's ONNX Runtime; ``rpi`` runs native aarch64 ONNX Runtime of
possibly an older version; ``wasm`` runs onnxruntime-web's CPU kernels compiled to WebAssembly. A
model holding an op its target lacks fails at session creation there, so it must never ship to it.
"""

from __future__ import annotations

from collections import Counter

# quantize_dynamic: weights int8 ahead of time, activations quantized on the fly. LSTM becomes
# DynamicQuantizeLSTM; GRU has no dynamically quantized kernel in ONNX Runtime, so it stays fp32.
DYNAMIC_OPS = ("MatMul", "Gemm", "LSTM", "Attention", "Gather")
# quantize_static (QDQ): calibrated activation ranges; the form for convolutions, because the
# dynamic path would emit ConvInteger (see RPI_UNSUPPORTED).
STATIC_OPS = ("Conv", "MatMul", "Gemm", "Gather")
CONV_OPS = ("Conv", "ConvTranspose")

# op -> why the target cannot run it (known gaps, checked before anything runs; for wasm the
# probe in wasm_probe.py then loads the model in the pinned onnxruntime-web itself).
# ConvInteger with int8 weights -- what quantize_dynamic writes for Conv -- had only a uint8 x uint8
# kernel until microsoft/onnxruntime#26585 (merged 2025-11; issues #12558, #15888). Measured
# 2026-11: onnxruntime 1.31 (native) and onnxruntime-web 1.30 (wasm) both run it and agree to 6e-8,
# but the rpi target may pin an older onnxruntime (design.md: 1.22-1.27 under qemu), so
# convolutions are quantized statically (QDQ), which every version runs.
NATIVE_UNSUPPORTED: dict[str, str] = {}
RPI_UNSUPPORTED = {
    "ConvInteger": "onnxruntime before #26585 (2025-11) has no int8-weight ConvInteger kernel; the rpi "
                   "package may pin an older onnxruntime -- quantize convolutions statically (QDQ)",
}
WASM_UNSUPPORTED: dict[str, str] = {}
TARGET_UNSUPPORTED = {"cpu": NATIVE_UNSUPPORTED, "rpi": RPI_UNSUPPORTED, "wasm": WASM_UNSUPPORTED}
TARGETS = tuple(TARGET_UNSUPPORTED)


def op_counts(model) -> Counter:
    return Counter(node.op_type for node in model.graph.node)


# An embedding table smaller than this stays fp32. An int8 table is read by Gather and then a
# DequantizeLinear node on every call: on the sample LSTM (367 x 64 table) that node cost 5.5 us of a
# 41 us batch-1 call (13%, 2-core x86, ORT 1.31, same-run interleaved) to save 70 kB; a table
# above 1 MiB (e.g. a BERT vocabulary, 47 MB on MiniLM) saves at least 0.75 MiB, which is what an
# int8 Gather is for. Small position / token-type tables of encoders stay fp32 too (same reason).
SMALL_TABLE_BYTES = 1 << 20


def _graph_of(src):
    """``src`` as a ModelProto: a path is loaded without its external data (only shapes are read)."""
    import onnx

    return src if isinstance(src, onnx.ModelProto) else onnx.load(str(src), load_external_data=False)


def numel(init) -> int:
    """Elements of an initializer (a scalar has no dims: 1)."""
    n = 1
    for d in init.dims:
        n *= d
    return n


def _initializer_sizes(model) -> dict[str, tuple[int, int]]:
    """initializer name -> (element count, ONNX data type)."""
    return {init.name: (numel(init), init.data_type) for init in model.graph.initializer}


def small_tables(src) -> list[str]:
    """Names of the Gather nodes in ``src`` (an ONNX file or a loaded model) whose table (a constant
    input 0) holds fewer than SMALL_TABLE_BYTES of fp32: the quantizers leave them fp32."""
    from onnx import TensorProto

    model = _graph_of(src)
    sizes = {name: 4 * n for name, (n, dtype) in _initializer_sizes(model).items() if dtype == TensorProto.FLOAT}
    return [node.name for node in model.graph.node
            if node.op_type == "Gather" and node.input and sizes.get(node.input[0], SMALL_TABLE_BYTES) < SMALL_TABLE_BYTES]


# A MatMul/Gemm with fewer constant weights than this (a classifier's output layer: hidden x labels)
# stays fp32 in dynamic INT8. Quantizing it wraps one tiny product in five nodes (DynamicQuantizeLinear,
# MatMulInteger, Cast, two Muls) that cost more than the product: the sample LSTM's 128 x 3 head took
# 5.7 us of a 41 us batch-1 call that way (2-core x86, ORT 1.31), to save 1.1 kB. 1,024 keeps the zoo
# Transformer's 32 x 32 projections (the smallest hidden layers here) quantized.
SMALL_MATRIX_WEIGHTS = 1024


def small_matrices(src) -> list[str]:
    """Names of the MatMul/Gemm nodes in ``src`` (a file or a loaded model) whose constant weight (input 1) has fewer than
    SMALL_MATRIX_WEIGHTS elements -- unless they are all the model's quantizable matrices and it
    has no other op dynamic INT8 would quantize (then INT8 would have nothing left to do)."""
    model = _graph_of(src)
    sizes = {name: n for name, (n, _dtype) in _initializer_sizes(model).items()}
    small, other = [], 0
    for node in model.graph.node:
        if node.op_type in ("MatMul", "Gemm") and len(node.input) > 1 and node.input[1] in sizes:
            if sizes[node.input[1]] < SMALL_MATRIX_WEIGHTS:
                small.append(node.name)
            else:
                other += 1
        elif node.op_type in ("LSTM", "Attention"):
            other += 1
    return small if other else []


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
