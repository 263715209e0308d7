//! Table-driven queries through `DnsHandler::handle_request`, encoded and
//! decoded as on the wire.

use super::*;
use crate::config::PodMode;
use crate::fixtures::*;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::net::NetError;
use hickory_server::proto::op::Message;
use hickory_server::proto::rr::RData;
use hickory_server::proto::serialize::binary::BinEncoder;
use hickory_server::zone_handler::MessageResponse;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

/// Keeps the encoded response instead of sending it.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Option<Vec<u8>>>>);

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let mut bytes = Vec::new();
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(u16::MAX);
        let info = response.destructive_emit(&mut encoder)?;
        *self.0.lock().unwrap() = Some(bytes);
        Ok(info)
    }
}

fn cluster() -> DnsHandler {
    let records = ClusterRecords::new("cluster.local", 5, PodMode::Insecure).unwrap();
    records.apply_service(&cluster_ip_service(
        "default",
        "web",
        &["10.43.0.20"],
        &[("http", "TCP", 80), ("", "TCP", 8080)],
    ));
    records.apply_service(&cluster_ip_service(
        "default",
        "dual",
        &["10.43.0.30", "fd00::30"],
        &[("dns", "UDP", 53)],
    ));
    records.apply_service(&headless_service(
        "default",
        "db",
        &[("postgres", "TCP", 5432)],
    ));
    records.apply_endpoint_slice(&endpoint_slice(
        "default",
        "db-abc",
        "db",
        &[
            ("10.244.1.5", Some("db-0"), Some(true)),
            ("10.244.1.6", None, None),
            ("10.244.1.7", Some("db-2"), Some(false)),
        ],
        &[("postgres", "TCP", 15432)],
    ));
    records.apply_endpoint_slice(&endpoint_slice(
        "default",
        "db-v6",
        "db",
        &[("fd00:244::5", None, Some(true))],
        &[("postgres", "TCP", 15432)],
    ));
    records.apply_service(&headless_service("default", "lonely", &[]));
    records.apply_service(&external_name_service("default", "ext", "example.com"));
    records.apply_service(&external_name_service(
        "default",
        "alias",
        "web.default.svc.cluster.local",
    ));
    records.apply_service(&cluster_ip_service("other", "web", &["10.43.0.40"], &[]));
    // No upstream: anything forwarded is SERVFAIL.
    let forwarder = Forwarder::new(Vec::new(), Duration::from_millis(100));
    DnsHandler::new(Arc::new(records), Arc::new(forwarder))
}

async fn ask(handler: &DnsHandler, name: &str, qtype: RecordType) -> Message {
    let mut query = Message::query();
    query.metadata.id = 4242;
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    let request = Request::from_bytes(
        query.to_vec().unwrap(),
        "127.0.0.1:5300".parse().unwrap(),
        Protocol::Udp,
    )
    .unwrap();
    let capture = Capture::default();
    handler
        .handle_request::<_, TokioTime>(&request, capture.clone())
        .await;
    let bytes = capture
        .0
        .lock()
        .unwrap()
        .take()
        .expect("a response was sent");
    let response = Message::from_vec(&bytes).unwrap();
    assert_eq!(response.metadata.id, 4242);
    assert!(response.metadata.recursion_desired, "RD is copied");
    response
}

/// `name TYPE rdata` lines, sorted, for comparing sections.
fn lines(records: &[Record]) -> Vec<String> {
    let mut out: Vec<String> = records
        .iter()
        .map(|record| format!("{} {} {}", record.name, record.record_type(), record.data))
        .collect();
    out.sort();
    out
}

struct Case {
    name: &'static str,
    qtype: RecordType,
    code: ResponseCode,
    answers: &'static [&'static str],
    /// Whether the authority section must hold the zone SOA.
    soa: bool,
}

const fn case(
    name: &'static str,
    qtype: RecordType,
    code: ResponseCode,
    answers: &'static [&'static str],
    soa: bool,
) -> Case {
    Case {
        name,
        qtype,
        code,
        answers,
        soa,
    }
}

use RecordType::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use ResponseCode::{NXDomain, NoError, ServFail};

