//! The type of a file from its first bytes ("magic numbers"), whatever
//! its name and declared type say.

/// A file type recognised by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    /// DOS/Windows executable (`MZ`): .exe, .dll, .scr, .com, .sys...
    WindowsExecutable,
    /// ELF executable or library.
    Elf,
    /// Mach-O executable (macOS), or a Java class file (same magic).
    MachO,
    /// A script with a `#!` line.
    Script,
    /// Windows shortcut (.lnk).
    WindowsShortcut,
    Zip,
    /// A zip holding an Office Open XML document (docx, xlsx, pptx...).
    OfficeOpenXml,
    /// A zip holding a Java archive (jar).
    Jar,
    Rar,
    SevenZip,
    Gzip,
    Bzip2,
    Xz,
    /// Microsoft cabinet (.cab).
    Cab,
    /// ISO 9660 disc image (.iso, .img).
    Iso,
    /// ACE archive.
    Ace,
    Pdf,
    /// OLE compound file: legacy Office documents (doc, xls, ppt), msi.
    Ole,
    Rtf,
    Html,
    Png,
    Gif,
    Jpeg,
    Bmp,
    Tiff,
    Webp,
    Icon,
}

impl FileType {
    /// A short lower-case name (`exe`, `zip`, `pdf`...).
    pub fn as_str(self) -> &'static str {
        match self {
            FileType::WindowsExecutable => "exe",
            FileType::Elf => "elf",
            FileType::MachO => "macho",
            FileType::Script => "script",
            FileType::WindowsShortcut => "lnk",
            FileType::Zip => "zip",
            FileType::OfficeOpenXml => "ooxml",
            FileType::Jar => "jar",
            FileType::Rar => "rar",
            FileType::SevenZip => "7z",
            FileType::Gzip => "gzip",
            FileType::Bzip2 => "bzip2",
            FileType::Xz => "xz",
            FileType::Cab => "cab",
            FileType::Iso => "iso",
            FileType::Ace => "ace",
            FileType::Pdf => "pdf",
            FileType::Ole => "ole",
            FileType::Rtf => "rtf",
            FileType::Html => "html",
            FileType::Png => "png",
            FileType::Gif => "gif",
            FileType::Jpeg => "jpeg",
            FileType::Bmp => "bmp",
            FileType::Tiff => "tiff",
            FileType::Webp => "webp",
            FileType::Icon => "ico",
        }
    }

    /// Code a computer runs when the file is opened: executables, scripts,
    /// shortcuts, Java archives.
    pub fn is_executable(self) -> bool {
        matches!(
            self,
            FileType::WindowsExecutable
                | FileType::Elf
                | FileType::MachO
                | FileType::Script
                | FileType::WindowsShortcut
                | FileType::Jar
        )
    }

    /// A container of other files.
    pub fn is_archive(self) -> bool {
        matches!(
            self,
            FileType::Zip
                | FileType::Jar
                | FileType::Rar
                | FileType::SevenZip
                | FileType::Gzip
                | FileType::Bzip2
                | FileType::Xz
                | FileType::Cab
                | FileType::Iso
                | FileType::Ace
        )
    }

    /// An image format.
    pub fn is_image(self) -> bool {
        matches!(
            self,
            FileType::Png
                | FileType::Gif
                | FileType::Jpeg
                | FileType::Bmp
                | FileType::Tiff
                | FileType::Webp
                | FileType::Icon
        )
    }

    /// The usual MIME type of this kind of file.
    pub fn mime_type(self) -> &'static str {
        match self {
            FileType::WindowsExecutable => "application/x-msdownload",
            FileType::Elf => "application/x-executable",
            FileType::MachO => "application/x-mach-binary",
            FileType::Script => "text/x-shellscript",
            FileType::WindowsShortcut => "application/x-ms-shortcut",
            FileType::Zip => "application/zip",
            FileType::OfficeOpenXml => "application/vnd.openxmlformats-officedocument",
            FileType::Jar => "application/java-archive",
            FileType::Rar => "application/vnd.rar",
            FileType::SevenZip => "application/x-7z-compressed",
            FileType::Gzip => "application/gzip",
            FileType::Bzip2 => "application/x-bzip2",
            FileType::Xz => "application/x-xz",
            FileType::Cab => "application/vnd.ms-cab-compressed",
            FileType::Iso => "application/x-iso9660-image",
            FileType::Ace => "application/x-ace-compressed",
            FileType::Pdf => "application/pdf",
            FileType::Ole => "application/x-ole-storage",
            FileType::Rtf => "application/rtf",
            FileType::Html => "text/html",
            FileType::Png => "image/png",
            FileType::Gif => "image/gif",
            FileType::Jpeg => "image/jpeg",
            FileType::Bmp => "image/bmp",
            FileType::Tiff => "image/tiff",
            FileType::Webp => "image/webp",
            FileType::Icon => "image/vnd.microsoft.icon",
        }
    }
}

