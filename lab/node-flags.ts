// V8 and Node flags for the node agents (kubelet, kube-proxy), in one place for the lab, the systemd units'
// environment files and the pod startup benchmark. Why each flag is there: agent/kubelet/README.md ("Memory").
export const NODE_AGENT_NODE_OPTIONS = '';
