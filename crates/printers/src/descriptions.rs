//! Column descriptions. Upstream fills them from the API field docs (SwaggerDoc);
//! these are those docs, shortened where they run long.

pub(crate) const NAME: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
pub(crate) const CREATION_TIMESTAMP: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
pub(crate) const TEMPLATE_CONTAINERS: &str = "Names of each container in the template.";
pub(crate) const TEMPLATE_IMAGES: &str = "Images referenced by each container in the template.";

// Pod
pub(crate) const POD_READY: &str =
    "The aggregate readiness state of this pod for accepting traffic.";
pub(crate) const POD_STATUS: &str = "The aggregate status of the containers in this pod.";
pub(crate) const POD_RESTARTS: &str = "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.";
pub(crate) const POD_IP: &str = "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.";
pub(crate) const POD_NODE_NAME: &str = "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod.";
pub(crate) const POD_NOMINATED_NODE: &str = "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node.";
pub(crate) const POD_READINESS_GATES: &str = "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates";
pub(crate) const POD_TEMPLATE_LABELS: &str = "The labels for the pod template.";

// Node
pub(crate) const NODE_STATUS: &str = "The status of the node";
pub(crate) const NODE_ROLES: &str = "The roles of the node";
pub(crate) const NODE_KUBELET_VERSION: &str = "Kubelet Version reported by the node.";
pub(crate) const NODE_ADDRESSES: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses";
pub(crate) const NODE_OS_IMAGE: &str =
    "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).";
pub(crate) const NODE_KERNEL_VERSION: &str =
    "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).";
pub(crate) const NODE_CONTAINER_RUNTIME: &str = "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).";

// Namespace, ConfigMap, Secret, ServiceAccount, Endpoints
pub(crate) const NAMESPACE_STATUS: &str = "The status of the namespace";
pub(crate) const CONFIGMAP_DATA: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field.";
pub(crate) const SECRET_TYPE: &str = "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";
pub(crate) const SECRET_DATA: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here.";
pub(crate) const SA_SECRETS: &str = "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.";
pub(crate) const ENDPOINTS_SUBSETS: &str = "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share.";

// Service
pub(crate) const SERVICE_TYPE: &str = "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer.";
pub(crate) const SERVICE_CLUSTER_IP: &str = "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service.";
pub(crate) const SERVICE_EXTERNAL_IPS: &str = "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.";
pub(crate) const SERVICE_PORTS: &str = "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
pub(crate) const SERVICE_SELECTOR: &str = "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify.";

// Event
pub(crate) const EVENT_LAST_SEEN: &str =
    "The time at which the most recent occurrence of this event was recorded.";
pub(crate) const EVENT_TYPE: &str =
    "Type of this event (Normal, Warning), new types could be added in the future";
pub(crate) const EVENT_REASON: &str = "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.";
pub(crate) const EVENT_OBJECT: &str = "The object that this event is about.";
pub(crate) const EVENT_SUBOBJECT: &str = "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].";
pub(crate) const EVENT_SOURCE: &str =
    "The component reporting this event. Should be a short machine understandable string.";
pub(crate) const EVENT_MESSAGE: &str =
    "A human-readable description of the status of this operation.";
pub(crate) const EVENT_FIRST_SEEN: &str =
    "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)";
pub(crate) const EVENT_COUNT: &str = "The number of times this event has occurred.";

// ResourceQuota
pub(crate) const QUOTA_REQUEST: &str =
    "Request represents a minimum amount of cpu/memory that a container may consume.";
pub(crate) const QUOTA_LIMIT: &str = "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.";

// PersistentVolume / PersistentVolumeClaim
pub(crate) const PV_CAPACITY: &str = "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity";
pub(crate) const PV_ACCESS_MODES: &str = "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes";
pub(crate) const PV_RECLAIM_POLICY: &str = "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated).";
pub(crate) const PV_PHASE: &str = "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase";
pub(crate) const PV_CLAIM: &str = "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC.";
pub(crate) const PV_STORAGE_CLASS: &str = "StorageClass of the pv";
pub(crate) const PV_VOLUME_ATTRIBUTES_CLASS: &str = "VolumeAttributesClass of the pv";
pub(crate) const PV_REASON: &str = "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.";
pub(crate) const PV_VOLUME_MODE: &str = "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.";
pub(crate) const PVC_PHASE: &str = "phase represents the current phase of PersistentVolumeClaim.";
pub(crate) const PVC_VOLUME: &str =
    "volumeName is the binding reference to the PersistentVolume backing this claim.";
