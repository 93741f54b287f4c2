"""The speed gate: is the quantized model faster than fp32 where it will run?

Native targets (cpu, rpi) are timed here with ONNX Runtime's CPU kernels, one thread, one text
per call (as the Pi service and demo run), fp32 and quantized interleaved round by round so that
a noisy neighbour slows both alike; the median round decides. The wasm target's speed is measured
in the browser by the web target (design.md: an int8 LSTM ran slower than fp32 in
onnxruntime-web), so its entry carries the op-support decision and a pending speed field.
"""

from __future__ import annotations

import platform
import statistics
import time

from edgepack.runtime.session import create_session

ROUNDS = 15
MIN_ROUND_S = 0.01
# Quantized may be at most this much slower and still be chosen: below the round-to-round noise
# measured here for sub-millisecond models (~3-5%), and it is 2-4x smaller.
DEFAULT_MAX_SLOWDOWN = 0.05


def _round(session, name: str, feeds_list) -> float:
    start = time.perf_counter()
    for feeds in feeds_list:
        session.run([name], feeds)
    return time.perf_counter() - start


def measure(fp32_path, quantized_path, feeds_list, rounds: int = ROUNDS) -> dict:
    sessions = {"fp32": create_session(fp32_path, threads=1), "quantized": create_session(quantized_path, threads=1)}
    names = {k: s.get_outputs()[0].name for k, s in sessions.items()}
    for k, s in sessions.items():  # warm-up: first runs allocate and pick kernels
        _round(s, names[k], feeds_list[:4])
    # Rounds of at least MIN_ROUND_S each, so timer resolution and scheduler ticks stay small.
    once = max(_round(sessions["fp32"], names["fp32"], feeds_list), 1e-6)
    feeds_list = feeds_list * max(1, int(MIN_ROUND_S / once))
    times = {"fp32": [], "quantized": []}
    for r in range(rounds):
        order = ("fp32", "quantized") if r % 2 == 0 else ("quantized", "fp32")
        for k in order:
            times[k].append(_round(sessions[k], names[k], feeds_list))
    per_call = {k: statistics.median(v) / len(feeds_list) * 1e3 for k, v in times.items()}
    return {"fp32_ms": round(per_call["fp32"], 5), "quantized_ms": round(per_call["quantized"], 5),
            "speedup": round(per_call["fp32"] / per_call["quantized"], 3) if per_call["quantized"] else None,
            "rounds": rounds, "texts_per_round": len(feeds_list), "threads": 1,
            "measured_on": f"{platform.machine()} ({platform.system()}), onnxruntime CPU"}


def native_choice(target: str, numbers: dict, max_slowdown: float, precision: str, forced: str | None) -> dict:
    if forced and forced != "auto":
        return {"precision": forced, "reason": f"set in edgepack.toml ([targets] {target} precision)", **numbers}
    ratio = numbers["quantized_ms"] / numbers["fp32_ms"] if numbers["fp32_ms"] else 1.0
    if ratio <= 1 + max_slowdown:
        reason = (f"{precision} ran {numbers['quantized_ms']:.3f} ms/text vs fp32 {numbers['fp32_ms']:.3f} "
                  f"(x{numbers['speedup']} speed-up; max_slowdown {max_slowdown:.0%})")
        chosen = precision
    else:
        reason = (f"{precision} was slower than fp32 ({numbers['quantized_ms']:.3f} vs {numbers['fp32_ms']:.3f} "
                  f"ms/text, beyond max_slowdown {max_slowdown:.0%}): shipping fp32")
        chosen = "fp32"
    if target == "rpi":
        reason += "; timed on the build machine's native CPU kernels (aarch64 uses the same MLAS int8 paths), "\
                  "re-measure on the device with `edgepack bench`"
    return {"precision": chosen, "reason": reason, **numbers}
