//! A stand-in for the internet's DNS (the test machine has none): a UDP
//! nameserver on the host bridge that every node's cluster DNS forwards
//! outside names to (`berth agent --dns-upstream`). It knows one name.
//!
//! ```text
//! pod ─▶ 10.43.0.10 (cluster DNS in the node netns) ─▶ 10.99.<id>.1:<port> (here)
//!        outside.example. A ─▶ OUTSIDE_IP;  other names ─▶ NXDOMAIN
//! ```

use berth_dns::proto::op::{Message, MessageType, ResponseCode};
use berth_dns::proto::rr::rdata::{A, SOA};
use berth_dns::proto::rr::{Name, RData, Record, RecordType};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};

/// The one outside name the fake upstream knows, and its address.
pub const OUTSIDE_NAME: &str = "outside.example.";
pub const OUTSIDE_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

pub struct UpstreamDns {
    pub addr: SocketAddr,
    /// Every question received, as `name type` (lowercase name with trailing dot).
    questions: Arc<Mutex<Vec<String>>>,
}

impl UpstreamDns {
    /// Bind UDP on `ip` (a free port) and answer from a thread for the life of the process.
    pub fn start(ip: Ipv4Addr) -> Result<UpstreamDns, String> {
        let socket = UdpSocket::bind((ip, 0)).map_err(|e| format!("fake upstream DNS: {e}"))?;
        let addr = socket.local_addr().map_err(|e| e.to_string())?;
        let questions = Arc::new(Mutex::new(Vec::new()));
        let log = questions.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok((len, from)) = socket.recv_from(&mut buffer) {
                let Ok(request) = Message::from_vec(&buffer[..len]) else {
                    continue;
                };
                if let Some(q) = request.queries.first() {
                    log.lock().unwrap_or_else(|p| p.into_inner()).push(format!(
                        "{} {}",
                        q.name().to_ascii().to_ascii_lowercase(),
                        q.query_type()
                    ));
                }
                if let Some(answer) = answer(&request) {
                    let _ = socket.send_to(&answer, from);
                }
            }
        });
        Ok(UpstreamDns { addr, questions })
    }

    /// The questions received so far.
    pub fn questions(&self) -> Vec<String> {
        self.questions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn answer(request: &Message) -> Option<Vec<u8>> {
    let query = request.queries.first()?;
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.message_type = MessageType::Response;
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.add_queries(request.queries.clone());
    let name = query.name().clone();
    if name.to_ascii().eq_ignore_ascii_case(OUTSIDE_NAME) {
        // A gets the address; other types of an existing name: NODATA.
        if query.query_type() == RecordType::A {
            response.add_answer(Record::from_rdata(name, 60, RData::A(A(OUTSIDE_IP))));
        }
    } else {
        response.metadata.response_code = ResponseCode::NXDomain;
        let apex = Name::from_ascii("example.").ok()?;
        let soa = SOA::new(apex.clone(), apex.clone(), 1, 60, 60, 60, 60);
        response.add_authority(Record::from_rdata(apex, 60, RData::SOA(soa)));
    }
    response.to_vec().ok()
}
