/**
 * `isthmus demo --load N`: steady background traffic through the ingress gateway so the
 * dashboard has something to show without a curl loop. N requests per second to
 * /productpage, every fourth one as the user jason (so reviews v2 and ratings see traffic too).
 * Off by default: the guide's commands count requests and expect a quiet mesh.
 */
import http from 'node:http';

export class LoadGenerator {
  private timer: NodeJS.Timeout | null = null;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private seq = 0;
  /** Requests sent and answers by status class, for tests and curiosity. */
  readonly stats = { sent: 0, ok: 0, failed: 0 };

  constructor(
    private readonly port: number,
    private readonly rps: number,
  ) {
    if (!Number.isFinite(rps) || rps <= 0 || rps > 1000) throw new Error(`load must be from 1 to 1000 requests per second, not ${rps}`);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.send(), Math.max(1, Math.round(1000 / this.rps)));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.agent.destroy();
  }

  private send(): void {
    const user = this.seq++ % 4 === 3 ? { 'end-user': 'jason' } : undefined;
    this.stats.sent++;
    const req = http.get({ host: '127.0.0.1', port: this.port, path: '/productpage', agent: this.agent, headers: { 'user-agent': 'isthmus-demo-load', ...user }, timeout: 10_000 }, (res) => {
      if ((res.statusCode ?? 0) < 500) this.stats.ok++;
      else this.stats.failed++;
      res.resume();
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => this.stats.failed++);
  }
}
