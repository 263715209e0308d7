//! `DnsHandler`: answers one DNS request, from the cluster records when the
//! name is ours, otherwise through the forwarder.

use crate::forward::Forwarder;
use crate::records::{ClusterRecords, Lookup};
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{
    Edns, Header, HeaderCounts, LowerQuery, MessageType, Metadata, OpCode, Query, ResponseCode,
};
use hickory_server::proto::rr::{DNSClass, LowerName, Name, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use std::sync::Arc;

/// Longest CNAME chain followed for ExternalName Services.
const MAX_CNAME_CHAIN: usize = 8;

/// The sections and flags of one response.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub response_code: ResponseCode,
    pub authoritative: bool,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
}

impl Reply {
    fn code(response_code: ResponseCode) -> Reply {
        Reply {
            response_code,
            authoritative: false,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
        }
    }
}

#[derive(Clone)]
pub struct DnsHandler {
    records: Arc<ClusterRecords>,
    forwarder: Arc<Forwarder>,
}

impl DnsHandler {
    pub fn new(records: Arc<ClusterRecords>, forwarder: Arc<Forwarder>) -> Self {
        DnsHandler { records, forwarder }
    }

    pub fn records(&self) -> &Arc<ClusterRecords> {
        &self.records
    }

    /// Resolves one question (the core of `handle_request`, without the wire).
    pub async fn resolve(&self, query: &LowerQuery) -> Reply {
        if query.query_class() != DNSClass::IN {
            return Reply::code(ResponseCode::Refused);
        }
        let qtype = query.query_type();
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR)
            && !matches!(
                self.records.lookup(query.name(), qtype),
                Lookup::NotAuthoritative
            )
        {
            // Zone transfers of the cluster zone are not offered.
            return Reply::code(ResponseCode::Refused);
        }
        let original = query.original().name();
        match self.records.lookup(query.name(), qtype) {
            Lookup::Answer {
                answers,
                additionals,
            } => Reply {
                response_code: ResponseCode::NoError,
                authoritative: true,
                answers: with_query_case(answers, original),
                authorities: Vec::new(),
                additionals,
            },
            Lookup::Alias { cname, target } => {
                self.follow_alias(cname, target, qtype, original).await
            }
            Lookup::NoData { soa } => negative(ResponseCode::NoError, soa),
            Lookup::NxDomain { soa } => negative(ResponseCode::NXDomain, soa),
            Lookup::NotReady => Reply::code(ResponseCode::ServFail),
            Lookup::NotAuthoritative => self.forward(query.original()).await,
        }
    }

    async fn forward(&self, query: &Query) -> Reply {
        match self.forwarder.forward(query).await {
            Ok(message) => Reply {
                response_code: message.metadata.response_code,
                authoritative: false,
                answers: message.answers,
                authorities: message.authorities,
                additionals: message.additionals,
            },
            Err(error) => {
                tracing::debug!(name = %query.name(), %error, "forwarding failed");
                Reply::code(ResponseCode::ServFail)
            }
        }
    }

    /// ExternalName: the CNAME, then what its target resolves to (in the zone,
    /// or from the upstreams), like CoreDNS does.
    async fn follow_alias(
        &self,
        cname: Record,
        target: Name,
        qtype: RecordType,
        original: &Name,
    ) -> Reply {
        let mut reply = Reply {
            response_code: ResponseCode::NoError,
            authoritative: true,
            answers: with_query_case(vec![cname], original),
            authorities: Vec::new(),
            additionals: Vec::new(),
        };
        let mut target = target;
        for _ in 0..MAX_CNAME_CHAIN {
            match self.records.lookup(&LowerName::new(&target), qtype) {
                Lookup::Answer { answers, .. } => {
                    reply.answers.extend(answers);
                    return reply;
                }
                Lookup::Alias {
                    cname,
                    target: next,
                } => {
                    reply.answers.push(cname);
                    target = next;
                }
                Lookup::NoData { soa } => {
                    reply.authorities.push(soa);
                    return reply;
                }
                Lookup::NxDomain { soa } => {
                    // RFC 6604: the code describes the last name of the chain.
                    reply.response_code = ResponseCode::NXDomain;
                    reply.authorities.push(soa);
                    return reply;
                }
                Lookup::NotReady => return reply,
                Lookup::NotAuthoritative => {
                    let query = Query::query(target, qtype);
                    // Without an upstream answer the CNAME alone still lets the
                    // client resolve the target itself.
                    if let Ok(message) = self.forwarder.forward(&query).await {
                        if matches!(
                            message.metadata.response_code,
                            ResponseCode::NoError | ResponseCode::NXDomain
                        ) {
                            reply.response_code = message.metadata.response_code;
                            reply.answers.extend(message.answers);
                        }
                    }
                    return reply;
                }
            }
        }
        reply
    }
}

fn negative(response_code: ResponseCode, soa: Record) -> Reply {
    Reply {
        response_code,
        authoritative: true,
        answers: Vec::new(),
        authorities: vec![soa],
        additionals: Vec::new(),
    }
}

/// Owner names equal to the question get the question's spelling (0x20 case
/// randomisation in resolvers checks this).
fn with_query_case(mut records: Vec<Record>, original: &Name) -> Vec<Record> {
    for record in &mut records {
        if record.name == *original {
            record.name = original.clone();
        }
    }
    records
}

fn failure_info(request: &Request, response_code: ResponseCode) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = response_code;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}

#[async_trait::async_trait]
impl RequestHandler for DnsHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let response_edns = request.edns.as_ref().map(|request_edns| {
            let mut edns = Edns::new();
            edns.set_max_payload(request_edns.max_payload().max(512));
            edns.set_version(0);
            edns
        });
        let builder = MessageResponseBuilder::new(&request.queries, response_edns.as_ref());
        let reply = if request.metadata.op_code != OpCode::Query
            || request.metadata.message_type != MessageType::Query
        {
            Reply::code(ResponseCode::NotImp)
        } else {
            match request.request_info() {
                Ok(info) => self.resolve(info.query).await,
                // Not exactly one question.
                Err(_) => Reply::code(ResponseCode::FormErr),
            }
        };
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.response_code = reply.response_code;
        metadata.authoritative = reply.authoritative;
        metadata.recursion_available = true;
        let response = builder.build(
            metadata,
            reply.answers.iter(),
            reply.authorities.iter(),
            std::iter::empty(),
            reply.additionals.iter(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                tracing::warn!(%error, "sending DNS response failed");
                failure_info(request, ResponseCode::ServFail)
            }
        }
    }
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
