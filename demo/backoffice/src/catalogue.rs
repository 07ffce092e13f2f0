//! The demo shop's product catalogue: kitchen, tea, home, electronics, fashion, beauty,
//! baby, toys and pantry, named in Chinese or English as a mixed-market shop would.

use crate::{model::LineItem, money::Money};

/// Product images live on this (fictional) host: `{IMAGE_HOST}/{sku lowercased}.jpg`.
pub const IMAGE_HOST: &str = "https://img.demo-shop.example";

/// A product the shop sells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Product {
    pub sku: &'static str,
    pub name: &'static str,
    /// Price in CNY fen.
    pub price_cents: i64,
}

impl Product {
    /// `https://img.demo-shop.example/kt-1702.jpg`.
    pub fn image_url(&self) -> String {
        format!("{IMAGE_HOST}/{}.jpg", self.sku.to_ascii_lowercase())
    }

    /// An order line for `quantity` of this product at its catalogue price.
    pub fn line(&self, quantity: u32) -> LineItem {
        LineItem {
            sku: self.sku.to_owned(),
            name: self.name.to_owned(),
            quantity,
            unit_price: Money::cny(self.price_cents),
            image_url: self.image_url(),
        }
    }
}

const fn p(sku: &'static str, name: &'static str, yuan: i64) -> Product {
    Product {
        sku,
        name,
        price_cents: yuan * 100,
    }
}

const fn p_fen(sku: &'static str, name: &'static str, price_cents: i64) -> Product {
    Product {
        sku,
        name,
        price_cents,
    }
}

/// Every product, SKUs unique.
pub const CATALOGUE: &[Product] = &[
    // Kitchen
    p("KT-1702", "不锈钢电水壶 1.7L", 199),
    p("RC-3050", "IH 电饭煲 3L", 499),
    p("AF-5500", "空气炸锅 5.5L", 399),
    p("BL-0800", "破壁料理机", 899),
    p("CM-2100", "Espresso Machine Barista Pro", 2899),
    p("OL-0500", "特级初榨橄榄油 500ml", 89),
    // Tea and coffee
    p("TP-0450", "Ceramic Teapot Set (4 cups)", 168),
    p("TC-1001", "西湖龙井 明前特级 250g", 368),
    p("TC-1002", "云南普洱熟茶饼 357g", 228),
    p("CF-0250", "Single-origin Coffee Beans, Yunnan 250g", 98),
    p("MG-0330", "Double-wall Glass Mug 330ml", 59),
    p("VF-0500", "保温杯 500ml", 129),
    // Home
    p("PL-2001", "乳胶枕 Latex Pillow", 259),
    p("BD-1800", "Cotton Duvet Cover 1.8m", 329),
    p("TW-0070", "Egyptian Cotton Towel Set", 139),
    p("LD-0300", "LED Desk Lamp", 179),
    p("YM-0006", "Yoga Mat 6mm", 149),
    // Personal care and beauty
    p("HD-1200", "Ionic Hair Dryer 1200W", 289),
    p("ET-0100", "Sonic Electric Toothbrush S1", 199),
    p("SK-0050", "Hydrating Face Serum 50ml", 289),
    p("SK-0120", "氨基酸洗面奶 120g", 69),
    p_fen("SK-0300", "防晒霜 SPF50+ 60ml", 13_950),
    // Electronics
    p("BP-3002", "蓝牙耳机 Pro 降噪版", 699),
    p("SP-0500", "Portable Bluetooth Speaker", 259),
    p("PB-2000", "充电宝 20000mAh", 149),
    p_fen("CB-0100", "USB-C 数据线 1m", 2_990),
    p("WT-0040", "Smart Watch Active 40mm", 1299),
    p("KB-0087", "Mechanical Keyboard, 87 keys", 459),
    p("MS-0200", "Silent Wireless Mouse", 99),
    // Fashion
    p("BK-2025", "Urban Backpack 25L", 349),
    p("SH-4201", "Running Shoes Air Light, EU 42", 599),
    p("SH-3801", "女士休闲运动鞋 38码", 459),
    p("TS-0001", "纯棉短袖T恤 白色 L", 79),
    p_fen("TS-0002", "Organic Cotton Tee, Navy M", 8_950),
    p("JK-0500", "轻薄羽绒服 Down Jacket M", 1099),
    p("SC-0100", "羊绒围巾 Cashmere Scarf", 399),
    // Baby, toys, pantry, pets
    p("BB-0001", "婴儿纸尿裤 L 54片", 119),
    p("BB-0020", "Baby Bottle Set 240ml", 159),
    p("TY-0800", "拼装积木 城市消防站", 599),
    p("NT-1001", "每日坚果 30袋", 159),
    p("PT-0010", "Cat Food, Adult 10kg", 329),
];

/// The product with this SKU.
pub fn product(sku: &str) -> Option<&'static Product> {
    CATALOGUE.iter().find(|p| p.sku == sku)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn skus_are_unique_and_prices_positive() {
        let mut seen = HashSet::new();
        for p in CATALOGUE {
            assert!(seen.insert(p.sku), "SKU {} listed twice", p.sku);
            assert!(p.price_cents > 0, "{} has no price", p.sku);
        }
        assert!(
            CATALOGUE.len() >= 40,
            "the brief promises about 40 products, have {}",
            CATALOGUE.len()
        );
    }

    #[test]
    fn image_urls_use_the_demo_host() {
        assert_eq!(
            product("KT-1702").unwrap().image_url(),
            "https://img.demo-shop.example/kt-1702.jpg"
        );
    }
}
