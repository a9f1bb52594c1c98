//! The focus guard's question: what is the title of the window that has the keyboard focus?
//!
//! Only X11 can answer here (through x11rb, the same pure-Rust X client enigo uses): the window manager's
//! `_NET_ACTIVE_WINDOW` on the root window, or, without a window manager, the core input focus
//! (`GetInputFocus`), walking up to the nearest ancestor with a title (`_NET_WM_NAME`, else `WM_NAME`).
//! Elsewhere [`FocusProbe::open`] says the platform cannot report it, and the program refuses to start with a
//! `target_window` (`--check` says so too), rather than type into whatever window is in front.

/// Reads the focused window's title.
pub struct FocusProbe {
    #[cfg(all(unix, not(target_os = "macos")))]
    x11: x11::X11Focus,
}

impl std::fmt::Debug for FocusProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FocusProbe")
    }
}

impl FocusProbe {
    /// Connects to what can tell the focused window. `Err` says why this platform or session cannot.
    pub fn open() -> Result<FocusProbe, String> {
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            Ok(FocusProbe {
                x11: x11::X11Focus::open()?,
            })
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        {
            Err("this platform cannot report the focused window to twitch_bot (only X11 can); remove \
                 `target_window` to send keys to whatever window is focused"
                .into())
        }
    }

    /// The focused window's title, `None` when no window is focused or it has no title.
    pub fn focused_title(&mut self) -> Option<String> {
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            self.x11.focused_title()
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        {
            None
        }
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
mod x11 {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{Atom, AtomEnum, ConnectionExt, Window};
    use x11rb::rust_connection::RustConnection;

    pub(super) struct X11Focus {
        conn: RustConnection,
        root: Window,
        net_active_window: Atom,
        net_wm_name: Atom,
        utf8_string: Atom,
    }

    impl X11Focus {
        pub(super) fn open() -> Result<X11Focus, String> {
            let (conn, screen) = RustConnection::connect(None).map_err(|e| {
                format!("cannot connect to the X server to read the focused window: {e}")
            })?;
            let root = conn.setup().roots[screen].root;
            let atom = |name: &str| -> Result<Atom, String> {
                conn.intern_atom(false, name.as_bytes())
                    .map_err(|e| e.to_string())?
                    .reply()
                    .map(|r| r.atom)
                    .map_err(|e| e.to_string())
            };
            let net_active_window = atom("_NET_ACTIVE_WINDOW")?;
            let net_wm_name = atom("_NET_WM_NAME")?;
            let utf8_string = atom("UTF8_STRING")?;
            Ok(X11Focus {
                conn,
                root,
                net_active_window,
                net_wm_name,
                utf8_string,
            })
        }

        pub(super) fn focused_title(&mut self) -> Option<String> {
            let active = self
                .property(
                    self.root,
                    self.net_active_window,
                    AtomEnum::WINDOW.into(),
                    1,
                )
                .and_then(|v| {
                    v.get(..4)
                        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                })
                .filter(|w| *w != 0);
            let mut window = match active {
                Some(w) => w,
                None => self.conn.get_input_focus().ok()?.reply().ok()?.focus,
            };
            // Walk up to the nearest window with a title (a focused child of a top-level has none).
            for _ in 0..32 {
                if window == 0 || window == 1 || window == self.root {
                    return None;
                }
                if let Some(t) = self.title(window) {
                    return Some(t);
                }
                window = self.conn.query_tree(window).ok()?.reply().ok()?.parent;
            }
            None
        }

        fn title(&self, window: Window) -> Option<String> {
            let name = self
                .property(window, self.net_wm_name, self.utf8_string, 1024)
                .or_else(|| {
                    self.property(
                        window,
                        AtomEnum::WM_NAME.into(),
                        AtomEnum::STRING.into(),
                        1024,
                    )
                })?;
            Some(String::from_utf8_lossy(&name).into_owned())
        }

        /// A property's bytes, `None` when absent or empty.
        fn property(&self, window: Window, prop: Atom, ty: Atom, long_len: u32) -> Option<Vec<u8>> {
            let reply = self
                .conn
                .get_property(false, window, prop, ty, 0, long_len)
                .ok()?
                .reply()
                .ok()?;
            (!reply.value.is_empty()).then_some(reply.value)
        }
    }
}