pub(crate) const PVC_CAPACITY: &str =
    "capacity represents the actual resources of the underlying volume.";
pub(crate) const PVC_ACCESS_MODES: &str = "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1";
pub(crate) const PVC_STORAGE_CLASS: &str = "StorageClass of the pvc";
pub(crate) const PVC_VOLUME_ATTRIBUTES_CLASS: &str = "VolumeAttributesClass of the pvc";
pub(crate) const PVC_VOLUME_MODE: &str = "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.";

// Replication controllers, replica sets, deployments, daemon sets, stateful sets
pub(crate) const SPEC_REPLICAS: &str = "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller";
pub(crate) const STATUS_REPLICAS: &str = "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller";
pub(crate) const RC_READY_REPLICAS: &str =
    "The number of ready replicas for this replication controller.";
pub(crate) const RC_SELECTOR: &str = "Selector is a label query over pods that should match the Replicas count. If Selector is empty, it is defaulted to the labels present on the Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
pub(crate) const RS_READY_REPLICAS: &str = "The number of ready replicas for this replica set.";
pub(crate) const RS_SELECTOR: &str = "Selector is a label query over pods that should match the replica count. If the selector is empty, it is defaulted to the labels present on the pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
pub(crate) const READY_PODS: &str = "Number of the pod with ready state";
pub(crate) const DEPLOY_UPDATED: &str = "Total number of non-terminated pods targeted by this deployment that have the desired template spec.";
pub(crate) const DEPLOY_AVAILABLE: &str = "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.";
pub(crate) const DEPLOY_SELECTOR: &str = "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.";
pub(crate) const DS_DESIRED: &str = "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
pub(crate) const DS_CURRENT: &str = "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
pub(crate) const DS_READY: &str = "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.";
pub(crate) const DS_UPDATED: &str = "The total number of nodes that are running updated daemon pod";
pub(crate) const DS_AVAILABLE: &str = "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)";
pub(crate) const DS_NODE_SELECTOR: &str = "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/";
pub(crate) const DS_SELECTOR: &str = "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
pub(crate) const CR_CONTROLLER: &str = "Controller of the object";
pub(crate) const CR_REVISION: &str =
    "Revision indicates the revision of the state represented by Data.";

// Job / CronJob
pub(crate) const JOB_STATUS: &str = "Status of the job.";
pub(crate) const JOB_SUCCEEDED: &str = "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.";
pub(crate) const JOB_DURATION: &str = "Time required to complete the job.";
pub(crate) const JOB_SELECTOR: &str = "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
pub(crate) const CRON_SCHEDULE: &str =
    "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.";
pub(crate) const CRON_TIMEZONE: &str = "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process.";
pub(crate) const CRON_SUSPEND: &str = "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions. Defaults to false.";
pub(crate) const CRON_ACTIVE: &str = "A list of pointers to currently running jobs.";
pub(crate) const CRON_LAST_SCHEDULE: &str =
    "Information when was the last time the job was successfully scheduled.";

// HorizontalPodAutoscaler
pub(crate) const HPA_REFERENCE: &str = "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.";
pub(crate) const HPA_TARGETS: &str = "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).";
pub(crate) const HPA_MIN: &str = "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down. It defaults to 1 pod.";
pub(crate) const HPA_MAX: &str = "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot be less that minReplicas.";
pub(crate) const HPA_REPLICAS: &str = "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.";

// Networking
pub(crate) const INGRESS_CLASS: &str =
    "The name of the IngressClass resource that should be used for additional configuration";
pub(crate) const INGRESS_HOSTS: &str =
    "Hosts that incoming requests are matched against before the ingress rule";
