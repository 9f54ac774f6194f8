//! Syslog over TCP framing (RFC 6587): octet counting (`<len> <msg>`) and newline-delimited
//! messages, told apart frame by frame so that both may be mixed on one connection.

use bytes::{Buf, Bytes, BytesMut};
use tocsin_model::DEAD_LETTER_RAW_LIMIT;
use tokio_util::codec::Decoder;

/// More digits than this cannot be a length prefix: such a frame is read as newline-delimited.
const MAX_LENGTH_DIGITS: usize = 10;

/// One unit cut from a TCP stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One syslog message, without framing bytes or trailing line ending.
    Message(Bytes),
    /// A frame that cannot be delivered (too long, cut by the end of the stream). `raw` holds
    /// at most the first bytes of it, for the dead letter.
    Invalid { reason: String, raw: Bytes },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a frame.
    Start,
    /// Resyncing after an oversized newline-delimited frame: discard through the next newline.
    SkipLine,
    /// Discarding the rest of an oversized octet-counted frame, whose end the sender told us.
    SkipBytes(u64),
}

enum Prefix {
    /// `<len> ` with the header length in bytes.
    Octet { len: u64, header: usize },
    /// Only digits so far: cannot tell yet.
    NeedMore,
    /// Not a length prefix: the frame ends at a newline.
    Newline,
}

/// Decodes syslog frames; never fails on content, only on IO.
///
/// Memory stays bounded: an oversized frame is reported as [`Frame::Invalid`] as soon as it
/// passes the limit and the rest of it is discarded while it arrives, without closing the
/// connection. A newline-delimited frame resyncs at the next newline; an octet-counted one skips
/// exactly the length its sender declared.
#[derive(Debug, Clone)]
pub struct SyslogFrameDecoder {
    max_message_bytes: usize,
    state: State,
}

impl SyslogFrameDecoder {
    pub fn new(max_message_bytes: usize) -> Self {
        Self {
            max_message_bytes: max_message_bytes.max(1),
            state: State::Start,
        }
    }

    fn raw_keep(&self) -> usize {
        self.max_message_bytes.min(DEAD_LETTER_RAW_LIMIT)
    }
}

fn is_separator(b: u8) -> bool {
    matches!(b, b'\n' | b'\r' | b'\0' | b' ' | b'\t')
}

fn octet_prefix(buf: &[u8]) -> Prefix {
    let digits = buf.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || buf.first() == Some(&b'0') || digits > MAX_LENGTH_DIGITS {
        return Prefix::Newline;
    }
    match buf.get(digits) {
        None => Prefix::NeedMore,
        Some(b' ') => {
            let len = buf
                .get(..digits)
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| d.parse::<u64>().ok());
            match len {
                Some(len) => Prefix::Octet {
                    len,
                    header: digits + 1,
                },
                None => Prefix::Newline,
            }
        }
        Some(_) => Prefix::Newline,
    }
}

fn trim_line_end(mut msg: Bytes) -> Bytes {
    while msg
        .last()
        .is_some_and(|b| matches!(b, b'\n' | b'\r' | b'\0'))
    {
        msg.truncate(msg.len() - 1);
    }
    msg
}

