//! `ClusterRecords`: the in-memory zone. Watch events re-render the affected
//! Service into a name → records index; queries only read that index.

use crate::config::PodMode;
use crate::error::DnsError;
use crate::model::{self, ServiceKey, ServiceModel, SliceKey, SliceModel};
use crate::names;
use crate::pods::PodIps;
use crate::render::{self, address_record, RenderedNames};
use hickory_server::proto::rr::rdata::{NS, SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// Version of the Kubernetes DNS schema served at `dns-version.<zone>` (CoreDNS serves 1.1.0).
pub const DNS_SCHEMA_VERSION: &str = "1.1.0";
/// TTL of the `dns-version` TXT record (as CoreDNS).
const SCHEMA_VERSION_TTL: u32 = 28800;

/// What the cluster zone says about one (name, type).
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// Authoritative records (owner names in lower case; the handler restores the query's case).
    Answer {
        answers: Vec<Record>,
        additionals: Vec<Record>,
    },
    /// The name is an alias (ExternalName Service) and the type asked is not CNAME:
    /// the CNAME is the first answer and `target` should be resolved next.
    Alias {
        cname: Record,
        target: Name,
    },
    /// The name exists but has no record of that type.
    NoData {
        soa: Record,
    },
    NxDomain {
        soa: Record,
    },
    /// Inside the zone, but the watches have not listed everything yet: an
    /// NXDOMAIN now could be wrong and would be cached, so SERVFAIL instead.
    NotReady,
    /// Not a name this server is authoritative for: forward it.
    NotAuthoritative,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Owner {
    Static,
    Service(ServiceKey),
}

/// The records one name holds, grouped by who contributed them; a name with
/// only empty contributions is an empty non-terminal.
#[derive(Debug, Default)]
struct NameEntry {
    parts: Vec<(Owner, Vec<Record>)>,
}

#[derive(Default)]
struct Sources {
    services: HashMap<ServiceKey, ServiceModel>,
    slices: HashMap<SliceKey, SliceModel>,
    slices_by_service: HashMap<ServiceKey, BTreeSet<SliceKey>>,
    /// Names each Service currently contributes, to withdraw them on change.
    owned: HashMap<ServiceKey, Vec<LowerName>>,
}

struct Apexes {
    zone: Name,
    zone_lower: LowerName,
    pod: LowerName,
    reverse_v4: Name,
    reverse_v4_lower: LowerName,
    reverse_v6: Name,
    reverse_v6_lower: LowerName,
}

pub struct ClusterRecords {
    apexes: Apexes,
    ttl: u32,
    pods: PodMode,
    sources: Mutex<Sources>,
    /// Pod IPs per namespace, only kept (and consulted) in `PodMode::Verified`.
    pod_ips: RwLock<PodIps>,
    index: RwLock<HashMap<LowerName, NameEntry>>,
    serial: AtomicU32,
    synced: AtomicBool,
}

impl ClusterRecords {
    /// An empty zone (`cluster.local` style, trailing dot optional), marked synced.
    pub fn new(zone: &str, ttl: u32, pods: PodMode) -> Result<Self, DnsError> {
        let invalid = |reason: &str| DnsError::InvalidZone {
            zone: zone.to_string(),
            reason: reason.to_string(),
        };
        let zone_name = names::fqdn(zone).ok_or_else(|| invalid("not a domain name"))?;
        if zone_name.is_root() {
            return Err(invalid("the root zone cannot be the cluster zone"));
        }
        let pod = names::child(&zone_name, "pod").ok_or_else(|| invalid("name too long"))?;
        let reverse_v4 = names::fqdn("in-addr.arpa").ok_or_else(|| invalid("in-addr.arpa"))?;
        let reverse_v6 = names::fqdn("ip6.arpa").ok_or_else(|| invalid("ip6.arpa"))?;
        let records = ClusterRecords {
            apexes: Apexes {
                zone_lower: LowerName::new(&zone_name),
                pod: LowerName::new(&pod),
                zone: zone_name,
                reverse_v4_lower: LowerName::new(&reverse_v4),
                reverse_v4,
                reverse_v6_lower: LowerName::new(&reverse_v6),
                reverse_v6,
            },
            ttl,
            pods,
            sources: Mutex::new(Sources::default()),
            pod_ips: RwLock::new(PodIps::default()),
            index: RwLock::new(HashMap::new()),
            serial: AtomicU32::new(now_serial()),
            synced: AtomicBool::new(true),
        };
        records.install_static(None);
        Ok(records)
    }

    pub fn zone(&self) -> &Name {
        &self.apexes.zone
    }

    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    pub fn pod_mode(&self) -> PodMode {
        self.pods
    }

    pub fn apply_pod(&self, pod: &Pod) {
        self.write_pod_ips().apply(pod);
    }

    pub fn delete_pod(&self, pod: &Pod) {
        self.write_pod_ips().delete(pod);
    }

    /// Makes the pod set exactly `pods` (after a watch (re)list).
    pub fn replace_pods(&self, pods: &[Pod]) {
        self.write_pod_ips().replace(pods);
    }

    /// False until the watches have listed Services and EndpointSlices once.
    pub fn set_synced(&self, synced: bool) {
        self.synced.store(synced, Ordering::Release);
    }

    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// Address served for `ns.dns.<zone>` (the target of the apex NS record).
    pub fn set_nameserver_address(&self, ip: Option<IpAddr>) {
        self.install_static(ip);
    }

    /// Number of names in the index (for diagnostics and benchmarks).
    pub fn name_count(&self) -> usize {
        self.read_index().len()
    }

    pub fn apply_service(&self, service: &Service) {
        let Some(model) = ServiceModel::from_service(service) else {
            return;
        };
        let mut sources = self.lock_sources();
        let key = model.key.clone();
        if sources.services.get(&key) == Some(&model) {
            return;
        }
        sources.services.insert(key.clone(), model);
        self.rerender(&mut sources, &key);
    }

    pub fn delete_service(&self, service: &Service) {
        let Some(key) = model::service_key(service) else {
            return;
        };
        let mut sources = self.lock_sources();
        if sources.services.remove(&key).is_some() {
            self.rerender(&mut sources, &key);
        }
    }

    pub fn apply_endpoint_slice(&self, slice: &EndpointSlice) {
        let Some(key) = model::slice_key(slice) else {
            return;
        };
        let mut sources = self.lock_sources();
        let new_model = SliceModel::from_slice(slice);
        if sources.slices.get(&key) == new_model.as_ref() {
            return;
        }
        // A slice relabelled to another Service (or unlabelled) leaves the old one.
        let old_service = remove_slice(&mut sources, &key);
        let new_service = new_model.as_ref().map(|model| model.service.clone());
        if let Some(model) = new_model {
            sources
                .slices_by_service
                .entry(model.service.clone())
                .or_default()
                .insert(key.clone());
            sources.slices.insert(key, model);
        }
        for service in old_service.iter().chain(new_service.iter()) {
            self.rerender(&mut sources, service);
        }
    }

    pub fn delete_endpoint_slice(&self, slice: &EndpointSlice) {
        let Some(key) = model::slice_key(slice) else {
            return;
        };
        let mut sources = self.lock_sources();
        if let Some(service) = remove_slice(&mut sources, &key) {
            self.rerender(&mut sources, &service);
        }
    }

    /// Makes the Service set exactly `services` (after a watch (re)list).
    pub fn replace_services(&self, services: &[Service]) {
        let keep: BTreeSet<ServiceKey> = services.iter().filter_map(model::service_key).collect();
        let stale: Vec<ServiceKey> = {
            let sources = self.lock_sources();
            sources
                .services
                .keys()
                .filter(|key| !keep.contains(*key))
                .cloned()
                .collect()
        };
        for key in stale {
            let mut sources = self.lock_sources();
            sources.services.remove(&key);
            self.rerender(&mut sources, &key);
        }
        for service in services {
            self.apply_service(service);
        }
    }

    /// Makes the EndpointSlice set exactly `slices` (after a watch (re)list).
    pub fn replace_endpoint_slices(&self, slices: &[EndpointSlice]) {
        let keep: BTreeSet<SliceKey> = slices.iter().filter_map(model::slice_key).collect();
        let stale: Vec<SliceKey> = {
            let sources = self.lock_sources();
            sources
                .slices
                .keys()
                .filter(|key| !keep.contains(*key))
                .cloned()
                .collect()
        };
        for key in stale {
            let mut sources = self.lock_sources();
            if let Some(service) = remove_slice(&mut sources, &key) {
                self.rerender(&mut sources, &service);
            }
        }
        for slice in slices {
            self.apply_endpoint_slice(slice);
        }
    }

    /// Answers one question from the index.
    pub fn lookup(&self, name: &LowerName, qtype: RecordType) -> Lookup {
        if let Some(labels) = names::labels_below(name, &self.apexes.zone_lower) {
            return self.lookup_in_zone(name, &labels, qtype);
        }
        let reverse_apex = if self.apexes.reverse_v4_lower.zone_of(name) {
            &self.apexes.reverse_v4
        } else if self.apexes.reverse_v6_lower.zone_of(name) {
            &self.apexes.reverse_v6
        } else {
            return Lookup::NotAuthoritative;
        };
        // Reverse names we do not know fall through to the upstreams (CoreDNS
        // `fallthrough in-addr.arpa ip6.arpa`).
        let index = self.read_index();
        match index.get(name) {
            Some(entry) => self.answer_from_entry(&index, entry, qtype, reverse_apex),
            None => Lookup::NotAuthoritative,
        }
    }

    /// The SOA of the zone that holds `name` (cluster zone or a reverse zone).
    pub fn soa_for(&self, name: &LowerName) -> Record {
        if self.apexes.reverse_v4_lower.zone_of(name) {
            self.soa(&self.apexes.reverse_v4)
        } else if self.apexes.reverse_v6_lower.zone_of(name) {
            self.soa(&self.apexes.reverse_v6)
        } else {
            self.soa(&self.apexes.zone)
        }
    }

    fn lookup_in_zone(&self, name: &LowerName, labels: &[String], qtype: RecordType) -> Lookup {
        let zone = &self.apexes.zone;
        if let Some(pod_lookup) = self.lookup_pod(name, labels, qtype) {
            return pod_lookup;
        }
        let index = self.read_index();
        match index.get(name) {
            Some(entry) => {
                let mut lookup = self.answer_from_entry(&index, entry, qtype, zone);
                // The apex SOA is built per answer so its serial follows changes.
                if labels.is_empty() && matches!(qtype, RecordType::SOA | RecordType::ANY) {
                    let soa = self.soa(zone);
                    lookup = match lookup {
                        Lookup::Answer {
                            mut answers,
                            additionals,
                        } => {
                            answers.insert(0, soa);
                            Lookup::Answer {
                                answers,
                                additionals,
                            }
                        }
                        _ => Lookup::Answer {
                            answers: vec![soa],
                            additionals: Vec::new(),
                        },
                    };
                }
                lookup
            }
            None if !self.is_synced() => Lookup::NotReady,
            None => Lookup::NxDomain {
                soa: self.soa(zone),
            },
        }
    }

    /// `pod.<zone>`, `<ns>.pod.<zone>`, `<dashed-ip>.<ns>.pod.<zone>`: computed,
    /// not indexed, since every well-formed IP is a valid name.
    fn lookup_pod(&self, name: &LowerName, labels: &[String], qtype: RecordType) -> Option<Lookup> {
        if !self.apexes.pod.zone_of(name) {
            return None;
        }
        let soa = self.soa(&self.apexes.zone);
        let below_pod = &labels[..labels.len() - 1];
        if self.pods == PodMode::Disabled && !below_pod.is_empty() {
            return Some(Lookup::NxDomain { soa });
        }
        Some(match below_pod {
            [] => Lookup::NoData { soa },
            // Empty non-terminal for a namespace: NODATA keeps RFC 8020 resolvers
            // from pruning the pod names below it.
            [namespace] if names::is_dns_label(namespace) => Lookup::NoData { soa },
            [pod, namespace] if names::is_dns_label(namespace) => {
                match names::ip_from_dashed(pod) {
                    None => Lookup::NxDomain { soa },
                    Some(ip)
                        if self.pods == PodMode::Verified
                            && !self.read_pod_ips().contains(namespace, ip) =>
                    {
                        Lookup::NxDomain { soa }
                    }
                    Some(ip) => {
                        let record = address_record(&name.into(), ip, self.ttl);
                        if qtype == RecordType::ANY || record.record_type() == qtype {
                            Lookup::Answer {
                                answers: vec![record],
                                additionals: Vec::new(),
                            }
                        } else {
                            Lookup::NoData { soa }
                        }
                    }
                }
            }
            _ => Lookup::NxDomain { soa },
        })
    }

    fn answer_from_entry(
        &self,
        index: &HashMap<LowerName, NameEntry>,
        entry: &NameEntry,
        qtype: RecordType,
        apex: &Name,
    ) -> Lookup {
        let all = entry.parts.iter().flat_map(|(_, records)| records.iter());
        if qtype != RecordType::CNAME && qtype != RecordType::ANY {
            if let Some(cname) = all
                .clone()
                .find(|record| record.record_type() == RecordType::CNAME)
            {
                if let RData::CNAME(target) = &cname.data {
                    return Lookup::Alias {
                        cname: cname.clone(),
                        target: target.0.clone(),
                    };
                }
            }
        }
        let answers: Vec<Record> = all
            .filter(|record| qtype == RecordType::ANY || record.record_type() == qtype)
            .cloned()
            .collect();
        if answers.is_empty() {
            return Lookup::NoData {
                soa: self.soa(apex),
            };
        }
        let additionals = srv_target_addresses(index, &answers);
        Lookup::Answer {
            answers,
            additionals,
        }
    }

    fn soa(&self, apex: &Name) -> Record {
        let prefix = |label: &str| apex.prepend_label(label).unwrap_or_else(|_| apex.clone());
        let mname = prefix("dns")
            .prepend_label("ns")
            .unwrap_or_else(|_| apex.clone());
        let soa = SOA::new(
            mname,
            prefix("hostmaster"),
            self.serial.load(Ordering::Relaxed),
            7200,
            1800,
            86400,
            self.ttl,
        );
        Record::from_rdata(apex.clone(), self.ttl, RData::SOA(soa))
    }

    /// Names that always exist: the apex (NS), `svc`, `pod`, `dns-version` (TXT),
    /// `dns`, `ns.dns` (A when the server address is known).
    fn install_static(&self, nameserver: Option<IpAddr>) {
        let zone = &self.apexes.zone;
        let mut rendered = RenderedNames::new();
        let ns_name = names::child(zone, "dns").and_then(|dns| names::child(&dns, "ns"));
        if let Some(ns_name) = &ns_name {
            rendered.insert(
                LowerName::new(zone),
                vec![Record::from_rdata(
                    zone.clone(),
                    self.ttl,
                    RData::NS(NS(ns_name.clone())),
                )],
            );
            rendered.insert(
                LowerName::new(ns_name),
                nameserver
                    .iter()
                    .map(|ip| address_record(ns_name, *ip, self.ttl))
                    .collect(),
            );
        }
        for label in ["svc", "pod", "dns"] {
            if let Some(name) = names::child(zone, label) {
                rendered.insert(LowerName::new(&name), Vec::new());
            }
        }
        if let Some(name) = names::child(zone, "dns-version") {
            let txt = TXT::new(vec![DNS_SCHEMA_VERSION.to_string()]);
            rendered.insert(
                LowerName::new(&name),
                vec![Record::from_rdata(
                    name,
                    SCHEMA_VERSION_TTL,
                    RData::TXT(txt),
                )],
            );
        }
        let mut index = self.write_index();
        let old: Vec<LowerName> = index
            .iter()
            .filter(|(_, entry)| entry.parts.iter().any(|(owner, _)| *owner == Owner::Static))
            .map(|(name, _)| name.clone())
            .collect();
        replace_owner(&mut index, &Owner::Static, &old, rendered);
    }

    fn rerender(&self, sources: &mut Sources, key: &ServiceKey) {
        let rendered = match sources.services.get(key) {
            Some(service) => {
                let slices = sources
                    .slices_by_service
                    .get(key)
                    .into_iter()
                    .flatten()
                    .filter_map(|slice_key| sources.slices.get(slice_key));
                render::render_service(service, slices, &self.apexes.zone, self.ttl)
            }
            None => RenderedNames::new(),
        };
        let new_names: Vec<LowerName> = rendered.keys().cloned().collect();
        let old_names = sources.owned.remove(key).unwrap_or_default();
        {
            let mut index = self.write_index();
            replace_owner(
                &mut index,
                &Owner::Service(key.clone()),
                &old_names,
                rendered,
            );
        }
        if !new_names.is_empty() {
            sources.owned.insert(key.clone(), new_names);
        }
        self.serial.fetch_max(now_serial(), Ordering::Relaxed);
    }

    fn lock_sources(&self) -> MutexGuard<'_, Sources> {
        // A panic while holding the lock cannot leave the maps half-updated in a
        // way later renders do not repair, so poisoning is ignored.
        self.sources
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read_pod_ips(&self) -> RwLockReadGuard<'_, PodIps> {
        self.pod_ips
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_pod_ips(&self) -> RwLockWriteGuard<'_, PodIps> {
        self.pod_ips
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read_index(&self) -> RwLockReadGuard<'_, HashMap<LowerName, NameEntry>> {
        self.index
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_index(&self) -> RwLockWriteGuard<'_, HashMap<LowerName, NameEntry>> {
        self.index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Withdraws `owner`'s contributions from `old` names and adds `rendered`.
fn replace_owner(
    index: &mut HashMap<LowerName, NameEntry>,
    owner: &Owner,
    old: &[LowerName],
    rendered: RenderedNames,
) {
    for name in old {
        if let Some(entry) = index.get_mut(name) {
            entry.parts.retain(|(part_owner, _)| part_owner != owner);
            if entry.parts.is_empty() {
                index.remove(name);
            }
        }
    }
    for (name, records) in rendered {
        index
            .entry(name)
            .or_default()
            .parts
            .push((owner.clone(), records));
    }
}

/// Removes a slice; returns the Service it belonged to.
fn remove_slice(sources: &mut Sources, key: &SliceKey) -> Option<ServiceKey> {
    let old = sources.slices.remove(key)?;
    if let Some(set) = sources.slices_by_service.get_mut(&old.service) {
        set.remove(key);
        if set.is_empty() {
            sources.slices_by_service.remove(&old.service);
        }
    }
    Some(old.service)
}

/// The A/AAAA records of SRV targets we hold, for the additional section.
fn srv_target_addresses(index: &HashMap<LowerName, NameEntry>, answers: &[Record]) -> Vec<Record> {
    let mut additionals: Vec<Record> = Vec::new();
    for answer in answers {
        let RData::SRV(srv) = &answer.data else {
            continue;
        };
        let Some(entry) = index.get(&LowerName::new(&srv.target)) else {
            continue;
        };
        for record in entry.parts.iter().flat_map(|(_, records)| records) {
            let is_address = matches!(record.record_type(), RecordType::A | RecordType::AAAA);
            if is_address && !additionals.contains(record) {
                additionals.push(record.clone());
            }
        }
    }
    additionals
}

fn now_serial() -> u32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    u32::try_from(secs).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;

    fn records() -> ClusterRecords {
        ClusterRecords::new("cluster.local", 5, PodMode::Insecure).unwrap()
    }

    fn lower(name: &str) -> LowerName {
        LowerName::new(&names::fqdn(name).unwrap())
    }

    /// The rdata of the answers, sorted (empty for anything but an answer).
    fn rdata(records: &ClusterRecords, name: &str, qtype: RecordType) -> Vec<String> {
        match records.lookup(&lower(name), qtype) {
            Lookup::Answer { answers, .. } => {
                let mut out: Vec<String> = answers.iter().map(|r| r.data.to_string()).collect();
                out.sort();
                out
            }
            _ => Vec::new(),
        }
    }

    fn is_nxdomain(records: &ClusterRecords, name: &str) -> bool {
        matches!(
            records.lookup(&lower(name), RecordType::A),
            Lookup::NxDomain { .. }
        )
    }

    #[test]
    fn deleting_a_service_withdraws_every_name_it_owned() {
        let records = records();
        let baseline = records.name_count();
        let web = cluster_ip_service("default", "web", &["10.43.0.20"], &[("http", "TCP", 80)]);
        records.apply_service(&web);
        assert!(records.name_count() > baseline);
        assert_eq!(
            rdata(&records, "web.default.svc.cluster.local", RecordType::A),
            ["10.43.0.20"]
        );
        records.delete_service(&web);
        assert_eq!(records.name_count(), baseline);
        assert!(is_nxdomain(&records, "web.default.svc.cluster.local"));
        assert!(
            is_nxdomain(&records, "default.svc.cluster.local"),
            "namespace label goes with its last Service"
        );
        assert_eq!(
            records.lookup(&lower("20.0.43.10.in-addr.arpa"), RecordType::PTR),
            Lookup::NotAuthoritative
        );
    }

    #[test]
    fn changing_the_cluster_ip_moves_the_ptr_record() {
        let records = records();
        records.apply_service(&cluster_ip_service("default", "web", &["10.43.0.20"], &[]));
        records.apply_service(&cluster_ip_service("default", "web", &["10.43.0.21"], &[]));
        assert_eq!(
            rdata(&records, "web.default.svc.cluster.local", RecordType::A),
            ["10.43.0.21"]
        );
        assert_eq!(
            records.lookup(&lower("20.0.43.10.in-addr.arpa"), RecordType::PTR),
            Lookup::NotAuthoritative
        );
        assert_eq!(
            rdata(&records, "21.0.43.10.in-addr.arpa", RecordType::PTR),
            ["web.default.svc.cluster.local."]
        );
    }

    #[test]
    fn endpoint_slices_before_their_service_show_up_once_it_arrives() {
        let records = records();
        records.apply_endpoint_slice(&endpoint_slice(
            "default",
            "db-1",
            "db",
            &[("10.244.0.5", None, Some(true))],
            &[],
        ));
        assert!(is_nxdomain(&records, "db.default.svc.cluster.local"));
        records.apply_service(&headless_service("default", "db", &[]));
        assert_eq!(
            rdata(&records, "db.default.svc.cluster.local", RecordType::A),
            ["10.244.0.5"]
        );
    }

    #[test]
    fn endpoints_follow_readiness_and_slice_deletion() {
        let records = records();
        records.apply_service(&headless_service("default", "db", &[]));
        let mut slice = endpoint_slice(
            "default",
            "db-1",
            "db",
            &[("10.244.0.5", None, Some(false))],
            &[],
        );
        records.apply_endpoint_slice(&slice);
        assert!(is_nxdomain(&records, "db.default.svc.cluster.local"));
        slice.endpoints[0].conditions = None;
        records.apply_endpoint_slice(&slice);
        assert_eq!(
            rdata(&records, "db.default.svc.cluster.local", RecordType::A),
            ["10.244.0.5"]
        );
        records.delete_endpoint_slice(&slice);
        assert!(is_nxdomain(&records, "db.default.svc.cluster.local"));
        assert!(is_nxdomain(
            &records,
            "10-244-0-5.db.default.svc.cluster.local"
        ));
    }

    #[test]
    fn publish_not_ready_addresses_includes_unready_endpoints() {
        let records = records();
        let mut service = headless_service("default", "db", &[]);
        if let Some(spec) = service.spec.as_mut() {
            spec.publish_not_ready_addresses = Some(true);
        }
        records.apply_service(&service);
        records.apply_endpoint_slice(&endpoint_slice(
            "default",
            "db-1",
            "db",
            &[("10.244.0.5", Some("db-0"), Some(false))],
            &[],
        ));
        assert_eq!(
            rdata(&records, "db-0.db.default.svc.cluster.local", RecordType::A),
            ["10.244.0.5"]
        );
    }

    #[test]
    fn relabelled_slice_moves_to_the_other_service() {
        let records = records();
        records.apply_service(&headless_service("default", "a", &[]));
        records.apply_service(&headless_service("default", "b", &[]));
        let mut slice = endpoint_slice("default", "s", "a", &[("10.244.0.5", None, None)], &[]);
        records.apply_endpoint_slice(&slice);
        assert_eq!(
            rdata(&records, "a.default.svc.cluster.local", RecordType::A),
            ["10.244.0.5"]
        );
        slice = endpoint_slice("default", "s", "b", &[("10.244.0.5", None, None)], &[]);
        records.apply_endpoint_slice(&slice);
        assert!(is_nxdomain(&records, "a.default.svc.cluster.local"));
        assert_eq!(
            rdata(&records, "b.default.svc.cluster.local", RecordType::A),
            ["10.244.0.5"]
        );
    }

    #[test]
    fn an_ip_in_two_headless_services_has_two_ptr_records_until_one_goes() {
        let records = records();
        let a = headless_service("default", "a", &[]);
        records.apply_service(&a);
        records.apply_service(&headless_service("default", "b", &[]));
        records.apply_endpoint_slice(&endpoint_slice(
            "default",
            "sa",
            "a",
            &[("10.244.0.5", Some("x"), None)],
            &[],
        ));
        records.apply_endpoint_slice(&endpoint_slice(
            "default",
            "sb",
            "b",
            &[("10.244.0.5", Some("x"), None)],
            &[],
        ));
        assert_eq!(
            rdata(&records, "5.0.244.10.in-addr.arpa", RecordType::PTR),
            [
                "x.a.default.svc.cluster.local.",
                "x.b.default.svc.cluster.local."
            ]
        );
        records.delete_service(&a);
        assert_eq!(
            rdata(&records, "5.0.244.10.in-addr.arpa", RecordType::PTR),
            ["x.b.default.svc.cluster.local."]
        );
    }

    #[test]
    fn duplicate_endpoints_across_slices_are_answered_once() {
        let records = records();
        records.apply_service(&headless_service("default", "db", &[]));
        records.apply_endpoint_slice(&endpoint_slice(
            "default",
            "s1",
            "db",
            &[("10.244.0.5", None, None)],
            &[],
        ));
        records.apply_endpoint_slice(&endpoint_slice(
            "default",
            "s2",
            "db",
            &[("10.244.0.5", None, None)],
            &[],
        ));
        assert_eq!(
            rdata(&records, "db.default.svc.cluster.local", RecordType::A),
            ["10.244.0.5"]
        );
    }

    #[test]
    fn a_relist_drops_objects_deleted_while_the_watch_was_down() {
        let records = records();
        let keep = cluster_ip_service("default", "keep", &["10.43.0.1"], &[]);
        records.apply_service(&keep);
        records.apply_service(&cluster_ip_service("default", "gone", &["10.43.0.2"], &[]));
        records.apply_service(&headless_service("default", "db", &[]));
        records.apply_endpoint_slice(&endpoint_slice(
            "default",
            "s1",
            "db",
            &[("10.244.0.5", None, None)],
            &[],
        ));
        records.replace_services(&[keep, headless_service("default", "db", &[])]);
        records.replace_endpoint_slices(&[]);
        assert!(is_nxdomain(&records, "gone.default.svc.cluster.local"));
        assert!(is_nxdomain(&records, "db.default.svc.cluster.local"));
        assert_eq!(
            rdata(&records, "keep.default.svc.cluster.local", RecordType::A),
            ["10.43.0.1"]
        );
    }

    #[test]
    fn slices_without_the_service_label_or_with_fqdn_addresses_are_ignored() {
        let records = records();
        records.apply_service(&headless_service("default", "db", &[]));
        let mut unlabelled =
            endpoint_slice("default", "s1", "db", &[("10.244.0.5", None, None)], &[]);
        unlabelled.metadata.labels = None;
        records.apply_endpoint_slice(&unlabelled);
        let mut fqdn = endpoint_slice("default", "s2", "db", &[("10.244.0.6", None, None)], &[]);
        fqdn.address_type = "FQDN".into();
        records.apply_endpoint_slice(&fqdn);
        assert!(is_nxdomain(&records, "db.default.svc.cluster.local"));
    }

    #[test]
    fn verified_pod_mode_answers_only_ips_of_existing_pods_in_that_namespace() {
        let records = ClusterRecords::new("cluster.local", 5, PodMode::Verified).unwrap();
        let name = "10-244-0-9.default.pod.cluster.local";
        assert!(is_nxdomain(&records, name));
        let pod = pod_with_ips("default", "web-1", &["10.244.0.9"]);
        records.apply_pod(&pod);
        assert_eq!(rdata(&records, name, RecordType::A), ["10.244.0.9"]);
        assert!(is_nxdomain(&records, "10-244-0-9.other.pod.cluster.local"));
        records.delete_pod(&pod);
        assert!(is_nxdomain(&records, name));
        records.replace_pods(&[pod]);
        assert_eq!(rdata(&records, name, RecordType::A), ["10.244.0.9"]);
        records.replace_pods(&[]);
        assert!(is_nxdomain(&records, name));
    }

    #[test]
    fn invalid_zones_are_rejected() {
        assert!(ClusterRecords::new(".", 5, PodMode::Insecure).is_err());
        assert!(ClusterRecords::new("bad zone", 5, PodMode::Insecure).is_err());
    }
}
