import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FieldPath } from '../core/diagnostics.js';
import { loadPaths, loadText } from '../api/load.js';
import type { Resource } from '../api/types.js';
import { validateOne } from './index.js';
import { validateVirtualService } from './virtualservice.js';
import type { Finding } from './finding.js';

/** A VirtualService document around a flow-style `spec`. */
function doc(spec: string, ns = 'default'): string {
  return `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs, namespace: ${ns}}\nspec: ${spec}\n`;
}

/** Structural + semantic validation, as the CLI runs it. */
function run(spec: string, ns = 'default'): { findings: Finding[]; admitted: boolean } {
  const loaded = loadText(doc(spec, ns), 'test.yaml', { namespace: ns });
  assert.deepEqual(loaded.diagnostics, [], `YAML of ${spec}`);
  assert.equal(loaded.resources.length, 1);
  const { resource, findings } = validateOne(loaded.resources[0]);
  return { findings, admitted: resource !== undefined };
}

/** Semantic pass only, on a spec the schema would refuse (to pin the webhook's own message). */
function semantic(spec: unknown): Finding[] {
  const raw = loadText(doc('{}'), 'test.yaml', { namespace: 'default' }).resources[0];
  return validateVirtualService({ ...raw, spec } as Resource<'VirtualService'>, { domain: 'cluster.local' });
}

function show(fs: readonly Finding[]): string {
  return fs.map((f) => `${f.severity ?? 'error'} ${JSON.stringify(f.path)} ${f.message}`).join('\n');
}

const R = 'route: [{destination: {host: a}}]';
const H0: FieldPath = ['spec', 'http', 0];
const at = (...p: Array<string | number>): FieldPath => [...H0, ...p];
const big = (n: number) => 'a'.repeat(n);

type Sev = 'error' | 'warning';
/** rule, spec, severity, message fragment, path. */
type Invalid = [string, string, Sev, string, FieldPath];

