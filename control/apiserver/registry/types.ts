// What one resource contributes to the apiserver: identity for discovery, defaults, validation, status rules,
// table columns and field labels. Adding a resource is one file exporting one of these.
import type { Cause } from '../../../api/errors.ts';
import type { NameValidator } from '../../../api/validation.ts';

// Objects arrive as untrusted JSON: strategies read them defensively.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = any;

export interface TableColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format?: string;
  description?: string;
  priority: number;
}

export interface TablePrinter {
  columns: TableColumn[];
  cells(obj: Obj, now: number): unknown[];
}

/** What a write hook may need: time, the allocators, whether this is a dry run. */
export interface WriteContext {
  now: number;
  dryRun: boolean;
  allocators: Allocators;
}

export interface Allocators {
  /** Assigns (or checks and reserves) spec.clusterIP(s) and node ports of a Service; throws Invalid on clashes. */
  allocateService(svc: Obj, old?: Obj): void;
  releaseService(svc: Obj): void;
}

export interface ScaleRules {
  /** The replica count in spec, the observed count in status, and the selector as a string. */
  read(obj: Obj): { replicas: number; statusReplicas: number; selector: string };
  write(obj: Obj, replicas: number): void;
}

export interface Strategy {
  group: string;
  version: string;
  kind: string;
  /** Plural, lower case: "pods". */
  resource: string;
  singular: string;
  namespaced: boolean;
  /** Verbs listed in discovery when not the full set (create-only reviews: ["create"]). */
  verbs?: string[];
  shortNames?: string[];
  categories?: string[];
  /** Key prefix under /registry/ (upstream's: "minions" for nodes, "services/specs" for services). Defaults to resource,
   *  or "<group>/<resource>" for non-core groups. */
  etcdPrefix?: string;
  /** Has a /status subresource: writes to the main resource keep the old status, /status writes keep the rest. */
  hasStatus?: boolean;
  /** metadata.generation is bumped when spec changes. */
  tracksGeneration?: boolean;
  scale?: ScaleRules;
  /** Extra subresources listed in discovery (e.g. pods/log) with their kinds; served elsewhere. */
  extraSubresources?: { name: string; kind: string; group?: string; version?: string; verbs: string[] }[];
  validateName?: NameValidator;
  /** Upstream defaulting (applied on create and update, to the whole object). */
  defaults?(obj: Obj): void;
  /** Create-only rules (reset status, compute derived fields, allocate). */
  prepareForCreate?(obj: Obj, ctx: WriteContext): void;
  /** Update-only rules (carry over immutable or server-owned fields). */
  prepareForUpdate?(obj: Obj, old: Obj, ctx: WriteContext): void;
  /** Returns one cause per bad field. old is set on updates. */
  validate?(obj: Obj, old?: Obj): Cause[];
  /** Kind-specific field selector labels beyond metadata.name and metadata.namespace. */
  fieldLabels?(obj: Obj): Record<string, string>;
  table?: TablePrinter;
  /** Called after the object is gone from storage (e.g. release a ClusterIP). */
  afterDelete?(obj: Obj, ctx: WriteContext): void;
}

export function groupVersion(s: Pick<Strategy, 'group' | 'version'>): string {
  return s.group ? `${s.group}/${s.version}` : s.version;
}
