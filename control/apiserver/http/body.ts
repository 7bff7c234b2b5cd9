// Request bodies: JSON, YAML or protobuf (when the protobuf decoder is present) into a plain object, with the
// limits that keep hostile input harmless (nesting depth, single YAML document, alias expansion).
import { parseAllDocuments } from 'yaml';
import { ApiError, errors } from '../../../api/errors.ts';
import { decodeProtobufBody } from '../protobuf/index.ts';

export const maxBodyBytes = 3 * 1024 * 1024;
export const maxDepth = 100;

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

// Scans raw JSON for nesting depth before parsing so deep input cannot exhaust the stack later.
function jsonDepthOk(text: string): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123 || c === 91) { if (++depth > maxDepth) return false; }
    else if (c === 125 || c === 93) depth--;
  }
  return true;
}

function depthOk(v: unknown): boolean {
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (x && typeof x === 'object') {
      if (d > maxDepth) return false;
      for (const c of Object.values(x)) if (c && typeof c === 'object') stack.push([c, d + 1]);
    }
  }
  return true;
}

export function parseJson(buf: Buffer): unknown {
  const text = buf.toString('utf8');
  if (!jsonDepthOk(text)) throw errors.badRequest(`the request body is nested more than ${maxDepth} levels deep`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw errors.badRequest(`the request body is not valid JSON: ${(err as Error).message}`);
  }
}

export function parseYaml(buf: Buffer): unknown {
  const text = buf.toString('utf8');
  let docs;
  try {
    docs = parseAllDocuments(text, { prettyErrors: false });
  } catch (err) {
    throw errors.badRequest(`the request body is not valid YAML: ${(err as Error).message}`);
  }
  if (!Array.isArray(docs)) throw errors.badRequest('the request body is not valid YAML');
  if (docs.length !== 1) throw errors.badRequest(`the request body must hold exactly one YAML document, found ${docs.length}`);
  const doc = docs[0]!;
  if (doc.errors.length) throw errors.badRequest(`the request body is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw errors.badRequest(`the request body is not valid YAML: ${(err as Error).message}`);
  }
  if (!depthOk(value)) throw errors.badRequest(`the request body is nested more than ${maxDepth} levels deep`);
  return value;
}

/** Decodes a create/update body by Content-Type. Empty bodies and unknown types are 4xx. */
export async function decodeBody(contentType: string | undefined, body: Buffer | undefined): Promise<unknown> {
  if (!body || body.length === 0) throw errors.badRequest('the request body is empty: expected an object');
  const mt = mediaType(contentType);
  if (mt === 'application/json' || mt === '' || mt === 'application/merge-patch+json') return parseJson(body);
  if (mt === 'application/yaml' || mt === 'application/x-yaml' || mt === 'text/yaml') return parseYaml(body);
  if (mt === 'application/vnd.kubernetes.protobuf') {
    try {
      return decodeProtobufBody(body);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw errors.badRequest(`the protobuf request body could not be decoded: ${(err as Error).message}`);
    }
  }
  throw errors.unsupportedMediaType(contentType ?? '');
}
