//! Pod IPs per namespace, for `PodMode::Verified` pod names.

use k8s_openapi::api::core::v1::Pod;
use std::collections::HashMap;
use std::net::IpAddr;

type PodKey = (String, String);

#[derive(Default)]
pub struct PodIps {
    by_pod: HashMap<PodKey, Vec<IpAddr>>,
    /// (namespace, ip) → number of pods holding it (briefly two while an IP is reused).
    holders: HashMap<(String, IpAddr), usize>,
}

fn pod_key(pod: &Pod) -> Option<PodKey> {
    Some((pod.metadata.namespace.clone()?, pod.metadata.name.clone()?))
}

fn pod_ips(pod: &Pod) -> Vec<IpAddr> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let mut ips: Vec<IpAddr> = status
        .pod_ips
        .iter()
        .flatten()
        .filter_map(|pod_ip| pod_ip.ip.parse().ok())
        .collect();
    if let Some(ip) = status.pod_ip.as_ref().and_then(|ip| ip.parse().ok()) {
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    ips
}

impl PodIps {
    pub fn apply(&mut self, pod: &Pod) {
        let Some(key) = pod_key(pod) else {
            return;
        };
        self.remove(&key);
        let ips = pod_ips(pod);
        for ip in &ips {
            *self.holders.entry((key.0.clone(), *ip)).or_default() += 1;
        }
        if !ips.is_empty() {
            self.by_pod.insert(key, ips);
        }
    }

    pub fn delete(&mut self, pod: &Pod) {
        if let Some(key) = pod_key(pod) {
            self.remove(&key);
        }
    }

    pub fn replace(&mut self, pods: &[Pod]) {
        *self = PodIps::default();
        for pod in pods {
            self.apply(pod);
        }
    }

    pub fn contains(&self, namespace: &str, ip: IpAddr) -> bool {
        self.holders.contains_key(&(namespace.to_string(), ip))
    }

    fn remove(&mut self, key: &PodKey) {
        for ip in self.by_pod.remove(key).unwrap_or_default() {
            let holder = (key.0.clone(), ip);
            if let Some(count) = self.holders.get_mut(&holder) {
                *count -= 1;
                if *count == 0 {
                    self.holders.remove(&holder);
                }
            }
        }
    }
}