const INVALID: Invalid[] = [
  ['V1', '{hosts: [a]}', 'error', 'http, tcp or tls must be provided in virtual service', ['spec']],
  ['V2', `{gateways: [gw], http: [{${R}}]}`, 'error', 'delegate virtual service must have no gateways specified', ['spec', 'gateways']],
  ['V3', '{tcp: [{route: [{destination: {host: a}}]}]}', 'error', 'delegate virtual service must have no tcp route specified', ['spec', 'tcp']],
  ['V3', '{tls: [{match: [{sniHosts: [a.com]}], route: [{destination: {host: a}}]}]}', 'error', 'delegate virtual service must have no tls route specified', ['spec', 'tls']],
  ['V4', `{hosts: ['*'], http: [{${R}}]}`, 'error', 'wildcard host * is not allowed for virtual services bound to the mesh gateway', ['spec', 'hosts', 0]],
  ['V4', `{hosts: ['*'], gateways: [gw, mesh], http: [{${R}}]}`, 'error', 'wildcard host * is not allowed', ['spec', 'hosts', 0]],
  ['V5', `{hosts: [foo_bar.com], http: [{${R}}]}`, 'error', 'domain name "foo_bar.com" invalid (label "foo_bar" invalid)', ['spec', 'hosts', 0]],
  ['V5', `{hosts: [a.com, 'foo*.com'], http: [{${R}}]}`, 'error', '"foo*.com"', ['spec', 'hosts', 1]],
  ['V5', `{hosts: [a.com, 'foo*.com'], gateways: [gw], http: [{${R}}]}`, 'error', '"foo*.com"', ['spec', 'hosts', 1]],
  ['V6', `{hosts: [foo.123], http: [{${R}}]}`, 'error', 'top level domain "123" cannot be all-numeric', ['spec', 'hosts', 0]],
  ['V7', `{hosts: ['*.foo.com', bar.foo.com], http: [{${R}}]}`, 'error', 'duplicate hosts in virtual service: *.foo.com & bar.foo.com', ['spec', 'hosts', 1]],
  ['V7', `{hosts: [reviews, reviews.default.svc.cluster.local], http: [{${R}}]}`, 'error', 'duplicate hosts in virtual service: reviews & reviews.default.svc.cluster.local', ['spec', 'hosts', 1]],
  ['V7', `{hosts: [a.com, A.COM], http: [{${R}}]}`, 'error', 'duplicate hosts', ['spec', 'hosts', 1]],
  ['V8', `{hosts: [a], gateways: [/gw], http: [{${R}}]}`, 'error', 'config namespace and gateway name cannot be empty', ['spec', 'gateways', 0]],
  ['V8', `{hosts: [a], gateways: [Ns/gw], http: [{${R}}]}`, 'error', 'invalid value for namespace: "Ns"', ['spec', 'gateways', 0]],
  ['V8', `{hosts: [a], gateways: [ns/gw_1], http: [{${R}}]}`, 'error', 'invalid value for gateway name: "gw_1"', ['spec', 'gateways', 0]],
  ['V8', `{hosts: [a], http: [{match: [{gateways: [mesh, 'x/']}], ${R}}]}`, 'error', 'config namespace and gateway name cannot be empty', at('match', 0, 'gateways', 1)],
  ['V9', `{hosts: [a], gateways: [gw.istio-system.svc.cluster.local], http: [{${R}}]}`, 'warning', 'using legacy gatewayName format "gw.istio-system.svc.cluster.local"; prefer the <namespace>/<name> format: "istio-system/gw"', ['spec', 'gateways', 0]],
  ['V10', `{hosts: [a], http: [{match: [{headers: {'@request.auth.claims.group': {exact: a}}}], ${R}}]}`, 'error', 'JWT claim based routing (key: @request.auth.claims.group) is only supported for gateway, found no gateways: []', at('match', 0, 'headers', '@request.auth.claims.group')],
  ['V10', `{hosts: [a], gateways: [gw, mesh], http: [{match: [{withoutHeaders: {'@request.auth.claims[a][b]': {exact: a}}}], ${R}}]}`, 'error', 'found no gateways: [gw mesh]', at('match', 0, 'withoutHeaders', '@request.auth.claims[a][b]')],
  ['V11', `{hosts: [a], http: [{redirect: {uri: /x}, ${R}}]}`, 'error', 'HTTP route cannot contain both route and redirect', at('route')],
  ['V12', '{hosts: [a], http: [{redirect: {uri: /x}, fault: {abort: {httpStatus: 500}}}]}', 'error', 'HTTP route cannot contain both fault and redirect', at('fault')],
  ['V13', '{hosts: [a], http: [{redirect: {uri: /x}, rewrite: {uri: /y}}]}', 'error', 'HTTP route rule cannot contain both rewrite and redirect', at('rewrite')],
  ['V14', '{hosts: [a], http: [{redirect: {uri: /x}, directResponse: {status: 200}}]}', 'error', 'HTTP route rule cannot contain both direct_response and redirect', at('directResponse')],
  ['V15', `{hosts: [a], http: [{directResponse: {status: 200}, ${R}}]}`, 'error', 'HTTP route cannot contain both route and direct_response', at('route')],
  ['V16', '{hosts: [a], http: [{directResponse: {status: 200}, fault: {abort: {httpStatus: 500}}}]}', 'error', 'HTTP route cannot contain both fault and direct_response', at('fault')],
  ['V16', '{hosts: [a], http: [{directResponse: {status: 200}, rewrite: {uri: /y}}]}', 'error', 'HTTP route rule cannot contain both rewrite and direct_response', at('rewrite')],
  ['V17', '{hosts: [a], http: [{match: [{uri: {prefix: /a}}]}]}', 'error', 'HTTP route, redirect or direct_response is required', H0],
  ['V18', `{hosts: [a], http: [{name: r1, delegate: {name: d}, ${R}}]}`, 'error', 'root HTTP route r1 must not specify route', at('route')],
  ['V18', '{hosts: [a], http: [{delegate: {name: d}, redirect: {uri: /x}}]}', 'error', 'must not specify redirect', at('redirect')],
  ['V18', '{hosts: [a], http: [{delegate: {name: d}, directResponse: {status: 200}}]}', 'error', 'must not specify direct_response', at('directResponse')],
  ['V19', `{http: [{delegate: {name: d}, ${R}}]}`, 'error', 'delegate HTTP route cannot contain delegate', at('delegate')],
  ['V20', `{hosts: [a], http: [{mirror: {host: m}, mirrors: [{destination: {host: m2}}], ${R}}]}`, 'error', 'HTTP route cannot contain both mirror and mirrors', at('mirrors')],
  ['V21', '{hosts: [a], http: [{route: [{destination: {host: a}, weight: -1}]}]}', 'error', 'weight -1 < 0', at('route', 0, 'weight')],
  ['V21', '{hosts: [a], tcp: [{route: [{destination: {host: a}, weight: -5}]}]}', 'error', 'weight -5 < 0', ['spec', 'tcp', 0, 'route', 0, 'weight']],
  ['V22', '{hosts: [a], http: [{route: [{destination: {host: a}, weight: 0}, {destination: {host: b}}]}]}', 'error', 'total destination weight = 0', at('route')],
  ['V23', '{hosts: [a], http: [{route: [{weight: 100}]}]}', 'error', '', at('route', 0, 'destination')],
  ['V24', `{hosts: [a], http: [{route: [{destination: {host: '*'}}]}]}`, 'error', 'invalid destination host *', at('route', 0, 'destination', 'host')],
  ['V24', '{hosts: [a], http: [{route: [{destination: {host: a_b.com}}]}]}', 'error', 'domain name "a_b.com" invalid', at('route', 0, 'destination', 'host')],
  ['V24', `{hosts: [a], http: [{mirror: {host: '*'}, ${R}}]}`, 'error', 'invalid destination host *', at('mirror', 'host')],
  ['V25', '{hosts: [a], http: [{route: [{destination: {host: a, subset: V1_beta}}]}]}', 'error', 'subset name is invalid: V1_beta', at('route', 0, 'destination', 'subset')],
  ['V26', '{hosts: [a], http: [{route: [{destination: {host: a, port: {number: 70000}}}]}]}', 'error', 'port number 70000 must be in the range 1..65535', at('route', 0, 'destination', 'port', 'number')],
  ['V26', `{hosts: [a], http: [{match: [{port: 70000}], ${R}}]}`, 'error', 'port number 70000 must be in the range 1..65535', at('match', 0, 'port')],
  ['V26', '{hosts: [a], http: [{redirect: {uri: /x, port: 65536}}]}', 'error', 'port number 65536 must be in the range 1..65535', at('redirect', 'port')],
  ['V26', '{hosts: [a], tcp: [{match: [{port: 99999}], route: [{destination: {host: a}}]}]}', 'error', 'port number 99999', ['spec', 'tcp', 0, 'match', 0, 'port']],
  ['V27', `{hosts: [a], http: [{match: [{uri: {regex: '(?=a)'}}], ${R}}]}`, 'error', '"uri": error parsing regexp', at('match', 0, 'uri', 'regex')],
  ['V27', `{hosts: [a], http: [{match: [{headers: {x-user: {regex: '(a'}}}], ${R}}]}`, 'error', '"headers": error parsing regexp', at('match', 0, 'headers', 'x-user', 'regex')],
  ['V27', `{hosts: [a], http: [{match: [{queryParams: {q: {regex: '[a'}}}], ${R}}]}`, 'error', '"queryParams": error parsing regexp', at('match', 0, 'queryParams', 'q', 'regex')],
  ['V27', `{hosts: [a], http: [{corsPolicy: {allowOrigins: [{regex: '(a'}]}, ${R}}]}`, 'error', '"corsPolicy.allowOrigins": error parsing regexp', at('corsPolicy', 'allowOrigins', 0, 'regex')],
  ['V27', `{hosts: [a], http: [{rewrite: {uriRegexRewrite: {match: '(a', rewrite: /b}}, ${R}}]}`, 'error', '"HTTPRewrite.UriRegexRewrite.Match": error parsing regexp', at('rewrite', 'uriRegexRewrite', 'match')],
  ['V27', `{hosts: [a], http: [{match: [{headers: {x: {regex: '*'}}}], ${R}}]}`, 'error', '"headers": error parsing regexp', at('match', 0, 'headers', 'x', 'regex')],
  ['V28', `{hosts: [a], http: [{match: [{authority: {regex: '${big(2000)}'}}], ${R}}]}`, 'error', '"authority": regex is too large, max length allowed is 1024', at('match', 0, 'authority', 'regex')],
  ['V29', `{hosts: [a], http: [{match: [{uri: {regex: ''}}], ${R}}]}`, 'error', '"uri": regex string match should not be empty', at('match', 0, 'uri', 'regex')],
  ['V29', `{hosts: [a], http: [{match: [{withoutHeaders: {x: {regex: ''}}}], ${R}}]}`, 'error', '"withoutHeaders": regex string match should not be empty', at('match', 0, 'withoutHeaders', 'x', 'regex')],
  ['V30', `{hosts: [a], http: [{match: [{method: {prefix: ''}}], ${R}}]}`, 'error', '"method": prefix string match should not be empty', at('match', 0, 'method', 'prefix')],
  ['V30', `{hosts: [a], http: [{match: [{scheme: {prefix: ''}}], ${R}}]}`, 'error', '"scheme": prefix string match', at('match', 0, 'scheme', 'prefix')],
  ['V30', `{hosts: [a], http: [{match: [{headers: {x: {prefix: ''}}}], ${R}}]}`, 'error', '"headers": prefix string match', at('match', 0, 'headers', 'x', 'prefix')],
  ['V31', `{hosts: [a], http: [{match: [{headers: {'bad header': {exact: x}}}], ${R}}]}`, 'error', 'header name bad header is not a valid header name', at('match', 0, 'headers', 'bad header')],
  ['V31', `{hosts: [a], http: [{match: [{withoutHeaders: {'x(y)': {}}}], ${R}}]}`, 'error', 'is not a valid header name', at('match', 0, 'withoutHeaders', 'x(y)')],
  ['V32', `{hosts: [a], http: [{match: [{headers: {x: null}}], ${R}}]}`, 'error', '', at('match', 0, 'headers', 'x')],
  ['V33', `{hosts: [a], http: [{match: [{sourceNamespace: Bad_NS}], ${R}}]}`, 'error', 'sourceNamespace match Bad_NS is invalid', at('match', 0, 'sourceNamespace')],
  ['V33', `{hosts: [a], http: [{match: [{sourceLabels: {'-bad': x}}], ${R}}]}`, 'error', 'invalid tag key: "-bad"', at('match', 0, 'sourceLabels', '-bad')],
  ['V33', '{hosts: [a], tcp: [{match: [{sourceLabels: {app: "a b"}}], route: [{destination: {host: a}}]}]}', 'error', 'invalid tag value: "a b"', ['spec', 'tcp', 0, 'match', 0, 'sourceLabels', 'app']],
  ['V34', `{hosts: [a], http: [{headers: {request: {set: {':path': /x}}}, ${R}}]}`, 'error', 'invalid header ":path": header cannot have ":" prefix', at('headers', 'request', 'set', ':path')],
  ['V34', `{hosts: [a], http: [{headers: {response: {add: {':status': '200'}}}, ${R}}]}`, 'error', 'invalid header ":status": header cannot have ":" prefix', at('headers', 'response', 'add', ':status')],
  ['V34', `{hosts: [a], http: [{route: [{destination: {host: a}, headers: {request: {add: {':method': GET}}}}]}]}`, 'error', 'header cannot have ":" prefix', at('route', 0, 'headers', 'request', 'add', ':method')],
  ['V35', `{hosts: [a], http: [{headers: {request: {remove: [x, host]}}, ${R}}]}`, 'error', 'invalid header "host": cannot set Host header', at('headers', 'request', 'remove', 1)],
  ['V35', `{hosts: [a], http: [{headers: {response: {set: {Host: b}}}, ${R}}]}`, 'error', 'invalid header "Host": cannot set Host header', at('headers', 'response', 'set', 'Host')],
  ['V36', `{hosts: [a], http: [{headers: {request: {set: {x: 'abc%123'}}}, ${R}}]}`, 'error', "header value configuration: invalid header configuration. Un-terminated variable expression 'abc%123'", at('headers', 'request', 'set', 'x')],
  ['V36', `{hosts: [a], http: [{headers: {response: {set: {x: 'a%'}}}, ${R}}]}`, 'error', 'Un-escaped %', at('headers', 'response', 'set', 'x')],
  ['V36', `{hosts: [a], http: [{headers: {request: {add: {x: "a\\u0001b"}}}, ${R}}]}`, 'error', 'header value configuration a\u0001b is invalid', at('headers', 'request', 'add', 'x')],
  ['V37', `{hosts: [a], http: [{rewrite: {authority: a}, headers: {request: {set: {host: b}}}, ${R}}]}`, 'error', 'authority header cannot be set multiple times: have "a", attempting to set "b"', at('headers', 'request', 'set', 'host')],
  ['V37', `{hosts: [a], http: [{headers: {request: {set: {host: a}, add: {':authority': b}}}, ${R}}]}`, 'error', 'authority header cannot be set multiple times', at('headers', 'request', 'add', ':authority')],
  ['V38', `{hosts: [a], http: [{timeout: 0s, ${R}}]}`, 'error', 'duration must be greater than 1ms', at('timeout')],
  ['V38', `{hosts: [a], http: [{timeout: 1500us, ${R}}]}`, 'error', 'only durations to ms precision are supported', at('timeout')],
  ['V39', `{hosts: [a], http: [{retries: {attempts: -1}, ${R}}]}`, 'error', 'attempts cannot be negative', at('retries', 'attempts')],
  ['V40', `{hosts: [a], http: [{retries: {attempts: 0, perTryTimeout: 1s}, ${R}}]}`, 'error', 'http retry policy configured when attempts are set to 0 (disabled)', at('retries')],
  ['V40', `{hosts: [a], http: [{retries: {retryOn: 5xx}, ${R}}]}`, 'error', 'http retry policy configured when attempts are set to 0', at('retries')],
  ['V41', `{hosts: [a], http: [{retries: {attempts: 2, retryOn: '5xx,foo'}, ${R}}]}`, 'error', '"foo" is not a valid retryOn policy', at('retries', 'retryOn')],
  ['V41', `{hosts: [a], http: [{retries: {attempts: 2, retryOn: '5xx, gateway-error'}, ${R}}]}`, 'error', '" gateway-error" is not a valid retryOn policy', at('retries', 'retryOn')],
  ['V41', `{hosts: [a], http: [{retries: {attempts: 2, retryOn: '599'}, ${R}}]}`, 'error', '"599" is not a valid retryOn policy', at('retries', 'retryOn')],
  ['V42', `{hosts: [a], http: [{retries: {attempts: 2, perTryTimeout: 0.5ms}, ${R}}]}`, 'error', 'duration must be greater than 1ms', at('retries', 'perTryTimeout')],
  ['V42', `{hosts: [a], http: [{retries: {attempts: 2, backoff: 1500us}, ${R}}]}`, 'error', 'only durations to ms precision', at('retries', 'backoff')],
  ['V43', `{hosts: [a], http: [{fault: {}, ${R}}]}`, 'error', 'HTTP fault injection must have an abort and/or a delay', at('fault')],
  ['V44', `{hosts: [a], http: [{fault: {abort: {httpStatus: 500, percentage: {value: 101}}}, ${R}}]}`, 'error', 'percentage 101 is neither 0.0, nor in range [0.0001, 100.0]', at('fault', 'abort', 'percentage', 'value')],
  ['V44', `{hosts: [a], http: [{fault: {delay: {fixedDelay: 1s, percentage: {value: 0.00001}}}, ${R}}]}`, 'error', 'percentage 1e-05 is neither', at('fault', 'delay', 'percentage', 'value')],
  ['V45', `{hosts: [a], http: [{fault: {abort: {httpStatus: 100}}, ${R}}]}`, 'error', 'HTTP status 100 is not in range 200-599', at('fault', 'abort', 'httpStatus')],
  ['V45', `{hosts: [a], http: [{fault: {abort: {httpStatus: 601}}, ${R}}]}`, 'error', 'HTTP status 601 is not in range 200-599', at('fault', 'abort', 'httpStatus')],
  ['V46', `{hosts: [a], http: [{fault: {abort: {grpcStatus: "14"}}, ${R}}]}`, 'error', `gRPC status "14" is not supported`, at('fault', 'abort', 'grpcStatus')],
  ['V47', `{hosts: [a], http: [{fault: {abort: {http2Error: x}}, ${R}}]}`, 'error', 'HTTP/2 abort fault injection not supported yet', at('fault', 'abort', 'http2Error')],
  ['V47', `{hosts: [a], http: [{fault: {delay: {exponentialDelay: 1s}}, ${R}}]}`, 'error', 'exponentialDelay not supported yet', at('fault', 'delay', 'exponentialDelay')],
  ['V48', `{hosts: [a], http: [{fault: {abort: {percentage: {value: 5}}}, ${R}}]}`, 'warning', 'abort configured, but error type not set', at('fault', 'abort')],
  ['V49', '{hosts: [a], http: [{redirect: {}}]}', 'error', 'redirect must specify URI, authority, scheme, or port', at('redirect')],
  ['V49', '{hosts: [a], http: [{redirect: {redirectCode: 302}}]}', 'error', 'redirect must specify URI, authority, scheme, or port', at('redirect')],
  ['V50', '{hosts: [a], http: [{redirect: {uri: /a, prefixRewrite: /b}}]}', 'error', 'redirect may only specify one of uri or prefix_rewrite', at('redirect', 'prefixRewrite')],
  ['V51', '{hosts: [a], http: [{match: [{uri: {prefix: /x}}, {uri: {exact: /a}}], redirect: {prefixRewrite: /b}}]}', 'error', 'redirect prefix_rewrite requires all URI matches to use prefix match type', at('redirect', 'prefixRewrite')],
  ['V52', '{hosts: [a], http: [{redirect: {uri: /a, redirectCode: 200}}]}', 'error', '200 is not a valid redirect code, must be 3xx', at('redirect', 'redirectCode')],
  ['V53', '{hosts: [a], http: [{redirect: {scheme: ftp}}]}', 'error', 'invalid redirect scheme, must be "http" or "https"', at('redirect', 'scheme')],
  ['V54', '{hosts: [a], http: [{directResponse: {status: 99}}]}', 'error', 'HTTP status 99 is not in range 200-599', at('directResponse', 'status')],
  ['V54', `{hosts: [a], http: [{directResponse: {status: 200, body: {string: '${big(2 * 1024 * 1024)}'}}}]}`, 'error', 'large direct_responses may impact control plane performance, must be less than 1MB', at('directResponse', 'body')],
  ['V54', `{hosts: [a], http: [{directResponse: {status: 200, body: {bytes: '${Buffer.alloc(200 * 1024).toString('base64')}'}}}]}`, 'warning', 'large direct_responses may impact control plane performance', at('directResponse', 'body')],
  ['V55', `{hosts: [a], http: [{rewrite: {}, ${R}}]}`, 'error', 'rewrite must specify at least one of URI, UriRegexRewrite, or authority', at('rewrite')],
  ['V55', `{hosts: [a], http: [{rewrite: {uri: /a, uriRegexRewrite: {match: a, rewrite: b}}, ${R}}]}`, 'error', 'rewrite may only contain one of URI or UriRegexRewrite', at('rewrite')],
  ['V56', `{hosts: [a], http: [{rewrite: {uriRegexRewrite: {match: ^/a}}, ${R}}]}`, 'error', 'UriRegexRewrite requires both Rewrite and Match fields to be specified', at('rewrite', 'uriRegexRewrite')],
  ['V57', `{hosts: [a], http: [{mirror: {host: m}, mirrorPercentage: {value: 150}, ${R}}]}`, 'error', 'mirror_percentage must have a max value of 100 (it has 150.000000)', at('mirrorPercentage', 'value')],
  ['V57', `{hosts: [a], http: [{mirrors: [{destination: {host: m}, percentage: {value: -1}}], ${R}}]}`, 'error', 'mirror percentage must have a min value of 0 (it has -1.000000)', at('mirrors', 0, 'percentage', 'value')],
  ['V57', `{hosts: [a], http: [{mirrors: [{destination: {host: m, subset: a.b}}], ${R}}]}`, 'error', 'subset name is invalid: a.b', at('mirrors', 0, 'destination', 'subset')],
  ['V58', `{hosts: [a], http: [{mirror: {host: m}, mirrorPercent: 50, ${R}}]}`, 'warning', 'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead', at('mirrorPercent')],
  ['V58', `{hosts: [a], http: [{mirror: {host: m}, mirrorPercent: 150, ${R}}]}`, 'error', 'mirror_percent must have a max value of 100 (it has 150)', at('mirrorPercent')],
  ['V59', `{hosts: [a], http: [{corsPolicy: {allowMethods: [GET, FOO]}, ${R}}]}`, 'error', '"FOO" is not a supported HTTP method', at('corsPolicy', 'allowMethods', 1)],
  ['V59', `{hosts: [a], http: [{corsPolicy: {maxAge: 1500ms}, ${R}}]}`, 'error', 'max_age duration is accurate only to seconds precision', at('corsPolicy', 'maxAge')],
  ['V59', `{hosts: [a], http: [{corsPolicy: {allowHeaders: ['bad header']}, ${R}}]}`, 'error', 'header name bad header is not a valid header name', at('corsPolicy', 'allowHeaders', 0)],
  ['V59', `{hosts: [a], http: [{corsPolicy: {exposeHeaders: ['']}, ${R}}]}`, 'error', 'header name cannot be empty', at('corsPolicy', 'exposeHeaders', 0)],
  ['V59', `{hosts: [a], http: [{corsPolicy: {allowOrigins: [{exact: ''}]}, ${R}}]}`, 'error', "'' is not a valid match type for CORS allow origins", at('corsPolicy', 'allowOrigins', 0)],
  ['V60', '{hosts: [a.com], tls: [{match: [], route: [{destination: {host: a}}]}]}', 'error', 'TLS route must have at least one match condition', ['spec', 'tls', 0, 'match']],
  ['V60', '{hosts: [a.com], tls: [{match: [{sniHosts: []}], route: [{destination: {host: a}}]}]}', 'error', 'TLS match must have at least one SNI host', ['spec', 'tls', 0, 'match', 0, 'sniHosts']],
  ['V60', '{hosts: [a.com], tls: [{match: [{sniHosts: [a.com]}]}]}', 'error', 'TLS route is required', ['spec', 'tls', 0, 'route']],
  ['V61', '{hosts: [a.com], tls: [{match: [{sniHosts: [b.com]}], route: [{destination: {host: a}}]}]}', 'error', 'SNI host "b.com" is not a compatible subset of any of the virtual service hosts: [a.com]', ['spec', 'tls', 0, 'match', 0, 'sniHosts', 0]],
  ['V61', `{hosts: ['*.a.com'], tls: [{match: [{sniHosts: [x.a.com, '*.com']}], route: [{destination: {host: a}}]}]}`, 'error', 'SNI host "*.com" is not a compatible subset', ['spec', 'tls', 0, 'match', 0, 'sniHosts', 1]],
  ['V61', '{hosts: [a.com], tls: [{match: [{sniHosts: [a_b.com]}], route: [{destination: {host: a}}]}]}', 'error', 'domain name "a_b.com" invalid', ['spec', 'tls', 0, 'match', 0, 'sniHosts', 0]],
  ['V62', `{hosts: ['*'], gateways: [gw], tls: [{match: [{sniHosts: [1.2.3.4]}], route: [{destination: {host: a}}]}]}`, 'warning', 'using an IP address ("1.2.3.4") goes against SNI spec and most clients do not support this', ['spec', 'tls', 0, 'match', 0, 'sniHosts', 0]],
  ['V63', '{hosts: [a], tcp: [{match: [{port: 80}]}]}', 'error', 'TCP route is required', ['spec', 'tcp', 0, 'route']],
  ['V63', '{hosts: [a], tcp: [{match: [{destinationSubnets: [10.0.0.0/8, 1.2.3.4/33]}], route: [{destination: {host: a}}]}]}', 'error', '1.2.3.4/33 is not a valid CIDR block', ['spec', 'tcp', 0, 'match', 0, 'destinationSubnets', 1]],
  ['V63', '{hosts: [a.com], tls: [{match: [{sniHosts: [a.com], destinationSubnets: [1.2.3]}], route: [{destination: {host: a}}]}]}', 'error', '1.2.3 is not a valid IP', ['spec', 'tls', 0, 'match', 0, 'destinationSubnets', 0]],
  ['V64', `{hosts: [a], exportTo: [default, .], http: [{${R}}]}`, 'error', 'duplicate entries in exportTo: . and current namespace default', ['spec', 'exportTo', 1]],
  ['V64', `{hosts: [a], exportTo: [., default], http: [{${R}}]}`, 'error', 'duplicate entries in exportTo for entry default', ['spec', 'exportTo', 1]],
  ['V64', `{hosts: [a], exportTo: ['*', ns1], http: [{${R}}]}`, 'error', 'cannot have both public (*) and non-public exportTo values', ['spec', 'exportTo']],
  ['V64', `{hosts: [a], exportTo: ['~'], http: [{${R}}]}`, 'error', 'exportTo ~ (none) is not allowed for Istio configuration objects', ['spec', 'exportTo', 0]],
  ['V65', `{hosts: [a], http: [{${R}}, {match: [{uri: {prefix: /a}}], ${R}}]}`, 'warning', 'virtualService rule #1 not used (route without matches defined before)', ['spec', 'http', 1]],
  ['V65', `{hosts: [a], http: [{${R}}, {name: last, ${R}}]}`, 'warning', 'virtualService rule "last" not used (only the last rule can have no matches)', ['spec', 'http', 1]],
  ['V65', `{hosts: [a], http: [{match: [{uri: {prefix: /}}], ${R}}, {match: [{uri: {exact: /a}}], ${R}}]}`, 'warning', 'virtualService rule #1 not used (route with catch-all match defined before)', ['spec', 'http', 1]],
  ['V65', `{hosts: [a], http: [{match: [{uri: {exact: /a}}], ${R}}, {match: [{name: n, uri: {exact: /a}}], ${R}}]}`, 'warning', 'virtualService rule #1 not used (all matches used by prior rules)', ['spec', 'http', 1]],
  ['V65', '{hosts: [a], tcp: [{route: [{destination: {host: a}}]}, {match: [{port: 1}], route: [{destination: {host: b}}]}]}', 'warning', 'virtualService rule #1 not used (route without matches defined before)', ['spec', 'tcp', 1]],
  ['V66', `{hosts: [a], http: [{match: [{uri: {exact: /a}}], ${R}}, {match: [{uri: {exact: /b}}, {uri: {exact: /a}}], ${R}}]}`, 'warning', 'virtualService rule #1 match #1 is not used (duplicate/overlapping match in rule #0)', ['spec', 'http', 1, 'match', 1]],
  ['V66', `{hosts: [a], http: [{name: r0, match: [{uri: {prefix: /a}}], ${R}}, {name: r1, match: [{name: m, uri: {prefix: /a/b}}], ${R}}]}`, 'warning', 'virtualService rule "r1" match "m" of prefix /a/b is not used (duplicate/overlapping match in rule #0 of prefix /a on "r0")', ['spec', 'http', 1, 'match', 0]],
  ['V66', `{hosts: [a], http: [{match: [{uri: {prefix: /a}, headers: {x: {prefix: v}}}], ${R}}, {match: [{uri: {prefix: /a/b}, headers: {x: {exact: v1}}}], ${R}}]}`, 'warning', 'of prefix /a/b is not used', ['spec', 'http', 1, 'match', 0]],
  ['V66', '{hosts: [a.com], tls: [{match: [{sniHosts: [a.com]}], route: [{destination: {host: a}}]}, {match: [{sniHosts: [a.com]}], route: [{destination: {host: b}}]}]}', 'warning', 'virtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0)', ['spec', 'tls', 1, 'match', 0]],
];

