//! What a product, order or return card may carry, whoever sends it (agents, bots,
//! plugins, actions): every text field capped, every link http(s). Shoppers send no cards
//! at all (`messages::check_body`): the desk draws a card as shop data, so one typed by a
//! shopper would pass for a real order.

use kefu_proto::v1 as pb;

use super::OpError;
use crate::store::Body;

/// Longest id, title, status or currency on a card, in bytes.
pub const MAX_CARD_TEXT_BYTES: usize = 512;
/// Longest link (product page, image, tracking) on a card, in bytes.
pub const MAX_CARD_URL_BYTES: usize = 2048;

/// A card's fields of one kind: (name, value).
type Fields<'a> = Vec<(&'static str, &'a str)>;

/// Refuses a card with an oversized field or a link that is not http(s); other bodies pass.
pub(super) fn check_card(body: &Body) -> Result<(), OpError> {
    let (texts, urls): (Fields, Fields) = match body {
        Body::ProductCard {
            product_id,
            title,
            currency,
            image_url,
            url,
            ..
        } => (
            vec![
                ("product_id", product_id),
                ("title", title),
                ("currency", currency),
            ],
            vec![("image_url", image_url), ("url", url)],
        ),
        Body::OrderCard {
            order_id,
            status,
            currency,
            tracking_url,
            ..
        } => (
            vec![
                ("order_id", order_id),
                ("status", status),
                ("currency", currency),
            ],
            vec![("tracking_url", tracking_url)],
        ),
        Body::ReturnCard {
            return_id,
            order_id,
            status,
            currency,
            ..
        } => (
            vec![
                ("return_id", return_id),
                ("order_id", order_id),
                ("status", status),
                ("currency", currency),
            ],
            Vec::new(),
        ),
        _ => return Ok(()),
    };
    for (name, value) in texts {
        if value.len() > MAX_CARD_TEXT_BYTES {
            return Err(too_large(name, MAX_CARD_TEXT_BYTES));
        }
    }
    for (name, value) in urls {
        if value.len() > MAX_CARD_URL_BYTES {
            return Err(too_large(name, MAX_CARD_URL_BYTES));
        }
        if !value.is_empty() && !is_web_link(value) {
            return Err(OpError::invalid(format!(
                "card field `{name}` must be an http:// or https:// link"
            )));
        }
    }
    Ok(())
}

fn too_large(field: &str, max: usize) -> OpError {
    OpError::new(
        pb::ErrorCode::TooLarge,
        format!("card field `{field}` exceeds {max} bytes"),
    )
}

/// An absolute http(s) link with a host and nothing a browser would strip or reinterpret
/// (whitespace, control characters, backslashes).
fn is_web_link(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    !host.is_empty()
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(url: &str, title: &str) -> Body {
        Body::ProductCard {
            product_id: "p1".into(),
            title: title.into(),
            price_minor: 100,
            currency: "CNY".into(),
            image_url: String::new(),
            url: url.into(),
        }
    }

    #[test]
    fn links_must_be_http_and_fields_short() {
        for ok in [
            "https://shop.example/p/1",
            "http://127.0.0.1:8080/x?y=1",
            "",
        ] {
            assert!(check_card(&product(ok, "Kettle")).is_ok(), "{ok} is fine");
        }
        for bad in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:text/html,<b>",
            "https://",
            "https:///path",
            " https://shop.example",
            "https://shop.example/\u{0}",
            "https:\\\\evil.example",
            "//evil.example",
        ] {
            let e = check_card(&product(bad, "Kettle")).unwrap_err();
            assert_eq!(e.code, pb::ErrorCode::InvalidArgument, "{bad:?} refused");
        }
        let e = check_card(&product("", &"x".repeat(MAX_CARD_TEXT_BYTES + 1))).unwrap_err();
        assert_eq!(e.code, pb::ErrorCode::TooLarge);
        assert!(
            e.message.contains("title"),
            "names the field: {}",
            e.message
        );
    }
}
