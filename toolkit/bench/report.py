"""Renderings of a bench report: terminal text, Markdown, JSON and a PNG chart.

All of them read the same report dict (runner.run_bench); none measures anything. The Markdown is
what the README's benchmark section is pasted from, so it carries the command that reproduces it.
"""

from __future__ import annotations

import json
from pathlib import Path

from edgepack.atomic import atomic_write_bytes


# ---------------------------------------------------------------- formatting helpers
def _ms(v) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" if v < 1 else (f"{v:.2f}" if v < 100 else f"{v:.0f}")


def _num(v) -> str:
    if v is None:
        return "–"
    if v >= 10_000:
        return f"{v / 1000:.0f}k"
    if v >= 1000:
        return f"{v / 1000:.1f}k"
    return f"{v:.0f}" if v >= 10 else f"{v:.1f}"


def _x(v) -> str:
    return "–" if v is None else (f"{v:.2f}×" if v < 10 else f"{v:.1f}×")


def _us(v) -> str:
    return "–" if v is None else (f"{v:.1f}" if v < 100 else f"{v:,.0f}")


def _mb(v) -> str:
    return "–" if v is None else f"{v:.0f}"


def _bytes(v) -> str:
    if v is None:
        return "–"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if v >= size:
            return f"{v / size:.1f} {unit}"
    return f"{v} B"


def text_table(header: list[str], rows: list[list[str]], markdown: bool = False) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    fmt = lambda r: "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r))  # noqa: E731
    return "\n".join([fmt(header), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows])


def _ok(report):
    return [r for r in report["backends"] if r.get("status") == "ok"]


def _find(row, mode, batch, seq):
    for m in row.get("measurements", []):
        if (m["mode"], m["batch"], m["seq_len"]) == (mode, batch, seq):
            return m
    return None


# ---------------------------------------------------------------- sections
def summary_table(report, markdown=False) -> str:
    header = ["backend", "cold start ms", "× faster", "peak RSS MB", "× torch", "max Δ prob vs torch"]
    rows = []
    for r in _ok(report):
        vs = r.get("vs_torch", {})
        cs = r.get("cold_start_ms", {})
        spread = f" ({_ms(cs.get('min'))}–{_ms(cs.get('max'))})" if cs.get("n", 0) > 1 else ""
        diff = vs.get("first_output_max_abs_diff")
        rows.append([r["backend"], _ms(cs.get("median")) + spread, _x(vs.get("cold_start_speedup")),
                     _mb(r.get("peak_rss_mb", {}).get("median")), _x(vs.get("peak_rss_ratio")),
                     "–" if diff is None else f"{diff:.1e}"])
    return text_table(header, rows, markdown)


def latency_table(report, mode: str, seq: int, markdown=False) -> str:
    header = ["backend", "batch", "p50 ms", "p90 ms", "p99 ms", "items/s", "× torch", "realized items/s (min–max)"]
    rows = []
    for b in report["settings"]["batch_sizes"]:
        for r in _ok(report):
            m = _find(r, mode, b, seq)
            if m is None:
                continue
            lat, thr = m["latency_ms"], m["throughput_realized"]
            rows.append([r["backend"], str(b), _ms(lat["p50"]), _ms(lat["p90"]), _ms(lat["p99"]),
                         _num(m["throughput"]), _x(m.get("vs_torch", {}).get("throughput")),
                         f"{_num(thr['median'])} ({_num(thr['min'])}–{_num(thr['max'])})"])
    return text_table(header, rows, markdown)


def breakdown_of(report) -> dict:
    """The report's time breakdown. Reports of format_version 1 called it ``stages`` (and its rows
    ``stages``), a word now kept for the build pipeline: both are read."""
    bd = report.get("breakdown") or report.get("stages") or {}
    if "parts" not in bd and "stages" in bd:
        bd = {**{k: v for k, v in bd.items() if k != "stages"}, "parts": bd["stages"]}
    return bd


def breakdown_section(report, markdown=False) -> str:
    bd = breakdown_of(report)
    cols = bd.get("columns") or []
    if not cols:
        return ""
    header = ["part (µs per call)"] + cols
    rows = [[part] + [_us(values.get(c)) for c in cols] for part, values in bd["parts"].items()]
    rows.append(["model total"] + [_us(bd["totals"][c]["model_us"]) for c in cols])
    rows.append(["end-to-end (tokenization + model)"] + [_us(bd["totals"][c]["e2e_us"]) for c in cols])
    rows.append(["model p50 without profiler"] + [_us(bd["totals"][c].get("unprofiled_model_p50_us")) for c in cols])
    return text_table(header, rows, markdown)


