//! A small, bounded element tree over `quick-xml`, enough for RSS, Atom, CAP and GDACS.
//!
//! Feeds are shallow documents of a few thousand elements, so a tree is simpler to read than a
//! streaming state machine; the caps below bound what one hostile document can cost.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event as XmlEvent};

use super::FeedError;

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 64;
/// Most elements accepted in one document.
const MAX_NODES: usize = 200_000;
/// Longest text kept per element; the rest is cut.
const MAX_TEXT: usize = 64 * 1024;

#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    /// Namespace prefix as written (`gdacs`, `geo`, `cap`), empty when none.
    pub prefix: String,
    /// Local name, as written.
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    /// The first child with this local name (any prefix).
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The first child with this prefix and local name.
    pub fn child_ns(&self, prefix: &str, name: &str) -> Option<&Node> {
        self.children
            .iter()
            .find(|c| c.prefix == prefix && c.name.eq_ignore_ascii_case(name))
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children
            .iter()
            .filter(move |c| c.name.eq_ignore_ascii_case(name))
    }

    /// Trimmed text of the first child with this local name, when not empty.
    pub fn text_of(&self, name: &str) -> Option<String> {
        self.child(name).and_then(Node::trimmed)
    }

    pub fn text_of_ns(&self, prefix: &str, name: &str) -> Option<String> {
        self.child_ns(prefix, name).and_then(Node::trimmed)
    }

    pub fn trimmed(&self) -> Option<String> {
        let t = self.text.trim();
        (!t.is_empty()).then(|| t.to_owned())
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Depth-first search for the first descendant (or self) with this local name.
    pub fn find(&self, name: &str) -> Option<&Node> {
        if self.name.eq_ignore_ascii_case(name) {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }
}

fn split_name(raw: &[u8]) -> (String, String) {
    let s = String::from_utf8_lossy(raw);
    match s.split_once(':') {
        Some((p, l)) => (p.to_owned(), l.to_owned()),
        None => (String::new(), s.into_owned()),
    }
}

fn open(start: &BytesStart<'_>) -> Node {
    let (prefix, name) = split_name(start.name().as_ref());
    let mut attrs = Vec::new();
    for a in start.attributes().flatten().take(64) {
        let (_, key) = split_name(a.key.as_ref());
        let value = a
            .unescape_value()
            .map(|v| v.into_owned())
            .unwrap_or_else(|_| String::from_utf8_lossy(&a.value).into_owned());
        attrs.push((key, value));
    }
    Node {
        prefix,
        name,
        attrs,
        ..Node::default()
    }
}

fn push_text(node: &mut Node, text: &str) {
    if node.text.len() >= MAX_TEXT {
        return;
    }
    let room = MAX_TEXT - node.text.len();
    if text.len() <= room {
        node.text.push_str(text);
    } else {
        let mut cut = room;
        while cut > 0 && !text.is_char_boundary(cut) {
            cut -= 1;
        }
        node.text.push_str(text.get(..cut).unwrap_or(""));
    }
}

/// Parses a whole document into its root element.
pub(crate) fn parse(bytes: &[u8]) -> Result<Node, FeedError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().check_end_names = false;
    let mut stack: Vec<Node> = vec![Node::default()];
    let mut nodes = 0usize;
    let mut buf = Vec::new();
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| FeedError::Xml {
                offset: reader.buffer_position(),
                reason: e.to_string(),
            })?;
        match ev {
            XmlEvent::Start(s) => {
                nodes += 1;
                if stack.len() > MAX_DEPTH || nodes > MAX_NODES {
                    return Err(FeedError::TooComplex);
                }
                stack.push(open(&s));
            }
            XmlEvent::Empty(s) => {
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(FeedError::TooComplex);
                }
                let n = open(&s);
                if let Some(top) = stack.last_mut() {
                    top.children.push(n);
                }
            }
            XmlEvent::End(_) => {
                if stack.len() > 1
                    && let Some(done) = stack.pop()
                    && let Some(top) = stack.last_mut()
                {
                    top.children.push(done);
                }
            }
            XmlEvent::Text(t) => {
                let s = t
                    .unescape()
                    .map(|c| c.into_owned())
                    .unwrap_or_else(|_| String::from_utf8_lossy(&t).into_owned());
                if let Some(top) = stack.last_mut() {
                    push_text(top, &s);
                }
            }
            XmlEvent::CData(c) => {
                let s = String::from_utf8_lossy(&c).into_owned();
                if let Some(top) = stack.last_mut() {
                    push_text(top, &s);
                }
            }
            XmlEvent::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    // Unclosed elements are folded into their parents, so truncated feeds still yield items.
    while stack.len() > 1 {
        if let Some(done) = stack.pop()
            && let Some(top) = stack.last_mut()
        {
            top.children.push(done);
        }
    }
    let doc = stack.pop().unwrap_or_default();
    doc.children.into_iter().next().ok_or(FeedError::Empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_tree_with_prefixes_attributes_and_entities() {
        let root = parse(
            br#"<?xml version="1.0"?><rss><channel><item><title>A &amp; B</title>
            <geo:lat>1.5</geo:lat><link href="x?a=1&amp;b=2"/><d><![CDATA[<b>hi</b>]]></d></item></channel></rss>"#,
        )
        .unwrap();
        assert_eq!(root.name, "rss");
        let item = root.find("item").unwrap();
        assert_eq!(item.text_of("title").as_deref(), Some("A & B"));
        assert_eq!(item.text_of_ns("geo", "lat").as_deref(), Some("1.5"));
        assert_eq!(item.child("link").unwrap().attr("href"), Some("x?a=1&b=2"));
        assert_eq!(item.text_of("d").as_deref(), Some("<b>hi</b>"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let doc = "<a>".repeat(100);
        assert!(matches!(parse(doc.as_bytes()), Err(FeedError::TooComplex)));
    }
}
