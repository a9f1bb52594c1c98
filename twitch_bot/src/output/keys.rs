//! The key names a `[[key]]` binding may use, and what each one is on every platform: one table.
//!
//! Names are matched case-insensitively (`up`, `Up` and `UP` are the same key). Letters are the plain
//! (unshifted) key; bind `["Shift", "A"]` for a capital. The codes are what the back-end hands the OS:
//!
//! - **X11**: the keysym (sent through XTest on the keycode that carries it; tested here under Xvfb);
//! - **Windows**: the PC/AT set-1 *scan code* (`0xE0..` for extended keys), sent with `KEYEVENTF_SCANCODE`
//!   through enigo's `raw`, so games that read DirectInput or Raw Input see the key;
//! - **macOS**: the virtual key code (`kVK_*`), through enigo's `Key::Other`.
//!
//! | names | X11 keysym | Windows scan code | macOS `kVK_*` |
//! |---|---|---|---|
//! | `A` .. `Z` | `a` .. `z` | `0x1E` (A) .. | `ANSI_A` .. |
//! | `0` .. `9` | `0` .. `9` | `0x0B`, `0x02` .. `0x0A` | `ANSI_0` .. |
//! | `Up`, `Down`, `Left`, `Right` | `Up` .. | `0xE048`, `0xE050`, `0xE04B`, `0xE04D` | `UpArrow` .. |
//! | `F1` .. `F12` | `F1` .. | `0x3B` .. `0x44`, `0x57`, `0x58` | `F1` .. |
//! | `Enter` (`Return`), `Space`, `Tab`, `Escape` (`Esc`), `Backspace` | | | |
//! | `Shift`, `Ctrl` (`Control`), `Alt` (left-hand keys) | `Shift_L`, `Control_L`, `Alt_L` | `0x2A`, `0x1D`, `0x38` | |
//! | `Kp0` .. `Kp9`, `KpEnter`, `KpPlus`, `KpMinus`, `KpMultiply`, `KpDivide`, `KpDecimal` (keypad) | `KP_0` .. | | |
//!
//! [`KEYS`] is the full table with every code; `twitch_bot --check` rejects any other name, naming the key,
//! the file and the line.

use std::fmt;

/// One key of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// The canonical name, as written in events (`"Up"`, `"A"`, `"F5"`).
    pub name: &'static str,
    /// X11 keysym.
    pub x11_keysym: u32,
    /// Windows PC/AT set-1 scan code; extended keys carry the `0xE0` prefix in the high byte.
    pub windows_scan: u16,
    /// macOS virtual key code (`kVK_*` from `Events.h`).
    pub mac_keycode: u16,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

macro_rules! keys {
    ($($name:literal => $x11:expr, $win:expr, $mac:expr;)*) => {
        /// Every key a binding may name, with its codes (see the module docs for the platforms).
        pub const KEYS: &[Key] = &[$(Key { name: $name, x11_keysym: $x11, windows_scan: $win, mac_keycode: $mac }),*];
    };
}

