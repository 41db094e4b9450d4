//! What `CreateVirtualMFADevice` hands out once: the `otpauth://` URI of the Key URI Format that
//! authenticator apps read, and a PNG of its QR code (`qrcode` makes the matrix, `png` writes it).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use qrcode::{Color, EcLevel, QrCode};

use super::totp::{DIGITS, STEP_SECONDS};
use crate::secret::SecretString;

/// Pixels per QR module.
const SCALE: usize = 6;
/// Light modules around the code (the QR specification asks for four).
const QUIET: usize = 4;

/// Characters kept as they are in the URI's label and issuer (RFC 3986 unreserved and `@`).
const LABEL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

/// Why the QR code could not be made (the URI is too long for a QR code).
#[derive(Debug, thiserror::Error)]
#[error("QR code: {0}")]
pub struct QrError(String);

/// `otpauth://totp/ISSUER:NAME@ACCOUNT?secret=…&issuer=ISSUER&algorithm=SHA1&digits=6&period=30`:
/// AWS's label `$virtualMFADeviceName@$AccountName` (the account alias, else its id), with the
/// issuer prefix and parameters apps use to group and label the entry.
#[must_use]
pub fn otpauth_uri(
    issuer: &str,
    device_name: &str,
    account_name: &str,
    seed_base32: &SecretString,
) -> SecretString {
    let issuer = utf8_percent_encode(issuer, LABEL).to_string();
    SecretString::new(format!(
        "otpauth://totp/{issuer}:{}@{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}\
         &period={STEP_SECONDS}",
        utf8_percent_encode(device_name, LABEL),
        utf8_percent_encode(account_name, LABEL),
        seed_base32.expose().trim_end_matches('='),
    ))
}

/// The QR code of `text` as an 8-bit greyscale PNG, black on white with the quiet zone.
///
/// # Errors
/// [`QrError`] when the text does not fit in a QR code or the PNG cannot be written.
pub fn qr_png(text: &SecretString) -> Result<Vec<u8>, QrError> {
    let qr = QrCode::with_error_correction_level(text.expose().as_bytes(), EcLevel::M)
        .map_err(|e| QrError(e.to_string()))?;
    let modules = qr.width();
    let colors = qr.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let mut pixels = vec![0xffu8; side * side];
    for (i, c) in colors.iter().enumerate() {
        if *c != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + QUIET, i / modules + QUIET);
        for y in my * SCALE..(my + 1) * SCALE {
            if let Some(row) = pixels.get_mut(y * side + mx * SCALE..y * side + (mx + 1) * SCALE) {
                row.fill(0);
            }
        }
    }
    let dim = u32::try_from(side).map_err(|e| QrError(e.to_string()))?;
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, dim, dim);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| QrError(e.to_string()))?;
        w.write_image_data(&pixels)
            .map_err(|e| QrError(e.to_string()))?;
        w.finish().map_err(|e| QrError(e.to_string()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    fn seed() -> SecretString {
        SecretString::from("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
    }

    #[test]
    fn the_uri_follows_the_key_uri_format() {
        let u = otpauth_uri("Sekisho", "alice phone", "my-alias", &seed());
        assert_eq!(
            u.expose(),
            "otpauth://totp/Sekisho:alice%20phone@my-alias?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Sekisho&algorithm=SHA1&digits=6&period=30"
        );
        let u = otpauth_uri("A&B", "x", "123456789012", &SecretString::from("MZXW6==="));
        assert!(u.expose().contains("secret=MZXW6&issuer=A%26B&"), "{u:?}");
    }

    #[test]
    fn the_png_holds_the_qr_matrix_of_the_uri() {
        let uri = otpauth_uri("Sekisho", "alice", "123456789012", &seed());
        let png_bytes = qr_png(&uri).unwrap();
        assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
        let dec = png::Decoder::new(std::io::Cursor::new(&png_bytes));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let qr = QrCode::with_error_correction_level(uri.expose().as_bytes(), EcLevel::M).unwrap();
        let n = qr.width();
        assert_eq!(info.width as usize, (n + 2 * QUIET) * SCALE);
        assert_eq!(info.height, info.width);
        let side = info.width as usize;
        // Sample each module's centre: it reads back as the matrix.
        let colors = qr.to_colors();
        for my in 0..n {
            for mx in 0..n {
                let px = buf[((my + QUIET) * SCALE + SCALE / 2) * side + (mx + QUIET) * SCALE + 2];
                let dark = colors[my * n + mx] == Color::Dark;
                assert_eq!(px == 0, dark, "module {mx},{my}");
            }
        }
        // The quiet zone is white.
        assert!(buf[..side * QUIET * SCALE].iter().all(|p| *p == 0xff));
    }

    #[test]
    fn text_too_long_for_a_qr_code_is_an_error() {
        let long = SecretString::new("x".repeat(5000));
        assert!(qr_png(&long).is_err());
    }
}