const CLUSTER_CASES: &[Case] = &[
    // ClusterIP service, with and without trailing dot, any case.
    case("web.default.svc.cluster.local.", A, NoError, &["web.default.svc.cluster.local. A 10.43.0.20"], false),
    case("web.default.svc.cluster.local", A, NoError, &["web.default.svc.cluster.local. A 10.43.0.20"], false),
    case("WEB.Default.Svc.Cluster.Local.", A, NoError, &["WEB.Default.Svc.Cluster.Local. A 10.43.0.20"], false),
    case("web.other.svc.cluster.local.", A, NoError, &["web.other.svc.cluster.local. A 10.43.0.40"], false),
    // NODATA: the name exists, the type does not.
    case("web.default.svc.cluster.local.", AAAA, NoError, &[], true),
    case("web.default.svc.cluster.local.", TXT, NoError, &[], true),
    case("web.default.svc.cluster.local.", SOA, NoError, &[], true),
    case("dual.default.svc.cluster.local.", A, NoError, &["dual.default.svc.cluster.local. A 10.43.0.30"], false),
    case("dual.default.svc.cluster.local.", AAAA, NoError, &["dual.default.svc.cluster.local. AAAA fd00::30"], false),
    // NXDOMAIN inside the zone, with SOA.
    case("nope.default.svc.cluster.local.", A, NXDomain, &[], true),
    case("web.nope.svc.cluster.local.", A, NXDomain, &[], true),
    case("x.web.default.svc.cluster.local.", A, NXDomain, &[], true),
    case("nope.cluster.local.", A, NXDomain, &[], true),
    // What resolvers with ndots:5 and the pod search path ask first.
    case("web.default.svc.cluster.local.default.svc.cluster.local.", A, NXDomain, &[], true),
    case("example.com.svc.cluster.local.", A, NXDomain, &[], true),
    case("web.default.svc.cluster.local.cluster.local.", AAAA, NXDomain, &[], true),
    // Empty non-terminals.
    case("default.svc.cluster.local.", A, NoError, &[], true),
    case("svc.cluster.local.", A, NoError, &[], true),
    case("nope.svc.cluster.local.", A, NXDomain, &[], true),
    // SRV for named ports; the unnamed port only at the Service name.
    case("_http._tcp.web.default.svc.cluster.local.", SRV, NoError, &["_http._tcp.web.default.svc.cluster.local. SRV 0 100 80 web.default.svc.cluster.local."], false),
    case("_http._udp.web.default.svc.cluster.local.", SRV, NXDomain, &[], true),
    case("_tcp.web.default.svc.cluster.local.", SRV, NoError, &[], true),
    case(
        "web.default.svc.cluster.local.",
        SRV,
        NoError,
        &[
            "web.default.svc.cluster.local. SRV 0 50 80 web.default.svc.cluster.local.",
            "web.default.svc.cluster.local. SRV 0 50 8080 web.default.svc.cluster.local.",
        ],
        false,
    ),
    case("_dns._udp.dual.default.svc.cluster.local.", SRV, NoError, &["_dns._udp.dual.default.svc.cluster.local. SRV 0 100 53 dual.default.svc.cluster.local."], false),
    // Headless: ready endpoints only, per family.
    case(
        "db.default.svc.cluster.local.",
        A,
        NoError,
        &["db.default.svc.cluster.local. A 10.244.1.5", "db.default.svc.cluster.local. A 10.244.1.6"],
        false,
    ),
    case("db.default.svc.cluster.local.", AAAA, NoError, &["db.default.svc.cluster.local. AAAA fd00:244::5"], false),
    case("db-0.db.default.svc.cluster.local.", A, NoError, &["db-0.db.default.svc.cluster.local. A 10.244.1.5"], false),
    case("10-244-1-6.db.default.svc.cluster.local.", A, NoError, &["10-244-1-6.db.default.svc.cluster.local. A 10.244.1.6"], false),
    case("fd00-244--5.db.default.svc.cluster.local.", AAAA, NoError, &["fd00-244--5.db.default.svc.cluster.local. AAAA fd00:244::5"], false),
    case("db-2.db.default.svc.cluster.local.", A, NXDomain, &[], true),
    case("10-244-1-5.db.default.svc.cluster.local.", A, NXDomain, &[], true),
    case(
        "_postgres._tcp.db.default.svc.cluster.local.",
        SRV,
        NoError,
        &[
            "_postgres._tcp.db.default.svc.cluster.local. SRV 0 33 15432 10-244-1-6.db.default.svc.cluster.local.",
            "_postgres._tcp.db.default.svc.cluster.local. SRV 0 33 15432 db-0.db.default.svc.cluster.local.",
            "_postgres._tcp.db.default.svc.cluster.local. SRV 0 33 15432 fd00-244--5.db.default.svc.cluster.local.",
        ],
        false,
    ),
    // A headless Service without ready endpoints does not exist (spec 2.4.1).
    case("lonely.default.svc.cluster.local.", A, NXDomain, &[], true),
    // ExternalName.
    case("ext.default.svc.cluster.local.", CNAME, NoError, &["ext.default.svc.cluster.local. CNAME example.com."], false),
    case("ext.default.svc.cluster.local.", A, NoError, &["ext.default.svc.cluster.local. CNAME example.com."], false),
    case("sub.ext.default.svc.cluster.local.", CNAME, NXDomain, &[], true),
    case(
        "alias.default.svc.cluster.local.",
        A,
        NoError,
        &["alias.default.svc.cluster.local. CNAME web.default.svc.cluster.local.", "web.default.svc.cluster.local. A 10.43.0.20"],
        false,
    ),
    // PTR for ClusterIPs and headless endpoints.
    case("20.0.43.10.in-addr.arpa.", PTR, NoError, &["20.0.43.10.in-addr.arpa. PTR web.default.svc.cluster.local."], false),
    case("30.0.43.10.in-addr.arpa.", PTR, NoError, &["30.0.43.10.in-addr.arpa. PTR dual.default.svc.cluster.local."], false),
    case("5.1.244.10.in-addr.arpa.", PTR, NoError, &["5.1.244.10.in-addr.arpa. PTR db-0.db.default.svc.cluster.local."], false),
    case("6.1.244.10.in-addr.arpa.", PTR, NoError, &["6.1.244.10.in-addr.arpa. PTR 10-244-1-6.db.default.svc.cluster.local."], false),
    case("20.0.43.10.in-addr.arpa.", A, NoError, &[], true),
    // Pods ("pods insecure").
    case("10-244-0-9.default.pod.cluster.local.", A, NoError, &["10-244-0-9.default.pod.cluster.local. A 10.244.0.9"], false),
    case("10-244-0-9.any-ns.pod.cluster.local.", AAAA, NoError, &[], true),
    case("fd00--9.default.pod.cluster.local.", AAAA, NoError, &["fd00--9.default.pod.cluster.local. AAAA fd00::9"], false),
    case("blah.default.pod.cluster.local.", A, NXDomain, &[], true),
    case("10-244-0-300.default.pod.cluster.local.", A, NXDomain, &[], true),
    case("default.pod.cluster.local.", A, NoError, &[], true),
    case("pod.cluster.local.", A, NoError, &[], true),
    // Zone apex and schema version.
    case("dns-version.cluster.local.", TXT, NoError, &["dns-version.cluster.local. TXT 1.1.0"], false),
    case("cluster.local.", NS, NoError, &["cluster.local. NS ns.dns.cluster.local."], false),
    // Outside the zone with no upstream: SERVFAIL, also for unknown reverse names.
    case("example.org.", A, ServFail, &[], false),
    case("9.9.9.9.in-addr.arpa.", PTR, ServFail, &[], false),
];

