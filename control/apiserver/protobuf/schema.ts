// Protobuf message definitions for the kinds kubectl 1.32 sends as application/vnd.kubernetes.protobuf.
// Field numbers are those of the upstream generated.proto files (k8s.io/api, k8s.io/apimachinery v0.32);
// messages are trimmed to the fields these objects use: unknown fields are skipped by the decoder.
// Field options used by the JSON conversion (decode.ts):
//   [(ptr) = true]     the Go field is a pointer: a zero value on the wire was set on purpose and is kept
//   [(inline) = true]  the Go field is embedded: its fields are lifted into the parent in JSON
//   [(json) = "name"]  the JSON name differs from the proto name
export const PROTO = `
syntax = "proto2";
package k8s;

message Unknown { optional TypeMeta typeMeta = 1; optional bytes raw = 2; optional string contentEncoding = 3; optional string contentType = 4; }
message TypeMeta { optional string apiVersion = 1; optional string kind = 2; }

message Time { optional int64 seconds = 1; optional int32 nanos = 2; }
message Quantity { optional string string = 1; }
message IntOrString { optional int64 type = 1; optional int32 intVal = 2; optional string strVal = 3; }
message FieldsV1 { optional bytes Raw = 1; }

message ObjectMeta {
  optional string name = 1; optional string generateName = 2; optional string namespace = 3; optional string selfLink = 4;
  optional string uid = 5; optional string resourceVersion = 6; optional int64 generation = 7;
  optional Time creationTimestamp = 8; optional Time deletionTimestamp = 9;
  optional int64 deletionGracePeriodSeconds = 10 [(ptr) = true];
  map<string, string> labels = 11; map<string, string> annotations = 12;
  repeated OwnerReference ownerReferences = 13; repeated string finalizers = 14; repeated ManagedFieldsEntry managedFields = 17;
}
message OwnerReference {
  optional string kind = 1; optional string name = 3; optional string uid = 4; optional string apiVersion = 5;
  optional bool controller = 6 [(ptr) = true]; optional bool blockOwnerDeletion = 7 [(ptr) = true];
}
message ManagedFieldsEntry {
  optional string manager = 1; optional string operation = 2; optional string apiVersion = 3; optional Time time = 4;
  optional string fieldsType = 6; optional FieldsV1 fieldsV1 = 7; optional string subresource = 8;
}
message LabelSelector { map<string, string> matchLabels = 1; repeated LabelSelectorRequirement matchExpressions = 2; }
message LabelSelectorRequirement { optional string key = 1; optional string operator = 2; repeated string values = 3; }
message Condition {
  optional string type = 1; optional string status = 2; optional int64 observedGeneration = 3; optional Time lastTransitionTime = 4;
  optional string reason = 5; optional string message = 6;
}
message Preconditions { optional string uid = 1 [(ptr) = true]; optional string resourceVersion = 2 [(ptr) = true]; }
message DeleteOptions {
  optional int64 gracePeriodSeconds = 1 [(ptr) = true]; optional Preconditions preconditions = 2;
  optional bool orphanDependents = 3 [(ptr) = true]; optional string propagationPolicy = 4 [(ptr) = true];
  repeated string dryRun = 5; optional bool ignoreStoreReadErrorWithClusterBreakingPotential = 6 [(ptr) = true];
}

// core/v1
message Namespace { optional ObjectMeta metadata = 1; optional NamespaceSpec spec = 2; optional NamespaceStatus status = 3; }
message NamespaceSpec { repeated string finalizers = 1; }
message NamespaceStatus { optional string phase = 1; repeated NamespaceCondition conditions = 2; }
message NamespaceCondition { optional string type = 1; optional string status = 2; optional Time lastTransitionTime = 4; optional string reason = 5; optional string message = 6; }

message ConfigMap { optional ObjectMeta metadata = 1; map<string, string> data = 2; map<string, bytes> binaryData = 3; optional bool immutable = 4 [(ptr) = true]; }
message Secret {
  optional ObjectMeta metadata = 1; map<string, bytes> data = 2; optional string type = 3; map<string, string> stringData = 4;
  optional bool immutable = 5 [(ptr) = true];
}
message ServiceAccount {
  optional ObjectMeta metadata = 1; repeated ObjectReference secrets = 2; repeated LocalObjectReference imagePullSecrets = 3;
  optional bool automountServiceAccountToken = 4 [(ptr) = true];
}
message ObjectReference {
  optional string kind = 1; optional string namespace = 2; optional string name = 3; optional string uid = 4;
  optional string apiVersion = 5; optional string resourceVersion = 6; optional string fieldPath = 7;
}
message LocalObjectReference { optional string name = 1; }

message Service { optional ObjectMeta metadata = 1; optional ServiceSpec spec = 2; optional ServiceStatus status = 3; }
message ServiceSpec {
  repeated ServicePort ports = 1; map<string, string> selector = 2; optional string clusterIP = 3; optional string type = 4;
  repeated string externalIPs = 5; optional string sessionAffinity = 7; optional string loadBalancerIP = 8;
  repeated string loadBalancerSourceRanges = 9; optional string externalName = 10; optional string externalTrafficPolicy = 11;
  optional int32 healthCheckNodePort = 12; optional bool publishNotReadyAddresses = 13;
  optional SessionAffinityConfig sessionAffinityConfig = 14; optional string ipFamilyPolicy = 17 [(ptr) = true];
  repeated string clusterIPs = 18; repeated string ipFamilies = 19; optional bool allocateLoadBalancerNodePorts = 20 [(ptr) = true];
  optional string loadBalancerClass = 21 [(ptr) = true]; optional string internalTrafficPolicy = 22 [(ptr) = true];
  optional string trafficDistribution = 23 [(ptr) = true];
}
message ServicePort {
  optional string name = 1; optional string protocol = 2; optional int32 port = 3 [(ptr) = true]; optional IntOrString targetPort = 4;
  optional int32 nodePort = 5; optional string appProtocol = 6 [(ptr) = true];
}
message SessionAffinityConfig { optional ClientIPConfig clientIP = 1; }
message ClientIPConfig { optional int32 timeoutSeconds = 1 [(ptr) = true]; }
message ServiceStatus { optional LoadBalancerStatus loadBalancer = 1; repeated Condition conditions = 2; }
message LoadBalancerStatus { repeated LoadBalancerIngress ingress = 1; }
message LoadBalancerIngress { optional string ip = 1; optional string hostname = 2; }

message Pod { optional ObjectMeta metadata = 1; optional PodSpec spec = 2; }
message PodTemplateSpec { optional ObjectMeta metadata = 1; optional PodSpec spec = 2; }
message PodSpec {
  repeated Volume volumes = 1; repeated Container containers = 2; optional string restartPolicy = 3;
  optional int64 terminationGracePeriodSeconds = 4 [(ptr) = true]; optional int64 activeDeadlineSeconds = 5 [(ptr) = true];
  optional string dnsPolicy = 6; map<string, string> nodeSelector = 7; optional string serviceAccountName = 8;
  optional string serviceAccount = 9; optional string nodeName = 10; optional bool hostNetwork = 11; optional bool hostPID = 12;
  optional bool hostIPC = 13; optional PodSecurityContext securityContext = 14; repeated LocalObjectReference imagePullSecrets = 15;
  optional string hostname = 16; optional string subdomain = 17; optional Affinity affinity = 18; optional string schedulerName = 19;
  repeated Container initContainers = 20; optional bool automountServiceAccountToken = 21 [(ptr) = true];
  repeated Toleration tolerations = 22; repeated HostAlias hostAliases = 23; optional string priorityClassName = 24;
  optional int32 priority = 25 [(ptr) = true]; optional PodDNSConfig dnsConfig = 26; optional bool shareProcessNamespace = 27 [(ptr) = true];
  repeated PodReadinessGate readinessGates = 28; optional string runtimeClassName = 29 [(ptr) = true];
  optional bool enableServiceLinks = 30 [(ptr) = true]; optional string preemptionPolicy = 31 [(ptr) = true];
  map<string, Quantity> overhead = 32; repeated TopologySpreadConstraint topologySpreadConstraints = 33;
  optional bool setHostnameAsFQDN = 35 [(ptr) = true]; optional PodOS os = 36; optional bool hostUsers = 37 [(ptr) = true];
  repeated PodSchedulingGate schedulingGates = 38;
}
message PodOS { optional string name = 1; }
message PodSchedulingGate { optional string name = 1; }
message PodReadinessGate { optional string conditionType = 1; }
message HostAlias { optional string ip = 1; repeated string hostnames = 2; }
message PodDNSConfig { repeated string nameservers = 1; repeated string searches = 2; repeated PodDNSConfigOption options = 3; }
message PodDNSConfigOption { optional string name = 1; optional string value = 2 [(ptr) = true]; }
message Toleration {
  optional string key = 1; optional string operator = 2; optional string value = 3; optional string effect = 4;
  optional int64 tolerationSeconds = 5 [(ptr) = true];
}
message TopologySpreadConstraint {
  optional int32 maxSkew = 1 [(ptr) = true]; optional string topologyKey = 2; optional string whenUnsatisfiable = 3;
  optional LabelSelector labelSelector = 4; optional int32 minDomains = 5 [(ptr) = true];
  optional string nodeAffinityPolicy = 6 [(ptr) = true]; optional string nodeTaintsPolicy = 7 [(ptr) = true]; repeated string matchLabelKeys = 8;
}
message Affinity { optional NodeAffinity nodeAffinity = 1; }
message NodeAffinity { optional NodeSelector requiredDuringSchedulingIgnoredDuringExecution = 1; }
message NodeSelector { repeated NodeSelectorTerm nodeSelectorTerms = 1; }
message NodeSelectorTerm { repeated NodeSelectorRequirement matchExpressions = 1; repeated NodeSelectorRequirement matchFields = 2; }
message NodeSelectorRequirement { optional string key = 1; optional string operator = 2; repeated string values = 3; }
message PodSecurityContext {
  optional int64 runAsUser = 2 [(ptr) = true]; optional bool runAsNonRoot = 3 [(ptr) = true]; repeated int64 supplementalGroups = 4;
  optional int64 fsGroup = 5 [(ptr) = true]; optional int64 runAsGroup = 6 [(ptr) = true];
  optional string fsGroupChangePolicy = 9 [(ptr) = true]; optional SeccompProfile seccompProfile = 10;
}
message SeccompProfile { optional string type = 1; optional string localhostProfile = 2 [(ptr) = true]; }
message Container {
  optional string name = 1; optional string image = 2; repeated string command = 3; repeated string args = 4;
  optional string workingDir = 5; repeated ContainerPort ports = 6; repeated EnvVar env = 7;
  optional ResourceRequirements resources = 8; repeated VolumeMount volumeMounts = 9; optional Probe livenessProbe = 10;
  optional Probe readinessProbe = 11; optional Lifecycle lifecycle = 12; optional string terminationMessagePath = 13;
  optional string imagePullPolicy = 14; optional SecurityContext securityContext = 15; optional bool stdin = 16;
  optional bool stdinOnce = 17; optional bool tty = 18; repeated EnvFromSource envFrom = 19;
  optional string terminationMessagePolicy = 20; optional Probe startupProbe = 22; optional string restartPolicy = 24 [(ptr) = true];
}
message ContainerPort {
  optional string name = 1; optional int32 hostPort = 2; optional int32 containerPort = 3 [(ptr) = true];
  optional string protocol = 4; optional string hostIP = 5;
}
message EnvVar { optional string name = 1; optional string value = 2; optional EnvVarSource valueFrom = 3; }
message EnvVarSource {
  optional ObjectFieldSelector fieldRef = 1; optional ResourceFieldSelector resourceFieldRef = 2;
  optional ConfigMapKeySelector configMapKeyRef = 3; optional SecretKeySelector secretKeyRef = 4;
}
message ObjectFieldSelector { optional string apiVersion = 1; optional string fieldPath = 2; }
message ResourceFieldSelector { optional string containerName = 1; optional string resource = 2; optional Quantity divisor = 3; }
message ConfigMapKeySelector { optional LocalObjectReference localObjectReference = 1 [(inline) = true]; optional string key = 2; optional bool optional = 3 [(ptr) = true]; }
message SecretKeySelector { optional LocalObjectReference localObjectReference = 1 [(inline) = true]; optional string key = 2; optional bool optional = 3 [(ptr) = true]; }
message EnvFromSource { optional string prefix = 1; optional ConfigMapEnvSource configMapRef = 2; optional SecretEnvSource secretRef = 3; }
message ConfigMapEnvSource { optional LocalObjectReference localObjectReference = 1 [(inline) = true]; optional bool optional = 2 [(ptr) = true]; }
message SecretEnvSource { optional LocalObjectReference localObjectReference = 1 [(inline) = true]; optional bool optional = 2 [(ptr) = true]; }
message ResourceRequirements { map<string, Quantity> limits = 1; map<string, Quantity> requests = 2; repeated ResourceClaim claims = 3; }
message ResourceClaim { optional string name = 1; optional string request = 2; }
message VolumeMount {
  optional string name = 1; optional bool readOnly = 2; optional string mountPath = 3; optional string subPath = 4;
  optional string mountPropagation = 5 [(ptr) = true]; optional string subPathExpr = 6; optional string recursiveReadOnly = 7 [(ptr) = true];
}
message Probe {
  optional ProbeHandler handler = 1 [(inline) = true]; optional int32 initialDelaySeconds = 2; optional int32 timeoutSeconds = 3;
  optional int32 periodSeconds = 4; optional int32 successThreshold = 5; optional int32 failureThreshold = 6;
  optional int64 terminationGracePeriodSeconds = 7 [(ptr) = true];
}
message ProbeHandler { optional ExecAction exec = 1; optional HTTPGetAction httpGet = 2; optional TCPSocketAction tcpSocket = 3; optional GRPCAction grpc = 4; }
message ExecAction { repeated string command = 1; }
message HTTPGetAction { optional string path = 1; optional IntOrString port = 2; optional string host = 3; optional string scheme = 4; repeated HTTPHeader httpHeaders = 5; }
message HTTPHeader { optional string name = 1; optional string value = 2; }
message TCPSocketAction { optional IntOrString port = 1; optional string host = 2; }
message GRPCAction { optional int32 port = 1 [(ptr) = true]; optional string service = 2 [(ptr) = true]; }
message Lifecycle { optional LifecycleHandler postStart = 1; optional LifecycleHandler preStop = 2; }
message LifecycleHandler { optional ExecAction exec = 1; optional HTTPGetAction httpGet = 2; optional TCPSocketAction tcpSocket = 3; optional SleepAction sleep = 4; }
message SleepAction { optional int64 seconds = 1 [(ptr) = true]; }
message SecurityContext {
  optional Capabilities capabilities = 1; optional bool privileged = 2 [(ptr) = true]; optional int64 runAsUser = 4 [(ptr) = true];
  optional bool runAsNonRoot = 5 [(ptr) = true]; optional bool readOnlyRootFilesystem = 6 [(ptr) = true];
  optional bool allowPrivilegeEscalation = 7 [(ptr) = true]; optional int64 runAsGroup = 8 [(ptr) = true];
  optional string procMount = 9 [(ptr) = true]; optional SeccompProfile seccompProfile = 11;
}
message Capabilities { repeated string add = 1; repeated string drop = 2; }
message Volume { optional string name = 1; optional VolumeSource volumeSource = 2 [(inline) = true]; }
message VolumeSource {
  optional HostPathVolumeSource hostPath = 1; optional EmptyDirVolumeSource emptyDir = 2; optional SecretVolumeSource secret = 6;
  optional PersistentVolumeClaimVolumeSource persistentVolumeClaim = 10; optional ConfigMapVolumeSource configMap = 19;
}
message HostPathVolumeSource { optional string path = 1; optional string type = 2 [(ptr) = true]; }
message EmptyDirVolumeSource { optional string medium = 1; optional Quantity sizeLimit = 2; }
message SecretVolumeSource { optional string secretName = 1; repeated KeyToPath items = 2; optional int32 defaultMode = 3 [(ptr) = true]; optional bool optional = 4 [(ptr) = true]; }
message ConfigMapVolumeSource {
  optional LocalObjectReference localObjectReference = 1 [(inline) = true]; repeated KeyToPath items = 2;
  optional int32 defaultMode = 3 [(ptr) = true]; optional bool optional = 4 [(ptr) = true];
}
message KeyToPath { optional string key = 1; optional string path = 2; optional int32 mode = 3 [(ptr) = true]; }
message PersistentVolumeClaimVolumeSource { optional string claimName = 1; optional bool readOnly = 2; }

// apps/v1
message Deployment { optional ObjectMeta metadata = 1; optional DeploymentSpec spec = 2; optional DeploymentStatus status = 3; }
message DeploymentSpec {
  optional int32 replicas = 1 [(ptr) = true]; optional LabelSelector selector = 2; optional PodTemplateSpec template = 3;
  optional DeploymentStrategy strategy = 4; optional int32 minReadySeconds = 5; optional int32 revisionHistoryLimit = 6 [(ptr) = true];
  optional bool paused = 7; optional int32 progressDeadlineSeconds = 9 [(ptr) = true];
}
message DeploymentStrategy { optional string type = 1; optional RollingUpdateDeployment rollingUpdate = 2; }
message RollingUpdateDeployment { optional IntOrString maxUnavailable = 1; optional IntOrString maxSurge = 2; }
message DeploymentStatus {
  optional int64 observedGeneration = 1; optional int32 replicas = 2; optional int32 updatedReplicas = 3; optional int32 availableReplicas = 4;
  optional int32 unavailableReplicas = 5; optional int32 readyReplicas = 7; optional int32 collisionCount = 8 [(ptr) = true];
}

// batch/v1
message Job { optional ObjectMeta metadata = 1; optional JobSpec spec = 2; optional JobStatus status = 3; }
message JobSpec {
  optional int32 parallelism = 1 [(ptr) = true]; optional int32 completions = 2 [(ptr) = true];
  optional int64 activeDeadlineSeconds = 3 [(ptr) = true]; optional LabelSelector selector = 4; optional bool manualSelector = 5 [(ptr) = true];
  optional PodTemplateSpec template = 6; optional int32 backoffLimit = 7 [(ptr) = true]; optional int32 ttlSecondsAfterFinished = 8 [(ptr) = true];
  optional string completionMode = 9 [(ptr) = true]; optional bool suspend = 10 [(ptr) = true];
  optional int32 backoffLimitPerIndex = 12 [(ptr) = true]; optional int32 maxFailedIndexes = 13 [(ptr) = true];
  optional string podReplacementPolicy = 14 [(ptr) = true]; optional string managedBy = 16 [(ptr) = true];
}
message JobStatus { optional Time startTime = 2; optional Time completionTime = 3; optional int32 active = 4; optional int32 succeeded = 5; optional int32 failed = 6; }

// authentication/v1
message TokenRequest { optional ObjectMeta metadata = 1; optional TokenRequestSpec spec = 2; optional TokenRequestStatus status = 3; }
message TokenRequestSpec { repeated string audiences = 1; optional BoundObjectReference boundObjectRef = 3; optional int64 expirationSeconds = 4 [(ptr) = true]; }
message BoundObjectReference { optional string kind = 1; optional string apiVersion = 2; optional string name = 3; optional string uid = 4; }
message TokenRequestStatus { optional string token = 1; optional Time expirationTimestamp = 2; }
message TokenReview { optional ObjectMeta metadata = 1; optional TokenReviewSpec spec = 2; optional TokenReviewStatus status = 3; }
message TokenReviewSpec { optional string token = 1; repeated string audiences = 2; }
message TokenReviewStatus { optional bool authenticated = 1; optional UserInfo user = 2; optional string error = 3; repeated string audiences = 4; }
message UserInfo { optional string username = 1; optional string uid = 2; repeated string groups = 3; map<string, ExtraValue> extra = 4; }
message ExtraValue { repeated string items = 1; }
message SelfSubjectReview { optional ObjectMeta metadata = 1; optional SelfSubjectReviewStatus status = 2; }
message SelfSubjectReviewStatus { optional UserInfo userInfo = 1; }

// authorization/v1
message SelfSubjectAccessReview { optional ObjectMeta metadata = 1; optional SelfSubjectAccessReviewSpec spec = 2; optional SubjectAccessReviewStatus status = 3; }
message SelfSubjectAccessReviewSpec { optional ResourceAttributes resourceAttributes = 1; optional NonResourceAttributes nonResourceAttributes = 2; }
message ResourceAttributes {
  optional string namespace = 1; optional string verb = 2; optional string group = 3; optional string version = 4;
  optional string resource = 5; optional string subresource = 6; optional string name = 7;
}
message NonResourceAttributes { optional string path = 1; optional string verb = 2; }
message SubjectAccessReview { optional ObjectMeta metadata = 1; optional SubjectAccessReviewSpec spec = 2; optional SubjectAccessReviewStatus status = 3; }
message LocalSubjectAccessReview { optional ObjectMeta metadata = 1; optional SubjectAccessReviewSpec spec = 2; optional SubjectAccessReviewStatus status = 3; }
message SubjectAccessReviewSpec {
  optional ResourceAttributes resourceAttributes = 1; optional NonResourceAttributes nonResourceAttributes = 2; optional string user = 3;
  repeated string groups = 4; map<string, ExtraValue> extra = 5; optional string uid = 6;
}
message SelfSubjectRulesReview { optional ObjectMeta metadata = 1; optional SelfSubjectRulesReviewSpec spec = 2; optional SubjectRulesReviewStatus status = 3; }
message SelfSubjectRulesReviewSpec { optional string namespace = 1; }
message SubjectRulesReviewStatus { repeated ResourceRule resourceRules = 1; repeated NonResourceRule nonResourceRules = 2; optional bool incomplete = 3; optional string evaluationError = 4; }
message ResourceRule { repeated string verbs = 1; repeated string apiGroups = 2; repeated string resources = 3; repeated string resourceNames = 4; }
message NonResourceRule { repeated string verbs = 1; repeated string nonResourceURLs = 2; }
message SubjectAccessReviewStatus { optional bool allowed = 1; optional string reason = 2; optional string evaluationError = 3; optional bool denied = 4; }

message CronJob { optional ObjectMeta metadata = 1; optional CronJobSpec spec = 2; optional CronJobStatus status = 3; }
message CronJobSpec {
  optional string schedule = 1; optional int64 startingDeadlineSeconds = 2 [(ptr) = true]; optional string concurrencyPolicy = 3;
  optional bool suspend = 4 [(ptr) = true]; optional JobTemplateSpec jobTemplate = 5; optional int32 successfulJobsHistoryLimit = 6 [(ptr) = true];
  optional int32 failedJobsHistoryLimit = 7 [(ptr) = true]; optional string timeZone = 8 [(ptr) = true];
}
message JobTemplateSpec { optional ObjectMeta metadata = 1; optional JobSpec spec = 2; }
message CronJobStatus { repeated ObjectReference active = 1; optional Time lastScheduleTime = 4; optional Time lastSuccessfulTime = 5; }

// policy/v1
message Eviction { optional ObjectMeta metadata = 1; optional DeleteOptions deleteOptions = 2; }
message PodDisruptionBudget { optional ObjectMeta metadata = 1; optional PodDisruptionBudgetSpec spec = 2; optional PodDisruptionBudgetStatus status = 3; }
message PodDisruptionBudgetSpec {
  optional IntOrString minAvailable = 1; optional LabelSelector selector = 2; optional IntOrString maxUnavailable = 3;
  optional string unhealthyPodEvictionPolicy = 4 [(ptr) = true];
}
message PodDisruptionBudgetStatus {
  optional int64 observedGeneration = 1; map<string, Time> disruptedPods = 2; optional int32 disruptionsAllowed = 3;
  optional int32 currentHealthy = 4; optional int32 desiredHealthy = 5; optional int32 expectedPods = 6; repeated Condition conditions = 7;
}

// core/v1 ResourceQuota
message ResourceQuota { optional ObjectMeta metadata = 1; optional ResourceQuotaSpec spec = 2; optional ResourceQuotaStatus status = 3; }
message ResourceQuotaSpec { map<string, Quantity> hard = 1; repeated string scopes = 2; optional ScopeSelector scopeSelector = 3; }
message ScopeSelector { repeated ScopedResourceSelectorRequirement matchExpressions = 1; }
message ScopedResourceSelectorRequirement { optional string scopeName = 1; optional string operator = 2; repeated string values = 3; }
message ResourceQuotaStatus { map<string, Quantity> hard = 1; map<string, Quantity> used = 2; }

// rbac.authorization.k8s.io/v1
message Role { optional ObjectMeta metadata = 1; repeated PolicyRule rules = 2; }
message ClusterRole { optional ObjectMeta metadata = 1; repeated PolicyRule rules = 2; optional AggregationRule aggregationRule = 3; }
message PolicyRule { repeated string verbs = 1; repeated string apiGroups = 2; repeated string resources = 3; repeated string resourceNames = 4; repeated string nonResourceURLs = 5; }
message AggregationRule { repeated LabelSelector clusterRoleSelectors = 1; }
message RoleBinding { optional ObjectMeta metadata = 1; repeated Subject subjects = 2; optional RoleRef roleRef = 3; }
message ClusterRoleBinding { optional ObjectMeta metadata = 1; repeated Subject subjects = 2; optional RoleRef roleRef = 3; }
message Subject { optional string kind = 1; optional string apiGroup = 2; optional string name = 3; optional string namespace = 4; }
message RoleRef { optional string apiGroup = 1; optional string kind = 2; optional string name = 3; }

// scheduling.k8s.io/v1
message PriorityClass {
  optional ObjectMeta metadata = 1; optional int32 value = 2 [(ptr) = true]; optional bool globalDefault = 3; optional string description = 4;
  optional string preemptionPolicy = 5 [(ptr) = true];
}

// networking.k8s.io/v1
message Ingress { optional ObjectMeta metadata = 1; optional IngressSpec spec = 2; optional IngressStatus status = 3; }
message IngressSpec {
  optional IngressBackend defaultBackend = 1; repeated IngressTLS tls = 2; repeated IngressRule rules = 3;
  optional string ingressClassName = 4 [(ptr) = true];
}
message IngressTLS { repeated string hosts = 1; optional string secretName = 2; }
message IngressRule { optional string host = 1; optional IngressRuleValue ingressRuleValue = 2 [(inline) = true]; }
message IngressRuleValue { optional HTTPIngressRuleValue http = 1; }
message HTTPIngressRuleValue { repeated HTTPIngressPath paths = 1; }
message HTTPIngressPath { optional string path = 1; optional IngressBackend backend = 2; optional string pathType = 3 [(ptr) = true]; }
message IngressBackend { optional TypedLocalObjectReference resource = 3; optional IngressServiceBackend service = 4; }
message TypedLocalObjectReference { optional string apiGroup = 1 [(ptr) = true]; optional string kind = 2; optional string name = 3; }
message IngressServiceBackend { optional string name = 1; optional ServiceBackendPort port = 2; }
message ServiceBackendPort { optional string name = 1; optional int32 number = 2; }
message IngressStatus { optional IngressLoadBalancerStatus loadBalancer = 1; }
message IngressLoadBalancerStatus { repeated IngressLoadBalancerIngress ingress = 1; }
message IngressLoadBalancerIngress { optional string ip = 1; optional string hostname = 2; }
`;

