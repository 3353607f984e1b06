/**
 * Config texts shared by the control-plane tests (not used by production code).
 */

/** A STATIC ServiceEntry `reviews.example.com:80` with one endpoint. */
export function seYaml(ip: string, name = 'reviews', host = 'reviews.example.com'): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
spec:
  hosts: [${host}]
  ports:
  - number: 80
    name: http
    protocol: HTTP
  resolution: STATIC
  endpoints:
  - address: ${ip}
`;
}

/** A VirtualService for `host`; `timeout` lands on line 11 (`0s` is invalid). */
export function vsYaml(opts: { name?: string; host?: string; timeout?: string } = {}): string {
  const host = opts.host ?? 'reviews.example.com';
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${opts.name ?? 'reviews'}
spec:
  hosts: [${host}]
  http:
  - route:
    - destination:
        host: ${host}
${opts.timeout ? `    timeout: ${opts.timeout}\n` : ''}`;
}

/** A DestinationRule with one subset per version. */
export function drYaml(versions: string[], name = 'reviews', host = 'reviews.example.com'): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${name}
spec:
  host: ${host}
  subsets:
${versions.map((v) => `  - name: ${v}\n    labels: {version: ${v}}\n`).join('')}`;
}

/** Collects log lines per level. */
export class RecordingLogger {
  readonly lines: Array<{ level: 'info' | 'warn' | 'error'; msg: string }> = [];
  info(msg: string): void {
    this.lines.push({ level: 'info', msg });
  }
  warn(msg: string): void {
    this.lines.push({ level: 'warn', msg });
  }
  error(msg: string): void {
    this.lines.push({ level: 'error', msg });
  }
  messages(level?: 'info' | 'warn' | 'error'): string[] {
    return this.lines.filter((l) => !level || l.level === level).map((l) => l.msg);
  }
}