/** rule, spec: must produce no finding at all (neither error nor warning). */
const VALID: Array<[string, string, string?]> = [
  ['V1', `{hosts: [a], http: [{${R}}]}`],
  ['V1', '{hosts: [a], tcp: [{route: [{destination: {host: a}}]}]}'],
  ['V2', `{http: [{${R}}]}`],
  ['V3', `{http: [{match: [{uri: {prefix: /a}}], ${R}}]}`],
  ['V4', `{hosts: ['*'], gateways: [gw], http: [{${R}}]}`],
  ['V5', `{hosts: ['*.foo.com', 1.2.3.4, '::1', a], http: [{${R}}]}`],
  ['V5', `{hosts: [outbound_.80_._.foo.com], gateways: [gw], tls: [{match: [{sniHosts: [outbound_.80_._.foo.com]}], route: [{destination: {host: a}}]}]}`],
  ['V6', `{hosts: [foo.a123], http: [{${R}}]}`],
  ['V7', `{hosts: [a.foo.com, b.foo.com, reviews, reviews.other.svc.cluster.local], http: [{${R}}]}`],
  ['V8', `{hosts: [a], gateways: [istio-system/gw, gw, mesh], http: [{match: [{gateways: [ns1/gw2]}], ${R}}]}`],
  ['V10', `{hosts: [a], gateways: [gw], http: [{match: [{headers: {'@request.auth.claims.group': {exact: a}}}], ${R}}]}`],
  ['V11', '{hosts: [a], http: [{redirect: {uri: /x}}]}'],
  ['V15', '{hosts: [a], http: [{directResponse: {status: 503, body: {string: down}}}]}'],
  ['V18', `{hosts: [a], http: [{match: [{uri: {prefix: /a}}], delegate: {name: d, namespace: other}}, {${R}}]}`],
  ['V19', `{http: [{match: [{uri: {prefix: /a}}], ${R}}]}`],
  ['V20', `{hosts: [a], http: [{mirrors: [{destination: {host: m}, percentage: {value: 50}}], ${R}}]}`],
  ['V21', '{hosts: [a], http: [{route: [{destination: {host: a}, weight: 80}, {destination: {host: b}, weight: 30}]}]}'],
  ['V22', '{hosts: [a], http: [{route: [{destination: {host: a}, weight: 0}]}]}'],
  ['V24', '{hosts: [a], http: [{route: [{destination: {host: "*.example.com"}}]}]}'],
  ['V25', '{hosts: [a], http: [{route: [{destination: {host: a, subset: v1-beta}}]}]}'],
  ['V26', `{hosts: [a], http: [{match: [{port: 8080}], route: [{destination: {host: a, port: {number: 65535}}}]}]}`],
  ['V27', `{hosts: [a], http: [{match: [{uri: {regex: '/api/v[0-9]+/.*'}, headers: {x: {regex: '(?i)abc'}}}], ${R}}]}`],
  ['V28', `{hosts: [a], http: [{match: [{uri: {regex: '${big(1024)}'}}], ${R}}]}`],
  ['V29', `{hosts: [a], http: [{match: [{withoutHeaders: {x: {regex: '*'}}}], ${R}}]}`],
  ['V30', `{hosts: [a], http: [{match: [{uri: {prefix: ''}}], ${R}}]}`],
  ['V31', `{hosts: [a], http: [{match: [{headers: {':authority': {exact: x}, ':status': {}, x-User_1: {prefix: a}}}], ${R}}]}`],
  ['V33', `{hosts: [a], http: [{match: [{sourceNamespace: prod, sourceLabels: {app.kubernetes.io/name: web, version: v1}}], ${R}}]}`],
  ['V34', `{hosts: [a], http: [{headers: {request: {set: {':authority': b.com}, remove: [x]}, response: {set: {x: y}}}, ${R}}]}`],
  ['V36', `{hosts: [a], http: [{headers: {request: {set: {x: '%HOSTNAME%', y: '100%%', z: 'pre %START_TIME(%s)% post', w: "%REQ([\\"a\\", \\"b\\"])%", t: "a\\tb"}}}, ${R}}]}`],
  ['V37', `{hosts: [a], http: [{rewrite: {authority: a}, headers: {request: {set: {x: b}}}, ${R}}]}`],
  ['V38', `{hosts: [a], http: [{timeout: 1ms, ${R}}]}`],
  ['V40', `{hosts: [a], http: [{retries: {attempts: 0}, ${R}}]}`],
  ['V41', `{hosts: [a], http: [{retries: {attempts: 3, perTryTimeout: 2s, backoff: 25ms, retryOn: '5xx,503,retriable-status-codes,unavailable,+429'}, ${R}}]}`],
  ['V44', `{hosts: [a], http: [{fault: {delay: {fixedDelay: 7s, percentage: {value: 0}}, abort: {httpStatus: 600, percentage: {value: 0.0001}}}, ${R}}]}`],
  ['V46', `{hosts: [a], http: [{fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}, ${R}}]}`],
  ['V49', '{hosts: [a], http: [{redirect: {derivePort: FROM_REQUEST_PORT}}]}'],
  ['V51', '{hosts: [a], http: [{match: [{uri: {prefix: /a}}, {headers: {x: {exact: y}}}], redirect: {prefixRewrite: /b, redirectCode: 308, scheme: https, port: 8443}}]}'],
  ['V54', `{hosts: [a], http: [{directResponse: {status: 600, body: {bytes: '${Buffer.alloc(1024).toString('base64')}'}}}]}`],
  ['V56', `{hosts: [a], http: [{rewrite: {uriRegexRewrite: {match: '^/a/(.*)', rewrite: '/b/\\1'}}, ${R}}]}`],
  ['V57', `{hosts: [a], http: [{mirror: {host: m}, mirrorPercentage: {value: 100}, ${R}}]}`],
  ['V59', `{hosts: [a], http: [{corsPolicy: {allowOrigins: [{exact: 'https://a.com'}, {regex: '.*\\.b\\.com'}], allowMethods: [GET, POST, '*'], allowHeaders: ['*', x-user], maxAge: 24h}, ${R}}]}`],
  ['V61', `{hosts: ['*.com', a], tls: [{match: [{sniHosts: [b.com, '*.x.com', a.default.svc.cluster.local]}], route: [{destination: {host: a}}]}]}`],
  ['V63', '{hosts: [a], tcp: [{match: [{port: 31400, destinationSubnets: [10.0.0.0/8, 1.2.3.4, "2001:db8::/32"]}], route: [{destination: {host: a}}]}]}'],
  ['V64', `{hosts: [a], exportTo: [., other], http: [{${R}}]}`],
  ['V64', `{hosts: [a], exportTo: ['*'], http: [{${R}}]}`],
  ['V65', `{hosts: [a], http: [{match: [{uri: {prefix: /a}}], ${R}}, {match: [{uri: {prefix: /}, headers: {x: {exact: y}}}], ${R}}, {${R}}]}`],
  ['V66', `{hosts: [a], http: [{match: [{uri: {prefix: /a/b}}], ${R}}, {match: [{uri: {prefix: /a}, headers: {x: {exact: y}}}], ${R}}, {match: [{uri: {prefix: /a/c}}], ${R}}]}`],
  ['V66', `{hosts: [a], http: [{match: [{uri: {prefix: /a}, method: {exact: GET}}], ${R}}, {match: [{uri: {prefix: /a/b}}], ${R}}]}`],
];

