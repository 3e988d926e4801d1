//! Measurement 5, binary size: each release bootstrap, `x86_64` from
//! `cargo build --release` (the folder the binaries are run from) and arm64
//! from `cargo lambda build --release --arm64 --lambda-dir <target>/lambda-arm64`.

use std::path::PathBuf;

use sfn_callback_tests::Result;

use crate::subjects::bin_dir;

/// One binary's sizes in bytes; `None` where that build is missing.
#[derive(Debug)]
pub struct Size {
    pub name: &'static str,
    pub x86_64: Option<u64>,
    pub arm64: Option<u64>,
    /// Every file found has no symbol table.
    pub stripped: bool,
}

/// Where cargo-lambda put the arm64 bootstraps: `SFN_BENCH_ARM64_DIR`, else
/// `lambda-arm64` beside the release folder.
pub fn arm64_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SFN_BENCH_ARM64_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let release = bin_dir()?;
    Ok(release
        .parent()
        .ok_or("the release folder has no parent")?
        .join("lambda-arm64"))
}

pub fn measure(names: &[&'static str]) -> Result<Vec<Size>> {
    let arm64 = arm64_dir()?;
    let release = bin_dir()?;
    names
        .iter()
        .map(|name| {
            let x86_path = release.join(name);
            let arm_path = arm64.join(name).join("bootstrap");
            let mut stripped = true;
            let mut size_of = |path: &PathBuf| -> Result<Option<u64>> {
                if !path.is_file() {
                    return Ok(None);
                }
                let bytes = std::fs::read(path)?;
                stripped &= !has_symbol_table(&bytes);
                Ok(Some(u64::try_from(bytes.len())?))
            };
            let x86_64 = size_of(&x86_path)?;
            let arm64 = size_of(&arm_path)?;
            Ok(Size {
                name,
                x86_64,
                arm64,
                stripped,
            })
        })
        .collect()
}

/// Whether an ELF file still has a `.symtab` section: its name would be in
/// the section name table. A cheap check, good enough to catch a build that
/// did not strip.
fn has_symbol_table(elf: &[u8]) -> bool {
    elf.windows(8).any(|window| window == b".symtab\0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_table_name_is_found() {
        assert!(has_symbol_table(b"\0.shstrtab\0.symtab\0.strtab\0"));
        assert!(!has_symbol_table(b"\0.shstrtab\0.dynsym\0"));
    }
}
