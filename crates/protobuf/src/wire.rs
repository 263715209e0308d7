//! Protobuf wire format: varints, keys, length-delimited and fixed-width values.

use crate::error::DecodeError;

pub const VARINT: u8 = 0;
pub const FIXED64: u8 = 1;
pub const LEN: u8 = 2;
pub const FIXED32: u8 = 5;

/// One value as it sits on the wire, before a descriptor gives it meaning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Len(&'a [u8]),
    Fixed32(u32),
}

impl WireValue<'_> {
    pub fn wire_type(&self) -> u8 {
        match self {
            WireValue::Varint(_) => VARINT,
            WireValue::Fixed64(_) => FIXED64,
            WireValue::Len(_) => LEN,
            WireValue::Fixed32(_) => FIXED32,
        }
    }
}

/// Reads fields from one message's bytes. `context` names the message for error messages.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    context: &'a str,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8], context: &'a str) -> Self {
        Reader {
            data,
            pos: 0,
            context,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn read_varint(&mut self) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&byte) = self.data.get(self.pos) else {
                return Err(DecodeError::Truncated {
                    context: self.context.to_string(),
                });
            };
            self.pos += 1;
            // The tenth byte may only carry the last bit of a 64-bit value.
            if i == 9 && byte > 1 {
                break;
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::InvalidVarint {
            context: self.context.to_string(),
        })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.data.len());
        let Some(end) = end else {
            return Err(DecodeError::Truncated {
                context: self.context.to_string(),
            });
        };
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    pub fn read_fixed32(&mut self) -> Result<u32, DecodeError> {
        let bytes = self.take(4)?;
        let mut buf = [0u8; 4];
        buf.copy_from_slice(bytes);
        Ok(u32::from_le_bytes(buf))
    }

    pub fn read_fixed64(&mut self) -> Result<u64, DecodeError> {
        let bytes = self.take(8)?;
        let mut buf = [0u8; 8];
        buf.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(buf))
    }

    /// The next field: (tag, value). Groups (wire types 3 and 4) are rejected: proto2 groups do
    /// not occur in Kubernetes messages.
    pub fn next_field(&mut self) -> Result<(u32, WireValue<'a>), DecodeError> {
        let key = self.read_varint()?;
        let wire_type = (key & 7) as u8;
        let tag = u32::try_from(key >> 3)
            .ok()
            .filter(|&t| t > 0)
            .ok_or_else(|| DecodeError::InvalidValue {
                field: self.context.to_string(),
                reason: format!("invalid field number {}", key >> 3),
            })?;
        let value = match wire_type {
            VARINT => WireValue::Varint(self.read_varint()?),
            FIXED64 => WireValue::Fixed64(self.read_fixed64()?),
            LEN => {
                let len =
                    usize::try_from(self.read_varint()?).map_err(|_| DecodeError::Truncated {
                        context: self.context.to_string(),
                    })?;
                WireValue::Len(self.take(len)?)
            }
            FIXED32 => WireValue::Fixed32(self.read_fixed32()?),
            other => {
                return Err(DecodeError::InvalidWireType {
                    wire_type: other,
                    context: self.context.to_string(),
                })
            }
        };
        Ok((tag, value))
    }
}

/// Appends protobuf encodings to a buffer.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.buf.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.buf.push(value as u8);
    }

    pub fn key(&mut self, tag: u32, wire_type: u8) {
        self.varint((u64::from(tag) << 3) | u64::from(wire_type));
    }

    pub fn len_delimited(&mut self, tag: u32, bytes: &[u8]) {
        self.key(tag, LEN);
        self.varint(bytes.len() as u64);
        self.buf.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for value in [
            0u64,
            1,
            127,
            128,
            300,
            u32::MAX as u64,
            u64::MAX,
            (-5i64) as u64,
        ] {
            let mut w = Writer::default();
            w.varint(value);
            let mut r = Reader::new(&w.buf, "test");
            assert_eq!(r.read_varint(), Ok(value));
            assert!(r.is_empty());
        }
    }

    #[test]
    fn truncated_varint_is_an_error() {
        let mut r = Reader::new(&[0x80, 0x80], "test");
        assert_eq!(
            r.read_varint(),
            Err(DecodeError::Truncated {
                context: "test".into()
            })
        );
    }

    #[test]
    fn overlong_varint_is_an_error() {
        let bytes = [0xffu8; 11];
        let mut r = Reader::new(&bytes, "test");
        assert!(matches!(
            r.read_varint(),
            Err(DecodeError::InvalidVarint { .. })
        ));
    }

    #[test]
    fn length_past_the_end_is_truncated() {
        // field 1, LEN, length 5, only 2 bytes follow
        let mut r = Reader::new(&[0x0a, 0x05, b'a', b'b'], "test");
        assert!(matches!(r.next_field(), Err(DecodeError::Truncated { .. })));
    }

    #[test]
    fn group_wire_type_is_rejected() {
        let mut r = Reader::new(&[0x0b], "test");
        assert!(matches!(
            r.next_field(),
            Err(DecodeError::InvalidWireType { wire_type: 3, .. })
        ));
    }
}
