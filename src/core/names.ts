/**
 * Kubernetes label and HTTP name checks used by validation. Each validator returns null
 * when the input is valid, else an error message in Istio's wording where Istio has one.
 */

/** Istio's `IsDNS1123Label` flavour: case-insensitive (Kubernetes' own is lowercase-only). */
const DNS_LABEL = '[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?';
/** Kubernetes qualified name: alphanumerics plus `-`, `_`, `.`, alphanumeric at both ends. */
const QUALIFIED_NAME = '(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
/** Label key: optional `dns.prefix/` then a qualified name (Istio's `tagRegexp`). */
const LABEL_KEY_RE = new RegExp(`^(?:(${DNS_LABEL}(?:\\.${DNS_LABEL})*)/)?(${QUALIFIED_NAME})$`);
const LABEL_VALUE_RE = new RegExp(`^(?:${QUALIFIED_NAME})?$`);
const PORT_NAME_RE = new RegExp(`^${DNS_LABEL}$`);
/** RFC 7230 `token`: the characters allowed in a header field name. */
const HEADER_TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** HTTP/2 request pseudo-headers that Istio accepts as header-match keys. */
const PSEUDO_HEADERS: readonly string[] = Object.freeze([':authority', ':method', ':path', ':scheme']);

const MAX_NAME = 63;
const MAX_PREFIX = 253;
/** The CRD rule `size(key) < 63` is one shorter than the DNS-1123 limit; both are enforced. */
const MAX_PORT_NAME = 62;

/**
 * Validates a Kubernetes label key: `name` or `prefix/name`, where the prefix is a DNS
 * subdomain of ≤ 253 characters and the name a qualified name of ≤ 63 characters.
 * Errors: `invalid tag key: "k"` (Istio's `labels.Instance.Validate` wording), with
 * `(DNS prefix is too long)` / `(name is too long)` detail for length failures.
 */
export function validateLabelKey(k: string): string | null {
  const m = LABEL_KEY_RE.exec(k);
  if (!m) return `invalid tag key: ${JSON.stringify(k)}`;
  if (m[1] !== undefined && m[1].length > MAX_PREFIX) return `invalid tag key: ${JSON.stringify(k)} (DNS prefix is too long)`;
  if (m[2].length > MAX_NAME) return `invalid tag key: ${JSON.stringify(k)} (name is too long)`;
  return null;
}

/**
 * Validates a Kubernetes label value: empty, or a qualified name of ≤ 63 characters.
 * Error: `invalid tag value: "v"`.
 */
export function validateLabelValue(v: string): string | null {
  if (v.length > MAX_NAME || !LABEL_VALUE_RE.test(v)) return `invalid tag value: ${JSON.stringify(v)}`;
  return null;
}

/**
 * Validates a label map (subset labels, workload selectors, sourceLabels). A `*` in a key
 * or value gives the CRD's `wildcard is not supported in selector`, checked first because
 * it is the most useful message for the common mistake `app: "*"`. Then keys and values
 * are validated in insertion order; the first problem is returned.
 */
export function validateLabels(labels: Record<string, unknown>): string | null {
  for (const [k, v] of Object.entries(labels)) {
    if (k.includes('*') || (typeof v === 'string' && v.includes('*'))) return 'wildcard is not supported in selector';
  }
  for (const [k, v] of Object.entries(labels)) {
    const keyErr = validateLabelKey(k);
    if (keyErr) return keyErr;
    if (typeof v !== 'string') return `invalid tag value for key ${JSON.stringify(k)}: must be a string`;
    const valErr = validateLabelValue(v);
    if (valErr) return valErr;
  }
  return null;
}

/**
 * Validates an HTTP header name used in matches and header operations: an RFC 7230 token
 * (letters of any case, digits, ``!#$%&'*+-.^_`|~``), or one of the pseudo-headers
 * `:authority`, `:method`, `:path`, `:scheme` (compared case-insensitively, like all
 * header names). Errors: `header name cannot be empty`,
 * `header name X is not a valid header name`.
 */
export function validateHeaderName(name: string): string | null {
  if (name === '') return 'header name cannot be empty';
  if (HEADER_TOKEN_RE.test(name) || PSEUDO_HEADERS.includes(name.toLowerCase())) return null;
  return `header name ${name} is not a valid header name`;
}

/**
 * Validates a port name (Gateway/ServiceEntry/Sidecar ports, WorkloadEntry `ports` keys).
 * Istio's webhook requires its case-insensitive DNS-1123 label (`ValidatePortName`) and
 * the CRD adds `size(key) < 63` with the same character rule, so valid names are
 * `[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?` of at most 62 characters. Not the IANA
 * 15-character service-name rule: Istio does not apply it.
 * Error: `invalid port name: X` (the webhook's wording).
 */
export function validatePortName(name: string): string | null {
  if (name.length > MAX_PORT_NAME || !PORT_NAME_RE.test(name)) return `invalid port name: ${name}`;
  return null;
}

/**
 * Validates a port number: an integer in 1..65535. Error:
 * `port number N must be in the range 1..65535` (non-numbers are shown JSON-encoded).
 */
export function validatePortNumber(n: unknown): string | null {
  if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535) return null;
  return `port number ${showValue(n)} must be in the range 1..65535`;
}

/** Renders an arbitrary config value for a message; never throws (bigint, cycles). */
function showValue(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * Go's `net/http.StatusText` table. Istio accepts a numeric `retryOn` token only when this
 * is non-empty, so the table is Go's exactly (e.g. no 306 or 509, and Go's older reason
 * phrases such as "Request Entity Too Large").
 */
const STATUS_TEXT: Readonly<Record<number, string>> = Object.freeze({
  100: 'Continue',
  101: 'Switching Protocols',
  102: 'Processing',
  103: 'Early Hints',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  203: 'Non-Authoritative Information',
  204: 'No Content',
  205: 'Reset Content',
  206: 'Partial Content',
  207: 'Multi-Status',
  208: 'Already Reported',
  226: 'IM Used',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  305: 'Use Proxy',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Request Entity Too Large',
  414: 'Request URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Requested Range Not Satisfiable',
  417: 'Expectation Failed',
  418: "I'm a teapot",
  421: 'Misdirected Request',
  422: 'Unprocessable Entity',
  423: 'Locked',
  424: 'Failed Dependency',
  425: 'Too Early',
  426: 'Upgrade Required',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
  506: 'Variant Also Negotiates',
  507: 'Insufficient Storage',
  508: 'Loop Detected',
  510: 'Not Extended',
  511: 'Network Authentication Required',
});

/** Standard reason phrase for an HTTP status code (Go's table), or undefined if unknown. */
export function httpStatusText(code: number): string | undefined {
  return Object.hasOwn(STATUS_TEXT, code) ? STATUS_TEXT[code] : undefined;
}
