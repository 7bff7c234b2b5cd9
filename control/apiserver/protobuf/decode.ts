// application/vnd.kubernetes.protobuf request bodies -> the JSON-shaped objects the rest of the apiserver uses.
// Envelope: the 4 bytes "k8s\0", then runtime.Unknown{typeMeta{apiVersion,kind}, raw, contentEncoding, contentType}
// where raw is the object in the upstream generated.proto encoding.
import protobuf from 'protobufjs';
import { ApiError, errors } from '../../../api/errors.ts';
import { KINDS, PROTO } from './schema.ts';

export const PROTOBUF_MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]); // "k8s\0"
export const PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const Unknown = root.lookupType('k8s.Unknown');
const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, bytes: String, defaults: false, arrays: false, objects: false };

type Plain = Record<string, unknown>;

function rfc3339(t: Plain): string | undefined {
  const seconds = Number(t.seconds ?? 0);
  const nanos = Number(t.nanos ?? 0);
  if (seconds === 0 && nanos === 0) return undefined; // Go's zero time serializes as null: leave the field out
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isZero(v: unknown): boolean {
  return v === '' || v === 0 || v === false;
}

/** Converts one decoded message (as a plain object) to its JSON form, guided by its protobuf type. */
function toJson(plain: Plain, type: protobuf.Type): Plain {
  const out: Plain = {};
  for (const [key, value] of Object.entries(plain)) {
    const field = type.fields[key];
    if (!field || value === undefined || value === null) continue;
    field.resolve();
    const sub = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
    const keepZero = field.options?.['(ptr)'] === true;
    if (field.map) {
      const entries = Object.entries(value as Plain);
      if (entries.length === 0) continue;
      out[key] = Object.fromEntries(entries.map(([k, v]) => [k, sub ? special(v as Plain, sub) : v]));
    } else if (field.repeated) {
      const list = value as unknown[];
      if (list.length === 0) continue;
      out[key] = list.map((v) => (sub ? special(v as Plain, sub) : v));
    } else if (sub) {
      const converted = special(value as Plain, sub);
      if (converted === undefined) continue;
      if (field.options?.['(inline)'] === true) Object.assign(out, converted as Plain);
      else out[key] = converted;
    } else {
      if (isZero(value) && !keepZero) continue;
      out[key] = value;
    }
  }
  return out;
}

/** Messages whose JSON form is not an object: Time, Quantity, IntOrString, FieldsV1, ExtraValue (a string list). */
function special(plain: Plain, type: protobuf.Type): unknown {
  switch (type.name) {
    case 'Time': return rfc3339(plain);
    case 'ExtraValue': return Array.isArray(plain.items) ? plain.items : [];
    case 'Quantity': return typeof plain.string === 'string' ? plain.string : '0';
    case 'IntOrString': return Number(plain.type ?? 0) === 1 ? String(plain.strVal ?? '') : Number(plain.intVal ?? 0);
    case 'FieldsV1': {
      const raw = Buffer.from(String(plain.Raw ?? ''), 'base64').toString('utf8');
      try { return raw ? JSON.parse(raw) : {}; } catch { throw errors.badRequest('protobuf body: managedFields fieldsV1 is not valid JSON'); }
    }
    default: return toJson(plain, type);
  }
}

export function decodeProtobufBody(body: Buffer): object {
  try {
    return decode(body);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw errors.badRequest(`protobuf body: ${(err as Error)?.message ?? String(err)}`);
  }
}

function decode(body: Buffer): object {
  if (body.length < PROTOBUF_MAGIC.length || !body.subarray(0, 4).equals(PROTOBUF_MAGIC)) {
    throw errors.badRequest('protobuf body: missing the "k8s\\x00" prefix of a Kubernetes protobuf envelope');
  }
  let envelope: Plain;
  try {
    envelope = Unknown.toObject(Unknown.decode(body.subarray(4)), { ...TO_OBJECT, bytes: Buffer }) as Plain;
  } catch (e) {
    throw errors.badRequest(`protobuf body: the envelope is not a valid runtime.Unknown message: ${(e as Error).message}`);
  }
  const typeMeta = (envelope.typeMeta ?? {}) as Plain;
  const apiVersion = String(typeMeta.apiVersion ?? '');
  const kind = String(typeMeta.kind ?? '');
  if (!kind || !apiVersion) throw errors.badRequest('protobuf body: the envelope does not name apiVersion and kind');
  if (envelope.contentEncoding) {
    throw errors.badRequest(`protobuf body: content encoding ${JSON.stringify(envelope.contentEncoding)} is not supported`);
  }
  const messageName = Object.hasOwn(KINDS, `${apiVersion}/${kind}`) ? KINDS[`${apiVersion}/${kind}`] : undefined;
  if (!messageName) {
    throw new ApiError('UnsupportedMediaType',
      `protobuf request bodies are not supported for kind ${JSON.stringify(kind)} (${apiVersion}); send application/json`);
  }
  const type = root.lookupType(`k8s.${messageName}`);
  const raw = (envelope.raw as Buffer | undefined) ?? Buffer.alloc(0);
  let plain: Plain;
  try {
    plain = type.toObject(type.decode(raw), TO_OBJECT) as Plain;
  } catch (e) {
    throw errors.badRequest(`protobuf body: ${kind} is not a valid ${apiVersion} ${kind} message: ${(e as Error).message}`);
  }
  return { apiVersion, kind, ...toJson(plain, type) };
}