pub(crate) const INGRESS_ADDRESS: &str =
    "Address is a list containing ingress points for the load-balancer";
pub(crate) const INGRESS_PORTS: &str = "Ports of TLS configurations that open";
pub(crate) const INGRESSCLASS_CONTROLLER: &str =
    "Controller that is responsible for handling this class";
pub(crate) const INGRESSCLASS_PARAMETERS: &str =
    "A reference to a resource with additional parameters";
pub(crate) const NETPOL_POD_SELECTOR: &str = "Selects the pods to which this NetworkPolicy object applies. The array of ingress rules is applied to any pods selected by this field.";

// RBAC
pub(crate) const ROLE_REF: &str = "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";
pub(crate) const CLUSTER_ROLE_REF: &str = "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";
pub(crate) const RB_USERS: &str = "Users in the roleBinding";
pub(crate) const RB_GROUPS: &str = "Groups in the roleBinding";
pub(crate) const RB_SAS: &str = "ServiceAccounts in the roleBinding";
pub(crate) const CRB_USERS: &str = "Users in the clusterRoleBinding";
pub(crate) const CRB_GROUPS: &str = "Groups in the clusterRoleBinding";
pub(crate) const CRB_SAS: &str = "ServiceAccounts in the clusterRoleBinding";

// Policy, scheduling, coordination, discovery, storage
pub(crate) const PDB_MIN: &str = "The minimum number of pods that must be available.";
pub(crate) const PDB_MAX: &str = "The maximum number of pods that may be unavailable.";
pub(crate) const PDB_ALLOWED: &str =
    "Calculated number of pods that may be disrupted at this time.";
pub(crate) const PC_VALUE: &str = "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.";
pub(crate) const PC_GLOBAL_DEFAULT: &str = "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`.";
pub(crate) const PC_PREEMPTION: &str = "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.";
pub(crate) const LEASE_HOLDER: &str = "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.";
pub(crate) const SLICE_ADDRESS_TYPE: &str = "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. Supported types are IPv4, IPv6 and FQDN.";
pub(crate) const SLICE_PORTS: &str = "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. When ports is empty, it indicates that there are no defined ports.";
pub(crate) const SLICE_ENDPOINTS: &str = "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.";
pub(crate) const SC_PROVISIONER: &str = "provisioner indicates the type of the provisioner.";
pub(crate) const SC_RECLAIM: &str = "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.";
pub(crate) const SC_BINDING_MODE: &str = "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.";
pub(crate) const SC_EXPANSION: &str =
    "allowVolumeExpansion shows whether the storage class allow volume expand.";

// Admission, certificates, flow control, node, more networking and storage
pub(crate) const WEBHOOKS: &str =
    "Webhooks indicates the number of webhooks registered in this configuration";
pub(crate) const VAP_VALIDATIONS: &str =
    "Validations indicates the number of validation rules defined in this configuration";
pub(crate) const VAP_PARAM_KIND: &str =
    "ParamKind specifies the kind of resources used to parameterize this policy";
pub(crate) const VAPB_POLICY_NAME: &str =
    "PolicyName indicates the policy definition which the policy binding binded to";
pub(crate) const VAPB_PARAM_REF: &str =
    "ParamRef indicates the param resource which sets the configration param";
pub(crate) const CSR_SIGNER: &str =
    "signerName indicates the requested signer, and is a qualified name.";
pub(crate) const CSR_REQUESTOR: &str = "username contains the name of the user that created the CertificateSigningRequest. Populated by the API server on creation and immutable.";
pub(crate) const CSR_DURATION: &str =
    "expirationSeconds is the requested duration of validity of the issued certificate.";
pub(crate) const CSR_CONDITION: &str =
    "conditions applied to the request. Known conditions are \"Approved\", \"Denied\", and \"Failed\".";
pub(crate) const FS_PRIORITY_LEVEL: &str =
    "`name` is the name of the priority level configuration being referenced Required.";
