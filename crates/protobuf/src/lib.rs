//! Decode Kubernetes protobuf request bodies (k8s\\0 + runtime.Unknown) into JSON
