//! A small, strict XML tree for SAML messages (quick-xml underneath): namespaces resolved,
//! comments dropped (so `a<!---->b` reads as `ab`: text is always read in full), CDATA kept as
//! text, and everything a SAML message never needs refused — a DOCTYPE (and with it every entity
//! declaration and external reference), processing instructions, entities other than XML's
//! five, an encoding other than UTF-8, content after the root — within depth and size bounds.
//!
//! The same reader parses the message as received (the pre-checks) and the document samael's
//! reduction leaves (the values acted upon), so no second parser can see another tree.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 48;
/// Most elements in one document.
pub const MAX_ELEMENTS: usize = 20_000;
/// Most attributes on one element.
pub const MAX_ATTRIBUTES: usize = 64;

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// A `<!DOCTYPE …>`: DTDs, entity declarations and external references are never read.
    #[error("a DOCTYPE (DTD) is not accepted")]
    Dtd,
    /// An encoding other than UTF-8 declared.
    #[error("encoding {0} is not accepted (UTF-8 only)")]
    Encoding(String),
    /// An entity reference other than `&amp; &lt; &gt; &quot; &apos;` and character references.
    #[error("undefined entity &{0};")]
    Entity(String),
    /// Past [`MAX_DEPTH`], [`MAX_ELEMENTS`] or [`MAX_ATTRIBUTES`].
    #[error("document exceeds the {0} limit")]
    Limit(&'static str),
    /// Not well-formed, an unbound prefix, or more than one root.
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// A processing instruction.
    #[error("processing instructions are not accepted")]
    ProcessingInstruction,
}

/// An element: its namespace URI (empty when unqualified), local name, attributes and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Namespace URI.
    pub ns: String,
    /// Local name.
    pub name: String,
    /// Attributes (namespace declarations excluded).
    pub attrs: Vec<Attr>,
    /// Child elements and text, in order.
    pub children: Vec<Node>,
}

/// An attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// Namespace URI (empty when unqualified).
    pub ns: String,
    /// Local name.
    pub name: String,
    /// The value, entities resolved.
    pub value: String,
}

/// Content of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Text (character data and CDATA; adjacent pieces are separate nodes).
    Text(String),
}

impl Element {
    /// Whether this is `{ns}name`.
    #[must_use]
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// An unqualified attribute's value.
    #[must_use]
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_empty() && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// The child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The child elements named `{ns}name`.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.is(ns, name))
    }

    /// The first child element named `{ns}name`.
    #[must_use]
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(ns, name))
    }

    /// All of the element's own text, concatenated (comments never split it), trimmed.
    #[must_use]
    pub fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                out.push_str(t);
            }
        }
        out.trim().to_owned()
    }

    /// How many elements named `{ns}name` are in this subtree (this element included).
    #[must_use]
    pub fn count(&self, ns: &str, name: &str) -> usize {
        usize::from(self.is(ns, name)) + self.elements().map(|e| e.count(ns, name)).sum::<usize>()
    }

    /// Every element of this subtree, depth first (this element first).
    #[must_use]
    pub fn descendants(&self) -> Vec<&Element> {
        let mut out = vec![self];
        let mut i = 0;
        while let Some(e) = out.get(i).copied() {
            out.extend(e.elements());
            i += 1;
        }
        out
    }
}

fn ns_of(r: &ResolveResult<'_>) -> Result<String, XmlError> {
    match r {
        ResolveResult::Bound(ns) => Ok(String::from_utf8_lossy(ns.as_ref()).into_owned()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(p) => Err(XmlError::Malformed(format!(
            "unbound prefix {}",
            String::from_utf8_lossy(p)
        ))),
    }
}

fn malformed(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string())
}

fn element(
    reader: &NsReader<&[u8]>,
    ns: String,
    start: &BytesStart<'_>,
) -> Result<Element, XmlError> {
    let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(malformed)?;
        let key = a.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        if attrs.len() >= MAX_ATTRIBUTES {
            return Err(XmlError::Limit("attributes"));
        }
        let (r, local) = reader.resolver().resolve_attribute(key);
        let value =
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| match e {
                    quick_xml::Error::Escape(
                        quick_xml::escape::EscapeError::UnrecognizedEntity(_, n),
                    ) => XmlError::Entity(n),
                    e => malformed(e),
                })?;
        attrs.push(Attr {
            ns: ns_of(&r)?,
            name: String::from_utf8_lossy(local.as_ref()).into_owned(),
            value: value.into_owned(),
        });
    }
    Ok(Element {
        ns,
        name,
        attrs,
        children: Vec::new(),
    })
}

