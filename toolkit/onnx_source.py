"""An existing ONNX file as a model source: read safely, checked, given edgepack's one output.

The graph must take ``input_ids`` (+ ``attention_mask``, ``token_type_ids``) and end in one float
tensor: ``probabilities`` [batch, n_labels] (a Softmax is appended to logits) or ``embeddings``
[batch, dim]. Anything else is refused with the reason, naming the file: a model that returns
something else than its project says would be a silent wrong answer on every target.
"""

from __future__ import annotations

from pathlib import Path

from edgepack.errors import ModelLoadError, ProjectError
from edgepack.runtime import files

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_IO_OPS = {"Cast", "Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze"}  # ops that keep ids as ids


def load_onnx_source(path: Path, where: str):
    """The ModelProto at ``path`` with its external data, or a ModelLoadError naming the file.

    External data is checked before onnx reads it: every location must be a regular file in the
    model's own folder (onnx refuses the rest too, but with a traceback-shaped message)."""
    import onnx
    from onnx import external_data_helper as edh

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError, or anything else a corrupt file provokes
        raise ModelLoadError(
            f"{where}: {path.name} is not a readable ONNX model ({_first_line(exc)}); the file is truncated, "
            "corrupt or not ONNX: export it again (torch.onnx.export) and copy it whole") from None
    if not model.HasField("graph"):
        raise ModelLoadError(f"{where}: {path.name} holds no graph: it is empty or not an ONNX model; export the "
                             "model again (torch.onnx.export) and copy it whole")
    folder = path.parent.resolve()
    try:
        tensors = list(edh._get_all_tensors(model))
    except Exception as exc:
        raise ModelLoadError(f"{where}: {path.name}: malformed ONNX graph ({_first_line(exc)})") from None
    external = [t for t in tensors if edh.uses_external_data(t)]
    for tensor in external:
        location = edh.ExternalDataInfo(tensor).location
        try:
            target = (folder / location).resolve() if location else folder
        except (OSError, ValueError) as exc:  # a NUL byte, a symlink loop
            raise ModelLoadError(f"{where}: {path.name}: tensor {tensor.name!r} keeps its data in {location!r}, "
                                 f"which is not a usable path ({exc}); save the model as one file") from None
        if not location or not target.is_relative_to(folder) or target == folder:
            raise ModelLoadError(
                f"{where}: {path.name}: tensor {tensor.name!r} keeps its data in {location!r}, outside the model's "
                f"folder {path.parent}; edgepack reads external data only from files next to the model. Move the "
                "data file next to the model (or save the model as one file) and export again.")
        # stat only (never open a FIFO); a name too long for the file system is an error, not an OSError
        files.check_regular(target, f"{where}: {path.name}: tensor {tensor.name!r} external data", ModelLoadError)
    if external:
        try:
            edh.load_external_data_for_model(model, str(folder))
        except Exception as exc:
            raise ModelLoadError(f"{where}: {path.name}: its external data could not be read "
                                 f"({_first_line(exc)}); the data file is truncated or does not belong to this model") from None
    return model


def graph_inputs(model) -> list[str]:
    """Real inputs (old IR versions also list initializers as inputs)."""
    inits = {t.name for t in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits]


def check_onnx_io(model, where: str) -> list[str]:
    """The graph's inputs in edgepack's order; refuses graphs edgepack cannot feed or read."""
    names = graph_inputs(model)
    if not names:
        raise ModelLoadError(f"{where}: the graph has no inputs; edgepack feeds {', '.join(MODEL_INPUTS[:2])} "
                             "(and token_type_ids): export the model with those inputs")
    unknown = [n for n in names if n not in MODEL_INPUTS]
    if unknown:
        raise ModelLoadError(f"{where}: graph input(s) {unknown} are not ones edgepack feeds; name the inputs "
                             f"{', '.join(MODEL_INPUTS)} (int64 [batch, sequence]) when exporting")
    if "input_ids" not in names:
        raise ModelLoadError(f"{where}: the graph has no input_ids input (it has {names}); export it with input_ids")
    if not model.graph.output:
        raise ModelLoadError(f"{where}: the graph has no outputs; export the model with its logits, probabilities "
                             "or embeddings as the output")
    return [n for n in MODEL_INPUTS if n in names]


def _shape(value) -> list | None:
    t = value.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]


def _rename(graph, old: str, new: str) -> None:
    """Rename a tensor everywhere it is used, subgraphs (If/Loop bodies) included."""
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                _rename(sub, old, new)
    for coll in (graph.output, graph.value_info, graph.input):
        for v in coll:
            if v.name == old:
                v.name = new
    for t in graph.initializer:
        if t.name == old:
            t.name = new


def _all_names(graph) -> set[str]:
    names = {v.name for v in list(graph.input) + list(graph.output) + list(graph.value_info)}
    names |= {t.name for t in graph.initializer}
    for node in graph.node:
        names |= set(node.input) | set(node.output)
    return names


def _free(graph, name: str) -> None:
    """Make ``name`` unused so a new output can take it."""
    taken = _all_names(graph)
    if name in taken:
        i = 0
        while f"{name}__source{i}" in taken:
            i += 1
        _rename(graph, name, f"{name}__source{i}")


