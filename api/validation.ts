// Name, label and annotation validation with the upstream messages (apimachinery pkg/util/validation and
// pkg/api/validation). The is* functions return a list of messages (empty = valid); the validate* functions
// return field causes ready for errors.invalid().
import { cause, type Cause } from './errors.ts';
import { compareQuantities, formatQuantity, parseQuantity, toMilliValue, type Quantity } from './quantity.ts';

const DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const QUALIFIED_NAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;

const dns1123LabelRe = new RegExp(`^${DNS1123_LABEL_FMT}$`);
const dns1123SubdomainRe = new RegExp(`^${DNS1123_SUBDOMAIN_FMT}$`);
const qualifiedNameRe = new RegExp(`^${QUALIFIED_NAME_FMT}$`);
const labelValueRe = new RegExp(`^${LABEL_VALUE_FMT}$`);

export const DNS1123_LABEL_MAX_LENGTH = 63;
export const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;
export const QUALIFIED_NAME_MAX_LENGTH = 63;
export const LABEL_VALUE_MAX_LENGTH = 63;
export const TOTAL_ANNOTATION_SIZE_LIMIT_B = 256 * 1024;

/** Upstream RegexError: "<msg> (e.g. 'a',  or 'b', regex used for validation is '<fmt>')" (two spaces, as upstream). */
function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  return `${msg} (e.g. ${examples.map((e) => `'${e}'`).join(',  or ')}, regex used for validation is '${fmt}')`;
}
const maxLenError = (n: number) => `must be no more than ${n} characters`;

export function isDNS1123Label(value: string): string[] {
  const errs: string[] = [];
  if (value.length > DNS1123_LABEL_MAX_LENGTH) errs.push(maxLenError(DNS1123_LABEL_MAX_LENGTH));
  if (!dns1123LabelRe.test(value)) {
    errs.push(regexError('a lowercase RFC 1123 label must consist of lower case alphanumeric characters or \'-\', ' +
      'and must start and end with an alphanumeric character', DNS1123_LABEL_FMT, 'my-name', '123-abc'));
  }
  return errs;
}

export function isDNS1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (value.length > DNS1123_SUBDOMAIN_MAX_LENGTH) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX_LENGTH));
  if (!dns1123SubdomainRe.test(value)) {
    errs.push(regexError('a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \'-\' ' +
      'or \'.\', and must start and end with an alphanumeric character', DNS1123_SUBDOMAIN_FMT, 'example.com'));
  }
  return errs;
}

/** Label keys and annotation keys: "[prefix/]name", prefix a DNS subdomain, name a 63-character qualified name. */
export function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0];
  } else if (parts.length === 2) {
    const [prefix] = parts;
    name = parts[1];
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else for (const msg of isDNS1123Subdomain(prefix)) errs.push(`prefix part ${msg}`);
  } else {
    return [regexError('a qualified name must consist of alphanumeric characters, \'-\', \'_\' or \'.\', and must ' +
      'start and end with an alphanumeric character', QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc') +
      ' with an optional DNS subdomain prefix and \'/\' (e.g. \'example.com/MyName\')'];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > QUALIFIED_NAME_MAX_LENGTH) errs.push(`name part ${maxLenError(QUALIFIED_NAME_MAX_LENGTH)}`);
  if (!qualifiedNameRe.test(name)) {
    errs.push(`name part ${regexError('must consist of alphanumeric characters, \'-\', \'_\' or \'.\', and must start ' +
      'and end with an alphanumeric character', QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')}`);
  }
  return errs;
}

export function isValidLabelValue(value: string): string[] {
  const errs: string[] = [];
  if (value.length > LABEL_VALUE_MAX_LENGTH) errs.push(maxLenError(LABEL_VALUE_MAX_LENGTH));
  if (!labelValueRe.test(value)) {
    errs.push(regexError('a valid label must be an empty string or consist of alphanumeric characters, \'-\', \'_\' ' +
      'or \'.\', and must start and end with an alphanumeric character', LABEL_VALUE_FMT, 'MyValue', 'my_value', '12345'));
  }
  return errs;
}

/** Names used as URL path segments (upstream IsValidPathSegmentName). */
export function isValidPathSegmentName(value: string): string[] {
  if (value === '.' || value === '..') return [`may not be '${value}'`];
  const errs: string[] = [];
  if (value.includes('/')) errs.push("may not contain '/'");
  if (value.includes('%')) errs.push("may not contain '%'");
  return errs;
}

function typed(value: unknown, field: string, what: string): Cause | undefined {
  return typeof value === 'string' ? undefined : cause.invalid(field, value, `${what} must be a string`);
}

