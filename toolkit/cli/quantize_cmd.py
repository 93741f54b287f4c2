from __future__ import annotations

import click

from edgepack.cli import emit_json, json_option
from edgepack.progress import Progress


@click.command()
@click.argument("project", type=click.Path(file_okay=True, dir_okay=True))
@click.option("--mode", type=click.Choice(["auto", "dynamic", "static", "none"]), default=None,
              help="auto (default): static QDQ when the graph has convolutions, else dynamic.")
@click.option("--per-channel/--per-tensor", "per_channel", default=None,
              help="Weight scales per output channel or per tensor (default: measured, see the report).")
@click.option("--calibration", type=click.Path(dir_okay=False), default=None,
              help="Texts for static calibration, one per line (UTF-8).")
@click.option("--precision", "precisions", multiple=True, type=click.Choice(["fp16", "int4"]),
              help="Also write this precision (repeatable); it must pass the same gate.")
@json_option
def quantize(project, mode, per_channel, calibration, precisions, as_json):
    """Quantize PROJECT's fp32 model to INT8 behind an accuracy gate and a speed gate.

    Reads PROJECT/build/model.fp32.onnx (exporting first if it is missing or stale), writes
    model.int8.onnx and updates manifest.json in the same build directory atomically. The
    evaluation set is split (seeded) into a selection part, on which every choice is made, and a
    disjoint held-out part, on which the gate is judged. When plain INT8 fails, a ladder of
    recoveries is tried cheapest first (per-channel, reduce_range, blockwise INT8, the most
    sensitive nodes in fp32 ranked in one pass, static QDQ, weight-only) and the trade-off table is
    printed; if nothing passes, nothing is written and the exit code is 6. Per target (cpu, rpi,
    wasm) the manifest records whether int8 or fp32 ships, decided by what, and why.

    \b
    Example:
      edgepack quantize samples/sentiment
      edgepack quantize samples/textcnn --calibration texts.txt --per-channel
      edgepack quantize samples/transformer --precision fp16 --json | jq .quantization.gate
    """
    from edgepack.quantize import quantize_project
    from edgepack.quantize.ladder import table_lines as recovery_lines
    from edgepack.quantize.report import table_lines

    result = quantize_project(project, mode=mode, per_channel=per_channel, calibration=calibration,
                              precisions=list(precisions) if precisions else None,
                              progress=Progress(enabled=not as_json))
    if as_json:
        emit_json({"ok": True, **result.as_dict()})
        return
    if result.status != "ran":
        click.echo(result.status)
        return
    q = result.section
    click.echo(f"{q['mode']} INT8 ({q['format']}, {'per-channel' if q['per_channel'] else 'per-tensor'}): "
               f"{q['report']['nodes_int8']} node(s) quantized")
    for line in table_lines(q["report"]):
        click.echo("  " + line)
    if q["report"]["nodes_kept_fp32"]:
        click.echo(f"  kept in fp32: {', '.join(q['report']['nodes_kept_fp32'])} "
                   f"(+{q['report']['fallback_cost_bytes']:,} bytes)")
    if q.get("small_tables_fp32"):
        click.echo(f"  small embedding tables left fp32 (an int8 lookup would cost more time than its bytes "
                   f"save): {', '.join(q['small_tables_fp32'])}")
    if q.get("small_matrices_fp32"):
        click.echo(f"  small matrices left fp32 (quantizing them adds more nodes than it saves time): "
                   f"{', '.join(q['small_matrices_fp32'])}")
    recovery = q.get("recovery") or {}
    if len(recovery.get("table") or []) > 1:  # more than plain INT8 was tried: show the trade-off
        click.echo("  recovery (accuracy on selection / held-out, size, speed):")
        for line in recovery_lines(recovery["table"]):
            click.echo("    " + line)
    if q["gate"].get("weak"):
        click.echo(f"  weak gate: {q['gate'].get('weak_reason', 'no [evaluation] file')}")
    gate = q["gate"]["result"]
    text = f"✓ gate on {q['gate']['evaluation']}: agreement {gate.get('agreement', 0):.2%}" \
        if "agreement" in gate else f"✓ gate on {q['gate']['evaluation']}: min cosine {gate['min_cosine']:.4f}"
    if "max_prob_delta" in gate:
        text += f", max |Δprob| {gate['max_prob_delta']:.2e}"
    if "accuracy_fp32" in gate:
        text += f", accuracy {gate['accuracy_fp32']:.2%} -> {gate['accuracy_quantized']:.2%}"
    click.echo(text)
    for target, choice in result.manifest.get("targets", {}).items():
        click.echo(f"  {target}: {choice['precision']} ({choice['reason']})")
    for precision, rec in q.get("extra_precisions", {}).items():
        click.echo(f"  {precision}: {'written' if rec['written'] else 'not written: ' + rec['reason']}")
    click.echo(f"wrote {result.build_dir / 'model.int8.onnx'}")