def goals_section(report, markdown=False) -> list[str]:
    lines = []
    for g in report.get("goals", []):
        mark = "–" if g["met"] is None else ("✓" if g["met"] else "✗")
        value = "not measured" if g["value"] is None else _x(g["value"]) if g["key"] != "peak_rss" else f"{g['value']:.2f}× PyTorch's"
        subject = f" [{g['backend']}]" if g.get("backend") else ""
        line = f"{mark} {g['goal']}: {value}{subject}"
        if g.get("note"):
            line += f" ({g['note']})"
        lines.append(("- " if markdown else "  ") + line)
        why = g.get("where_the_time_goes")
        if g["met"] is False and why:
            lines.append(("  - " if markdown else "      ") + "where it goes: " + explain(g["key"], why))
    return lines


def explain(key: str, why: dict) -> str:
    if key.startswith("throughput"):
        tok = why.get("tokenization_share_of_e2e")
        parts = [f"e2e p50 {_ms(why['e2e_p50_ms'])} ms vs PyTorch {_ms(why['torch_e2e_p50_ms'])} ms"]
        if tok is not None:
            parts.append(f"tokenization + padding is {tok:.0%} of it")
        if why.get("model_only_speedup"):
            parts.append(f"model alone is {_x(why['model_only_speedup'])} faster")
        return "; ".join(parts) + " (see the time breakdown)"
    if key == "peak_rss":
        return (f"{_mb(why['peak_rss_mb'])} MB peak ({_mb(why['rss_after_first_result_mb'])} MB after the first "
                f"result: interpreter + numpy + onnxruntime) vs PyTorch {_mb(why['torch_peak_rss_mb'])} MB")
    if key == "cold_start":
        b, t = why["breakdown_ms"], why["torch_breakdown_ms"]
        fmt = lambda d: ", ".join(f"{k.removesuffix('_ms')} {_ms(v)}" for k, v in d.items())  # noqa: E731
        return f"runtime ms: {fmt(b)}; PyTorch ms: {fmt(t)}"
    return json.dumps(why)


def sizes_lines(report, markdown=False) -> list[str]:
    s = report["sizes"]
    pre = "- " if markdown else "  "
    art = ", ".join(f"{k} {_bytes(v)}" for k, v in s["artifacts"].items())
    fp = s["footprint"]
    ort, pt = fp["onnxruntime"], fp["pytorch"]
    ratio = fp.get("runtime_over_pytorch")
    return [
        f"{pre}model files: {art}",
        f"{pre}deployment footprint: ONNX Runtime stack {_bytes(ort['bytes'])} ({', '.join(ort['packages'])}) vs "
        f"PyTorch stack {_bytes(pt['bytes'])} ({', '.join(pt['packages'])})"
        + (f" = {ratio:.1%}" if ratio else "") + "; the Python interpreter is common to both",
    ]


def skipped_lines(report, markdown=False) -> list[str]:
    pre = "- " if markdown else "  "
    return [f"{pre}{r['backend']}: {r['status']} — {r.get('reason')}" for r in report["backends"] if r.get("status") != "ok"]


def machine_line(report) -> str:
    sysi = report["system"]
    cpu = sysi["cpu"]
    flags = " ".join(k for k, v in cpu["flags"].items() if v) or "none of AVX2/AVX-512/VNNI"
    v = sysi["versions"]
    load = sysi.get("load_average")
    return (f"{cpu['model']} ({cpu['arch']}, {cpu['physical_cores']} physical / {cpu['logical_cores']} logical cores; "
            f"{flags}); {report['settings']['threads']} intra-op thread(s) per backend; python {v['python']}, "
            f"torch {v.get('torch')}, onnxruntime {v.get('onnxruntime')}, numpy {v.get('numpy')}"
            + (f"; load average at start {load[0]}" if load else ""))


# ---------------------------------------------------------------- documents
def target_goals_section(report, markdown=False) -> list[str]:
    """Goals a target's row provider evaluated per row (the browser's: latency vs native, transfer, cold start)."""
    lines = []
    for row in report.get("backends", []):
        for g in row.get("wasm_goals") or row.get("target_goals") or []:
            mark = "–" if g.get("met") is None else ("✓" if g["met"] else "✗")
            v = g.get("value")
            shown = ("not measured" if v is None else f"{v / 1e6:.2f} MB" if g["key"] == "transfer"
                     else f"{v:.0f} ms" if g["key"] == "cold_start" else _x(v))
            lines.append(("- " if markdown else "  ") + f"{mark} {g['goal']}: {shown} [{row['backend']}]")
    return lines


