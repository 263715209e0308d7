//! The little of SPDY/3.1 a client needs to drive containerd's streaming
//! server (what `v4.channel.k8s.io` over SPDY is): open streams, send data
//! and half-closes, read data frames, answer pings.
//!
//! ```text
//! control frame: 1 | version 3 (15) | type (16) | flags (8) | length (24) | payload
//! data frame:    0 | stream id (31)             | flags (8) | length (24) | payload
//! SYN_STREAM payload: stream id | associated id | priority, slot | zlib(header block)
//! ```
//!
//! Header blocks are one zlib stream per direction, primed with the SPDY/3
//! dictionary. We send ours as stored (uncompressed) deflate blocks, which
//! any inflater accepts, and never need to read the peer's (replies only
//! confirm streams we opened), so no deflate implementation is needed.

use std::sync::OnceLock;
use tokio::io::{AsyncRead, AsyncReadExt};

pub const FLAG_FIN: u8 = 0x01;
const VERSION: u16 = 3;
pub const SYN_STREAM: u16 = 1;
pub const SYN_REPLY: u16 = 2;
pub const RST_STREAM: u16 = 3;
pub const PING: u16 = 6;
pub const GOAWAY: u16 = 7;
/// Frames larger than this are refused (containerd sends 32 KiB at most).
const MAX_FRAME: usize = 16 << 20;

/// The header dictionary of SPDY/3 (draft-mbelshe-httpbis-spdy-00 §2.6.10.1):
/// length-prefixed names and values, then a run of common strings.
pub fn dictionary() -> &'static [u8] {
    static DICT: OnceLock<Vec<u8>> = OnceLock::new();
    DICT.get_or_init(|| {
        const WORDS: &[&str] = &[
            "options",
            "head",
            "post",
            "put",
            "delete",
            "trace",
            "accept",
            "accept-charset",
            "accept-encoding",
            "accept-language",
            "accept-ranges",
            "age",
            "allow",
            "authorization",
            "cache-control",
            "connection",
            "content-base",
            "content-encoding",
            "content-language",
            "content-length",
            "content-location",
            "content-md5",
            "content-range",
            "content-type",
            "date",
            "etag",
            "expect",
            "expires",
            "from",
            "host",
            "if-match",
            "if-modified-since",
            "if-none-match",
            "if-range",
            "if-unmodified-since",
            "last-modified",
            "location",
            "max-forwards",
            "pragma",
            "proxy-authenticate",
            "proxy-authorization",
            "range",
            "referer",
            "retry-after",
            "server",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "user-agent",
            "vary",
            "via",
            "warning",
            "www-authenticate",
            "method",
            "get",
            "status",
            "200 OK",
            "version",
            "HTTP/1.1",
            "url",
            "public",
            "set-cookie",
            "keep-alive",
            "origin",
        ];
        const TAIL: &str = "100101201202205206300302303304305306307402405406407408409410411412\
413414415416417502504505203 Non-Authoritative Information204 No Content301 Moved Permanently\
400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error\
501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec \
00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,\
image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,\
publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
        let mut d = Vec::with_capacity(1423);
        for w in WORDS {
            d.extend_from_slice(&(w.len() as u32).to_be_bytes());
            d.extend_from_slice(w.as_bytes());
        }
        d.extend_from_slice(TAIL.as_bytes());
        d
    })
}

pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// Our side of the header zlib stream: a zlib header naming the dictionary
/// once, then one stored deflate block per header block.
#[derive(Default)]
pub struct HeaderWriter {
    started: bool,
}

impl HeaderWriter {
    pub fn encode(&mut self, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut block = Vec::new();
        block.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (name, value) in headers {
            // SPDY header names are lower case.
            let name = name.to_ascii_lowercase();
            block.extend_from_slice(&(name.len() as u32).to_be_bytes());
            block.extend_from_slice(name.as_bytes());
            block.extend_from_slice(&(value.len() as u32).to_be_bytes());
            block.extend_from_slice(value.as_bytes());
        }
        let mut out = Vec::with_capacity(block.len() + 16);
        if !self.started {
            self.started = true;
            // CMF: deflate, 32 KiB window; FLG: FDICT set, check bits so that
            // (CMF*256 + FLG) % 31 == 0.
            let cmf: u8 = 0x78;
            let mut flg: u8 = 0x20;
            let rem = ((u16::from(cmf) << 8) | u16::from(flg)) % 31;
            if rem != 0 {
                flg += (31 - rem) as u8;
            }
            out.push(cmf);
            out.push(flg);
            out.extend_from_slice(&adler32(dictionary()).to_be_bytes());
        }
        for chunk in block.chunks(0xffff) {
            stored_block(&mut out, chunk);
        }
        // An empty stored block, as a sync flush ends with: inflaters (Go's
        // among them) hand out a block's bytes only once the next block starts.
        stored_block(&mut out, &[]);
        out
    }
}

/// A non-final stored deflate block (byte aligned: header byte, LEN, NLEN, data).
fn stored_block(out: &mut Vec<u8>, data: &[u8]) {
    let len = data.len() as u16;
    out.push(0x00); // BFINAL 0, BTYPE 00, padded to the byte
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
}

