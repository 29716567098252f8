//! The back office's icons: small inline SVGs (no icon font, so nothing renders as an empty box when
//! a font is missing). Every icon is decorative (`aria-hidden`); the button or link around it
//! carries the words. Drawn on a 24×24 grid with `currentColor`, so an icon takes its text's colour.

/// The opening tag every icon shares.
macro_rules! svg_open {
    () => {
        r#"<svg class="icon" aria-hidden="true" focusable="false" viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">"#
    };
}

/// One icon by name; an unknown name is a programming error caught by the test below, and renders
/// nothing rather than breaking a page.
pub fn svg(name: &str) -> &'static str {
    match name {
        "power" => concat!(svg_open!(), r#"<path d="M12 3v9"/><path d="M6.3 6.3a8 8 0 1 0 11.4 0"/></svg>"#),
        "copy" => concat!(svg_open!(), r#"<rect x="9" y="9" width="11" height="11" rx="2"/><path d="M5 15V6a2 2 0 0 1 2-2h9"/></svg>"#),
        "check" => concat!(svg_open!(), r#"<path d="M5 12.5l4.5 4.5L19 7.5"/></svg>"#),
        "alert" => concat!(svg_open!(), r#"<path d="M12 4l9 16H3z"/><path d="M12 10v4"/><path d="M12 17.5v.5"/></svg>"#),
        "chevron-down" => concat!(svg_open!(), r#"<path d="M6 9l6 6 6-6"/></svg>"#),
        "chevron-right" => concat!(svg_open!(), r#"<path d="M9 6l6 6-6 6"/></svg>"#),
        "menu" => concat!(svg_open!(), r#"<path d="M4 7h16"/><path d="M4 12h16"/><path d="M4 17h16"/></svg>"#),
        "more" => concat!(svg_open!(), r#"<circle cx="5" cy="12" r="1.2"/><circle cx="12" cy="12" r="1.2"/><circle cx="19" cy="12" r="1.2"/></svg>"#),
        "user" => concat!(svg_open!(), r#"<circle cx="12" cy="8" r="4"/><path d="M4 20a8 8 0 0 1 16 0"/></svg>"#),
        "refresh" => concat!(svg_open!(), r#"<path d="M20 11a8 8 0 0 0-14.9-3.5"/><path d="M4 4v4h4"/><path d="M4 13a8 8 0 0 0 14.9 3.5"/><path d="M20 20v-4h-4"/></svg>"#),
        "trash" => concat!(svg_open!(), r#"<path d="M4 7h16"/><path d="M9 7V4h6v3"/><path d="M6 7l1 13h10l1-13"/></svg>"#),
        "building" => concat!(svg_open!(), r#"<rect x="4" y="3" width="16" height="18" rx="1"/><path d="M9 8h2M13 8h2M9 12h2M13 12h2M10 21v-4h4v4"/></svg>"#),
        "log-out" => concat!(svg_open!(), r#"<path d="M15 4h4v16h-4"/><path d="M10 8l-4 4 4 4"/><path d="M6 12h10"/></svg>"#),
        "globe" => concat!(svg_open!(), r#"<circle cx="12" cy="12" r="9"/><path d="M3 12h18"/><path d="M12 3a14 14 0 0 1 0 18a14 14 0 0 1 0-18"/></svg>"#),
        "external" => concat!(svg_open!(), r#"<path d="M14 4h6v6"/><path d="M20 4l-9 9"/><path d="M18 14v5H5V6h5"/></svg>"#),
        _ => "",
    }
}


/// The names [`svg`] knows.
pub const NAMES: &[&str] = &[
    "power", "copy", "check", "alert", "chevron-down", "chevron-right", "menu", "more", "user", "refresh", "trash",
    "building", "log-out", "globe", "external",
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_named_icon_is_drawn() {
        for name in super::NAMES {
            let svg = super::svg(name);
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{name}");
        }
    }
}