#[tokio::test]
async fn answers_the_cluster_zone_like_the_dns_spec() {
    let handler = cluster();
    let mut failures = Vec::new();
    for case in CLUSTER_CASES {
        let response = ask(&handler, case.name, case.qtype).await;
        let got_soa = response
            .authorities
            .iter()
            .any(|record| record.record_type() == RecordType::SOA);
        let ok = response.metadata.response_code == case.code
            && lines(&response.answers) == case.answers
            && got_soa == case.soa
            && response.metadata.recursion_available;
        if !ok {
            failures.push(format!(
                "{} {}: got {} {:?} soa={got_soa}, want {} {:?} soa={}",
                case.name,
                case.qtype,
                response.metadata.response_code,
                lines(&response.answers),
                case.code,
                case.answers,
                case.soa
            ));
        }
        if case.code != ServFail {
            assert!(
                response.metadata.authoritative,
                "{} is authoritative",
                case.name
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn srv_answers_carry_target_addresses_as_additionals() {
    let handler = cluster();
    let response = ask(
        &handler,
        "_postgres._tcp.db.default.svc.cluster.local.",
        SRV,
    )
    .await;
    assert_eq!(
        lines(&response.additionals),
        vec![
            "10-244-1-6.db.default.svc.cluster.local. A 10.244.1.6",
            "db-0.db.default.svc.cluster.local. A 10.244.1.5",
            "fd00-244--5.db.default.svc.cluster.local. AAAA fd00:244::5",
        ]
    );
    let response = ask(&handler, "_http._tcp.web.default.svc.cluster.local.", SRV).await;
    assert_eq!(
        lines(&response.additionals),
        vec!["web.default.svc.cluster.local. A 10.43.0.20"]
    );
}

#[tokio::test]
async fn negative_answers_carry_the_zone_soa_with_the_ttl_as_minimum() {
    let handler = cluster();
    let response = ask(&handler, "nope.default.svc.cluster.local.", A).await;
    let soa = &response.authorities[0];
    assert_eq!(soa.name.to_ascii(), "cluster.local.");
    assert_eq!(soa.ttl, 5);
    let RData::SOA(data) = &soa.data else {
        panic!("authority is not an SOA: {soa:?}");
    };
    assert_eq!(data.minimum, 5);
    assert_eq!(data.mname.to_ascii(), "ns.dns.cluster.local.");
    // Reverse zone NODATA uses the reverse zone's SOA.
    let response = ask(&handler, "20.0.43.10.in-addr.arpa.", A).await;
    assert_eq!(response.authorities[0].name.to_ascii(), "in-addr.arpa.");
}

#[tokio::test]
async fn cluster_records_use_the_configured_ttl() {
    let handler = cluster();
    let response = ask(&handler, "web.default.svc.cluster.local.", A).await;
    assert_eq!(response.answers[0].ttl, 5);
}

#[tokio::test]
async fn unsynced_zone_answers_servfail_instead_of_nxdomain() {
    let handler = cluster();
    handler.records().set_synced(false);
    let missing = ask(&handler, "nope.default.svc.cluster.local.", A).await;
    assert_eq!(missing.metadata.response_code, ServFail);
    let known = ask(&handler, "web.default.svc.cluster.local.", A).await;
    assert_eq!(known.metadata.response_code, NoError);
    assert_eq!(known.answers.len(), 1);
}

#[tokio::test]
async fn non_query_opcodes_and_other_classes_are_refused() {
    let handler = cluster();
    let mut query = Message::query();
    query.metadata.op_code = OpCode::Status;
    query.add_query(Query::query(
        Name::from_str("web.default.svc.cluster.local.").unwrap(),
        A,
    ));
    let request = Request::from_bytes(
        query.to_vec().unwrap(),
        "127.0.0.1:1".parse().unwrap(),
        Protocol::Udp,
    )
    .unwrap();
    let capture = Capture::default();
    handler
        .handle_request::<_, TokioTime>(&request, capture.clone())
        .await;
    let response = Message::from_vec(&capture.0.lock().unwrap().take().unwrap()).unwrap();
    assert_eq!(response.metadata.response_code, ResponseCode::NotImp);

    let mut chaos = Query::query(Name::from_str("version.bind.").unwrap(), TXT);
    chaos.set_query_class(DNSClass::CH);
    let reply = handler.resolve(&LowerQuery::query(chaos)).await;
    assert_eq!(reply.response_code, ResponseCode::Refused);
}

#[tokio::test]
async fn disabled_pod_mode_answers_nxdomain_for_pod_names() {
    let records = ClusterRecords::new("cluster.local", 5, PodMode::Disabled).unwrap();
    let handler = DnsHandler::new(
        Arc::new(records),
        Arc::new(Forwarder::new(Vec::new(), Duration::from_millis(10))),
    );
    let response = ask(&handler, "10-244-0-9.default.pod.cluster.local.", A).await;
    assert_eq!(response.metadata.response_code, NXDomain);
}

#[tokio::test]
async fn custom_zone_is_honoured() {
    let records = ClusterRecords::new("berth.internal.", 5, PodMode::Insecure).unwrap();
    records.apply_service(&cluster_ip_service("default", "web", &["10.43.0.20"], &[]));
    let handler = DnsHandler::new(
        Arc::new(records),
        Arc::new(Forwarder::new(Vec::new(), Duration::from_millis(10))),
    );
    let response = ask(&handler, "web.default.svc.berth.internal.", A).await;
    assert_eq!(
        lines(&response.answers),
        vec!["web.default.svc.berth.internal. A 10.43.0.20"]
    );
    let response = ask(&handler, "web.default.svc.cluster.local.", A).await;
    assert_eq!(
        response.metadata.response_code, ServFail,
        "not our zone, no upstream"
    );
}