test('every §4.1 rule V1–V66 has an invalid and a valid case', () => {
  const rules = (rows: ReadonlyArray<readonly unknown[]>) => new Set(rows.map((r) => r[0] as string));
  const bad = rules(INVALID);
  const good = rules(VALID);
  for (let i = 1; i <= 66; i++) assert.ok(bad.has(`V${i}`), `no invalid case for V${i}`);
  // Rules about a combination of fields have no "valid" form of their own beyond a
  // rule without the combination; the ones listed here are covered by other valid rows.
  const combined = new Set(['V9', 'V12', 'V13', 'V14', 'V16', 'V17', 'V23', 'V32', 'V35', 'V39', 'V42', 'V43', 'V45', 'V47', 'V48', 'V50', 'V52', 'V53', 'V55', 'V58', 'V60', 'V62']);
  for (let i = 1; i <= 66; i++) {
    if (!combined.has(`V${i}`)) assert.ok(good.has(`V${i}`), `no valid case for V${i}`);
  }
});

for (const [rule, spec, sev, msg, path] of INVALID) {
  test(`${rule} rejects/warns: ${spec.length > 140 ? `${spec.slice(0, 140)}…` : spec}`, () => {
    const { findings, admitted } = run(spec);
    const hit = findings.find(
      (f) => (f.severity ?? 'error') === sev && f.message.includes(msg) && JSON.stringify(f.path) === JSON.stringify(path),
    );
    assert.ok(hit, `expected ${sev} containing ${JSON.stringify(msg)} at ${JSON.stringify(path)}; got:\n${show(findings)}`);
    assert.equal(admitted, sev === 'warning', `admitted\n${show(findings)}`);
  });
}