/// Parses a whole document into its root element.
///
/// # Errors
/// [`XmlError`] for anything outside the accepted subset, or past a bound.
pub fn parse(xml: &str) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_reader(xml.as_bytes());
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let (r, ev) = reader.read_resolved_event().map_err(malformed)?;
        let ns = match &ev {
            Event::Start(_) | Event::Empty(_) => Some(ns_of(&r)?),
            _ => None,
        };
        match ev {
            Event::Start(s) | Event::Empty(s) if root.is_some() => {
                let _ = s;
                return Err(XmlError::Malformed("content after the root element".into()));
            }
            Event::Start(s) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::Limit("element count"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::Limit("depth"));
                }
                let e = element(&reader, ns.unwrap_or_default(), &s)?;
                stack.push(e);
            }
            Event::Empty(s) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::Limit("element count"));
                }
                let e = element(&reader, ns.unwrap_or_default(), &s)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(e)),
                    None => root = Some(e),
                }
            }
            Event::End(_) => {
                let done = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("unmatched end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(done)),
                    None => root = Some(done),
                }
            }
            Event::Text(t) => {
                let text = t.xml10_content().map_err(malformed)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Text(text.into_owned())),
                    None if text.trim().is_empty() => {}
                    None => return Err(XmlError::Malformed("text outside the root".into())),
                }
            }
            Event::CData(c) => {
                let text = c.decode().map_err(malformed)?.into_owned();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Text(text)),
                    None => return Err(XmlError::Malformed("CDATA outside the root".into())),
                }
            }
            Event::GeneralRef(g) => {
                let text = match g.resolve_char_ref().map_err(malformed)? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = g.decode().map_err(malformed)?;
                        match name.as_ref() {
                            "amp" => "&".into(),
                            "lt" => "<".into(),
                            "gt" => ">".into(),
                            "quot" => "\"".into(),
                            "apos" => "'".into(),
                            other => return Err(XmlError::Entity(other.to_owned())),
                        }
                    }
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Text(text)),
                    None => return Err(XmlError::Malformed("reference outside the root".into())),
                }
            }
            Event::Comment(_) => {}
            Event::Decl(d) => {
                if let Some(enc) = d.encoding() {
                    let enc = enc.map_err(malformed)?;
                    let enc = String::from_utf8_lossy(&enc).to_ascii_lowercase();
                    if enc != "utf-8" && enc != "utf8" {
                        return Err(XmlError::Encoding(enc));
                    }
                }
            }
            Event::PI(_) => return Err(XmlError::ProcessingInstruction),
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed("unclosed element".into()));
    }
    root.ok_or_else(|| XmlError::Malformed("no root element".into()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    #[test]
    fn comments_never_truncate_text() {
        let e = parse("<a xmlns='u'><b>victim@corp.com<!---->.evil.com</b></a>").unwrap();
        assert_eq!(
            e.child("u", "b").unwrap().text(),
            "victim@corp.com.evil.com"
        );
        let e = parse("<a><b>x<![CDATA[<y>]]>&amp;&#65;</b></a>").unwrap();
        assert_eq!(e.child("", "b").unwrap().text(), "x<y>&A");
    }

    #[test]
    fn namespaces_are_resolved() {
        let e = parse("<p:a xmlns:p='urn:p' xmlns='urn:d' p:x='1' y='2'><c/></p:a>").unwrap();
        assert!(e.is("urn:p", "a"));
        assert_eq!(e.attr("y"), Some("2"));
        assert_eq!(
            e.attr("x"),
            None,
            "a prefixed attribute is not the unqualified one"
        );
        assert!(e.elements().next().unwrap().is("urn:d", "c"));
        assert!(matches!(parse("<q:a/>"), Err(XmlError::Malformed(_))));
    }

    #[test]
    fn dtds_entities_and_instructions_are_refused() {
        let bomb = "<?xml version='1.0'?><!DOCTYPE a [<!ENTITY x 'xx'>]><a>&x;</a>";
        assert_eq!(parse(bomb), Err(XmlError::Dtd));
        assert_eq!(parse("<a>&x;</a>"), Err(XmlError::Entity("x".into())));
        assert_eq!(parse("<a b='&x;'/>"), Err(XmlError::Entity("x".into())));
        assert_eq!(parse("<?pi x?><a/>"), Err(XmlError::ProcessingInstruction));
        assert!(matches!(
            parse("<?xml version='1.0' encoding='ISO-8859-1'?><a/>"),
            Err(XmlError::Encoding(_))
        ));
        assert!(parse("<?xml version='1.0' encoding='UTF-8'?><a/>").is_ok());
    }

    #[test]
    fn one_root_within_bounds() {
        assert!(matches!(parse("<a/><b/>"), Err(XmlError::Malformed(_))));
        assert!(matches!(parse("<a>"), Err(XmlError::Malformed(_))));
        assert!(matches!(parse("<a></b>"), Err(XmlError::Malformed(_))));
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(parse(&deep), Err(XmlError::Limit("depth")));
        let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let wide = format!("<a>{}</a>", "<b/>".repeat(MAX_ELEMENTS));
        assert_eq!(parse(&wide), Err(XmlError::Limit("element count")));
    }
}