fn control(kind: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + payload.len());
    f.extend_from_slice(&(0x8000 | VERSION).to_be_bytes());
    f.extend_from_slice(&kind.to_be_bytes());
    let len = payload.len() as u32;
    f.push(flags);
    f.extend_from_slice(&len.to_be_bytes()[1..]);
    f.extend_from_slice(payload);
    f
}

/// SYN_STREAM opening `id` with an already encoded header block.
pub fn syn_stream(id: u32, header_block: &[u8], flags: u8) -> Vec<u8> {
    let mut p = Vec::with_capacity(10 + header_block.len());
    p.extend_from_slice(&(id & 0x7fff_ffff).to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes()); // not associated
    p.extend_from_slice(&[0, 0]); // priority 0, slot 0
    p.extend_from_slice(header_block);
    control(SYN_STREAM, flags, &p)
}

pub fn ping(id: u32) -> Vec<u8> {
    control(PING, 0, &id.to_be_bytes())
}

pub fn goaway(last_stream: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(8);
    p.extend_from_slice(&last_stream.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes()); // OK
    control(GOAWAY, 0, &p)
}

/// A data frame; `fin` half-closes the stream after `data`.
pub fn data(id: u32, payload: &[u8], fin: bool) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + payload.len());
    f.extend_from_slice(&(id & 0x7fff_ffff).to_be_bytes());
    f.push(if fin { FLAG_FIN } else { 0 });
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    f.extend_from_slice(payload);
    f
}

#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    Control {
        kind: u16,
        flags: u8,
        payload: Vec<u8>,
    },
    Data {
        stream: u32,
        flags: u8,
        payload: Vec<u8>,
    },
}

impl Frame {
    /// The stream a control frame is about (SYN_REPLY, RST_STREAM, …), or a PING's id.
    pub fn control_id(payload: &[u8]) -> Option<u32> {
        let b: [u8; 4] = payload.get(..4)?.try_into().ok()?;
        Some(u32::from_be_bytes(b) & 0x7fff_ffff)
    }
}

/// Read one frame; `Ok(None)` at a clean end of the connection.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<Frame>> {
    let mut head = [0u8; 8];
    match r.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let flags = head[4];
    let len = u32::from_be_bytes([0, head[5], head[6], head[7]]) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("SPDY frame of {len} bytes"),
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    if head[0] & 0x80 != 0 {
        let kind = u16::from_be_bytes([head[2], head[3]]);
        Ok(Some(Frame::Control {
            kind,
            flags,
            payload,
        }))
    } else {
        let stream = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) & 0x7fff_ffff;
        Ok(Some(Frame::Data {
            stream,
            flags,
            payload,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_is_the_spdy3_one() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        assert_eq!(&d[..11], b"\x00\x00\x00\x07options");
        assert!(d.ends_with(b",enq=0."));
        assert_eq!(adler32(d), 0xe3c6_a7c2);
    }

    #[test]
    fn adler32_matches_known_values() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
    }

    #[test]
    fn header_blocks_are_stored_deflate_after_one_zlib_header() {
        let mut w = HeaderWriter::default();
        let first = w.encode(&[("streamType", "error")]);
        // zlib header with FDICT and a valid check, then the dictionary id.
        assert_eq!(first[0], 0x78);
        assert_eq!(first[1] & 0x20, 0x20);
        assert_eq!((u16::from(first[0]) * 256 + u16::from(first[1])) % 31, 0);
        assert_eq!(&first[2..6], &0xe3c6_a7c2u32.to_be_bytes());
        let block = &first[6..];
        assert_eq!(block[0], 0);
        let len = u16::from_le_bytes([block[1], block[2]]);
        assert_eq!(!len, u16::from_le_bytes([block[3], block[4]]));
        let raw = &block[5..5 + len as usize];
        // Ends with the sync-flush marker.
        assert_eq!(&block[5 + len as usize..], &[0, 0, 0, 0xff, 0xff]);
        assert_eq!(&raw[..4], &1u32.to_be_bytes());
        assert_eq!(&raw[8..18], b"streamtype");
        // Later blocks continue the same stream: no second zlib header.
        let second = w.encode(&[("streamtype", "stdout")]);
        assert_eq!(second[0], 0);
    }

    #[tokio::test]
    async fn frames_round_trip() {
        let mut bytes = data(5, b"hello", true);
        bytes.extend(ping(2));
        bytes.extend(syn_stream(1, b"hb", 0));
        let mut r = &bytes[..];
        assert_eq!(
            read_frame(&mut r).await.expect("read"),
            Some(Frame::Data {
                stream: 5,
                flags: FLAG_FIN,
                payload: b"hello".to_vec()
            })
        );
        match read_frame(&mut r).await.expect("read") {
            Some(Frame::Control { kind, payload, .. }) => {
                assert_eq!(kind, PING);
                assert_eq!(Frame::control_id(&payload), Some(2));
            }
            other => panic!("{other:?}"),
        }
        match read_frame(&mut r).await.expect("read") {
            Some(Frame::Control { kind, payload, .. }) => {
                assert_eq!(kind, SYN_STREAM);
                assert_eq!(Frame::control_id(&payload), Some(1));
                assert_eq!(&payload[10..], b"hb");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(read_frame(&mut r).await.expect("eof"), None);
    }
}
