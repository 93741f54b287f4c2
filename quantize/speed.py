"""The native speed gate: is the quantized model faster than fp32 on ONNX Runtime's CPU kernels?

Timed with one thread, one text per call (as the Pi service and demo run), fp32 and quantized
interleaved round by round (order alternating) so that a noisy neighbour slows both alike; rounds
continue until the confidence interval of the paired ratio clears the threshold or a limit is hit
(the statistics and the tie rule: edgepack.quantize.decision). The wasm target's rounds come from
onnxruntime-web (edgepack.web.browser_bench in Chromium, wasm_probe in Node), decided by the same rule.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Callable

from edgepack.quantize.decision import Decision, Measurement, Policy, by_speed, measure as sequential
from edgepack.runtime.session import create_session

MIN_ROUND_S = 0.01
# Quantized may be at most this much slower and still be chosen: below the round-to-round noise
# measured here for sub-millisecond models (~3-5%), and it is 2-4x smaller.
DEFAULT_MAX_SLOWDOWN = 0.05


def cpu_identity() -> str:
    """What the numbers were measured on: CPU model, cores, OS, onnxruntime version."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import onnxruntime

    return (f"{model}, {os.cpu_count()} logical CPUs, {platform.machine()} {platform.system()}, "
            f"onnxruntime {onnxruntime.__version__} CPU, 1 thread")


def measure(fp32_path, quantized_path, feeds_list, policy: Policy = Policy(),
            clock: Callable[[], float] = time.thread_time) -> Measurement:
    """Interleaved rounds of fp32 vs quantized until ``policy`` decides (ms per text per round).

    ``clock`` defaults to this thread's CPU time: with one intra-op thread ORT runs the model on the
    calling thread, so time the OS gave to other processes is not counted -- on a 2-core machine
    shared by busy neighbours, wall-clock rounds of the sample scattered over a 0.1x-7x ratio."""
    sessions = {"fp32": create_session(fp32_path, threads=1), "quantized": create_session(quantized_path, threads=1)}
    names = {k: s.get_outputs()[0].name for k, s in sessions.items()}

    def one(key, feeds):
        start = clock()
        for f in feeds:
            sessions[key].run([names[key]], f)
        return clock() - start

    for k in sessions:  # warm-up: first runs allocate and pick kernels
        one(k, feeds_list[:4])
    # Rounds of at least MIN_ROUND_S each, so timer resolution and scheduler ticks stay small.
    once = max(one("fp32", feeds_list), 1e-6)
    feeds_list = feeds_list * max(1, int(MIN_ROUND_S / once))
    done = [0]

    def rounds(k: int):
        out = []
        for _ in range(k):
            order = ("fp32", "quantized") if done[0] % 2 == 0 else ("quantized", "fp32")
            t = {key: one(key, feeds_list) * 1e3 / len(feeds_list) for key in order}
            out.append((t["fp32"], t["quantized"]))
            done[0] += 1
        return out

    what = "thread CPU time" if clock is time.thread_time else getattr(clock, "__name__", "a given clock")
    return sequential(rounds, policy, cpu_identity(), {"texts_per_round": len(feeds_list), "threads": 1,
                                                       "clock": what})


def native_decision(target: str, measurement: Measurement, policy: Policy, candidate: str = "int8") -> Decision:
    note = ""
    if target == "rpi":
        note = ("timed on the build machine's native CPU kernels (aarch64 uses the same MLAS int8 paths); "
                "re-measure on the device with `edgepack bench`")
    return by_speed(target, [measurement], policy, candidate, note)
