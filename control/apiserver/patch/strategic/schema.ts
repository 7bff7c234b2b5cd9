// Strategic-merge-patch metadata for the built-in kinds: which lists merge, by which key, which structs carry
// retainKeys. Facts from k8s.io/api v0.32 struct tags (patchStrategy / patchMergeKey); everything not listed
// here is a plain map (merged recursively) or an atomic list (replaced whole).

export interface FieldMeta {
  /** struct type of the value (maps) or of each element (lists), for looking further down */
  type?: string;
  /** lists: 'merge' merges elements (by mergeKey for objects, as a set for primitives); unset = replace whole */
  strategy?: 'merge' | 'replace';
  mergeKey?: string;
  /** upstream "retainKeys": clients send $retainKeys inside these values (the server honours it wherever sent) */
  retainKeys?: boolean;
  /** server-side apply keys (+listMapKey) when they differ from the strategic merge key */
  listMapKeys?: string[];
  /** server-side apply: the struct is owned and replaced as a whole (upstream +structType=atomic) */
  atomicStruct?: boolean;
}

export type StructMeta = Record<string, FieldMeta>;

const merge = (mergeKey?: string, type?: string, retainKeys?: boolean): FieldMeta =>
  ({ strategy: 'merge', ...(mergeKey ? { mergeKey } : {}), ...(type ? { type } : {}), ...(retainKeys ? { retainKeys } : {}) });
const struct = (type: string, retainKeys?: boolean): FieldMeta => ({ type, ...(retainKeys ? { retainKeys } : {}) });
const conditions = merge('type');
/** LabelSelector is +structType=atomic upstream */
const atomicStruct: FieldMeta = { atomicStruct: true };

export const structs: Record<string, StructMeta> = {
  ObjectMeta: { ownerReferences: merge('uid'), finalizers: merge() },
  PodTemplateSpec: { metadata: struct('ObjectMeta'), spec: struct('PodSpec') },
  PodSpec: {
    containers: merge('name', 'Container'),
    initContainers: merge('name', 'Container'),
    ephemeralContainers: merge('name', 'Container'),
    volumes: merge('name', 'Volume', true),
    imagePullSecrets: merge('name'),
    hostAliases: merge('ip'),
    topologySpreadConstraints: merge('topologyKey'),
    schedulingGates: merge('name'),
    resourceClaims: merge('name', undefined, true),
  },
  Container: {
    ports: { ...merge('containerPort'), listMapKeys: ['containerPort', 'protocol'] },
    env: merge('name'),
    volumeMounts: merge('mountPath'),
    volumeDevices: merge('devicePath'),
  },
  Volume: {},
  PodStatus: {
    conditions, podIPs: merge('ip'), hostIPs: merge('ip'), resourceClaimStatuses: merge('name', undefined, true),
  },
  WithConditions: { conditions },
  DeploymentSpec: { template: struct('PodTemplateSpec'), strategy: struct('DeploymentStrategy', true), selector: atomicStruct },
  DeploymentStrategy: {},
  WorkloadSpec: { template: struct('PodTemplateSpec'), selector: atomicStruct },
  CronJobSpec: { jobTemplate: struct('JobTemplateSpec') },
  JobTemplateSpec: { metadata: struct('ObjectMeta'), spec: struct('WorkloadSpec') },
  ServiceSpec: { ports: { ...merge('port'), listMapKeys: ['port', 'protocol'] } },
  NodeSpec: { podCIDRs: merge() },
  NodeStatus: { conditions, addresses: merge('type') },
};

/** root struct of each kind: metadata is always ObjectMeta */
const root = (fields: StructMeta = {}): StructMeta => ({ metadata: struct('ObjectMeta'), ...fields });
const withStatusConditions = { status: struct('WithConditions') };
const workload = { spec: struct('WorkloadSpec'), ...withStatusConditions };

/** keyed by "<group>/<Kind>" ("" for the core group) */
const kinds: Record<string, StructMeta> = {
  '/Pod': root({ spec: struct('PodSpec'), status: struct('PodStatus') }),
  '/PodTemplate': root({ template: struct('PodTemplateSpec') }),
  '/ReplicationController': root({ spec: struct('WorkloadSpec'), ...withStatusConditions }),
  '/Service': root({ spec: struct('ServiceSpec'), ...withStatusConditions }),
  '/Node': root({ spec: struct('NodeSpec'), status: struct('NodeStatus') }),
  '/Namespace': root(withStatusConditions),
  '/ServiceAccount': root({ secrets: merge('name') }),
  '/PersistentVolumeClaim': root(withStatusConditions),
  '/PersistentVolume': root(),
  '/ConfigMap': root(), '/Secret': root(), '/Endpoints': root(), '/Event': root(), '/LimitRange': root(),
  '/ResourceQuota': root(), '/Binding': root(),
  'apps/Deployment': root({ spec: struct('DeploymentSpec'), ...withStatusConditions }),
  'apps/ReplicaSet': root(workload),
  'apps/DaemonSet': root(workload),
  'apps/StatefulSet': root(workload),
  'apps/ControllerRevision': root(),
  'batch/Job': root(workload),
  'batch/CronJob': root({ spec: struct('CronJobSpec') }),
  'autoscaling/Scale': root(),
  'autoscaling/HorizontalPodAutoscaler': root(withStatusConditions),
  'policy/PodDisruptionBudget': root(withStatusConditions),
  'policy/Eviction': root(),
  'coordination.k8s.io/Lease': root(),
  'discovery.k8s.io/EndpointSlice': root(),
  'scheduling.k8s.io/PriorityClass': root(),
  'rbac.authorization.k8s.io/Role': root(),
  'rbac.authorization.k8s.io/ClusterRole': root(),
  'rbac.authorization.k8s.io/RoleBinding': root(),
  'rbac.authorization.k8s.io/ClusterRoleBinding': root(),
  'networking.k8s.io/Ingress': root(),
  'networking.k8s.io/NetworkPolicy': root(),
  'storage.k8s.io/StorageClass': root(),
  'storage.k8s.io/CSIDriver': root(), 'storage.k8s.io/CSINode': root(), 'storage.k8s.io/VolumeAttachment': root(),
  'networking.k8s.io/IngressClass': root(),
  'node.k8s.io/RuntimeClass': root(),
  'certificates.k8s.io/CertificateSigningRequest': root(),
  'apiextensions.k8s.io/CustomResourceDefinition': root(),
  'apiregistration.k8s.io/APIService': root(),
  'admissionregistration.k8s.io/MutatingWebhookConfiguration': root({ webhooks: merge('name') }),
  'admissionregistration.k8s.io/ValidatingWebhookConfiguration': root({ webhooks: merge('name') }),
};

export interface SchemaNode { fields: StructMeta }

/** The root schema for a kind, or undefined when strategic merge patch is not supported for it (CRDs). */
export function schemaForKind(group: string, kind: string): SchemaNode | undefined {
  const fields = kinds[`${group}/${kind}`];
  return fields ? { fields } : undefined;
}

export function fieldMeta(node: SchemaNode | undefined, field: string): FieldMeta | undefined {
  return node && Object.hasOwn(node.fields, field) ? node.fields[field] : undefined;
}

export function childSchema(meta: FieldMeta | undefined): SchemaNode | undefined {
  return meta?.type ? { fields: structs[meta.type] ?? {} } : undefined;
}
