//! `kefu://` links (from a ticket, an email, a supervisor's message) that open a conversation
//! in the desk: `kefu://conversation/<id>`. The OS hands a link to a new process; the
//! single-instance plugin passes that process's arguments to the running one and the new
//! process exits, so the window that opens the conversation is the one already signed in.

/// The scheme the app registers (tauri.conf.json `plugins.deep-link`).
pub const SCHEME: &str = "kefu";

/// The conversation a link opens: `kefu://conversation/<uuid>`, nothing else (a link is
/// untrusted input: anything else is ignored, never passed on).
pub fn conversation_id(link: &str) -> Option<String> {
    let url = tauri::Url::parse(link.trim()).ok()?;
    if url.scheme() != SCHEME || url.host_str() != Some("conversation") {
        return None;
    }
    let id = url.path().trim_matches('/');
    uuid::Uuid::parse_str(id).ok().map(|u| u.to_string())
}

/// The first conversation link among a process's arguments.
pub fn from_args<S: AsRef<str>>(args: &[S]) -> Option<String> {
    args.iter().find_map(|a| conversation_id(a.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0196f3c2-7b1e-7a40-9d5e-3f2a1b0c9d8e";

    #[test]
    fn a_conversation_link_names_its_conversation() {
        assert_eq!(
            conversation_id(&format!("kefu://conversation/{ID}")).as_deref(),
            Some(ID)
        );
        assert_eq!(
            conversation_id(&format!("kefu://conversation/{ID}/")).as_deref(),
            Some(ID),
            "a trailing slash some mail clients add"
        );
        assert_eq!(
            conversation_id(&format!("kefu://conversation/{}", ID.to_uppercase())).as_deref(),
            Some(ID),
            "ids are compared in their canonical form"
        );
    }

    #[test]
    fn anything_else_opens_nothing() {
        for link in [
            format!("https://conversation/{ID}"),
            format!("kefu://settings/{ID}"),
            "kefu://conversation/../../etc/passwd".to_string(),
            "kefu://conversation/not-an-id".to_string(),
            "kefu://conversation/".to_string(),
            "javascript:alert(1)".to_string(),
            String::new(),
        ] {
            assert_eq!(conversation_id(&link), None, "{link}");
        }
    }

    #[test]
    fn the_link_is_found_among_a_launchs_arguments() {
        let args = [
            "/usr/bin/kefu-desk".to_string(),
            "--flag".to_string(),
            format!("kefu://conversation/{ID}"),
        ];
        assert_eq!(from_args(&args).as_deref(), Some(ID));
        assert_eq!(from_args(&["/usr/bin/kefu-desk"]), None);
    }
}
