// Sequential latency: one keep-alive connection, N requests back to back; prints p50/p90/p99 in ms.
//   node bench/proxy/seqlat.mjs <port> [requests=3000] [host=app.bench.svc.cluster.local]
import http from 'node:http';
const [port, n = '3000', host = 'app.bench.svc.cluster.local'] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const lat = [];
for (let i = 0; i < Number(n); i++) {
  const t = process.hrtime.bigint();
  await new Promise((res, rej) => http.get({ host: '127.0.0.1', port: Number(port), path: '/', headers: { host }, agent }, (r) => { r.resume(); r.on('end', res); }).on('error', rej));
  lat.push(Number(process.hrtime.bigint() - t) / 1e6);
}
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.floor(p * (lat.length - 1))].toFixed(3);
console.log(`p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} max ${q(1)}`);
process.exit(0);
