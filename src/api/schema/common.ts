/**
 * Building blocks for the structural schema of Istio's networking API (our own
 * zod schema, written from the istio/api protos; the CRD in ../shared is only a test oracle).
 * Structural means what the Kubernetes API server rejects: unknown fields, wrong types,
 * bad enum values, ranges and the CRD's CEL rules. The webhook's semantic rules live in
 * src/validate/.
 */
import { z } from 'zod';
import { validateDuration } from '../../core/duration.js';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A proto message: unknown fields rejected; a field explicitly set to `null` counts as
 * unset (as the API server treats it). Map values (records) keep their nulls so
 * `headers: {x: null}` is still an error.
 */
export function msg<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.preprocess((v) => (isPlainObject(v) ? dropNullKeys(v) : v), z.strictObject(shape));
}

function dropNullKeys(v: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(v)) {
    if (v[k] === null) {
      out ??= { ...v };
      delete out[k];
    }
  }
  return out ?? v;
}

export const str = () => z.string();
export const bool = () => z.boolean();
export const strList = () => z.array(z.string());
export const strMap = () => z.record(z.string(), z.string());

const INT32_MAX = 2147483647;
const UINT32_MAX = 4294967295;
/** int32 proto field. */
export const int32 = () => z.number().int().min(-INT32_MAX - 1).max(INT32_MAX);
/** uint32 proto field (and UInt32Value wrappers). */
export const uint32 = () => z.number().int().min(0).max(UINT32_MAX);
export const double = () => z.number();

/** A google.protobuf.Duration in Go/Kubernetes form (`10s`, `1.5s`, `100ms`); CRD CEL: >= 1ms. */
export const duration = (opts: { allowZero?: boolean; secondsPrecision?: boolean } = {}) =>
  z.string().check((ctx) => {
    const err = validateDuration(ctx.value, opts);
    if (err) ctx.issues.push({ code: 'custom', message: err, input: ctx.value });
  });

/** A port number with the CRD's CEL rule. */
export const portNumber = () =>
  uint32().check((ctx) => {
    if (ctx.value < 1 || ctx.value > 65535)
      ctx.issues.push({ code: 'custom', message: 'port must be between 1-65535', input: ctx.value });
  });

/** Proto enum given by name. */
export const enumOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values);

/** At most one of the given keys may be set (proto oneof). */
export function oneOf<T extends z.ZodType>(schema: T, groups: string[][]) {
  return schema.check((ctx) => {
    const v = ctx.value as Record<string, unknown> | undefined;
    if (!isPlainObject(v)) return;
    for (const keys of groups) {
      const set = keys.filter((k) => v[k] !== undefined && v[k] !== null);
      if (set.length > 1)
        ctx.issues.push({
          code: 'custom',
          message: `only one of ${keys.join(', ')} may be set (got ${set.join(' and ')})`,
          input: v,
        });
    }
  });
}

/** StringMatch: `exact` | `prefix` | `regex` (RE2). Empty `{}` is allowed (presence match for headers). */
export const StringMatch = oneOf(msg({ exact: str().optional(), prefix: str().optional(), regex: str().optional() }), [
  ['exact', 'prefix', 'regex'],
]);

export const Percent = msg({ value: double().optional() });

export const PortSelector = msg({ number: uint32().optional() });

export const Destination = msg({ host: str(), subset: str().optional(), port: PortSelector.optional() });

/** WorkloadSelector as used by ServiceEntry and Sidecar (`labels`). */
export const WorkloadSelector = msg({
  labels: z
    .record(
      z.string(),
      z.string().check((ctx) => {
        if (ctx.value.includes('*'))
          ctx.issues.push({ code: 'custom', message: 'wildcard is not supported in selector', input: ctx.value });
        if (ctx.value.length > 63)
          ctx.issues.push({ code: 'custom', message: 'must be no more than 63 characters', input: ctx.value });
      }),
    )
    .optional(),
});

/** A Kubernetes-style label selector on DestinationRule (`matchLabels`). */
export const MatchLabelsSelector = msg({
  matchLabels: z
    .record(
      z.string(),
      z.string().check((ctx) => {
        if (ctx.value.includes('*'))
          ctx.issues.push({ code: 'custom', message: 'wildcard not allowed in label value match', input: ctx.value });
      }),
    )
    .check((ctx) => {
      for (const k of Object.keys(ctx.value)) {
        if (k === '') ctx.issues.push({ code: 'custom', message: 'key must not be empty', input: ctx.value });
        if (k.includes('*'))
          ctx.issues.push({ code: 'custom', message: 'wildcard not allowed in label key match', input: ctx.value });
      }
    })
    .optional(),
});

/** Shared port shape of Gateway servers and Sidecar listeners. */
export const ServerPort = msg({
  number: uint32().optional(),
  protocol: str().optional(),
  name: str().optional(),
  targetPort: uint32().optional(),
});

export const ServerTLSSettings = msg({
  httpsRedirect: bool().optional(),
  mode: enumOf(['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL']).optional(),
  serverCertificate: str().optional(),
  privateKey: str().optional(),
  caCertificates: str().optional(),
  caCrl: str().optional(),
  credentialName: str().optional(),
  credentialNames: z.array(z.string()).min(1).max(2).optional(),
  caCertCredentialName: str().optional(),
  tlsCertificates: z
    .array(
      msg({ serverCertificate: str().optional(), privateKey: str().optional(), caCertificates: str().optional() }),
    )
    .min(1)
    .max(2)
    .optional(),
  subjectAltNames: strList().optional(),
  verifyCertificateSpki: strList().optional(),
  verifyCertificateHash: strList().optional(),
  minProtocolVersion: enumOf(['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3']).optional(),
  maxProtocolVersion: enumOf(['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3']).optional(),
  cipherSuites: strList().optional(),
  insecureSkipVerify: bool().optional(),
}).check((ctx) => {
  const v = ctx.value;
  const has = (x: unknown) => x !== undefined && x !== '';
  if (has(v.credentialNames) && has(v.tlsCertificates))
    ctx.issues.push({ code: 'custom', message: 'only one of credentialNames or tlsCertificates can be set', input: v });
  if (has(v.credentialName) && has(v.credentialNames))
    ctx.issues.push({ code: 'custom', message: 'only one of credentialName or credentialNames can be set', input: v });
  if (has(v.credentialName) && has(v.tlsCertificates))
    ctx.issues.push({ code: 'custom', message: 'only one of credentialName or tlsCertificates can be set', input: v });
});