keys! {
    "A" => 0x61, 0x1E, 0x00; "B" => 0x62, 0x30, 0x0B; "C" => 0x63, 0x2E, 0x08; "D" => 0x64, 0x20, 0x02;
    "E" => 0x65, 0x12, 0x0E; "F" => 0x66, 0x21, 0x03; "G" => 0x67, 0x22, 0x05; "H" => 0x68, 0x23, 0x04;
    "I" => 0x69, 0x17, 0x22; "J" => 0x6A, 0x24, 0x26; "K" => 0x6B, 0x25, 0x28; "L" => 0x6C, 0x26, 0x25;
    "M" => 0x6D, 0x32, 0x2E; "N" => 0x6E, 0x31, 0x2D; "O" => 0x6F, 0x18, 0x1F; "P" => 0x70, 0x19, 0x23;
    "Q" => 0x71, 0x10, 0x0C; "R" => 0x72, 0x13, 0x0F; "S" => 0x73, 0x1F, 0x01; "T" => 0x74, 0x14, 0x11;
    "U" => 0x75, 0x16, 0x20; "V" => 0x76, 0x2F, 0x09; "W" => 0x77, 0x11, 0x0D; "X" => 0x78, 0x2D, 0x07;
    "Y" => 0x79, 0x15, 0x10; "Z" => 0x7A, 0x2C, 0x06;
    "0" => 0x30, 0x0B, 0x1D; "1" => 0x31, 0x02, 0x12; "2" => 0x32, 0x03, 0x13; "3" => 0x33, 0x04, 0x14;
    "4" => 0x34, 0x05, 0x15; "5" => 0x35, 0x06, 0x17; "6" => 0x36, 0x07, 0x16; "7" => 0x37, 0x08, 0x1A;
    "8" => 0x38, 0x09, 0x1C; "9" => 0x39, 0x0A, 0x19;
    "Up" => 0xFF52, 0xE048, 0x7E; "Down" => 0xFF54, 0xE050, 0x7D;
    "Left" => 0xFF51, 0xE04B, 0x7B; "Right" => 0xFF53, 0xE04D, 0x7C;
    "F1" => 0xFFBE, 0x3B, 0x7A; "F2" => 0xFFBF, 0x3C, 0x78; "F3" => 0xFFC0, 0x3D, 0x63;
    "F4" => 0xFFC1, 0x3E, 0x76; "F5" => 0xFFC2, 0x3F, 0x60; "F6" => 0xFFC3, 0x40, 0x61;
    "F7" => 0xFFC4, 0x41, 0x62; "F8" => 0xFFC5, 0x42, 0x64; "F9" => 0xFFC6, 0x43, 0x65;
    "F10" => 0xFFC7, 0x44, 0x6D; "F11" => 0xFFC8, 0x57, 0x67; "F12" => 0xFFC9, 0x58, 0x6F;
    "Enter" => 0xFF0D, 0x1C, 0x24; "Space" => 0x20, 0x39, 0x31; "Tab" => 0xFF09, 0x0F, 0x30;
    "Escape" => 0xFF1B, 0x01, 0x35; "Backspace" => 0xFF08, 0x0E, 0x33;
    "Shift" => 0xFFE1, 0x2A, 0x38; "Ctrl" => 0xFFE3, 0x1D, 0x3B; "Alt" => 0xFFE9, 0x38, 0x3A;
    "Kp0" => 0xFFB0, 0x52, 0x52; "Kp1" => 0xFFB1, 0x4F, 0x53; "Kp2" => 0xFFB2, 0x50, 0x54;
    "Kp3" => 0xFFB3, 0x51, 0x55; "Kp4" => 0xFFB4, 0x4B, 0x56; "Kp5" => 0xFFB5, 0x4C, 0x57;
    "Kp6" => 0xFFB6, 0x4D, 0x58; "Kp7" => 0xFFB7, 0x47, 0x59; "Kp8" => 0xFFB8, 0x48, 0x5B;
    "Kp9" => 0xFFB9, 0x49, 0x5C; "KpEnter" => 0xFF8D, 0xE01C, 0x4C; "KpPlus" => 0xFFAB, 0x4E, 0x45;
    "KpMinus" => 0xFFAD, 0x4A, 0x4E; "KpMultiply" => 0xFFAA, 0x37, 0x43; "KpDivide" => 0xFFAF, 0xE035, 0x4B;
    "KpDecimal" => 0xFFAE, 0x53, 0x41;
}

/// Other spellings accepted for a key, and the canonical name they stand for.
const ALIASES: &[(&str, &str)] = &[
    ("Return", "Enter"),
    ("Esc", "Escape"),
    ("Control", "Ctrl"),
    ("ArrowUp", "Up"),
    ("ArrowDown", "Down"),
    ("ArrowLeft", "Left"),
    ("ArrowRight", "Right"),
];

/// The key called `name` (case-insensitive; aliases such as `Return` and `Esc` accepted), or `None`.
///
/// ```
/// use twitch_bot::output::keys::lookup;
/// assert_eq!(lookup("up").unwrap().name, "Up");
/// assert_eq!(lookup("Return").unwrap().name, "Enter");
/// assert!(lookup("Hyper").is_none());
/// ```
pub fn lookup(name: &str) -> Option<Key> {
    let name = name.trim();
    let name = ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        .map_or(name, |(_, canonical)| canonical);
    KEYS.iter()
        .copied()
        .find(|k| k.name.eq_ignore_ascii_case(name))
}

/// Every accepted name, for error messages.
pub fn names() -> String {
    KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_and_codes_are_unique() {
        let mut names = HashSet::new();
        let mut x11 = HashSet::new();
        let mut win = HashSet::new();
        let mut mac = HashSet::new();
        for k in KEYS {
            assert!(names.insert(k.name.to_ascii_lowercase()), "{}", k.name);
            assert!(x11.insert(k.x11_keysym), "{}", k.name);
            assert!(win.insert(k.windows_scan), "{}", k.name);
            assert!(mac.insert(k.mac_keycode), "{}", k.name);
        }
        // Letters, digits, arrows, F1-F12, Enter, Space, Tab, Escape, Backspace, Shift, Ctrl, Alt, keypad (16).
        assert_eq!(KEYS.len(), 26 + 10 + 4 + 12 + 5 + 3 + 16);
    }

    #[test]
    fn aliases_point_at_keys() {
        for (alias, canonical) in ALIASES {
            assert_eq!(lookup(alias).unwrap().name, *canonical);
        }
        assert_eq!(lookup(" f12 ").unwrap().windows_scan, 0x58);
        assert_eq!(lookup("a").unwrap().x11_keysym, u32::from(b'a'));
        assert!(lookup("").is_none());
        assert!(lookup("F13").is_none());
    }
}
