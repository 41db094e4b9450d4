//! The AWS Query wire format: request parameters in, XML out.

pub mod inline_text;
pub mod json;
pub mod json_out;
pub mod params;
pub mod text;
pub mod time;
pub mod xml;

pub use params::Params;
pub use xml::XmlWriter;