impl Decoder for SyslogFrameDecoder {
    type Item = Frame;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, std::io::Error> {
        loop {
            match self.state {
                State::SkipLine => match src.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        src.advance(i + 1);
                        self.state = State::Start;
                    }
                    None => {
                        src.clear();
                        return Ok(None);
                    }
                },
                State::SkipBytes(n) => {
                    let k = usize::try_from(n).unwrap_or(usize::MAX).min(src.len());
                    src.advance(k);
                    let left = n.saturating_sub(k as u64);
                    if left > 0 {
                        self.state = State::SkipBytes(left);
                        return Ok(None);
                    }
                    self.state = State::Start;
                }
                State::Start => {
                    let skip = src.iter().take_while(|&&b| is_separator(b)).count();
                    src.advance(skip);
                    if src.is_empty() {
                        return Ok(None);
                    }
                    return Ok(match octet_prefix(src) {
                        Prefix::NeedMore => None,
                        Prefix::Octet { len, header } => self.octet_frame(src, len, header),
                        Prefix::Newline => self.newline_frame(src),
                    });
                }
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, std::io::Error> {
        if let Some(frame) = self.decode(src)? {
            return Ok(Some(frame));
        }
        if src.is_empty() {
            return Ok(None);
        }
        // What is left is an unfinished frame; the stream ends, so it is delivered or refused now.
        let rest = src.split().freeze();
        self.state = State::Start;
        Ok(Some(match octet_prefix(&rest) {
            Prefix::Octet { len, header } => {
                let got = rest.len().saturating_sub(header);
                let keep = got.min(self.raw_keep());
                Frame::Invalid {
                    reason: format!(
                        "connection closed inside an octet-counted frame: {got} of {len} bytes received"
                    ),
                    raw: rest.slice(header.min(rest.len())..header.min(rest.len()) + keep),
                }
            }
            Prefix::NeedMore | Prefix::Newline if rest.len() > self.max_message_bytes => {
                Frame::Invalid {
                    reason: format!(
                        "message is longer than the limit of {} bytes",
                        self.max_message_bytes
                    ),
                    raw: rest.slice(..self.raw_keep()),
                }
            }
            Prefix::NeedMore | Prefix::Newline => Frame::Message(trim_line_end(rest)),
        }))
    }
}

impl SyslogFrameDecoder {
    fn octet_frame(&mut self, src: &mut BytesMut, len: u64, header: usize) -> Option<Frame> {
        let max = self.max_message_bytes;
        let fits = usize::try_from(len).ok().filter(|&l| l <= max);
        let Some(len_usize) = fits else {
            let available = src.len().saturating_sub(header);
            let keep = available.min(self.raw_keep());
            let keep = usize::try_from(len).map_or(keep, |l| keep.min(l));
            let raw = Bytes::copy_from_slice(src.get(header..header + keep).unwrap_or_default());
            let total = (header as u64).saturating_add(len);
            let consumed = usize::try_from(total).unwrap_or(usize::MAX).min(src.len());
            src.advance(consumed);
            let left = total.saturating_sub(consumed as u64);
            if left > 0 {
                self.state = State::SkipBytes(left);
            }
            return Some(Frame::Invalid {
                reason: format!(
                    "octet-counted frame of {len} bytes is longer than the limit of {max} bytes"
                ),
                raw,
            });
        };
        let total = header + len_usize;
        if src.len() < total {
            src.reserve(total - src.len());
            return None;
        }
        src.advance(header);
        let msg = src.split_to(len_usize).freeze();
        Some(Frame::Message(trim_line_end(msg)))
    }

    fn newline_frame(&mut self, src: &mut BytesMut) -> Option<Frame> {
        let max = self.max_message_bytes;
        // A message of exactly `max` bytes still fits with its newline.
        let window = src.len().min(max.saturating_add(1));
        match src.get(..window)?.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let line = src.split_to(i + 1).freeze();
                Some(Frame::Message(trim_line_end(line)))
            }
            None if src.len() > max => {
                let raw = Bytes::copy_from_slice(src.get(..self.raw_keep()).unwrap_or_default());
                // Only the window is known to hold no newline; the rest is searched by SkipLine.
                src.advance(window);
                self.state = State::SkipLine;
                Some(Frame::Invalid {
                    reason: format!(
                        "message is longer than the limit of {max} bytes (no newline within it)"
                    ),
                    raw,
                })
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(max: usize, chunks: &[&[u8]]) -> Vec<Frame> {
        let mut dec = SyslogFrameDecoder::new(max);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Some(f) = dec.decode(&mut buf).unwrap() {
                out.push(f);
            }
        }
        while let Some(f) = dec.decode_eof(&mut buf).unwrap() {
            out.push(f);
        }
        out
    }