/// The type `data` starts like, if it is one of [`FileType`]. Zips are
/// [`FileType::Zip`] here; the archive reader refines them.
pub fn sniff(data: &[u8]) -> Option<FileType> {
    const MAGIC: &[(&[u8], FileType)] = &[
        (b"MZ", FileType::WindowsExecutable),
        (b"\x7fELF", FileType::Elf),
        (b"\xfe\xed\xfa\xce", FileType::MachO),
        (b"\xfe\xed\xfa\xcf", FileType::MachO),
        (b"\xce\xfa\xed\xfe", FileType::MachO),
        (b"\xcf\xfa\xed\xfe", FileType::MachO),
        (b"\xca\xfe\xba\xbe", FileType::MachO),
        (b"#!", FileType::Script),
        (b"L\0\0\0\x01\x14\x02\0", FileType::WindowsShortcut),
        (b"PK\x03\x04", FileType::Zip),
        (b"PK\x05\x06", FileType::Zip),
        (b"PK\x07\x08", FileType::Zip),
        (b"Rar!\x1a\x07", FileType::Rar),
        (b"7z\xbc\xaf\x27\x1c", FileType::SevenZip),
        (b"\x1f\x8b", FileType::Gzip),
        (b"BZh", FileType::Bzip2),
        (b"\xfd7zXZ\0", FileType::Xz),
        (b"MSCF\0\0\0\0", FileType::Cab),
        (b"%PDF-", FileType::Pdf),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", FileType::Ole),
        (b"{\\rtf", FileType::Rtf),
        (b"\x89PNG\r\n\x1a\n", FileType::Png),
        (b"GIF87a", FileType::Gif),
        (b"GIF89a", FileType::Gif),
        (b"\xff\xd8\xff", FileType::Jpeg),
        (b"II*\0", FileType::Tiff),
        (b"MM\0*", FileType::Tiff),
        (b"\0\0\x01\0", FileType::Icon),
    ];
    if let Some((_, kind)) = MAGIC.iter().find(|(magic, _)| data.starts_with(magic)) {
        return Some(*kind);
    }
    if data.len() >= 12 && data.starts_with(b"RIFF") && &data[8..12] == b"WEBP" {
        return Some(FileType::Webp);
    }
    if data.len() >= 14 && data.starts_with(b"BM") && data[6..10] == [0, 0, 0, 0] {
        return Some(FileType::Bmp);
    }
    if data.get(7..14) == Some(b"**ACE**") {
        return Some(FileType::Ace);
    }
    // ISO 9660: the primary volume descriptor is at sector 16.
    if data.get(0x8001..0x8006) == Some(b"CD001") {
        return Some(FileType::Iso);
    }
    if looks_like_html(data) {
        return Some(FileType::Html);
    }
    None
}

/// An HTML document: starts (after a BOM and whitespace) with a doctype or
/// an `<html`, `<head`, `<body` or `<script` tag.
fn looks_like_html(data: &[u8]) -> bool {
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    let head = &data[start..data.len().min(start + 16)];
    ["<!doctype html", "<html", "<head", "<body", "<script"]
        .iter()
        .any(|tag| {
            head.len() >= tag.len() && head[..tag.len()].eq_ignore_ascii_case(tag.as_bytes())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_name_the_type() {
        assert_eq!(sniff(b"MZ\x90\0rest"), Some(FileType::WindowsExecutable));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(FileType::Pdf));
        assert_eq!(sniff(b"PK\x03\x04...."), Some(FileType::Zip));
        assert_eq!(sniff(b"#!/bin/sh\n"), Some(FileType::Script));
        assert_eq!(
            sniff(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
            Some(FileType::Ole)
        );
        assert_eq!(sniff(b"  <!DOCTYPE html><html>"), Some(FileType::Html));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(FileType::Webp));
        assert_eq!(sniff(b"hello world"), None);
        assert_eq!(sniff(b""), None);
        let mut iso = vec![0u8; 0x8010];
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        assert_eq!(sniff(&iso), Some(FileType::Iso));
    }
}