def render(report: dict, markdown: bool = False) -> str:
    st = report["settings"]
    h = (lambda t: f"\n### {t}\n") if markdown else (lambda t: f"\n{t}\n")
    out = []
    title = f"edgepack bench — {report['project']['name']} {report['project']['version']}"
    out.append(f"## {title}\n" if markdown else title)
    out.append(("" if not markdown else "") + f"{report['mode']} mode, {st['rounds']} round(s), batch sizes "
               f"{', '.join(map(str, st['batch_sizes']))}, sequence lengths {', '.join(map(str, st['seq_lengths']))} tokens")
    out.append(machine_line(report))
    if markdown:
        out.append(f"\nReproduce: `{report['command']}`")
    for w in report.get("warnings", []):
        out.append(("> **warning:** " if markdown else "warning: ") + w)
    out.append(h("Cold start (process start → first result), peak RSS"))
    out.append(summary_table(report, markdown))
    for seq in st["seq_lengths"]:
        out.append(h(f"End-to-end (text → probabilities, tokenizer included), {seq} tokens"))
        out.append(latency_table(report, "e2e", seq, markdown))
        if "model" in st["modes"]:
            out.append(h(f"Model only (token ids → probabilities), {seq} tokens"))
            out.append(latency_table(report, "model", seq, markdown))
    breakdown = breakdown_section(report, markdown)
    if breakdown:
        bd = breakdown_of(report)
        out.append(h(f"Time breakdown (batch {bd['batch']}, {bd['seq_len']} tokens; ORT profiler / torch.profiler, "
                     "µs per call)"))
        out.append(breakdown)
    out.append("" if not markdown else "")
    out.append("items/s = batch ÷ p50 latency (ratios use it); realized = median rate of timed chunks, stalls included.")
    out.append(h("Goals (reported, not gated)"))
    out.extend(goals_section(report, markdown))
    out.extend(target_goals_section(report, markdown))
    out.append(h("Sizes"))
    out.extend(sizes_lines(report, markdown))
    skipped = skipped_lines(report, markdown)
    if skipped:
        out.append(h("Not measured here"))
        out.extend(skipped)
    if not markdown:
        return "\n".join(out) + "\n"
    text = "\n\n".join(o.strip("\n") for o in out if o)
    return text.replace("\n\n- ", "\n- ").replace("\n\n  - ", "\n  - ") + "\n"  # tight lists


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, default=str)


def render_png(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on CI or a Pi
    import matplotlib.pyplot as plt

    rows = _ok(report)
    seq = report["settings"]["seq_lengths"][0]
    batches = report["settings"]["batch_sizes"]
    bd = breakdown_of(report)
    panels = 2 if bd.get("columns") else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 4.2), squeeze=False)
    ax = axes[0][0]
    width = 0.8 / max(1, len(rows))
    for i, r in enumerate(rows):
        vals = [(_find(r, "e2e", b, seq) or {}).get("latency_ms", {}).get("p50") for b in batches]
        xs = [j + i * width for j in range(len(batches))]
        ax.bar(xs, [v or 0 for v in vals], width, label=r["backend"])
    ax.set_xticks([j + width * (len(rows) - 1) / 2 for j in range(len(batches))], [f"batch {b}" for b in batches])
    ax.set_yscale("log")
    ax.set_ylabel("end-to-end p50 latency (ms, log)")
    ax.set_title(f"Latency by backend and batch size ({seq} tokens)")
    ax.legend(fontsize=8)
    if panels == 2:
        ax = axes[0][1]
        cols = bd["columns"]
        parts = list(bd["parts"])
        width = 0.8 / max(1, len(cols))
        for i, c in enumerate(cols):
            xs = [j + i * width for j in range(len(parts))]
            ax.bar(xs, [bd["parts"][s].get(c) or 0 for s in parts], width, label=c)
        ax.set_xticks([j + width * (len(cols) - 1) / 2 for j in range(len(parts))], parts, rotation=30, ha="right",
                      fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("µs per call (log)")
        ax.set_title(f"Time breakdown (batch {bd['batch']}, {bd['seq_len']} tokens)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def write_reports(report: dict, out_dir: str | Path) -> dict[str, str]:
    """report.json, report.md and report.png in ``out_dir``, each written atomically."""
    out = Path(out_dir)
    paths = {"json": out / "report.json", "md": out / "report.md", "png": out / "report.png"}
    atomic_write_bytes(paths["json"], (to_json(report) + "\n").encode())
    atomic_write_bytes(paths["md"], render(report, markdown=True).encode())
    render_png(report, paths["png"])
    return {k: str(v) for k, v in paths.items()}