export function validateLabels(labels: unknown, field = 'metadata.labels'): Cause[] {
  if (labels === undefined || labels === null) return [];
  if (typeof labels !== 'object' || Array.isArray(labels)) return [cause.invalid(field, labels, 'must be a map of string to string')];
  const out: Cause[] = [];
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    for (const msg of isQualifiedName(k)) out.push(cause.invalid(field, k, msg));
    const bad = typed(v, field, 'label value');
    if (bad) { out.push(bad); continue; }
    for (const msg of isValidLabelValue(v as string)) out.push(cause.invalid(field, v, msg));
  }
  return out;
}

export function validateAnnotations(annotations: unknown, field = 'metadata.annotations'): Cause[] {
  if (annotations === undefined || annotations === null) return [];
  if (typeof annotations !== 'object' || Array.isArray(annotations)) {
    return [cause.invalid(field, annotations, 'must be a map of string to string')];
  }
  const out: Cause[] = [];
  let total = 0;
  for (const [k, v] of Object.entries(annotations as Record<string, unknown>)) {
    for (const msg of isQualifiedName(k.toLowerCase())) out.push(cause.invalid(field, k, msg));
    const bad = typed(v, field, 'annotation value');
    if (bad) { out.push(bad); continue; }
    total += Buffer.byteLength(k) + Buffer.byteLength(v as string);
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT_B) out.push(cause.tooLong(field, TOTAL_ANNOTATION_SIZE_LIMIT_B));
  return out;
}

export type NameValidator = (name: string) => string[];

/** Which validator a resource's names use: most take DNS-1123 subdomains; namespaces, services take labels. */
export const nameIsDNSSubdomain: NameValidator = isDNS1123Subdomain;
export const nameIsDNSLabel: NameValidator = isDNS1123Label;

export interface ObjectMetaRules {
  namespaced: boolean;
  /** defaults to DNS-1123 subdomain */
  validateName?: NameValidator;
}

/**
 * The shared part of upstream ValidateObjectMeta: name or generateName present and well-formed, namespace
 * required (namespaced) or forbidden (cluster-scoped), labels and annotations. Field paths start at "metadata".
 */
export function validateObjectMeta(meta: unknown, rules: ObjectMetaRules): Cause[] {
  if (meta === undefined || meta === null) return [cause.required('metadata.name', 'Required value: name or generateName is required')];
  if (typeof meta !== 'object' || Array.isArray(meta)) return [cause.invalid('metadata', meta, 'must be an object')];
  const m = meta as Record<string, unknown>;
  const validateName = rules.validateName ?? nameIsDNSSubdomain;
  const out: Cause[] = [];
  if (m.generateName !== undefined && m.generateName !== '') {
    if (typeof m.generateName !== 'string') out.push(cause.invalid('metadata.generateName', m.generateName, 'must be a string'));
    // upstream masks a trailing dash so "web-" is a valid prefix
    else for (const msg of validateName(maskTrailingDash(m.generateName))) out.push(cause.invalid('metadata.generateName', m.generateName, msg));
  }
  if (m.name === undefined || m.name === '') {
    if (m.generateName === undefined || m.generateName === '') out.push(cause.required('metadata.name', 'Required value: name or generateName is required'));
  } else if (typeof m.name !== 'string') {
    out.push(cause.invalid('metadata.name', m.name, 'must be a string'));
  } else {
    for (const msg of validateName(m.name)) out.push(cause.invalid('metadata.name', m.name, msg));
  }
  if (rules.namespaced) {
    if (m.namespace === undefined || m.namespace === '') out.push(cause.required('metadata.namespace'));
    else if (typeof m.namespace !== 'string') out.push(cause.invalid('metadata.namespace', m.namespace, 'must be a string'));
    else for (const msg of isDNS1123Label(m.namespace)) out.push(cause.invalid('metadata.namespace', m.namespace, msg));
  } else if (m.namespace !== undefined && m.namespace !== '') {
    out.push(cause.forbidden('metadata.namespace', 'not allowed on this type'));
  }
  out.push(...validateLabels(m.labels), ...validateAnnotations(m.annotations));
  return out;
}

const STANDARD_FINALIZERS = new Set(['kubernetes', 'orphan', 'foregroundDeletion']);

