"""INT8 quantization behind gates (stage 2 of the pipeline).

``quantize_project(project)`` turns ``build/model.fp32.onnx`` into ``build/model.int8.onnx`` only
when the quantized model agrees with fp32 on the held-out part of the project's evaluation set
(accuracy gate; when plain INT8 fails, a recovery ladder whose choices are made on the disjoint
selection part) and records, per deployment target, whether INT8 is worth shipping there (op
support, measured speed). Modules: ops (what each target can run), dynamic / static / weightonly /
lowbit: fp16 and int4 (the quantizers), report (what was quantized), evalset (texts and their split), gate,
sensitivity (one-pass ranking), ladder (recovery), speed (interleaved timing), stage
(orchestration, manifest, atomic write).
"""

from edgepack.quantize.stage import QuantizeResult, quantize_project, run_stage

__all__ = ["QuantizeResult", "quantize_project", "run_stage"]
