// Parsers for the load generators' output: wrk (text report with --latency) and h2load
// (text summary plus its per-request --log-file, from which p50/p99 are computed).
import { existsSync, readFileSync } from 'node:fs';

const UNIT_MS = { us: 1e-3, ms: 1, s: 1000, m: 60_000 };

/** wrk 4.x report -> {rps, requests, p50, p99, errors}; latencies in ms. */
export function parseWrk(text) {
  const num = (re) => Number(re.exec(text)?.[1] ?? 0);
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text);
    return m ? Number(m[1]) * UNIT_MS[m[2]] : null;
  };
  let errors = num(/Non-2xx or 3xx responses:\s+(\d+)/);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  if (sock) errors += sock.slice(1).reduce((a, b) => a + Number(b), 0);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in /),
    p50: pct('50'),
    p99: pct('99'),
    errors,
  };
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Durations (ms) from an h2load --log-file: `start_us \t status \t duration_us` per line. */
function latencies(logFile) {
  if (!logFile || !existsSync(logFile)) return [];
  const out = [];
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    const cols = line.split('\t');
    if (cols.length < 3) continue;
    const us = Number(cols[2]);
    if (Number.isFinite(us) && us >= 0) out.push(us / 1000);
  }
  return out.sort((a, b) => a - b);
}

/**
 * h2load summary (+ log file) -> {rps, requests, p50, p99, errors}. h2load's `failed`
 * already includes non-2xx/3xx answers and transport errors (`errored`, `timeout`).
 */
export function parseH2load(text, logFile) {
  const fin = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(text);
  const req = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(text);
  const lat = latencies(logFile);
  return {
    rps: fin ? Number(fin[1]) : 0,
    requests: req ? Number(req[1]) : 0,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    errors: req ? Number(req[3]) : 0,
  };
}
