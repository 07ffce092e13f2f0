//! The shop's own words in English and Chinese, and which of them a page uses (`?lang=`).

use axum::extract::{Query, rejection::QueryRejection};
use serde::Deserialize;

/// The page's language: `?lang=zh-CN`, or English.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    ZhCn,
}

impl Lang {
    /// The language `?lang=` asks for; English for anything but `zh-CN` (or `zh`).
    pub fn from_query(lang: Option<&str>) -> Self {
        match lang {
            Some(l) if l.eq_ignore_ascii_case("zh-CN") || l.eq_ignore_ascii_case("zh") => {
                Self::ZhCn
            }
            _ => Self::En,
        }
    }

    /// The BCP 47 tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::ZhCn => "zh-CN",
        }
    }

    /// What to append to a link so the next page keeps this language.
    pub(super) fn query(self) -> &'static str {
        match self {
            Self::En => "",
            Self::ZhCn => "?lang=zh-CN",
        }
    }

    pub(super) fn text(self) -> &'static Text {
        match self {
            Self::En => &EN,
            Self::ZhCn => &ZH,
        }
    }
}

/// The shop's own words in one language.
pub(super) struct Text {
    pub(super) shop_name: &'static str,
    pub(super) tagline: &'static str,
    pub(super) hero_title: &'static str,
    pub(super) hero_body: &'static str,
    pub(super) featured: &'static str,
    pub(super) all_products: &'static str,
    pub(super) add_to_cart: &'static str,
    pub(super) cart_note: &'static str,
    pub(super) blurb: &'static str,
    pub(super) chat: &'static str,
    pub(super) ask_about: &'static str,
    pub(super) demo: &'static str,
    pub(super) sign_in_as: &'static str,
    pub(super) signed_in_as: &'static str,
    pub(super) identify_failed: &'static str,
    pub(super) unreachable: (&'static str, &'static str),
    pub(super) not_found_title: &'static str,
    pub(super) not_found_body: &'static str,
    pub(super) footer: &'static str,
    pub(super) other_lang: (&'static str, &'static str),
}

const EN: Text = Text {
    shop_name: "Kefu demo shop",
    tagline: "Everyday things, shipped from Hangzhou",
    hero_title: "Good things for every day",
    hero_body: "Kitchen, tea, home and gadgets. Questions about an order? Our team is one click away.",
    featured: "Featured products",
    all_products: "← All products",
    add_to_cart: "Add to cart",
    cart_note: "This is a demo shop: nothing is for sale.",
    blurb: "Ships within 24 hours with SF Express. 7-day no-questions-asked returns.",
    chat: "Chat with us",
    ask_about: "Ask about this product",
    demo: "Demo",
    sign_in_as: "sign in as",
    signed_in_as: "Signed in as",
    identify_failed: "The chat did not accept the sign-in:",
    unreachable: (
        "The chat server is not reachable: cannot load",
        ". Start it with kefu --demo.",
    ),
    not_found_title: "Product not found",
    not_found_body: "We do not sell that product. Have a look at our featured products instead.",
    footer: "A pretend shop for trying Kefu: sample data only, nothing is for sale.",
    other_lang: ("zh-CN", "中文"),
};

const ZH: Text = Text {
    shop_name: "Kefu 演示商城",
    tagline: "日常好物，杭州发货",
    hero_title: "每一天的好物",
    hero_body: "厨房、茶饮、家居与数码。订单有疑问？客服一键即达。",
    featured: "精选商品",
    all_products: "← 全部商品",
    add_to_cart: "加入购物车",
    cart_note: "这是演示商城，商品不出售。",
    blurb: "24 小时内顺丰发货，7 天无理由退货。",
    chat: "联系客服",
    ask_about: "咨询此商品",
    demo: "演示",
    sign_in_as: "登录为",
    signed_in_as: "已登录：",
    identify_failed: "客服未接受此登录：",
    unreachable: ("无法连接客服服务器：无法加载", "。请先运行 kefu --demo。"),
    not_found_title: "未找到商品",
    not_found_body: "本店没有这件商品，看看我们的精选商品吧。",
    footer: "用于体验 Kefu 的演示商城：仅含示例数据，商品不出售。",
    other_lang: ("en", "English"),
};

/// `?lang=`; a query string that cannot be read counts as none.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LangQuery {
    lang: Option<String>,
}

pub(super) fn lang_of(query: Result<Query<LangQuery>, QueryRejection>) -> Lang {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    Lang::from_query(query.lang.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lang_is_english_unless_chinese_is_asked_for() {
        assert_eq!(Lang::from_query(Some("zh-CN")), Lang::ZhCn);
        assert_eq!(Lang::from_query(Some("zh-cn")), Lang::ZhCn);
        assert_eq!(Lang::from_query(Some("\"><script>")), Lang::En);
        assert_eq!(Lang::from_query(None), Lang::En);
    }
}
