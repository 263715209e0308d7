//! A minimal DNS client for the integration tests: one query over UDP or TCP.
#![allow(dead_code)]

use berth_dns::proto::op::{Edns, Message, Query};
use berth_dns::proto::rr::{Name, Record, RecordType};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

pub fn query_bytes(id: u16, name: &str, qtype: RecordType, edns: bool) -> Vec<u8> {
    let mut message = Message::query();
    message.metadata.id = id;
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if edns {
        let mut opt = Edns::new();
        opt.set_max_payload(1232);
        message.set_edns(opt);
    }
    message.to_vec().unwrap()
}

pub async fn udp(server: SocketAddr, name: &str, qtype: RecordType) -> Message {
    udp_with(server, name, qtype, false).await
}

pub async fn udp_with(server: SocketAddr, name: &str, qtype: RecordType, edns: bool) -> Message {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.connect(server).await.unwrap();
    socket
        .send(&query_bytes(7, name, qtype, edns))
        .await
        .unwrap();
    let mut buffer = vec![0u8; 65535];
    let len = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buffer))
        .await
        .expect("UDP answer within 5s")
        .unwrap();
    let message = Message::from_vec(&buffer[..len]).unwrap();
    assert_eq!(message.metadata.id, 7);
    message
}

pub async fn tcp(server: SocketAddr, name: &str, qtype: RecordType) -> Message {
    let mut stream = TcpStream::connect(server).await.unwrap();
    let bytes = query_bytes(8, name, qtype, false);
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    stream.write_all(&framed).await.unwrap();
    let mut len = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut len))
        .await
        .expect("TCP answer within 5s")
        .unwrap();
    let mut buffer = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut buffer).await.unwrap();
    let message = Message::from_vec(&buffer).unwrap();
    assert_eq!(message.metadata.id, 8);
    message
}

/// `name TYPE rdata`, sorted.
pub fn lines(records: &[Record]) -> Vec<String> {
    let mut out: Vec<String> = records
        .iter()
        .map(|record| format!("{} {} {}", record.name, record.record_type(), record.data))
        .collect();
    out.sort();
    out
}