    fn msg(s: &str) -> Frame {
        Frame::Message(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn mixed_framing_on_one_stream() {
        let frames = decode_all(
            1024,
            &[b"11 <13>hello a<13>line two\r\n5 <13>x\n<14>tail without newline"],
        );
        assert_eq!(
            frames,
            vec![
                msg("<13>hello a"),
                msg("<13>line two"),
                msg("<13>x"),
                msg("<14>tail without newline"),
            ]
        );
    }

    #[test]
    fn frames_split_across_reads_are_joined() {
        let frames = decode_all(1024, &[b"1", b"3 <13>he", b"llo you<13>ne", b"xt\n"]);
        assert_eq!(frames, vec![msg("<13>hello you"), msg("<13>next")]);
    }

    #[test]
    fn oversized_newline_frame_resyncs_at_the_next_newline() {
        let long = [b'a'; 40];
        let frames = decode_all(16, &[&long[..20], &long[20..], b"still long\n<13>ok\n"]);
        assert_eq!(frames.len(), 2, "{frames:?}");
        match &frames[0] {
            Frame::Invalid { reason, raw } => {
                assert!(reason.contains("limit of 16"), "{reason}");
                assert_eq!(raw.len(), 16);
            }
            other => panic!("expected invalid, got {other:?}"),
        }
        assert_eq!(frames[1], msg("<13>ok"));
    }

    #[test]
    fn oversized_octet_frame_is_skipped_by_its_declared_length() {
        let mut input = b"30 ".to_vec();
        input.extend(std::iter::repeat_n(b'z', 30));
        input.extend_from_slice(b"4 <1>y");
        let frames = decode_all(10, &[&input[..12], &input[12..]]);
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert!(matches!(&frames[0], Frame::Invalid { reason, .. } if reason.contains("30 bytes")));
        assert_eq!(frames[1], msg("<1>y"));
    }

    #[test]
    fn a_message_of_exactly_the_limit_fits() {
        let frames = decode_all(5, &[b"abcde\nabcdef\nok\n"]);
        assert_eq!(frames[0], msg("abcde"));
        assert!(matches!(frames[1], Frame::Invalid { .. }));
        assert_eq!(frames[2], msg("ok"));
        assert_eq!(frames.len(), 3);
    }

    #[test]
    fn stream_cut_inside_an_octet_frame_is_reported() {
        let frames = decode_all(100, &[b"20 <13>short"]);
        assert_eq!(frames.len(), 1);
        match &frames[0] {
            Frame::Invalid { reason, raw } => {
                assert!(reason.contains("9 of 20"), "{reason}");
                assert_eq!(&raw[..], b"<13>short");
            }
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn leading_digits_without_space_are_a_plain_line() {
        let frames = decode_all(100, &[b"2026-05-04 host sshd: ok\n12345"]);
        assert_eq!(frames, vec![msg("2026-05-04 host sshd: ok"), msg("12345")]);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_stay_bounded(
            data in proptest::collection::vec(any::<u8>(), 0..2048),
            cuts in proptest::collection::vec(0usize..2048, 0..8),
            max in 1usize..256,
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut at = 0;
            for c in cuts {
                chunks.push(&data[at..c]);
                at = c;
            }
            chunks.push(&data[at..]);
            for f in decode_all(max, &chunks) {
                match f {
                    Frame::Message(m) => prop_assert!(m.len() <= max),
                    Frame::Invalid { raw, .. } => prop_assert!(raw.len() <= max),
                }
            }
        }

        #[test]
        fn newline_framed_messages_come_back_whole(
            lines in proptest::collection::vec("[<>a-z0-9 :]{1,40}", 1..20),
            split in 0usize..400,
        ) {
            let lines: Vec<String> = lines
                .into_iter()
                .map(|l| format!("<13>{}", l.trim()))
                .collect();
            let joined = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
            let at = split.min(joined.len());
            let frames = decode_all(64, &[&joined.as_bytes()[..at], &joined.as_bytes()[at..]]);
            let expected: Vec<Frame> = lines.iter().map(|l| msg(l)).collect();
            prop_assert_eq!(frames, expected);
        }
    }
}