for (const [rule, spec] of VALID) {
  test(`${rule} accepts: ${spec.length > 140 ? `${spec.slice(0, 140)}…` : spec}`, () => {
    const { findings, admitted } = run(spec);
    assert.deepEqual(findings, [], show(findings));
    assert.ok(admitted);
  });
}

// The schema already refuses these shapes; the webhook rule must still hold on its own.
test('semantic messages for shapes the schema refuses first (V23, V32, V57)', () => {
  const cases: Array<[unknown, string, FieldPath]> = [
    [{ hosts: ['a'], http: [{ route: [{ weight: 100 }] }] }, 'destination is required', at('route', 0, 'destination')],
    [
      { hosts: ['a'], http: [{ match: [{ headers: { x: null } }], route: [{ destination: { host: 'a' } }] }] },
      'header match x cannot be null',
      at('match', 0, 'headers', 'x'),
    ],
    [
      { hosts: ['a'], http: [{ mirrors: [{ percentage: { value: 5 } }], route: [{ destination: { host: 'a' } }] }] },
      'destination is required for mirrors',
      at('mirrors', 0, 'destination'),
    ],
  ];
  for (const [spec, msg, path] of cases) {
    const fs = semantic(spec);
    assert.ok(
      fs.some((f) => f.message === msg && JSON.stringify(f.path) === JSON.stringify(path) && (f.severity ?? 'error') === 'error'),
      `${msg}\n${show(fs)}`,
    );
  }
});