pub(crate) const FS_PRECEDENCE: &str = "`matchingPrecedence` is used to choose among the FlowSchemas that match a given request. The chosen FlowSchema is among those with the numerically lowest (which we take to be logically highest) MatchingPrecedence.";
pub(crate) const FS_DISTINGUISHER: &str = "`distinguisherMethod` defines how to compute the flow distinguisher for requests that match this schema. `nil` specifies that the distinguisher is disabled and thus will always be the empty string.";
pub(crate) const FS_MISSING_PL: &str =
    "references a broken or non-existent PriorityLevelConfiguration";
pub(crate) const PL_TYPE: &str = "`type` indicates whether this priority level is subject to limitation on request execution.  A value of `\"Exempt\"` means that requests of this priority level are not subject to a limit (and thus are never queued) and do not detract from the capacity made available to other priority levels.  A value of `\"Limited\"` means that (a) requests of this priority level _are_ subject to limits and (b) some of the server's limited capacity is made available exclusively to this priority level. Required.";
pub(crate) const PL_SHARES: &str = "`nominalConcurrencyShares` (NCS) contributes to the computation of the NominalConcurrencyLimit (NominalCL) of this level.";
pub(crate) const PL_QUEUES: &str = "`queues` is the number of queues for this priority level. The queues exist independently at each apiserver. The value must be positive.  Setting it to 1 effectively precludes shufflesharding and thus makes the distinguisher method of associated flow schemas irrelevant.  This field has a default value of 64.";
pub(crate) const PL_HAND_SIZE: &str = "`handSize` is a small positive number that configures the shuffle sharding of requests into queues.  When enqueuing a request at this priority level the request's flow identifier (a string pair) is hashed and the hash value is used to shuffle the list of queues and deal a hand of the size specified here.";
pub(crate) const PL_QUEUE_LENGTH: &str = "`queueLengthLimit` is the maximum number of requests allowed to be waiting in a given queue of this priority level at a time; excess requests are rejected.  This value must be positive.  If not specified, it will be defaulted to 50.";
pub(crate) const RUNTIME_CLASS_HANDLER: &str = "handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class.";
pub(crate) const SERVICE_CIDRS: &str = "CIDRs defines the IP blocks in CIDR notation (e.g. \"192.168.0.0/24\" or \"2001:db8::/64\") from which to assign service cluster IPs. Max of two CIDRs is allowed, one of each IP family. This field is immutable.";
pub(crate) const CSI_NODE_DRIVERS: &str =
    "Drivers indicates the number of CSI drivers registered on the node";
pub(crate) const CSI_ATTACH_REQUIRED: &str = "attachRequired indicates this CSI volume driver requires an attach operation (because it implements the CSI ControllerPublishVolume() method), and that the Kubernetes attach detach controller should call the attach volume interface which checks the volumeattachment status and waits until the volume is attached before proceeding to mounting.";
pub(crate) const CSI_POD_INFO: &str = "podInfoOnMount indicates this CSI volume driver requires additional pod information (like podName, podUID, etc.) during mount operations, if set to true.";
pub(crate) const CSI_STORAGE_CAPACITY: &str = "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity that the driver deployment will report by creating CSIStorageCapacity objects with capacity information, if set to true.";
pub(crate) const CSI_TOKEN_REQUESTS: &str = "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for to do necessary authentication.";
pub(crate) const CSI_REQUIRES_REPUBLISH: &str = "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically called to reflect any possible change in the mounted volume.";
pub(crate) const CSI_MODES: &str = "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports. The default if the list is empty is \"Persistent\", which is the usage defined by the CSI specification and implemented in Kubernetes via the usual PV/PVC mechanism.";
pub(crate) const VA_ATTACHER: &str = "attacher indicates the name of the volume driver that MUST handle this request. This is the name returned by GetPluginName().";
pub(crate) const VA_PV: &str =
    "persistentVolumeName represents the name of the persistent volume to attach.";
pub(crate) const VA_NODE: &str =
    "nodeName represents the node that the volume should be attached to.";
pub(crate) const VA_ATTACHED: &str = "attached indicates the volume is successfully attached. This field must only be set by the entity completing the attach operation, i.e. the external-attacher.";