/** (Not called by validateObjectMeta: strategies opt in.) Finalizers are qualified names; unprefixed ones must be standard; orphan and foregroundDeletion exclude each other. */
export function validateFinalizers(finalizers: unknown, field = 'metadata.finalizers'): Cause[] {
  if (finalizers === undefined || finalizers === null) return [];
  if (!Array.isArray(finalizers)) return [cause.invalid(field, finalizers, 'must be a list of strings')];
  const out: Cause[] = [];
  for (const f of finalizers) {
    if (typeof f !== 'string') { out.push(cause.invalid(field, f, 'must be a string')); continue; }
    const errs = isQualifiedName(f);
    for (const msg of errs) out.push(cause.invalid(field, f, msg));
    if (!errs.length && !f.includes('/') && !STANDARD_FINALIZERS.has(f)) {
      out.push(cause.invalid(field, f, 'name is neither a standard finalizer name nor is it fully qualified'));
    }
  }
  if (finalizers.includes('orphan') && finalizers.includes('foregroundDeletion')) {
    out.push(cause.invalid(field, finalizers, 'finalizer orphan and foregroundDeletion cannot be both set'));
  }
  return out;
}

function maskTrailingDash(name: string): string {
  return name.length > 1 && name.endsWith('-') ? `${name.slice(0, -2)}a` : name;
}

// ---- container resources (upstream ValidateResourceRequirements) ----

const STANDARD_CONTAINER_RESOURCES = new Set(['cpu', 'memory', 'ephemeral-storage']);
const isHugePages = (name: string) => name.startsWith('hugepages-');
/** kubernetes.io resources and unprefixed names are native; anything else with a domain is an extended resource */
const isNative = (name: string) => !name.includes('/') || name.includes('kubernetes.io/');
const overcommitAllowed = (name: string) => isNative(name) && !isHugePages(name);

function parseResourceValue(field: string, raw: unknown, out: Cause[]): Quantity | undefined {
  const text = typeof raw === 'number' ? String(raw) : raw;
  if (typeof text !== 'string') { out.push(cause.invalid(field, raw, 'must be a quantity string')); return undefined; }
  try { return parseQuantity(text); } catch (e) {
    out.push(cause.invalid(field, raw, (e as { detail?: string }).detail ?? String(e)));
    return undefined;
  }
}

/**
 * Container resources: known resource names, non-negative (and integral for extended resources) quantities,
 * requests no larger than limits (equal for extended resources and hugepages). `field` is the resources path,
 * e.g. "spec.containers[0].resources".
 */
export function validateResourceRequirements(resources: unknown, field: string): Cause[] {
  if (resources === undefined || resources === null) return [];
  if (typeof resources !== 'object' || Array.isArray(resources)) return [cause.invalid(field, resources, 'must be an object')];
  const out: Cause[] = [];
  const parsed: Record<'limits' | 'requests', Map<string, Quantity>> = { limits: new Map(), requests: new Map() };
  for (const kind of ['limits', 'requests'] as const) {
    const list = (resources as Record<string, unknown>)[kind];
    if (list === undefined || list === null) continue;
    if (typeof list !== 'object' || Array.isArray(list)) { out.push(cause.invalid(`${field}.${kind}`, list, 'must be a map of resource name to quantity')); continue; }
    for (const [name, raw] of Object.entries(list as Record<string, unknown>)) {
      const at = `${field}.${kind}[${name}]`;
      if (!name.includes('/') && !STANDARD_CONTAINER_RESOURCES.has(name) && !isHugePages(name)) {
        out.push(cause.invalid(at, name, 'must be a standard resource for containers'));
        continue;
      }
      for (const msg of isQualifiedName(name)) out.push(cause.invalid(at, name, msg));
      const q = parseResourceValue(at, raw, out);
      if (!q) continue;
      if (q.mantissa < 0n) { out.push(cause.invalid(at, formatQuantity(q), 'must be greater than or equal to 0')); continue; }
      if (!isNative(name) && toMilliValue(q) % 1000 !== 0) { out.push(cause.invalid(at, formatQuantity(q), 'must be an integer')); continue; }
      parsed[kind].set(name, q);
    }
  }
  for (const [name, req] of parsed.requests) {
    const limit = parsed.limits.get(name);
    if (limit) {
      const cmp = compareQuantities(req, limit);
      if (cmp !== 0 && !overcommitAllowed(name)) {
        out.push(cause.invalid(`${field}.requests`, formatQuantity(req), `must be equal to ${name} limit of ${formatQuantity(limit)}`));
      } else if (cmp > 0) {
        out.push(cause.invalid(`${field}.requests`, formatQuantity(req), `must be less than or equal to ${name} limit of ${formatQuantity(limit)}`));
      }
    } else if (!overcommitAllowed(name)) {
      out.push(cause.required(`${field}.limits`, 'Required value: Limit must be set for non overcommitable resources'));
    }
  }
  return out;
}