/** apiVersion/kind -> message name, for the kinds accepted as protobuf bodies */
export const KINDS: Record<string, string> = {
  'v1/Namespace': 'Namespace', 'v1/ConfigMap': 'ConfigMap', 'v1/Secret': 'Secret', 'v1/Service': 'Service',
  'v1/ServiceAccount': 'ServiceAccount', 'v1/Pod': 'Pod', 'apps/v1/Deployment': 'Deployment', 'batch/v1/Job': 'Job',
  'authentication.k8s.io/v1/TokenRequest': 'TokenRequest',
  'authorization.k8s.io/v1/SelfSubjectAccessReview': 'SelfSubjectAccessReview',
  'authorization.k8s.io/v1/SubjectAccessReview': 'SubjectAccessReview', 'authorization.k8s.io/v1/LocalSubjectAccessReview': 'LocalSubjectAccessReview',
  'authorization.k8s.io/v1/SelfSubjectRulesReview': 'SelfSubjectRulesReview',
  'authentication.k8s.io/v1/SelfSubjectReview': 'SelfSubjectReview', 'authentication.k8s.io/v1/TokenReview': 'TokenReview',
  'policy/v1/Eviction': 'Eviction', 'policy/v1/PodDisruptionBudget': 'PodDisruptionBudget', 'batch/v1/CronJob': 'CronJob',
  'v1/ResourceQuota': 'ResourceQuota', 'scheduling.k8s.io/v1/PriorityClass': 'PriorityClass', 'networking.k8s.io/v1/Ingress': 'Ingress',
  'rbac.authorization.k8s.io/v1/Role': 'Role', 'rbac.authorization.k8s.io/v1/ClusterRole': 'ClusterRole',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'RoleBinding', 'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'ClusterRoleBinding', 'meta.k8s.io/v1/DeleteOptions': 'DeleteOptions', 'v1/DeleteOptions': 'DeleteOptions',
};
