//! The tray icon: unread count in its tooltip (and title where the platform shows one),
//! click to bring the window up, a menu to show or quit.

use tauri::{
    AppHandle,
    menu::{Menu, MenuItem},
    tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent},
};

const TRAY_ID: &str = "kefu";

pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let show = MenuItem::with_id(app, "show", "Show Kefu", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&show, &quit])?;
    let mut tray = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Kefu")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "show" => super::show_window(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                super::show_window(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

/// Shows the unread count on the tray icon.
pub fn set_unread(app: &AppHandle, unread: u32) {
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let text = if unread == 0 {
            "Kefu".to_string()
        } else {
            format!("Kefu — {unread} unread")
        };
        let _ = tray.set_tooltip(Some(&text));
        let _ = tray.set_title((unread > 0).then(|| unread.to_string()).as_deref());
    }
}