def _opset(model) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def adapt_onnx_outputs(model, task: str, output: str, labels: list[str], where: str) -> str:
    """Give the graph edgepack's one output: ``probabilities`` [batch, n_labels] (a Softmax appended to
    logits) or ``embeddings`` [batch, dim]. Returns what was done, for the progress report."""
    import onnx
    from onnx import helper

    graph = model.graph
    want = "probabilities" if task == "text-classification" else "embeddings"
    outs = list(graph.output)
    if len(outs) > 1:
        preferred = [o for o in outs if o.name in ((output, want) if task == "text-classification" else (want,))]
        if len(preferred) != 1:
            raise ModelLoadError(
                f"{where}: the graph has {len(outs)} outputs ({', '.join(o.name for o in outs)}) and none is named "
                f"{(output if task == 'text-classification' else want)!r}; edgepack reads one output: export only "
                f"the {'logits' if task == 'text-classification' else 'pooled embeddings'}, or name that output "
                f"{(output if task == 'text-classification' else want)!r}")
        del graph.output[:]
        graph.output.append(preferred[0])
    source = graph.output[0]
    if source.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        kind = onnx.TensorProto.DataType.Name(source.type.tensor_type.elem_type) if source.type.HasField("tensor_type") \
            else source.type.WhichOneof("value")
        raise ModelLoadError(f"{where}: output {source.name!r} is {kind}; edgepack needs a float32 tensor "
                             "(export the model in float32; edgepack quantizes it later)")
    shape = _shape(source)
    if shape is not None and len(shape) != 2:
        what = "[batch, n_labels]" if task == "text-classification" else "[batch, dim] (one pooled vector per text)"
        hint = " -- token embeddings: pool them in the graph (mean over attention_mask) before export" \
            if task == "feature-extraction" and len(shape) == 3 else ""
        raise ModelLoadError(f"{where}: output {source.name!r} has shape {shape}, edgepack needs {what}{hint}")
    if task == "text-classification" and shape and isinstance(shape[1], int) and shape[1] and labels \
            and shape[1] != len(labels):
        raise ProjectError(f"{where}: output {source.name!r} has {shape[1]} classes but labels lists {len(labels)}")
    if task == "text-classification" and output == "logits":
        if source.name == want:
            _rename(graph, want, "logits")
        _free(graph, want)
        logits = source.name
        # Before opset 13 Softmax flattens to 2-D around `axis`: on a [batch, n] tensor axis 1 is the same.
        axis = -1 if _opset(model) >= 13 else 1
        graph.node.append(helper.make_node("Softmax", [logits], [want], axis=axis, name="edgepack_softmax"))
        del graph.output[:]
        graph.output.append(helper.make_tensor_value_info(want, onnx.TensorProto.FLOAT, shape or ["batch", None]))
        return f"appended Softmax over the last axis of {logits!r} -> {want!r}"
    if source.name != want:
        old = source.name
        _free(graph, want)
        _rename(graph, old, want)
        return f"renamed output {old!r} -> {want!r}"
    return f"output {want!r} used as is"


def onnx_embedding_rows(model) -> tuple[int, str] | None:
    """Rows of the embedding table input_ids index (a Gather on an initializer), if findable."""
    inits = {t.name: t for t in model.graph.initializer}
    ids, frontier = {"input_ids"}, ["input_ids"]
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    while frontier:
        name = frontier.pop()
        for node in consumers.get(name, []):
            if node.op_type == "Gather" and len(node.input) > 1 and node.input[1] == name \
                    and node.input[0] in inits and inits[node.input[0]].dims:
                return int(inits[node.input[0]].dims[0]), node.input[0]
            if node.op_type in _IO_OPS and node.input[0] == name:
                for o in node.output:
                    if o not in ids:
                        ids.add(o)
                        frontier.append(o)
    return None


def output_mode(model, project, model_cfg: dict) -> str:
    """logits or probabilities. Unset, an output already named ``probabilities`` is taken at its word
    (and checked below): appending a second softmax would flatten every score."""
    if project.task != "text-classification":
        return "embeddings"
    outs = [o.name for o in model.graph.output]
    producers = {o: n.op_type for n in model.graph.node for o in n.output}
    softmaxed = len(outs) == 1 and producers.get(outs[0]) in ("Softmax", "LogSoftmax")
    if "output" in model_cfg:
        if model_cfg["output"] not in ("logits", "probabilities"):
            raise ProjectError(f"{project.path}: [model] output = {model_cfg['output']!r}: a text-classification "
                               "ONNX source returns \"logits\" or \"probabilities\"")
        if model_cfg["output"] == "logits" and softmaxed:
            raise ProjectError(
                f"{project.path}: [model] output = \"logits\", but the graph's output {outs[0]!r} comes from a "
                f"{producers[outs[0]]} node: a second softmax would flatten every score. Set [model] output = "
                "\"probabilities\" if it returns probabilities, or export the model without its final softmax.")
        return model_cfg["output"]
    if softmaxed or outs == ["probabilities"] or ("probabilities" in outs and "logits" not in outs):
        return "probabilities"  # checked on the examples: rows must sum to 1
    return "logits"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
