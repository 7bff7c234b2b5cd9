// Label and field selectors: parsing the query-string syntax, converting LabelSelector objects, matching.
import type { V1LabelSelector } from '@kubernetes/client-node';
import { errors } from './errors.ts';
import { isQualifiedName as qualifiedNameErrors, isValidLabelValue as labelValueErrors } from './validation.ts';

export type LabelOperator = 'exists' | 'notexists' | 'in' | 'notin' | 'gt' | 'lt';
export interface LabelRequirement { key: string; op: LabelOperator; values: string[] }

export interface LabelSelector {
  requirements: LabelRequirement[];
  /** True when the selector selects everything (no requirements). */
  empty: boolean;
  matches(labels: Record<string, string> | undefined): boolean;
  toString(): string;
}

function matchRequirement(r: LabelRequirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = has ? labels[r.key]! : undefined;
  switch (r.op) {
    case 'exists': return has;
    case 'notexists': return !has;
    case 'in': return has && r.values.includes(v!);
    case 'notin': return !has || !r.values.includes(v!);
    case 'gt': return has && /^-?\d+$/.test(v!) && Number(v) > Number(r.values[0]);
    case 'lt': return has && /^-?\d+$/.test(v!) && Number(v) < Number(r.values[0]);
  }
}

function requirementString(r: LabelRequirement): string {
  switch (r.op) {
    case 'exists': return r.key;
    case 'notexists': return `!${r.key}`;
    case 'in': return r.values.length === 1 ? `${r.key}=${r.values[0]}` : `${r.key} in (${r.values.join(',')})`;
    case 'notin': return r.values.length === 1 ? `${r.key}!=${r.values[0]}` : `${r.key} notin (${r.values.join(',')})`;
    case 'gt': return `${r.key}>${r.values[0]}`;
    case 'lt': return `${r.key}<${r.values[0]}`;
  }
}

function makeSelector(requirements: LabelRequirement[]): LabelSelector {
  return {
    requirements,
    empty: requirements.length === 0,
    matches: (labels) => requirements.every((r) => matchRequirement(r, labels ?? {})),
    toString: () => requirements.map(requirementString).join(','),
  };
}

function checkKey(key: string, whole: string): void {
  const errs = qualifiedNameErrors(key);
  if (errs.length) throw errors.badRequest(`unable to parse requirement: invalid label key "${key}": ${errs.join('; ')} (in selector "${whole}")`);
}
function checkValue(value: string, whole: string): void {
  const errs = labelValueErrors(value);
  if (errs.length) throw errors.badRequest(`unable to parse requirement: invalid label value: "${value}": ${errs.join('; ')} (in selector "${whole}")`);
}

