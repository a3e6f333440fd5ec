//! A digit as a PNG: what a person sends to predict with an image lineage.
//! Not consensus code (predictions are not stored); shared by umd's REST
//! gateway and `um-trainer predict` so both read a PNG the same way.
//!
//! Any PNG color type and bit depth is read: palettes are expanded, 16-bit
//! samples keep their high byte, color becomes luminance
//! (`(299 R + 587 G + 114 B + 500) / 1000`, Rec. 601 in integers) and
//! alpha is composited over black, so a canvas exported by a browser (light
//! strokes on a transparent background) reads as MNIST does: 0 the
//! background, 255 full ink.

use std::io::Cursor;

use thiserror::Error;

use crate::dataset::PIXELS;

/// Side of a digit in pixels.
pub const DIGIT_SIDE: u32 = 28;
/// Largest PNG accepted: a 28x28 image needs a few hundred bytes; the limit
/// only bounds what a caller makes the decoder read.
pub const MAX_PNG_BYTES: usize = 64 * 1024;
/// Largest decoded buffer the decoder may allocate (28x28 RGBA at 16 bits
/// is 6,272 bytes).
const MAX_DECODED_BYTES: usize = 64 * 1024;

/// Why a PNG is not a digit.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ImageError {
    #[error("the PNG has {0} bytes; at most {MAX_PNG_BYTES} are accepted")]
    TooLarge(usize),
    #[error("not a PNG image: {0}")]
    NotPng(String),
    #[error("the image is {width}x{height}; a digit is {DIGIT_SIDE}x{DIGIT_SIDE}")]
    WrongSize { width: u32, height: u32 },
}

/// The 784 grayscale pixels (row-major) of a 28x28 PNG.
pub fn digit_from_png(bytes: &[u8]) -> Result<Vec<u8>, ImageError> {
    if bytes.len() > MAX_PNG_BYTES {
        return Err(ImageError::TooLarge(bytes.len()));
    }
    let not_png = |e: png::DecodingError| ImageError::NotPng(e.to_string());
    let mut decoder = png::Decoder::new_with_limits(
        Cursor::new(bytes),
        png::Limits {
            bytes: MAX_DECODED_BYTES,
        },
    );
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(not_png)?;
    let (width, height) = (reader.info().width, reader.info().height);
    if (width, height) != (DIGIT_SIDE, DIGIT_SIDE) {
        return Err(ImageError::WrongSize { width, height });
    }
    let mut buffer = vec![0u8; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buffer).map_err(not_png)?;
    let samples = frame.color_type.samples();
    let data = buffer
        .get(..frame.buffer_size())
        .ok_or_else(|| ImageError::NotPng("short frame".into()))?;
    let rows = data.chunks(frame.line_size).take(DIGIT_SIDE as usize);
    let mut pixels = Vec::with_capacity(PIXELS);
    for row in rows {
        for pixel in row.chunks_exact(samples).take(DIGIT_SIDE as usize) {
            pixels.push(gray(frame.color_type, pixel));
        }
    }
    if pixels.len() != PIXELS {
        return Err(ImageError::NotPng(format!(
            "decoded {} pixels, not {PIXELS}",
            pixels.len()
        )));
    }
    Ok(pixels)
}

/// One pixel's ink, from its samples (8 bits each after the transformations).
fn gray(color: png::ColorType, s: &[u8]) -> u8 {
    let luma = |r: u8, g: u8, b: u8| {
        ((299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b) + 500) / 1000) as u8
    };
    let over_black = |v: u8, alpha: u8| ((u32::from(v) * u32::from(alpha) + 127) / 255) as u8;
    match (color, s) {
        (png::ColorType::GrayscaleAlpha, [v, a]) => over_black(*v, *a),
        (png::ColorType::Rgb, [r, g, b]) => luma(*r, *g, *b),
        (png::ColorType::Rgba, [r, g, b, a]) => over_black(luma(*r, *g, *b), *a),
        (_, [v, ..]) => *v,
        (_, []) => 0,
    }
}

/// A digit's 784 pixels as an 8-bit grayscale PNG (what `digit_from_png`
/// reads back unchanged). `None` when `pixels` is not 784 long.
pub fn digit_to_png(pixels: &[u8]) -> Option<Vec<u8>> {
    if pixels.len() != PIXELS {
        return None;
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, DIGIT_SIDE, DIGIT_SIDE);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().ok()?;
    writer.write_image_data(pixels).ok()?;
    writer.finish().ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digit() -> Vec<u8> {
        (0..PIXELS).map(|i| (i * 7 % 256) as u8).collect()
    }

    fn encode(width: u32, height: u32, color: png::ColorType, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(data).unwrap();
        writer.finish().unwrap();
        out
    }

    #[test]
    fn a_grayscale_digit_round_trips() {
        let pixels = digit();
        let png = digit_to_png(&pixels).unwrap();
        assert_eq!(digit_from_png(&png).unwrap(), pixels);
        assert!(digit_to_png(&pixels[1..]).is_none());
    }

    #[test]
    fn color_and_alpha_become_ink_on_black() {
        let pixels = digit();
        // Gray in RGB: the same luminance.
        let rgb: Vec<u8> = pixels.iter().flat_map(|&v| [v, v, v]).collect();
        assert_eq!(
            digit_from_png(&encode(28, 28, png::ColorType::Rgb, &rgb)).unwrap(),
            pixels
        );
        // White strokes on a transparent canvas (how a browser exports a
        // drawing): the stroke's alpha is the ink.
        let rgba: Vec<u8> = pixels.iter().flat_map(|&a| [255, 255, 255, a]).collect();
        assert_eq!(
            digit_from_png(&encode(28, 28, png::ColorType::Rgba, &rgba)).unwrap(),
            pixels
        );
        let pure_red = [255u8, 0, 0].repeat(PIXELS);
        assert_eq!(
            digit_from_png(&encode(28, 28, png::ColorType::Rgb, &pure_red)).unwrap(),
            vec![76u8; PIXELS]
        );
    }

    #[test]
    fn refuses_what_is_not_a_28x28_png() {
        assert!(matches!(
            digit_from_png(b"GIF89a not a png"),
            Err(ImageError::NotPng(_))
        ));
        assert!(matches!(digit_from_png(&[]), Err(ImageError::NotPng(_))));
        let big = encode(29, 28, png::ColorType::Grayscale, &vec![0; 29 * 28]);
        assert_eq!(
            digit_from_png(&big),
            Err(ImageError::WrongSize {
                width: 29,
                height: 28
            })
        );
        // A header announcing a huge image is refused before any pixel is read.
        let mut huge = digit_to_png(&digit()).unwrap();
        huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(digit_from_png(&huge).is_err());
        // Cut short.
        let png = digit_to_png(&digit()).unwrap();
        assert!(matches!(
            digit_from_png(&png[..png.len() - 20]),
            Err(ImageError::NotPng(_))
        ));
        assert_eq!(
            digit_from_png(&vec![0; MAX_PNG_BYTES + 1]),
            Err(ImageError::TooLarge(MAX_PNG_BYTES + 1))
        );
    }
}