test('one redirect/rewrite problem at a time, like the webhook', () => {
  const { findings } = run('{hosts: [a], http: [{redirect: {uri: /a, prefixRewrite: /b, redirectCode: 200, scheme: ftp}}]}');
  assert.deepEqual(
    findings.map((f) => f.message),
    ['redirect may only specify one of uri or prefix_rewrite'],
  );
});

test('a VS bound only to gateways may use JWT claims; match-level gateways do not change that', () => {
  const spec = (gws: string) =>
    `{hosts: [a], gateways: [${gws}], http: [{match: [{gateways: [gw], headers: {'@request.auth.claims.sub': {exact: x}}}], ${R}}]}`;
  assert.deepEqual(run(spec('ns/gw')).findings, []);
  assert.ok(run(spec('ns/gw, mesh')).findings.some((f) => f.message.startsWith('JWT claim based routing')));
});

// ---------------------------------------------------------------------------------------
// Istio's own samples must validate without errors.

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const samples = path.resolve(repoRoot, '..', 'shared', 'istio', 'samples');

test('every VirtualService in istio/samples validates without errors', { skip: !existsSync(samples) && 'shared/ not present' }, () => {
  const loaded = loadPaths([samples], { namespace: 'default' });
  const vss = loaded.resources.filter((r) => r.kind === 'VirtualService');
  assert.ok(vss.length >= 20, `found ${vss.length} VirtualServices`);
  const bookinfo = vss.filter((r) => r.source.file.includes(`bookinfo${path.sep}networking`));
  assert.ok(bookinfo.length >= 15, `found ${bookinfo.length} bookinfo VirtualServices`);
  for (const raw of vss) {
    const { resource, findings } = validateOne(raw);
    const errors = findings.filter((f) => (f.severity ?? 'error') === 'error');
    assert.deepEqual(errors, [], `${raw.source.file} ${raw.meta.name}:\n${show(errors)}`);
    assert.ok(resource, raw.source.file);
  }
});

test('the bookinfo fault-injection sample gets the webhook’s unreachable-rule warning', { skip: !existsSync(samples) && 'shared/ not present' }, () => {
  const file = path.join(samples, 'bookinfo', 'networking', 'fault-injection-details-v1.yaml');
  const vs = loadPaths([file], { namespace: 'default' }).resources.filter((r) => r.kind === 'VirtualService');
  assert.equal(vs.length, 1);
  const { findings } = validateOne(vs[0]);
  assert.deepEqual(
    findings.map((f) => [f.severity, f.message, f.path]),
    [['warning', 'virtualService rule #1 not used (only the last rule can have no matches)', ['spec', 'http', 1]]],
  );
});
