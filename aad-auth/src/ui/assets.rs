//! The bundled static files of the login UI, compiled into the binary.
//!
//! Each file is published under a name that carries a hash of its content
//! (`login.5d41402abc.css`), computed at compile time, so the route that serves them can tell
//! browsers to cache them for a year (`Cache-Control: public, max-age=31536000, immutable`): a
//! changed file gets a new name, and the pages (never cached) point at the new one.

use std::sync::LazyLock;

/// One bundled file.
#[derive(Debug)]
pub(crate) struct Asset {
    /// The key templates use (`assets.css`, `assets.user_js`, ...).
    pub(crate) key: &'static str,
    /// Name without the hash (`login`).
    stem: &'static str,
    /// Extension without the dot (`css`).
    ext: &'static str,
    /// The content.
    pub(crate) bytes: &'static [u8],
    /// The `Content-Type` to serve it with.
    pub(crate) content_type: &'static str,
    /// The content hash in the name.
    hash: u64,
}

impl Asset {
    const fn new(
        key: &'static str,
        stem: &'static str,
        ext: &'static str,
        bytes: &'static [u8],
        content_type: &'static str,
    ) -> Self {
        Self { key, stem, ext, bytes, content_type, hash: fnv1a(bytes) }
    }

    /// The versioned file name (`login.5d41402abc.css`), relative to the static path.
    pub(crate) fn file_name(&self) -> String {
        format!("{}.{}.{}", self.stem, short_hash(self.hash), self.ext)
    }
}

/// `Content-Type` of CSS.
const CSS: &str = "text/css; charset=utf-8";
/// `Content-Type` of JavaScript.
const JS: &str = "text/javascript; charset=utf-8";
/// `Content-Type` of SVG.
const SVG: &str = "image/svg+xml";

/// Every bundled file.
pub(crate) static ASSETS: [Asset; 4] = [
    Asset::new("css", "login", "css", include_bytes!("assets/login.css"), CSS),
    Asset::new("user_js", "user", "js", include_bytes!("assets/user.js"), JS),
    Asset::new("favicon", "favicon", "svg", include_bytes!("assets/favicon.svg"), SVG),
    Asset::new("microsoft_logo", "microsoft", "svg", include_bytes!("assets/microsoft.svg"), SVG),
];

/// `(versioned name, asset)` pairs, built once.
static NAMES: LazyLock<Vec<(String, &'static Asset)>> =
    LazyLock::new(|| ASSETS.iter().map(|asset| (asset.file_name(), asset)).collect());

/// The bundled file published as `path` (relative to the static path, with or without a
/// leading `/`): its bytes and content type. Only the current versioned names are known.
pub(crate) fn static_asset(path: &str) -> Option<(&'static [u8], &'static str)> {
    let path = path.strip_prefix('/').unwrap_or(path);
    NAMES.iter().find(|(name, _)| name == path).map(|(_, asset)| (asset.bytes, asset.content_type))
}

/// 40 bits of the hash as 10 hex digits: plenty to tell versions of a file apart.
pub(crate) fn short_hash(hash: u64) -> String {
    format!("{:010x}", hash >> 24)
}

/// FNV-1a, 64 bit: a cache-busting fingerprint, not a security measure.
pub(crate) const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut index = 0;
    while index < bytes.len() {
        hash ^= bytes[index] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        index += 1;
    }
    hash
}
