//! Writes Mozilla's root certificates (`webpki-root-certs`) into `OUT_DIR` as
//! one PEM bundle, for `aws::https_client`: the SDK's TLS settings take roots as
//! PEM only, and encoding them here spares a function's first call the work.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// RFC 7468's line length for encoded certificates.
const LINE: usize = 64;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut pem = String::new();
    for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        let encoded = STANDARD.encode(der);
        for line in encoded.as_bytes().chunks(LINE) {
            pem.push_str(std::str::from_utf8(line)?);
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("cargo sets OUT_DIR")?);
    std::fs::write(out_dir.join("mozilla-roots.pem"), pem)?;
    println!("cargo::rerun-if-changed=build.rs");
    Ok(())
}