/** Parses "a=b,c!=d,e in (x,y),!f,g" (the labelSelector query parameter). Throws BadRequest naming the problem. */
export function parseLabelSelector(input: string | undefined | null): LabelSelector {
  const s = (input ?? '').trim();
  if (!s) return makeSelector([]);
  // Split on commas that are not inside parentheses.
  const parts: string[] = [];
  let depth = 0, cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) throw errors.badRequest(`unable to parse requirement: unbalanced ")" in selector "${s}"`);
    if (ch === ',' && depth === 0) { parts.push(cur); cur = ''; } else cur += ch;
  }
  if (depth !== 0) throw errors.badRequest(`unable to parse requirement: unbalanced "(" in selector "${s}"`);
  parts.push(cur);
  const reqs: LabelRequirement[] = [];
  for (const raw of parts) {
    const p = raw.trim();
    if (!p) throw errors.badRequest(`found ',', expected: identifier in selector "${s}"`);
    let m: RegExpMatchArray | null;
    if ((m = p.match(/^([^\s!=<>()]+)\s+(in|notin)\s*\(([^()]*)\)$/))) {
      const values = m[3]!.split(',').map((v) => v.trim());
      checkKey(m[1]!, s);
      values.forEach((v) => checkValue(v, s));
      reqs.push({ key: m[1]!, op: m[2] as 'in' | 'notin', values });
    } else if ((m = p.match(/^([^\s!=<>()]+)\s*(==|=|!=)\s*([^\s!=<>(),]*)$/))) {
      checkKey(m[1]!, s);
      checkValue(m[3]!, s);
      reqs.push({ key: m[1]!, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!] });
    } else if ((m = p.match(/^([^\s!=<>()]+)\s*([<>])\s*(-?\d+)$/))) {
      checkKey(m[1]!, s);
      reqs.push({ key: m[1]!, op: m[2] === '>' ? 'gt' : 'lt', values: [m[3]!] });
    } else if ((m = p.match(/^!\s*([^\s!=<>()]+)$/))) {
      checkKey(m[1]!, s);
      reqs.push({ key: m[1]!, op: 'notexists', values: [] });
    } else if ((m = p.match(/^([^\s!=<>()]+)$/))) {
      checkKey(m[1]!, s);
      reqs.push({ key: m[1]!, op: 'exists', values: [] });
    } else {
      throw errors.badRequest(`unable to parse requirement: "${p}" is not a valid label selector requirement (in selector "${s}")`);
    }
  }
  return makeSelector(reqs);
}

/** A metav1.LabelSelector (matchLabels + matchExpressions) as a selector. A null selector selects nothing upstream;
 *  callers decide that case, this treats undefined as "everything". */
export function labelSelectorFromObject(sel: V1LabelSelector | undefined): LabelSelector {
  const reqs: LabelRequirement[] = [];
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) reqs.push({ key: k, op: 'in', values: [v] });
  for (const e of sel?.matchExpressions ?? []) {
    const op = ({ In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: 'notexists' } as Record<string, LabelOperator>)[e.operator];
    if (!op) throw errors.badRequest(`"${e.operator}" is not a valid label selector operator`);
    reqs.push({ key: e.key, op, values: e.values ?? [] });
  }
  return makeSelector(reqs);
}

export interface FieldRequirement { field: string; op: '=' | '!='; value: string }
export interface FieldSelector {
  requirements: FieldRequirement[];
  empty: boolean;
  matches(fields: Record<string, string>): boolean;
  /** The value the selector pins a field to with "=", if any (e.g. metadata.name for single-object watches). */
  exact(field: string): string | undefined;
  toString(): string;
}

// Field selector values escape "\", "," and "=" with a backslash.
function splitUnescaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '\\' && i + 1 < s.length) { cur += ch + s[i + 1]; i++; continue; }
    if (ch === sep) { out.push(cur); cur = ''; continue; }
    cur += ch;
  }
  out.push(cur);
  return out;
}
function unescape(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

/** Parses "metadata.name=x,status.phase!=Failed". Throws BadRequest on syntax errors. */
export function parseFieldSelector(input: string | undefined | null): FieldSelector {
  const s = (input ?? '').trim();
  const reqs: FieldRequirement[] = [];
  if (s) {
    for (const part of splitUnescaped(s, ',')) {
      const m = part.match(/^([^=!\\]+?)\s*(==|!=|=)(.*)$/s);
      if (!m) throw errors.badRequest(`invalid field selector: "${part}": expected "field=value", "field==value" or "field!=value"`);
      reqs.push({ field: m[1]!.trim(), op: m[2] === '!=' ? '!=' : '=', value: unescape(m[3]!) });
    }
  }
  return {
    requirements: reqs,
    empty: reqs.length === 0,
    matches: (fields) => reqs.every((r) => (r.op === '=' ? (fields[r.field] ?? '') === r.value : (fields[r.field] ?? '') !== r.value)),
    exact: (field) => reqs.find((r) => r.field === field && r.op === '=')?.value,
    toString: () => reqs.map((r) => `${r.field}${r.op}${r.value.replace(/([\\,=])/g, '\\$1')}`).join(','),
  };
}
