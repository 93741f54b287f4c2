#!/usr/bin/env node
// Does a model run in onnxruntime-web, and how fast against fp32? The quantize stage's Node probe
// (edgepack.quantize.wasm_probe runs it): Node and Chromium share V8's wasm engine.
//
//   node web/bin/wasm_probe.mjs ORT_DIR SPEC.json   -> one JSON line on stdout
//
// ORT_DIR: the folder holding the pinned ort.wasm.min.mjs + ort-wasm-simd-threaded.{mjs,wasm} (the
// files a bundle ships). SPEC: {"models": {key: path}, "feeds": [{name: [[id, ...]]}], "rounds": n,
// "roundMs": ms, "warmupMs": ms, "maxMs": ms}. Output: {"models": {key: {ok, outputs | error}},
// "timing": null | {"rounds": {key: [ms per call]}, "order": [...], "texts_per_round": ..}}.
// A missing model file or a bad spec is an error (exit 2, one line on stderr naming it); a model
// onnxruntime-web cannot load is a result ({ok: false, error}).

import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

import { configure } from '../src/session.mjs';
import { Rounds, feedsFromRows, outputsOf, tryLoad } from '../src/timing.mjs';

function fail(message) {
  process.stderr.write(`wasm_probe: ${message}\n`);
  process.exit(2);
}

export async function main([ortDir, specPath] = []) {
  if (!ortDir || !specPath) fail('usage: wasm_probe.mjs ORT_DIR SPEC.json');
  if (!existsSync(`${ortDir}/ort.wasm.min.mjs`)) fail(`${ortDir}/ort.wasm.min.mjs: not found (run edgepack's vendor step)`);
  let spec;
  try {
    spec = JSON.parse(readFileSync(specPath, 'utf8'));
  } catch (err) {
    fail(`${specPath}: ${err.message}`);
  }
  for (const [key, path] of Object.entries(spec.models ?? {})) {
    if (!existsSync(path)) fail(`model ${key}: ${path}: no such file`);
  }
  configure({ ortBaseUrl: pathToFileURL(`${ortDir}/`).href });
  const feeds = (spec.feeds ?? []).map(feedsFromRows);
  const result = { models: {}, timing: null };
  const runs = {};
  for (const [key, path] of Object.entries(spec.models ?? {})) {
    const loaded = await tryLoad(readFileSync(path), { threads: 1 });
    if (!loaded.ok) {
      result.models[key] = { ok: false, error: loaded.error };
      continue;
    }
    try {
      result.models[key] = { ok: true, outputs: await outputsOf(loaded.session, feeds) };
      runs[key] = { session: loaded.session, feeds };
    } catch (err) {
      result.models[key] = { ok: false, error: String(err?.message ?? err).split('\n')[0] };
    }
  }
  if (Object.keys(runs).length >= 2 && spec.rounds > 0 && feeds.length > 0) {
    const rounds = new Rounds(runs, { clock: 'cpu', roundMs: spec.roundMs, warmupMs: spec.warmupMs ?? 500 });
    await rounds.warmup();
    const start = performance.now();
    const got = { rounds: Object.fromEntries(rounds.keys.map((k) => [k, []])), order: [], calls: {} };
    // One round at a time so the time limit is checked between rounds, as the gate does.
    while (got.order.length < spec.rounds && performance.now() - start < (spec.maxMs ?? Infinity)) {
      const r = await rounds.run(1);
      for (const k of rounds.keys) got.rounds[k].push(...r.rounds[k]);
      got.order.push(...r.order);
      for (const k of rounds.keys) (got.calls[k] ??= []).push(...r.calls[k]);
    }
    // Every round ran at least this many calls of each model (a round is time-based).
    const least = Math.min(...Object.values(got.calls).flat());
    result.timing = { rounds: got.rounds, order: got.order, texts_per_round: Number.isFinite(least) ? least : 0 };
  }
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(`${JSON.stringify(await main(process.argv.slice(2)))}\n`);
}
