/** The command tree. `buildProgram(out)` so tests can drive it in-process. */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { normaliseDomain } from './config.js';
import { runValidate } from './validate.js';
import { runAnalyze } from './analyze.js';
import { runExplain } from './explain.js';
import { runRun, type RunFlags } from './run.js';
import { DEMO_DEFAULTS, runDemo, type DemoFlags } from './demo.js';
import type { Output } from './output.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function configOptions(cmd: Command): Command {
  return cmd
    .option('-f, --file <path>', 'config file or folder (recursive *.yaml|*.yml|*.json), or - for stdin; repeatable', collect, [])
    .option('--namespace <ns>', 'namespace for resources without metadata.namespace (explain: the client workload namespace)', 'default')
    .option('--domain <suffix>', 'DNS domain suffix for short host names', 'cluster.local');
}

interface CommonOpts {
  file: string[];
  namespace: string;
  domain: string;
  json?: boolean;
}

function requireFiles(o: CommonOpts): void {
  if (o.file.length === 0) throw new (class extends Error {})('no config given: pass -f PATH (a file, a folder, or - for stdin)');
}

/** Sets the exit code a command returns; commander's own errors exit 2 (usage). */
export function buildProgram(out: Output, setExit: (code: number) => void): Command {
  const program = new Command();
  program
    .name('isthmus')
    .description("Istio's traffic management on Node.js: validate, analyze and explain Istio networking config")
    .version(packageVersion(), '-v, --version')
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => out.stdout(s.trimEnd()), writeErr: (s) => out.stderr(s.trimEnd()) })
    .exitOverride();

  configOptions(
    program
      .command('validate')
      .description('check config as the Kubernetes API server and the Istio webhook would (exit 1 on any error)')
      .option('--json', 'print findings as a JSON array', false),
  ).action((o: CommonOpts) => {
    requireFiles(o);
    setExit(runValidate({ ...o, domain: normaliseDomain(o.domain), json: !!o.json }, out));
  });

  configOptions(
    program
      .command('analyze')
      .description('find cross-resource problems (missing subsets, hosts, gateways; shadowed routes; conflicts) like istioctl analyze')
      .option('--json', 'print findings as a JSON array', false),
  ).action((o: CommonOpts) => {
    requireFiles(o);
    setExit(runAnalyze({ ...o, domain: normaliseDomain(o.domain), json: !!o.json }, out));
  });

  configOptions(
    program
      .command('explain')
      .description('say what the proxy would do with one request, without sending it')
      .argument('<url>', 'http://host[:port]/path?query (or https://), tcp://host:port or tls://host:port[?sni=name]')
      .option('-X, --method <method>', 'request method', 'GET')
      .option('-H, --header <header>', "request header 'Name: value'; repeatable", collect, [])
      .option('--labels <k=v,...>', 'labels of the sending workload (sourceLabels, Sidecar selection)')
      .addOption(new Option('--gateway <ns/name>', 'explain as this Gateway would see the request, instead of a sidecar'))
      .option('--json', 'print the decision as JSON', false),
  ).action((url: string, o: CommonOpts & { method: string; header: string[]; labels?: string; gateway?: string }) => {
    requireFiles(o);
    setExit(runExplain(url, { ...o, domain: normaliseDomain(o.domain), json: !!o.json }, out));
  });

  configOptions(
    program
      .command('run')
      .description('run a proxy (sidecar or gateway) that routes real traffic per the config; the config is watched and hot-reloaded')
      .option('--role <role>', 'sidecar: one outbound listener routing by Host; gateway: listeners from Gateways whose selector matches --labels', 'sidecar')
      .option('--labels <k=v,...>', "the proxy's own workload labels (Sidecar/Gateway selection, sourceLabels)")
      .option('--outbound-port <port>', 'sidecar listener port (also accepts HTTP_PROXY-style absolute-form requests and h2c)', '15001')
      .option('--port-offset <n>', 'gateway: listen on Gateway port + n (run unprivileged)', '0')
      .option('--admin-port <port>', 'admin endpoint on 127.0.0.1 (/ready, /config_dump, /clusters, /stats/prometheus)', '15000')
      .option('--bind <address>', 'address the proxy listeners bind to', '127.0.0.1')
      .option('--concurrency <n>', 'worker processes sharing the listeners (default: number of cores)')
      .option('--log-format <format>', 'access log format on stdout: text (Istio default) or json', 'text')
      .option('--no-access-log', 'do not write the access log')
      .option('--drain-timeout <seconds>', 'on SIGTERM/SIGINT, how long in-flight requests may take to finish', '30')
      .option('--credentials-dir <dir>', 'Gateway tls.credentialName secrets, mounted as Kubernetes would: <dir>/<name>/tls.crt, tls.key, ca.crt')
      .option('--max-request-headers-kb <n>', 'request header bytes allowed, in KiB; more get 431 (Envoy max_request_headers_kb)', '60')
      .option('--max-headers-count <n>', 'request headers allowed; more get 431 (Envoy max_headers_count)', '100')
      .option('--request-headers-timeout <seconds>', 'time a client has to send the request headers (0 = off)', '60')
      .option('--request-timeout <seconds>', 'time an HTTP/1 client has to send the whole request, body included (0 = off)', '300')
      .option('--idle-timeout <seconds>', 'an idle keep-alive connection is closed after this (0 = off)', '60')
      .option('--stream-idle-timeout <seconds>', 'a connection with no bytes moving either way is closed after this (0 = off)', '300')
      .option('--max-connections <n>', 'downstream connections per listener and process; more are closed at once (0 = no limit)', '0')
      .option('--max-concurrent-streams <n>', 'HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS', '100')
      .option('--num-trusted-proxies <n>', 'gateway: proxies in front whose x-forwarded-for/-proto entries are trusted (Istio numTrustedProxies)', '0')
      .option('--path-normalization <mode>', 'NONE, BASE, MERGE_SLASHES or DECODE_AND_MERGE_SLASHES (Istio meshConfig.pathNormalization)', 'BASE'),
  ).action(async (o: RunFlags) => {
    setExit(await runRun({ ...o, domain: normaliseDomain(o.domain) }, out));
  });

  program
    .command('demo')
    .description('start a demo mesh (Bookinfo: 7 services, 6 sidecars, an ingress gateway) from examples/bookinfo, print the commands that show each feature, run until Ctrl-C')
    .option('--gateway-port <port>', 'ingress gateway port (0 = a free port)', DEMO_DEFAULTS.gatewayPort)
    .option('--admin-port <port>', 'admin endpoint and dashboard (/ui) for the whole mesh (0 = a free port)', DEMO_DEFAULTS.adminPort)
    .option('--sidecar-ports <first>', 'first of 6 consecutive sidecar ports (0 = free ports)', DEMO_DEFAULTS.sidecarPorts)
    .option('--service-ports <first>', 'first of 7 consecutive application ports (0 = free ports)', DEMO_DEFAULTS.servicePorts)
    .option('--workdir <dir>', 'where the working copy of the config and the access log go (default: a temp folder, removed on exit)')
    .option('--drain-timeout <seconds>', 'on Ctrl-C, how long in-flight requests may take to finish', DEMO_DEFAULTS.drainTimeout)
    .option('--load <rps>', 'background requests per second to /productpage, so the dashboard shows traffic (0 = none)', DEMO_DEFAULTS.load)
    .action(async (o: DemoFlags) => {
      setExit(await runDemo(o, out));
    });

  return program;
}
